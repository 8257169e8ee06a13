using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// FEAT_LSE across vCPUs: LDADDAL, a CASAL retry loop and an LDAXR/STLXR loop, run at once on one
/// counter by 8 vCPU threads, lose no increment (the atomics are atomic with each other and with the
/// exclusives), and a 128-bit counter kept by CASPAL loops and LDAXP/STLXP loops on vCPUs that run native code
/// and on vCPUs that only interpret (both take the VM's pair lock) loses none either; the single-instruction
/// semantics are the golden vectors' (Differential/, qemu -cpu max).
/// </summary>
public sealed class AtomicTests
{
    // x0 = counter, x3 = iterations, x4 = marker. Each loop ends with str x3, [x4] (an MMIO exit).
    private static readonly uint[] LdaddLoop = [0xd2800021u, 0xf8e10002u, 0xf1000463u, 0x54ffffa1u, 0xf9000083u];
    private static readonly uint[] ExclusiveLoop = [0xc85ffc01u, 0x91000421u, 0xc802fc01u, 0x35ffffa2u, 0xf1000463u, 0x54ffff61u, 0xf9000083u];
    private static readonly uint[] CasLoop = [0xf9400001u, 0x91000422u, 0xaa0103e5u, 0xc8e5fc02u, 0xeb0100bfu, 0xaa0503e1u, 0x54ffff61u, 0xf1000463u, 0x54ffff01u, 0xf9000083u];

    [Fact]
    public void LdaddCasAndExclusives_OnOneCounter_LoseNothing()
    {
        const int vcpus = 8;
        const ulong perVcpu = 20_000;
        const ulong counter = RamBase + 0x6000;
        using var m = new TestMachine(vcpus: vcpus, model: CpuModel.Max);
        uint[][] loops = [LdaddLoop, ExclusiveLoop, CasLoop];
        for (int l = 0; l < loops.Length; l++)
        {
            m.Load(CodeBase + (ulong)(0x100 * l), loops[l]);
        }

        RunLoopsAtOnce(m, vcpus, i => CodeBase + (ulong)(0x100 * (i % loops.Length)), counter, perVcpu);
        Assert.Equal(vcpus * perVcpu, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(counter)));
    }

    /// <summary>
    /// Starts each of <paramref name="vcpus"/> vCPUs at its loop (x0 = <paramref name="counter"/>, x3 = <paramref name="iterations"/>,
    /// x4 = the marker) on its own thread and waits until every one has ended at the marker's MMIO exit.
    /// </summary>
    private static void RunLoopsAtOnce(TestMachine m, int vcpus, Func<int, ulong> loopOf, ulong counter, ulong iterations, Action<int, Arm64Vcpu>? init = null)
    {
        for (int i = 0; i < vcpus; i++)
        {
            var v = m.Init(m[i], loopOf(i));
            init?.Invoke(i, v);
            SetX(v, 0, counter);
            SetX(v, 3, iterations);
            SetX(v, 4, MarkerBase);
        }

        var threads = Enumerable.Range(0, vcpus).Select(i => new Thread(() => m.Run(m[i], 60_000))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(Enumerable.Range(0, vcpus), i => Assert.Equal(ExitReason.Mmio, m[i].RunState.ExitReason));
    }

    // x0 = a 16-byte counter whose two halves each count, x3 = iterations, x4 = marker.
    // 1: ldp x6, x7, [x0]; 2: add x8, x6, #1; add x9, x7, #1; mov x10, x6; mov x11, x7; caspal x10, x11, x8, x9, [x0];
    // cmp x10, x6; ccmp x11, x7, #0, eq; mov x6, x10; mov x7, x11; b.ne 2b; subs x3, x3, #1; b.ne 1b; str x3, [x4]
    internal static readonly uint[] CaspLoop =
    [
        0xa9401c06u, 0x910004c8u, 0x910004e9u, 0xaa0603eau, 0xaa0703ebu, 0x486afc08u, 0xeb06015fu, 0xfa470160u, 0xaa0a03e6u,
        0xaa0b03e7u, 0x54fffee1u, 0xf1000463u, 0x54fffe81u, 0xf9000083u,
    ];

    // 1: ldaxp x6, x7, [x0]; add x6, x6, #1; add x7, x7, #1; stlxp w5, x6, x7, [x0]; cbnz w5, 1b; subs x3, x3, #1; b.ne 1b; str x3, [x4]
    private static readonly uint[] PairExclusiveLoop = [0xc87f9c06u, 0x910004c6u, 0x910004e7u, 0xc8259c06u, 0x35ffff85u, 0xf1000463u, 0x54ffff41u, 0xf9000083u];

    [Fact]
    public void CaspAndPairExclusives_NativeAndInterpreted_OnOne128BitCounter_LoseNothing()
    {
        const int vcpus = 4;
        const ulong perVcpu = 20_000;
        const ulong counter = RamBase + 0x6000;
        using var m = new TestMachine(vcpus: vcpus, model: CpuModel.Max);
        m.Load(CodeBase, CaspLoop);
        m.Load(CodeBase + 0x100, PairExclusiveLoop);
        // vCPUs 0 and 1: CASP, native and interpreted; 2 and 3: the exclusive pair, native and interpreted.
        RunLoopsAtOnce(m, vcpus, i => CodeBase + (i < 2 ? 0UL : 0x100UL), counter, perVcpu, (i, v) => v.Cpu.TranslationEnabled = i % 2 == 0);
        Assert.Equal(vcpus * perVcpu, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(counter)));
        Assert.Equal(vcpus * perVcpu, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(counter + 8)));
        Assert.True(m[0].Cpu.NativeFallbacks[(int)Decoder.A64Op.Casp] < (long)perVcpu / 10, $"{m[0].Cpu.NativeFallbacks[(int)Decoder.A64Op.Casp]} CASP in the interpreter");
    }

    [Fact]
    public void CortexA57_LseIsUndefined()
    {
        // ldaddal x1, x2, [x0] on an ARMv8.0 model: UNDEFINED (EC 0), taken at the vector table's SYSTEM_OFF.
        using var m = new TestMachine();
        var v = m.Start(0xf8e10002u);
        SetX(v, 0, RamBase + 0x6000);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26);
        Assert.Equal(0UL, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(RamBase + 0x6000)));
    }

    [Theory]
    [InlineData(0xf8e18002u)] // swpal x1, x2, [x0]
    [InlineData(0xc8e5fc02u)] // casal x5, x2, [x0]
    [InlineData(0x48207c02u)] // casp x0, x1, x2, x3, [x0]
    public void Max_UnalignedAtomicTakesAnAlignmentFault(uint word)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(word);
        m.EnableIdentityMmu(v);
        SetX(v, 0, RamBase + 0x6004);
        Assert.Equal(RunResult.Ok, m.Run(v));
        ulong esr = v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0));
        Assert.Equal(0x25UL, esr >> 26); // data abort, current EL
        Assert.Equal(0x21UL, esr & 0x3F); // alignment fault
    }

    [Fact]
    public void Max_AtomicOutsideRamExitsArmNisv()
    {
        // An atomic to an address no slot backs has no valid syndrome: KVM_EXIT_ARM_NISV, a write, PC kept.
        using var m = new TestMachine(model: CpuModel.Max);
        m.Vm.NisvToUser = true;
        var v = m.Start(0xf8e10002u);
        SetX(v, 0, MmioBase);
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.Equal(ExitReason.ArmNisv, run.ExitReason);
        Assert.Equal(MmioBase, run.ArmNisv.FaultIpa);
        Assert.NotEqual(0UL, run.ArmNisv.EsrIss & (1 << 6));
        Assert.Equal(CodeBase, Pc(v));
    }
}
