using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// EOIs native code completes itself (issue 19; docs/performance.md, session 11). An acknowledge through ICC_IAR1_EL1 of a
/// private interrupt (an SGI or PPI) that leaves nothing pending anywhere (no private interrupt of the vCPU, no SPI, no LPI)
/// and the CPU interface in EOImode 0 <em>arms</em> the vCPU's slot with the INTID it returned. While the slot stays armed,
/// the EOI of that INTID (ICC_EOIR1_EL1) changes no output of any vCPU: with nothing pending, every output is low before
/// and after it, whatever the priority drop and the deactivation do. So native code, instead of calling the controller
/// helper, turns the slot from armed to <em>completed</em> with one compare-and-swap and goes on; what the EOI does to the
/// VGIC's state (<see cref="EndOfInterruptLocked"/>, the slow path's own code) is applied by the next thread that takes
/// the VGIC's lock (<see cref="VgicLock.Hold"/>), before it reads or changes anything: every reader of that state takes
/// the lock, and the outputs read without it do not change. Taking the lock also disarms every armed slot (the lock holder
/// may make something pending), with an exchange, so native code's compare-and-swap either came first (its EOI is applied
/// first) or fails (the EOI goes through the helper and the lock). Not an exit under KVM (the GICv3 system registers are
/// not trapped), so nothing is counted, as on the helper's path.
/// </summary>
public sealed partial class Vgic
{
    /// <summary>A slot's low bits: armed (native code may complete the EOI), completed (native code did).</summary>
    internal const ulong EoiArmed = 1, EoiCompleted = 2;

    /// <summary>One slot per vCPU (pinned: native code's compare-and-swap), GICv3 only: INTID &lt;&lt; 8 | armed or completed, or 0.</summary>
    private readonly ulong[]? _eoiSlots;

    /// <summary>EOIs native code completed and the lock applied (tests, the profile).</summary>
    internal long NativeEoisApplied { get; private set; }

    /// <summary>
    /// The address of vCPU <paramref name="vcpuId"/>'s EOI slot for native code (see the class remarks), or null when this
    /// VGIC has none (GICv2: no system-register interface; a vCPU it does not have).
    /// </summary>
    public unsafe ulong* NativeEoiSlot(int vcpuId) =>
        _eoiSlots is null || (uint)vcpuId >= (uint)VcpuCount ? null : (ulong*)Unsafe.AsPointer(ref _eoiSlots[vcpuId]);

    /// <summary>The slot's value while it is armed for the EOI of <paramref name="intId"/>.</summary>
    internal static ulong ArmedEoi(uint intId) => ((ulong)intId << 8) | EoiArmed;

    /// <summary>After vCPU <paramref name="v"/> acknowledged private interrupt <paramref name="intId"/> (lock held, outputs flushed).</summary>
    private void ArmNativeEoi(int v, uint intId)
    {
        var slots = _eoiSlots;
        if (slots is null || slots[v] != 0 || _cpu[v].SplitEoi || _pendingPrivate[v] != 0 || _pendingSpiCount != 0
            || _pendingLpis.Count != 0 || _irqOut[v] != 0 || _fiqOut[v] != 0 || !_private[v][(int)intId].Active)
        {
            return;
        }

        Volatile.Write(ref slots[v], ArmedEoi(intId));
        _lock.Armed++;
    }

    /// <summary>
    /// Taking the lock while a slot is armed (<see cref="VgicLock.Hold"/>, lock held): every slot disarmed, and the EOIs
    /// native code completed applied as the helper's path does them.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void SettleNativeEois()
    {
        var slots = _eoiSlots!;
        for (int v = 0; v < slots.Length && _lock.Armed != 0; v++)
        {
            if (Volatile.Read(ref slots[v]) == 0)
            {
                continue;
            }

            ulong slot = Interlocked.Exchange(ref slots[v], 0);
            _lock.Armed--;
            if ((slot & 3) == EoiCompleted)
            {
                NativeEoisApplied++;
                EndOfInterruptLocked(v, (uint)(slot >> 8));
            }
        }
    }
}
