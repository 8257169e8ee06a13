namespace SoftKvm.X86.Kvm;

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
