namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// What the exit helper (<see cref="NativeHelper.Exit"/>, Arm64Cpu.ExitHelpers.cs) completes: bits 48-55 of the descriptor
/// native code passes it. Bits 0-31 hold the access's syndrome or the instruction's word, bits 32-47 the instruction's
/// byte offset from the block's PC (signed: a block has code before its first entry).
/// </summary>
internal enum ExitHelperKind : byte
{
    /// <summary>A single-register load or store whose TLB look-up missed: bits 0-31 its syndrome (WnR for a store).</summary>
    Access,

    /// <summary>An MRS or MSR of a GIC CPU-interface register at EL1: bits 0-31 its word.</summary>
    Controller,

    /// <summary>An HVC or SMC at EL1: bits 0-31 its word.</summary>
    Hypercall,
}
