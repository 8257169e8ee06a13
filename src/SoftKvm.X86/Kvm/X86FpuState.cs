namespace SoftKvm.X86.Kvm;

/// <summary>
/// <c>struct kvm_fpu</c>: the x87 registers in ST order (ST(0) first, 80 bits each: the significand then
/// sign and exponent), the control, status and abridged tag words, the last instruction and operand
/// pointers, XMM0-XMM15 and MXCSR.
/// </summary>
public sealed class X86FpuState
{
    /// <summary>ST(0)-ST(7), 10 bytes each, little-endian (FSTP m80 layout).</summary>
    public byte[][] St { get; } = [.. Enumerable.Range(0, 8).Select(_ => new byte[10])];

    /// <summary>FCW.</summary>
    public ushort Fcw { get; set; }

    /// <summary>FSW (TOP in bits 13:11).</summary>
    public ushort Fsw { get; set; }

    /// <summary>The abridged tag word (FXSAVE): bit i set when physical register R(i) is valid.</summary>
    public byte Ftwx { get; set; }

    /// <summary>The last x87 opcode.</summary>
    public ushort LastOpcode { get; set; }

    /// <summary>The last instruction pointer (FIP) and its selector (FCS).</summary>
    public ulong LastIp { get; set; }

    /// <summary>FCS.</summary>
    public ushort LastCs { get; set; }

    /// <summary>The last data pointer (FDP).</summary>
    public ulong LastDp { get; set; }

    /// <summary>FDS.</summary>
    public ushort LastDs { get; set; }

    /// <summary>XMM0-XMM15.</summary>
    public UInt128[] Xmm { get; } = new UInt128[16];

    /// <summary>MXCSR.</summary>
    public uint Mxcsr { get; set; }
}
