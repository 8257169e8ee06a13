namespace SoftKvm.X86.Kvm;

/// <summary>A segment register as <c>kvm_sregs</c> shows it: the selector and the hidden part.</summary>
/// <param name="Selector">The visible selector.</param>
/// <param name="Base">The base address.</param>
/// <param name="Limit">The limit, in bytes.</param>
/// <param name="Attributes">The access rights (type, S, DPL, P, AVL, L, D/B, G) in VMX format.</param>
public readonly record struct X86SegmentState(ushort Selector, ulong Base, uint Limit, uint Attributes);
