namespace SoftKvm.X86.Kvm;

/// <summary>
/// The registers of <c>struct kvm_regs</c> and the control registers and EFER of <c>struct kvm_sregs</c>,
/// for <see cref="X86Vcpu.GetRegister"/> and <see cref="X86Vcpu.SetRegister"/>. The general-purpose
/// registers come first, in the x86 encoding order.
/// </summary>
public enum X86Register
{
    /// <summary>RAX.</summary>
    Rax = 0,

    /// <summary>RCX.</summary>
    Rcx = 1,

    /// <summary>RDX.</summary>
    Rdx = 2,

    /// <summary>RBX.</summary>
    Rbx = 3,

    /// <summary>RSP.</summary>
    Rsp = 4,

    /// <summary>RBP.</summary>
    Rbp = 5,

    /// <summary>RSI.</summary>
    Rsi = 6,

    /// <summary>RDI.</summary>
    Rdi = 7,

    /// <summary>R8.</summary>
    R8 = 8,

    /// <summary>R9.</summary>
    R9 = 9,

    /// <summary>R10.</summary>
    R10 = 10,

    /// <summary>R11.</summary>
    R11 = 11,

    /// <summary>R12.</summary>
    R12 = 12,

    /// <summary>R13.</summary>
    R13 = 13,

    /// <summary>R14.</summary>
    R14 = 14,

    /// <summary>R15.</summary>
    R15 = 15,

    /// <summary>RIP.</summary>
    Rip = 16,

    /// <summary>RFLAGS (bit 1 is always set, as KVM sets it).</summary>
    Rflags = 17,

    /// <summary>CR0.</summary>
    Cr0 = 18,

    /// <summary>CR2.</summary>
    Cr2 = 19,

    /// <summary>CR3.</summary>
    Cr3 = 20,

    /// <summary>CR4.</summary>
    Cr4 = 21,

    /// <summary>CR8 (the task priority; with the in-kernel irqchip the local APIC's TPR[7:4]).</summary>
    Cr8 = 22,

    /// <summary>IA32_EFER.</summary>
    Efer = 23,
}

/// <summary>The segment registers of <c>struct kvm_sregs</c> for <see cref="X86Vcpu.SetSegment"/>, in the x86 encoding order.</summary>
public enum X86Segment
{
    /// <summary>ES.</summary>
    Es = 0,

    /// <summary>CS.</summary>
    Cs = 1,

    /// <summary>SS.</summary>
    Ss = 2,

    /// <summary>DS.</summary>
    Ds = 3,

    /// <summary>FS.</summary>
    Fs = 4,

    /// <summary>GS.</summary>
    Gs = 5,
}
