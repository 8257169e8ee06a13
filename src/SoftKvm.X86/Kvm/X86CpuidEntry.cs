namespace SoftKvm.X86.Kvm;

/// <summary>One CPUID answer the VMM sets (<c>kvm_cpuid_entry2</c>): leaf, subleaf, and the four result registers.</summary>
/// <param name="Function">The leaf (EAX).</param>
/// <param name="Index">The subleaf (ECX), or -1 when the leaf ignores ECX.</param>
/// <param name="Eax">EAX.</param>
/// <param name="Ebx">EBX.</param>
/// <param name="Ecx">ECX.</param>
/// <param name="Edx">EDX.</param>
public readonly record struct X86CpuidEntry(uint Function, int Index, uint Eax, uint Ebx, uint Ecx, uint Edx);
