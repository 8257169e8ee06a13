using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>Exclusives, DC ZVA, ID registers, the counter, and the stage-1 MMU with each granule.</summary>
public sealed class SystemAndMemoryTests
{
    private static ulong RunAndGetMarker(TestMachine m, Arm64Vcpu v)
    {
        SetX(v, 4, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.True(v.RunState.ExitReason == ExitReason.Mmio, $"exit {v.RunState.ExitReason}, ESR_EL1 0x{v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)):x} FAR 0x{v.GetSystemRegister(SysRegKey.Of(3, 0, 6, 0, 0)):x}");
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        return v.RunState.Mmio.Value;
    }

    [Fact]
    public void Exclusive_PairSucceeds()
    {
        using var m = new TestMachine();
        var v = m.Start(0xc85f7c01u, 0x91000421u, 0xc8027c01u, 0xf9400003u, 0xf9000083u);
        SetX(v, 0, RamBase + 0x5000);
        m.Vm.Memory.Write(new GuestPhysAddr(RamBase + 0x5000), 41UL);
        Assert.Equal(42UL, RunAndGetMarker(m, v));
        Assert.Equal(0UL, X(v, 2));
    }

    [Fact]
    public void Exclusive_InterveningStoreMakesStxrFail()
    {
        using var m = new TestMachine();
        var v = m.Start(0xc85f7c01u, 0xf9000009u, 0xc8027c01u, 0xf9000082u);
        SetX(v, 0, RamBase + 0x5000);
        SetX(v, 9, 7);
        Assert.Equal(1UL, RunAndGetMarker(m, v));
    }

    [Fact]
    public void Exclusive_SpinlockCounter_ManyVcpus()
    {
        // 1: ldaxr x1,[x0]; add x1,x1,#1; stlxr w2,x1,[x0]; cbnz w2,1b; subs x3,x3,#1; b.ne 1b; str x3,[x4]
        uint[] code = [0xc85ffc01u, 0x91000421u, 0xc802fc01u, 0x35ffffa2u, 0xf1000463u, 0x54ffff61u, 0xf9000083u];
        const int vcpus = 8;
        const ulong perVcpu = 20_000;
        using var m = new TestMachine(vcpus: vcpus);
        m.Load(CodeBase, code);
        for (int i = 0; i < vcpus; i++)
        {
            var v = m.Init(m[i], CodeBase);
            SetX(v, 0, RamBase + 0x6000);
            SetX(v, 3, perVcpu);
            SetX(v, 4, MarkerBase);
        }

        var threads = Enumerable.Range(0, vcpus).Select(i => new Thread(() => m.Run(m[i]))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(Enumerable.Range(0, vcpus), i => Assert.Equal(ExitReason.Mmio, m[i].RunState.ExitReason));
        Assert.Equal(vcpus * perVcpu, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(RamBase + 0x6000)));
    }

    [Fact]
    public void DcZva_ZeroesA64ByteBlock()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd50b7420u, 0xf9400001u, 0xf9000081u);
        m.EnableIdentityMmu(v); // with the MMU off the block would be Device memory: an alignment fault
        m.Vm.Memory.Write(new GuestPhysAddr(RamBase + 0x7000), Enumerable.Repeat((byte)0xAA, 128).ToArray());
        SetX(v, 0, RamBase + 0x7013);
        RunAndGetMarker(m, v);
        var bytes = new byte[128];
        m.Vm.Memory.Read(new GuestPhysAddr(RamBase + 0x7000), bytes);
        Assert.All(bytes[..64], b => Assert.Equal(0, b));
        Assert.All(bytes[64..], b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void Midr_IsCortexA57()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd5380001u, 0xf9000081u);
        Assert.Equal(0x411FD070UL, RunAndGetMarker(m, v));
    }

    [Fact]
    public void VirtualCounter_Advances()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd53be041u, 0xd53be042u, 0xcb010041u, 0xf9000081u);
        ulong delta = RunAndGetMarker(m, v);
        Assert.InRange(delta, 0UL, 62_500_000UL);
        Assert.Equal(62_500_000UL, v.GetSystemRegister(SysRegKey.Of(3, 3, 14, 0, 0)));
    }

    /// <summary>Builds stage-1 tables for a 39-bit VA space with the given granule (log2 12, 14 or 16).</summary>
    private sealed class PageTables(TestMachine m, int granule)
    {
        private ulong _next = RamBase + 0x80_0000;

        public ulong Root { get; } = RamBase + 0x7F_0000;

        public void Map(ulong va, ulong pa, ulong attrs)
        {
            int stride = granule - 3;
            int levels = (39 - granule + stride - 1) / stride;
            ulong table = Root;
            for (int level = 4 - levels; level < 3; level++)
            {
                int shift = granule + (stride * (3 - level));
                ulong index = (va >> shift) & ((1UL << Math.Min(stride, 39 - shift)) - 1);
                ulong entryAddr = table + (index * 8);
                ulong desc = m.Vm.Memory.Read<ulong>(new GuestPhysAddr(entryAddr));
                if ((desc & 1) == 0)
                {
                    desc = _next | 3;
                    _next += 1UL << granule;
                    m.Vm.Memory.Write(new GuestPhysAddr(entryAddr), desc);
                }

                table = desc & 0x0000_FFFF_FFFF_F000UL & ~((1UL << granule) - 1);
            }

            ulong leaf = table + (((va >> granule) & ((1UL << stride) - 1)) * 8);
            m.Vm.Memory.Write(new GuestPhysAddr(leaf), pa | attrs | 3 | (1UL << 10));
        }

        public void Enable(Arm64Vcpu v)
        {
            ulong tg0 = granule switch { 12 => 0UL, 16 => 1UL, _ => 2UL };
            v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (tg0 << 14) | (1UL << 23)); // TCR: T0SZ=25, EPD1
            v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 0), Root);
            ulong sctlr = v.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0));
            v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0), sctlr | 1);
        }
    }

    [Theory]
    [InlineData(12)]
    [InlineData(14)]
    [InlineData(16)]
    public void Mmu_TranslatesAndFaultsWithEachGranule(int granule)
    {
        using var m = new TestMachine();
        var pt = new PageTables(m, granule);
        ulong page = 1UL << granule;
        for (ulong a = RamBase; a < RamBase + 0x40_0000; a += page)
        {
            pt.Map(a, a, 0);
        }

        const ulong Va = 0x10_0000_0000;
        ulong data = RamBase + 0x20_0000;
        pt.Map(Va, data, 0);                    // RW at EL1
        pt.Map(Va + page, data + page, 1UL << 7); // read-only
        m.Vm.Memory.Write(new GuestPhysAddr(data + 8), 0x1234_5678UL);

        // ldr x1,[x0,#8]; str x1,[x0,#16]; str x1,[x5] (x5 = read-only page) -> permission fault
        var v = m.Start(0xf9400401u, 0xf9000801u, 0xf90000a1u);
        pt.Enable(v);
        SetX(v, 0, Va);
        SetX(v, 5, Va + page + 0x10);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(0x1234_5678UL, X(v, 1));
        Assert.Equal(0x1234_5678UL, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(data + 16)));
        ulong esr = v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0));
        Assert.Equal(0x25UL, esr >> 26);
        Assert.Equal(0x0FUL, esr & 0x3F);          // permission fault, level 3
        Assert.NotEqual(0UL, esr & (1 << 6));      // WnR
        Assert.Equal(Va + page + 0x10, v.GetSystemRegister(SysRegKey.Of(3, 0, 6, 0, 0)));
        Assert.Equal(CodeBase + 8, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }

    [Fact]
    public void Mmu_UnmappedAddress_IsTranslationFault_AndAtReportsIt()
    {
        using var m = new TestMachine();
        var pt = new PageTables(m, 12);
        for (ulong a = RamBase; a < RamBase + 0x40_0000; a += 0x1000)
        {
            pt.Map(a, a, 0);
        }

        // at s1e1r,x0; mrs x1,par_el1; str x1,[x4] -- x4 is identity-mapped? No: MarkerBase is unmapped, so map it.
        pt.Map(MarkerBase, MarkerBase, 0);
        var v = m.Start(0xd5087800u, 0xd5387401u, 0xf9000081u);
        pt.Enable(v);
        SetX(v, 0, 0x20_0000_0000 >> 4);
        ulong par = RunAndGetMarker(m, v);
        Assert.Equal(1UL, par & 1);
        Assert.Equal(0x04UL, (par >> 1) & 0x3C);
    }

    [Fact]
    public void Mmu_MmioThroughAMapping_ReportsTheIpaToTheHypervisor()
    {
        using var m = new TestMachine();
        var pt = new PageTables(m, 12);
        for (ulong a = RamBase; a < RamBase + 0x40_0000; a += 0x1000)
        {
            pt.Map(a, a, 0);
        }

        const ulong DeviceVa = 0x08_0000_0000;
        pt.Map(DeviceVa, MmioBase, 0);
        var v = m.Start(0xb9400001u); // ldr w1,[x0]
        pt.Enable(v);
        SetX(v, 0, DeviceVa + 0x18);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MmioBase + 0x18, v.RunState.Mmio.PhysAddr);
        v.RunState.Mmio.SetValue(0x90);
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(0x90UL, X(v, 1));
    }
}
