using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Tests.Harness;

/// <summary>
/// A minimal machine for CPU and hypervisor tests: an <see cref="Arm64Vm"/> with RAM at 0x4000_0000,
/// code loaded as instruction words, vCPUs initialised at a given PC. A vector table whose every entry
/// does PSCI SYSTEM_OFF can be installed so that any guest exception ends the run with a SystemEvent.
/// </summary>
internal sealed class TestMachine : IDisposable
{
    public const ulong RamBase = 0x4000_0000;
    public const ulong CodeBase = 0x4000_1000;
    public const ulong VectorBase = 0x4000_0000;

    /// <summary>An address no slot backs (QEMU virt's PL011).</summary>
    public const ulong MmioBase = 0x0900_0000;

    /// <summary>Another unbacked address used as an exit marker.</summary>
    public const ulong MarkerBase = 0x0A00_0000;

    public TestMachine(ulong ramSize = 16 << 20, int vcpus = 1, bool vectors = true)
    {
        Vm = new Arm64Vm();
        Vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), ramSize);
        for (int i = 0; i < vcpus; i++)
        {
            Vm.CreateVcpu(i);
        }

        if (vectors)
        {
            // 16 vectors of: movz w0,#0x8400,lsl #16; add w0,w0,#8; hvc #0 (PSCI SYSTEM_OFF)
            for (ulong v = 0; v < 16; v++)
            {
                Load(VectorBase + (v * 0x80), 0x52b08000u, 0x11002000u, 0xd4000002u);
            }
        }
    }

    public Arm64Vm Vm { get; }

    public Arm64Vcpu Vcpu => (Arm64Vcpu)Vm.Vcpus[0];

    public Arm64Vcpu this[int id] => (Arm64Vcpu)Vm.GetVcpu(id)!;

    public void Load(ulong address, params uint[] words)
    {
        for (int i = 0; i < words.Length; i++)
        {
            Vm.Memory.Write(new GuestPhysAddr(address + (ulong)(4 * i)), words[i]);
        }
    }

    /// <summary>Loads <paramref name="words"/> at <see cref="CodeBase"/> and initialises vCPU 0 to run them.</summary>
    public Arm64Vcpu Start(params uint[] words)
    {
        Load(CodeBase, words);
        return Init(Vcpu, CodeBase);
    }

    public Arm64Vcpu Init(Arm64Vcpu vcpu, ulong pc, Arm64VcpuInit? init = null)
    {
        vcpu.Init(init);
        vcpu.SetRegister(Arm64CoreRegister.Pc, pc);
        vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 12, 0, 0), VectorBase);
        vcpu.SetRegister(Arm64CoreRegister.SpEl1, RamBase + 0x80_0000);
        return vcpu;
    }

    /// <summary>Runs until an exit other than a kick (with a safety kick after <paramref name="timeoutMs"/>).</summary>
    public RunResult Run(Arm64Vcpu? vcpu = null, int timeoutMs = 10_000)
    {
        vcpu ??= Vcpu;
        using var timer = new Timer(_ => vcpu.Kick(), null, timeoutMs, Timeout.Infinite);
        return vcpu.Run();
    }

    /// <summary>Where <see cref="EnableIdentityMmu"/> puts its level-1 table (in RAM).</summary>
    public const ulong IdentityTable = RamBase + 0xF0_0000;

    /// <summary>
    /// Turns the MMU on for <paramref name="vcpu"/> with the low 2 GiB (devices, the marker and RAM)
    /// identity-mapped by two 1 GiB blocks, EL1 read/write, so data accesses are to Normal memory
    /// (with the MMU off they are Device-nGnRnE and must be aligned).
    /// </summary>
    public void EnableIdentityMmu(Arm64Vcpu vcpu)
    {
        for (ulong gb = 0; gb < 2; gb++)
        {
            Vm.Memory.Write(new GuestPhysAddr(IdentityTable + (gb * 8)), (gb << 30) | 1 | (3UL << 8) | (1UL << 10));
        }

        vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23)); // TCR: T0SZ=25, 4K, EPD1
        vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 0), IdentityTable);
        ulong sctlr = vcpu.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0));
        vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0), sctlr | 1);
    }

    public static ulong X(Arm64Vcpu vcpu, int n) => vcpu.GetRegister((Arm64CoreRegister)n);

    public static void SetX(Arm64Vcpu vcpu, int n, ulong value) => vcpu.SetRegister((Arm64CoreRegister)n, value);

    public static ulong Pc(Arm64Vcpu vcpu) => vcpu.GetRegister(Arm64CoreRegister.Pc);

    public static ulong Stat(Arm64Vcpu vcpu, string name) => vcpu.Stats[name];

    public void Dispose() => Vm.Dispose();
}
