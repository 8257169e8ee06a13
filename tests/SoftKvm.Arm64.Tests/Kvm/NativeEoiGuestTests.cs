using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;
using Gic = SoftKvm.Arm64.Tests.Vgic.Gic;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// EOIs native code completes itself (Arm64Cpu.DeviceReads.cs, Vgic.NativeEoi.cs, issue 19): a guest loop that sends
/// itself an SGI, acknowledges it and EOIs it ends with the CPU interface as the helper's path leaves it, retires every
/// instruction once, counts the SGIs as exits and nothing for the EOIs (as KVM), and native code completed the EOIs
/// without the controller helper.
/// </summary>
public sealed class NativeEoiGuestTests
{
    private const int Sgi = 5;

    // P: msr ICC_SGI1R_EL1,x1; mrs x2,ICC_IAR1_EL1; msr ICC_EOIR1_EL1,x2; subs x7,x7,#1; b.ne P; str x2,[x3] (the marker)
    private static readonly uint[] SgiLoop = [0xd518cba1u, 0xd538cc02u, 0xd518cc22u, 0xf10004e7u, 0x54ffff81u, 0xf9000062u];

    private static bool Native => Arm64Cpu.NativeSupported && Arm64Cpu.DefaultTranslation;

    private static long Counter(Arm64Vcpu v, string name) => v.CpuModelCounters().Single(c => c.Key == name).Value;

    [Fact]
    public void SelfSgiAcknowledgeEoiLoop_EndsIdle_RetiresOnce_EoisCompletedNatively()
    {
        const int rounds = 500;
        using var m = new TestMachine();
        var gic = new SoftKvm.Arm64.Vgic.Vgic(m.Vm, GicModel.V3, 1);
        gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
        gic.SetAddress(VgicAddressType.V3Redistributor, Gic.V3Redist);
        m.Vm.InterruptController = gic;
        var v = m.Start(SgiLoop);
        gic.Init();
        Gic.Write32(m.Vm, 0, Gic.V3Dist, 0x2); // GICD_CTLR.EnableGrp1
        Gic.SysWrite(gic, 0, IccRegisters.Pmr, 0xff);
        Gic.SysWrite(gic, 0, IccRegisters.Igrpen1, 1);
        SetX(v, 1, (ulong)Sgi << 24 | 1);
        SetX(v, 3, MarkerBase);
        SetX(v, 7, rounds);
        ulong exitsBefore = Stat(v, "exits");

        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal((ulong)Sgi, X(v, 2));
        Assert.Equal(5L * rounds, v.InstructionsRetired); // the marker store has not retired
        Assert.Equal((ulong)rounds + 1, Stat(v, "exits") - exitsBefore); // the SGIs (trapped under KVM) and the marker
        Assert.Equal(0xffUL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Assert.Equal(0UL, Gic.SysRead(gic, 0, IccRegisters.Ap1r0));
        Assert.False(gic.GetIrqInfo(0, Sgi).Active);
        Assert.False(gic.GetIrqInfo(0, Sgi).Pending);
        Assert.False(gic.HasPendingIrq(0));
        if (Native)
        {
            Assert.True(gic.NativeEoisApplied >= rounds - 2, $"native code completed {gic.NativeEoisApplied} of {rounds} EOIs");
            Assert.True(Counter(v, "native_controller_helper_calls") <= 2L * rounds + 2, $"controller helper {Counter(v, "native_controller_helper_calls")}");
        }
    }
}
