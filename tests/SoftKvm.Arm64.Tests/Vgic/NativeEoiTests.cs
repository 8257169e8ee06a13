using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// The EOI slots native code completes an EOI with (Vgic.NativeEoi.cs, issue 19): armed by an acknowledge that leaves
/// nothing pending, turned to completed by native code's compare-and-swap (simulated here on the slot), applied by the next
/// lock holder before it reads or changes anything, disarmed by any lock holder, and never armed when the EOI could
/// change an output.
/// </summary>
public sealed unsafe class NativeEoiTests
{
    private const int Sgi = 5;

    private static (TestVm Vm, SoftKvm.Arm64.Vgic.Vgic Gic) Open(int vcpus)
    {
        var (vm, gic) = Gic.V3(vcpus);
        for (int v = 0; v < vcpus; v++)
        {
            Gic.EnableV3Cpu(gic, vm, v);
        }

        return (vm, gic);
    }

    private static void SendSelf(SoftKvm.Arm64.Vgic.Vgic gic, int v, int intId) =>
        Gic.SysWrite(gic, v, IccRegisters.Sgi1r, (ulong)intId << 24 | 1UL << v); // Aff0 = v for v < 16

    /// <summary>What native code does: armed with the INTID → completed, or nothing.</summary>
    private static bool NativeEoi(SoftKvm.Arm64.Vgic.Vgic gic, int v, ulong written)
    {
        ulong* slot = gic.NativeEoiSlot(v);
        ulong armed = ((written & 0xFF_FFFF) << 8) | 1;
        return Interlocked.CompareExchange(ref *slot, armed + 1, armed) == armed;
    }

    [Fact]
    public void AnAcknowledgeWithNothingElsePending_ArmsTheSlot_TheNextLockHolderAppliesTheEoi()
    {
        var (vm, gic) = Open(1);
        using var _ = vm;
        SendSelf(gic, 0, Sgi);
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(((ulong)Sgi << 8) | 1, *gic.NativeEoiSlot(0));

        Assert.False(NativeEoi(gic, 0, Sgi + 1)); // another INTID: the helper's path
        Assert.True(NativeEoi(gic, 0, Sgi));
        Assert.Equal(((ulong)Sgi << 8) | 2, *gic.NativeEoiSlot(0));
        Assert.False(gic.HasPendingIrq(0));

        Assert.Equal(0xffUL, Gic.SysRead(gic, 0, IccRegisters.Rpr)); // the lock holder applied it first: idle
        Assert.Equal(0UL, Gic.SysRead(gic, 0, IccRegisters.Ap1r0));
        Assert.False(gic.GetIrqInfo(0, Sgi).Active);
        Assert.Equal(0UL, *gic.NativeEoiSlot(0));
        Assert.Equal(1, gic.NativeEoisApplied);
        Assert.Equal(0, gic.Lock.Armed);

        // The same state as the helper's EOI leaves: the SGI is taken again.
        SendSelf(gic, 0, Sgi);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));
    }

    [Fact]
    public void AnyLockHolder_DisarmsTheSlot_ThenTheEoiGoesThroughTheLock()
    {
        var (vm, gic) = Open(2);
        using var _ = vm;
        SendSelf(gic, 0, Sgi);
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));

        // vCPU 1 sends vCPU 0 another SGI (pending, held back by the running priority): after the EOI it must be signalled.
        Gic.SysWrite(gic, 1, IccRegisters.Sgi1r, 6UL << 24 | 1UL);
        Assert.Equal(0UL, *gic.NativeEoiSlot(0));
        Assert.False(NativeEoi(gic, 0, Sgi));
        Assert.False(gic.HasPendingIrq(0));

        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, Sgi);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(0, gic.NativeEoisApplied);
        Assert.Equal(6UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
    }

    [Fact]
    public void NotArmed_WhileSomethingElseIsPending_OrInEoiMode1()
    {
        var (vm, gic) = Open(1);
        using var _ = vm;
        SendSelf(gic, 0, Sgi);
        SendSelf(gic, 0, Sgi + 1);
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0UL, *gic.NativeEoiSlot(0)); // SGI 6 still pending
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, Sgi);
        Assert.Equal((ulong)Sgi + 1, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.NotEqual(0UL, *gic.NativeEoiSlot(0)); // nothing left pending: armed
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, Sgi + 1);
        Assert.Equal(0UL, *gic.NativeEoiSlot(0));

        gic.SetSpiLevel(3, true); // an SPI pending (disabled, unrouted) anywhere: not armed
        SendSelf(gic, 0, Sgi);
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0UL, *gic.NativeEoiSlot(0));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, Sgi);
        gic.SetSpiLevel(3, false);

        Gic.SysWrite(gic, 0, IccRegisters.Ctlr, 2); // EOImode 1: the EOI drops the priority only
        SendSelf(gic, 0, Sgi);
        Assert.Equal((ulong)Sgi, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0UL, *gic.NativeEoiSlot(0));
    }

    [Fact]
    public void GicV2_HasNoSlot()
    {
        var (vm, gic) = Gic.V2(1);
        using var _ = vm;
        Assert.True(gic.NativeEoiSlot(0) == null);
    }

    [Fact]
    public void ArmingAndSettling_AllocateNothing()
    {
        var (vm, gic) = Open(1);
        using var _ = vm;

        void Round()
        {
            gic.TryWriteSystemRegister(0, IccRegisters.Sgi1r, (ulong)Sgi << 24 | 1); // not Gic.SysWrite: its message allocates
            gic.TryReadSystemRegister(0, IccRegisters.Iar1, out ulong _);
            NativeEoi(gic, 0, Sgi);
        }

        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(200, gic.NativeEoisApplied); // the last one waits for the next lock holder
    }
}
