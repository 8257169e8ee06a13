namespace SoftKvm.Core.Run;

/// <summary>
/// A vCPU's adaptive halt-polling window (KVM's <c>vcpu-&gt;halt_poll_ns</c>, docs/kvm-semantics.md#halt-polling):
/// how long a halt spins, checking for its wake-up, before it blocks. It starts at 0 (no polling), grows
/// after short halts and shrinks after long ones or invalid wake-ups, with KVM's defaults
/// (<c>halt_poll_ns_grow</c> 2, <c>halt_poll_ns_grow_start</c> 10 µs, <c>halt_poll_ns_shrink</c> 2).
/// </summary>
internal struct HaltPollWindow
{
    /// <summary>The window a first growth starts from.</summary>
    public const long GrowStartNs = 10_000;

    private const int Grow = 2;
    private const int Shrink = 2;

    /// <summary>The window in nanoseconds; 0 means a halt blocks at once.</summary>
    public long Ns { get; set; }

    /// <summary>
    /// After a halt of <paramref name="haltNs"/> (polling included) under a VM maximum of
    /// <paramref name="maxNs"/>: KVM's update in <c>kvm_vcpu_halt</c>. A halt no longer than the window was a
    /// successful poll and keeps it; a long halt (over the maximum) shrinks it; a short one grows it up to
    /// the maximum. A maximum of 0 turns polling off.
    /// </summary>
    public void Update(long haltNs, long maxNs, bool validWakeup)
    {
        if (!validWakeup)
        {
            ShrinkWindow();
        }
        else if (maxNs <= 0)
        {
            Ns = 0;
        }
        else if (haltNs <= Ns)
        {
            // polling ended it: the window is right
        }
        else if (Ns != 0 && haltNs > maxNs)
        {
            ShrinkWindow();
        }
        else if (Ns < maxNs && haltNs < maxNs)
        {
            Ns = Math.Min(Math.Max(Ns * Grow, GrowStartNs), maxNs);
        }
    }

    private void ShrinkWindow()
    {
        long n = Ns / Shrink;
        Ns = n < GrowStartNs ? 0 : n;
    }
}
