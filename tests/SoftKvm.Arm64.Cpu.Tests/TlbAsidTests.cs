using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// The ASID-tagged software TLB: TTBR switches without TLBI, global entries, and each TLBI form acting
/// only on what its operand names. The tests change descriptors without TLBI on purpose: a translation
/// the architecture lets the TLB keep is observable as the old data.
/// </summary>
public sealed class TlbAsidTests
{
    private const ulong Va1 = 0x10_0010_0000;
    private const ulong Va2 = 0x10_0010_5000;
    private const ulong Ng = 1UL << 11;

    /// <summary>4K granule, 39-bit VA stage-1 tables; RAM identity-mapped by one global 1 GiB block.</summary>
    private sealed class AddressSpace
    {
        private readonly TestMachine _m;
        private ulong _next;

        /// <summary>The root table at <paramref name="root"/>, the other tables in the 64 KiB after it.</summary>
        public AddressSpace(TestMachine m, ulong root)
        {
            _m = m;
            Root = root;
            _next = root + 0x1000;
            m.Vm.Memory.Write(new GuestPhysAddr(root + ((RamBase >> 30) * 8)), RamBase | 1 | (1UL << 10));
            m.Vm.Memory.Write(new GuestPhysAddr(root), 1 | (1UL << 10)); // the low gigabyte too (the marker)
        }

        public ulong Root { get; }

        /// <summary>Maps one page (level 3) or a 2 MiB block (level 2); returns the descriptor's address.</summary>
        public ulong Map(ulong va, ulong pa, ulong attrs, bool block = false)
        {
            ulong table = Root;
            int last = block ? 2 : 3;
            for (int level = 1; level < last; level++)
            {
                ulong entry = table + (((va >> (12 + (9 * (3 - level)))) & 511) * 8);
                ulong desc = _m.Vm.Memory.Read<ulong>(new GuestPhysAddr(entry));
                if ((desc & 1) == 0)
                {
                    desc = _next | 3;
                    _next += 0x1000;
                    _m.Vm.Memory.Write(new GuestPhysAddr(entry), desc);
                }

                table = desc & 0x0000_FFFF_FFFF_F000UL;
            }

            ulong leaf = table + (((va >> (12 + (9 * (3 - last)))) & 511) * 8);
            _m.Vm.Memory.Write(new GuestPhysAddr(leaf), Descriptor(pa, attrs, block));
            return leaf;
        }

        public static ulong Descriptor(ulong pa, ulong attrs, bool block = false) => pa | attrs | (block ? 1UL : 3UL) | (1UL << 10);
    }

    private static Arm64Vcpu Start(TestMachine m, AddressSpace space, int asid, uint[] code) => EnableMmu(m.Start(code), space, asid);

    private static Arm64Vcpu EnableMmu(Arm64Vcpu v, AddressSpace space, int asid)
    {
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23)); // TCR: T0SZ=25, EPD1, 8-bit ASID in TTBR0
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 0), space.Root | ((ulong)asid << 48));
        ulong sctlr = v.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0));
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0), sctlr | 1);
        return v;
    }

    private static void RunToBrk(TestMachine m, Arm64Vcpu v)
    {
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(0x3CUL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26); // ended by BRK, no fault
    }

    private static void Poke(TestMachine m, ulong pa, ulong value) => m.Vm.Memory.Write(new GuestPhysAddr(pa), value);

    /// <summary>
    /// Maps Va1 and Va2 (attributes <paramref name="attributes1"/>, <paramref name="attributes2"/>) to
    /// frames holding 1 and 2, with two spare frames holding 11 and 22: Remap1/Remap2 are the
    /// descriptors that point Va1/Va2 at the spare frames, and Pte1/Pte2 where they go.
    /// </summary>
    private static (ulong Pte1, ulong Pte2, ulong Remap1, ulong Remap2) MapTwoPages(TestMachine m, AddressSpace s, ulong attributes1, ulong attributes2)
    {
        ulong old1 = RamBase + 0xA0_0000, old2 = RamBase + 0xA0_1000, new1 = RamBase + 0xA0_2000, new2 = RamBase + 0xA0_3000;
        ulong pte1 = s.Map(Va1, old1, attributes1);
        ulong pte2 = s.Map(Va2, old2, attributes2);
        Poke(m, old1, 1);
        Poke(m, old2, 2);
        Poke(m, new1, 11);
        Poke(m, new2, 22);
        return (pte1, pte2, AddressSpace.Descriptor(new1, attributes1), AddressSpace.Descriptor(new2, attributes2));
    }

    /// <summary>
    /// The registers the two-page programs use: x0 = Va1, x9 = Va2, and "str x7,[x8]; str x11,[x10]"
    /// remaps both (x8/x10 the descriptors' addresses, x7/x11 the new descriptors).
    /// </summary>
    private static void SetTwoPageRegisters(Arm64Vcpu v, (ulong Pte1, ulong Pte2, ulong Remap1, ulong Remap2) p)
    {
        SetX(v, 0, Va1);
        SetX(v, 9, Va2);
        SetX(v, 8, p.Pte1);
        SetX(v, 7, p.Remap1);
        SetX(v, 10, p.Pte2);
        SetX(v, 11, p.Remap2);
    }

    /// <summary>
    /// Maps VA1 to 0xAAAA in address space A (ASID <paramref name="asidA"/>) and to 0xBBBB in B (ASID
    /// <paramref name="asidB"/>), then runs from A: ldr x1,[x0]; msr ttbr0_el1,x2 (B); isb; ldr x3,[x0];
    /// msr ttbr0_el1,x5 (A); isb; ldr x6,[x0]; brk #0 - switching without a TLBI.
    /// </summary>
    private static Arm64Vcpu RunAcrossTwoAddressSpaces(TestMachine m, int asidA, int asidB, Action<Arm64Vcpu>? configure = null)
    {
        var a = new AddressSpace(m, RamBase + 0x90_0000);
        var b = new AddressSpace(m, RamBase + 0x91_0000);
        ulong dataA = RamBase + 0xA0_0000, dataB = RamBase + 0xA0_1000;
        a.Map(Va1, dataA, Ng);
        b.Map(Va1, dataB, Ng);
        Poke(m, dataA, 0xAAAA);
        Poke(m, dataB, 0xBBBB);

        var v = Start(m, a, asidA, [0xf9400001u, 0xd5182002u, 0xd5033fdfu, 0xf9400003u, 0xd5182005u, 0xd5033fdfu, 0xf9400006u, 0xd4200000u]);
        configure?.Invoke(v);
        SetX(v, 0, Va1);
        SetX(v, 2, b.Root | ((ulong)asidB << 48));
        SetX(v, 5, a.Root | ((ulong)asidA << 48));
        RunToBrk(m, v);
        return v;
    }

    [Fact]
    public void TwoAsids_SameVa_TtbrSwitchWithoutTlbi_SeesEachMapping()
    {
        using var m = new TestMachine();
        var v = RunAcrossTwoAddressSpaces(m, 1, 2);
        Assert.Equal(0xAAAAUL, X(v, 1));
        Assert.Equal(0xBBBBUL, X(v, 3));
        Assert.Equal(0xAAAAUL, X(v, 6));
    }

    [Theory]
    [InlineData(true, 0x0101, 0x0201, 0xBBBBUL)]  // TCR_EL1.AS = 1: 16-bit ASIDs, two address spaces
    [InlineData(false, 0x0101, 0x0201, 0xAAAAUL)] // AS = 0: only ASID[7:0] counts, both are ASID 1 and the TLB may keep A's entry
    public void AsidWidth_FollowsTcrAs(bool sixteen, int asidA, int asidB, ulong expectedUnderB)
    {
        using var m = new TestMachine();
        var v = RunAcrossTwoAddressSpaces(m, asidA, asidB,
            vcpu => vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23) | (sixteen ? 1UL << 36 : 0)));
        Assert.Equal(0xAAAAUL, X(v, 1));
        Assert.Equal(expectedUnderB, X(v, 3));
        Assert.Equal(0xAAAAUL, X(v, 6));
    }

    [Fact]
    public void ThousandsOfAsids_RunPastTheContextNumbers()
    {
        // 3000 16-bit ASIDs (more than the 1023 TLB contexts): each switch reads the page through its own ASID.
        using var m = new TestMachine();
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        s.Map(Va1, RamBase + 0xA0_0000, Ng);
        Poke(m, RamBase + 0xA0_0000, 5);

        // 1: orr x2,x7,x3,lsl #48; msr ttbr0_el1,x2; isb; ldr x1,[x0]; add x6,x6,x1; subs x3,x3,#1; b.ne 1b; brk #0
        var v = Start(m, s, 0, [0xaa03c0e2u, 0xd5182002u, 0xd5033fdfu, 0xf9400001u, 0x8b0100c6u, 0xf1000463u, 0x54ffff41u, 0xd4200000u]);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23) | (1UL << 36)); // AS = 1
        SetX(v, 0, Va1);
        SetX(v, 3, 3000);
        SetX(v, 7, s.Root);
        RunToBrk(m, v);
        Assert.Equal(5UL * 3000, X(v, 6));
    }

    [Fact]
    public void GlobalEntries_SurviveAside1_NonGlobalOnesDoNot()
    {
        using var m = new TestMachine();
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        var p = MapTwoPages(m, s, 0, Ng); // Va1: global, Va2: non-global

        // ldr x1,[x0]; ldr x2,[x9]; str x7,[x8]; str x11,[x10]; dsb ish; tlbi aside1is,x12; dsb ish; isb;
        // ldr x3,[x0]; ldr x4,[x9]; tlbi vaae1,x13; dsb ish; isb; ldr x5,[x0]; brk #0
        var v = Start(m, s, 7, [0xf9400001u, 0xf9400122u, 0xf9000107u, 0xf900014bu, 0xd5033b9fu, 0xd508834cu, 0xd5033b9fu, 0xd5033fdfu,
            0xf9400003u, 0xf9400124u, 0xd508876du, 0xd5033b9fu, 0xd5033fdfu, 0xf9400005u, 0xd4200000u]);
        SetTwoPageRegisters(v, p);
        SetX(v, 12, 7UL << 48);
        SetX(v, 13, Va1 >> 12);
        RunToBrk(m, v);
        Assert.Equal(1UL, X(v, 1));
        Assert.Equal(2UL, X(v, 2));
        Assert.Equal(1UL, X(v, 3));  // the global entry survived ASIDE1
        Assert.Equal(22UL, X(v, 4)); // the non-global one did not
        Assert.Equal(11UL, X(v, 5)); // VAAE1 removes it
    }

    [Fact]
    public void Vae1_DropsOnlyItsPage_AndOnlyForItsAsid()
    {
        using var m = new TestMachine();
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        var p = MapTwoPages(m, s, Ng, Ng);

        // ldr x1,[x0]; ldr x2,[x9]; str x7,[x8]; str x11,[x10]; dsb ish; tlbi vae1,x12; dsb ish; isb;
        // ldr x3,[x0]; ldr x4,[x9]; tlbi vae1is,x14; dsb ish; isb; ldr x5,[x9]; brk #0
        var v = Start(m, s, 3, [0xf9400001u, 0xf9400122u, 0xf9000107u, 0xf900014bu, 0xd5033b9fu, 0xd508872cu, 0xd5033b9fu, 0xd5033fdfu,
            0xf9400003u, 0xf9400124u, 0xd508832eu, 0xd5033b9fu, 0xd5033fdfu, 0xf9400125u, 0xd4200000u]);
        SetTwoPageRegisters(v, p);
        SetX(v, 12, (3UL << 48) | (Va1 >> 12));
        SetX(v, 14, (4UL << 48) | (Va2 >> 12)); // another ASID: must not touch ASID 3's entry
        RunToBrk(m, v);
        Assert.Equal(1UL, X(v, 1));
        Assert.Equal(2UL, X(v, 2));
        Assert.Equal(11UL, X(v, 3)); // its page was dropped
        Assert.Equal(2UL, X(v, 4));  // the other page was not
        Assert.Equal(2UL, X(v, 5));  // nor by a VAE1IS for another ASID
    }

    [Fact]
    public void Vae1Is_OnOnePe_DropsOnlyThatPage_OnAnother()
    {
        using var m = new TestMachine(vcpus: 2);
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        var p = MapTwoPages(m, s, Ng, Ng);

        // vCPU 0: tlbi vae1is,x12; dsb ish; str xzr,[x4]
        // vCPU 1: ldr x1,[x0]; ldr x2,[x9]; str xzr,[x4] (stop); ldr x3,[x0]; ldr x5,[x9]; brk #0
        m.Load(CodeBase, 0xd508832cu, 0xd5033b9fu, 0xf900009fu);
        m.Load(CodeBase + 0x100, 0xf9400001u, 0xf9400122u, 0xf900009fu, 0xf9400003u, 0xf9400125u, 0xd4200000u);
        var v0 = EnableMmu(m.Init(m[0], CodeBase), s, 3);
        var v1 = EnableMmu(m.Init(m[1], CodeBase + 0x100), s, 3);
        foreach (var v in new[] { v0, v1 })
        {
            SetX(v, 0, Va1);
            SetX(v, 9, Va2);
            SetX(v, 4, MarkerBase);
            SetX(v, 12, (3UL << 48) | (Va1 >> 12));
        }

        Assert.Equal(RunResult.Ok, m.Run(v1));
        Assert.Equal(ExitReason.Mmio, v1.RunState.ExitReason);
        Poke(m, p.Pte1, p.Remap1);
        Poke(m, p.Pte2, p.Remap2);
        Assert.Equal(RunResult.Ok, m.Run(v0));
        Assert.Equal(ExitReason.Mmio, v0.RunState.ExitReason);
        RunToBrk(m, v1);
        Assert.Equal(1UL, X(v1, 1));
        Assert.Equal(2UL, X(v1, 2));
        Assert.Equal(11UL, X(v1, 3)); // the broadcast reached vCPU 1 for its page
        Assert.Equal(2UL, X(v1, 5));  // and only for its page
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vale1_InsideABlock_DropsEveryPageCachedFromIt(bool noHugeBlocks)
    {
        using var m = new TestMachine();
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        if (noHugeBlocks)
        {
            // RAM's first 16 MiB by 2 MiB blocks and nothing in the low gigabyte: no block above 2 MiB is cached,
            // so the TLBI's scan is sized by the blocks cached in its own 2 MiB region (Arm64Cpu.Tlb.cs).
            ulong table = RamBase + 0x9F_0000;
            m.Vm.Memory.Write(new GuestPhysAddr(s.Root + ((RamBase >> 30) * 8)), table | 3);
            m.Vm.Memory.Write(new GuestPhysAddr(s.Root), 0UL);
            for (ulong i = 0; i < 8; i++)
            {
                m.Vm.Memory.Write(new GuestPhysAddr(table + (i * 8)), AddressSpace.Descriptor(RamBase + (i << 21), 0, block: true));
            }
        }

        const ulong BlockVa = 0x10_0020_0000;
        ulong oldBlock = RamBase + 0x20_0000, newBlock = RamBase + 0x40_0000;
        ulong desc = s.Map(BlockVa, oldBlock, Ng, block: true);
        Poke(m, oldBlock + 0x1000, 1);
        Poke(m, oldBlock + 0x5000, 2);
        Poke(m, newBlock + 0x1000, 11);
        Poke(m, newBlock + 0x5000, 22);

        // ldr x1,[x0]; ldr x2,[x9]; str x7,[x8]; dsb ish; tlbi vale1,x12; dsb ish; isb; ldr x3,[x0]; ldr x4,[x9]; brk #0
        var v = Start(m, s, 5, [0xf9400001u, 0xf9400122u, 0xf9000107u, 0xd5033b9fu, 0xd50887acu, 0xd5033b9fu, 0xd5033fdfu,
            0xf9400003u, 0xf9400124u, 0xd4200000u]);
        SetX(v, 0, BlockVa + 0x1000);
        SetX(v, 9, BlockVa + 0x5000);
        SetX(v, 8, desc);
        SetX(v, 7, AddressSpace.Descriptor(newBlock, Ng, block: true));
        SetX(v, 12, (5UL << 48) | ((BlockVa + 0x1000) >> 12));
        RunToBrk(m, v);
        Assert.Equal(1UL, X(v, 1));
        Assert.Equal(2UL, X(v, 2));
        Assert.Equal(11UL, X(v, 3));
        Assert.Equal(22UL, X(v, 4));
    }

    /// <summary>A device register the in-kernel MMIO bus serves: reads give 0xD0D0 and are counted.</summary>
    private sealed class CountingRegister : SoftKvm.Core.Io.IIoDevice
    {
        public int Reads;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            Reads++;
            data.Clear();
            data[0] = 0xD0;
            data[1] = 0xD0;
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }

    [Fact]
    public void DevicePage_IsCachedWithItsIoMark_UntilATlbiDropsIt()
    {
        // The IO TLB (Arm64Cpu.IoTlb.cs): a device page's translation is kept like a RAM page's, so a
        // remap without TLBI still reaches the device, and the TLBI makes the next access walk again.
        using var m = new TestMachine();
        var s = new AddressSpace(m, RamBase + 0x90_0000);
        var device = new CountingRegister();
        m.Vm.MmioBus.Register(MmioBase, 0x1000, device);
        ulong pte = s.Map(Va1, MmioBase, Ng);
        ulong ram = RamBase + 0xA0_2000;
        Poke(m, ram, 11);

        // ldr x1,[x0]; str x7,[x8]; dsb ish; isb; ldr x3,[x0]; tlbi vae1,x12; dsb ish; isb; ldr x5,[x0]; brk #0
        var v = Start(m, s, 4, [0xf9400001u, 0xf9000107u, 0xd5033b9fu, 0xd5033fdfu, 0xf9400003u, 0xd508872cu, 0xd5033b9fu,
            0xd5033fdfu, 0xf9400005u, 0xd4200000u]);
        SetX(v, 0, Va1);
        SetX(v, 8, pte);
        SetX(v, 7, AddressSpace.Descriptor(ram, Ng));
        SetX(v, 12, (4UL << 48) | (Va1 >> 12));
        RunToBrk(m, v);
        Assert.Equal(0xD0D0UL, X(v, 1));
        Assert.Equal(0xD0D0UL, X(v, 3)); // the device page's entry survived the remap without TLBI
        Assert.Equal(11UL, X(v, 5));     // and not the TLBI
        Assert.Equal(2, device.Reads);
        Assert.Equal(2UL, Stat(v, "mmio_exit_kernel")); // each access completed in the kernel counts once
    }
}
