namespace SoftKvm.X86.Cpu;

/// <summary>
/// A place whose first instruction the native translator declined is tried again every <see cref="DeclinedRetry"/>
/// arrivals: the decline is remembered without the bytes it was made for, and kernels rewrite their code while it runs
/// (Linux's text_poke_bp puts an INT3 over an instruction's first byte while it patches a static call, a jump label or
/// an alternative; a block looked up in that moment was declined for good, and its place interpreted ever after: 1.4M
/// instructions on the x86 Linux boot, docs/performance.md, issue 20). A retry is one decode when the place is still
/// declined.
/// </summary>
public sealed partial class X86Cpu
{
    private const int DeclinedRetry = 64;

    private static void RetryDeclinedLater(ref NativeSlot slot)
    {
        if (++slot.Declines >= DeclinedRetry && slot.Stale < MaxNativeStale)
        {
            slot.Dirty = true; // translated again at the next arrival (not taken from the blocks translated)
        }
    }
}
