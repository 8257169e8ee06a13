namespace SoftKvm.X86.Cpu;

/// <summary>
/// The native translator's look at the page after a block's (an instruction crossing the page's end,
/// X86NativeTranslator.PageCrossing.cs): the host address of the code there, through the fetch TLB and a page
/// walk as the instruction's own fetch would make (which fills the TLB and may set the page's accessed bit, as a
/// processor's prefetch may), without a fault or exit: a page the walk does not give stays the interpreter's.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private Func<ulong, nint>? _nextCodePage;

    /// <summary>The host address of the code at <paramref name="linear"/> (a page's start, 64-bit code), or 0.</summary>
    private nint NextCodePage(ulong linear)
    {
        if (!IsCanonical(linear))
        {
            return 0;
        }

        byte* p = TranslateFetch(linear);
        if (p == null)
        {
            // Nothing was committed: the fault or exit is the interpreter's to take when it fetches there.
            _faulted = false;
            _exitPending = false;
        }

        return (nint)p;
    }
}
