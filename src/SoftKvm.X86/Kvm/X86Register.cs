namespace SoftKvm.X86.Kvm;

/// <summary>
/// The registers of <c>struct kvm_regs</c> and the control registers and EFER of <c>struct kvm_sregs</c>,
/// for <see cref="X86Vcpu.GetRegister"/> and <see cref="X86Vcpu.SetRegister"/>. The general-purpose
/// registers come first, numbered in the x86 encoding order (RAX = 0 ... R15 = 15), then RIP = 16 and the rest.
/// </summary>
public enum X86Register
{
    /// <summary>RAX.</summary>
    Rax = 0,

    /// <summary>RCX.</summary>
    Rcx,

    /// <summary>RDX.</summary>
    Rdx,

    /// <summary>RBX.</summary>
    Rbx,

    /// <summary>RSP.</summary>
    Rsp,

    /// <summary>RBP.</summary>
    Rbp,

    /// <summary>RSI.</summary>
    Rsi,

    /// <summary>RDI.</summary>
    Rdi,

    /// <summary>R8.</summary>
    R8,

    /// <summary>R9.</summary>
    R9,

    /// <summary>R10.</summary>
    R10,

    /// <summary>R11.</summary>
    R11,

    /// <summary>R12.</summary>
    R12,

    /// <summary>R13.</summary>
    R13,

    /// <summary>R14.</summary>
    R14,

    /// <summary>R15.</summary>
    R15,

    /// <summary>RIP.</summary>
    Rip = 16,

    /// <summary>RFLAGS (bit 1 is always set, as KVM sets it).</summary>
    Rflags,

    /// <summary>CR0.</summary>
    Cr0,

    /// <summary>CR2.</summary>
    Cr2,

    /// <summary>CR3.</summary>
    Cr3,

    /// <summary>CR4.</summary>
    Cr4,

    /// <summary>CR8 (the task priority; with the in-kernel irqchip the local APIC's TPR[7:4]).</summary>
    Cr8,

    /// <summary>IA32_EFER.</summary>
    Efer,
}

/// <summary>The segment registers of <c>struct kvm_sregs</c> for <see cref="X86Vcpu.SetSegment"/>, in the x86 encoding order.</summary>
public enum X86Segment
{
    /// <summary>ES.</summary>
    Es = 0,

    /// <summary>CS.</summary>
    Cs,

    /// <summary>SS.</summary>
    Ss,

    /// <summary>DS.</summary>
    Ds,

    /// <summary>FS.</summary>
    Fs,

    /// <summary>GS.</summary>
    Gs,
}
