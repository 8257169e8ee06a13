namespace SoftKvm.Core.Hooks;

/// <summary>What kind of event a <see cref="GuestException"/> is.</summary>
public enum GuestExceptionKind
{
    /// <summary>A synchronous exception or fault raised by an instruction (arm64: to the Sync vector; x86: a fault, trap or abort).</summary>
    Exception,

    /// <summary>An asynchronous interrupt (arm64: IRQ, FIQ; x86: an external interrupt or NMI).</summary>
    Interrupt,

    /// <summary>An exception the instruction asks for (arm64: SVC, BRK; x86: INT n, INT3, INTO).</summary>
    Software,
}

/// <summary>
/// An exception or interrupt the guest took, as an exception hook sees it.
/// <para>arm64: <see cref="Vector"/> is the offset of the vector entry inside its group of four (0 Sync, 1 IRQ,
/// 2 FIQ, 3 SError), <see cref="Syndrome"/> is ESR_EL1 for Sync (its EC in bits [31:26]) and 0 otherwise,
/// <see cref="ReturnAddress"/> is ELR_EL1, <see cref="HandlerAddress"/> the vector's address.</para>
/// <para>x86: <see cref="Vector"/> is the IDT vector, <see cref="Syndrome"/> the error code (0 when there is
/// none), <see cref="ReturnAddress"/> the RIP saved for the handler, <see cref="HandlerAddress"/> the
/// handler's RIP.</para>
/// </summary>
/// <param name="Kind">Exception, interrupt or software exception.</param>
/// <param name="Vector">The architecture's vector number (see above).</param>
/// <param name="Syndrome">The syndrome or error code.</param>
/// <param name="ReturnAddress">Where the handler returns to.</param>
/// <param name="HandlerAddress">The handler's first instruction.</param>
public readonly record struct GuestException(GuestExceptionKind Kind, int Vector, ulong Syndrome, ulong ReturnAddress, ulong HandlerAddress);
