using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>One 128-bit XMM register as two little-endian quadwords (no <c>Vector128</c>, so the register
/// file stays a plain unmanaged struct).</summary>
public struct XmmRegister
{
    /// <summary>Bits 63:0.</summary>
    public ulong Lo;

    /// <summary>Bits 127:64.</summary>
    public ulong Hi;

    /// <summary>Creates a register value from its two halves.</summary>
    public XmmRegister(ulong lo, ulong hi)
    {
        Lo = lo;
        Hi = hi;
    }
}

/// <summary>XMM0-XMM15.</summary>
[InlineArray(16)]
public struct XmmFile
{
    private XmmRegister _element0;
}

/// <summary>An x87 register in the 80-bit double-extended format (FXSAVE / FSTP m80 layout).</summary>
public struct Float80
{
    /// <summary>The 64-bit significand with its explicit integer bit (bit 63).</summary>
    public ulong Significand;

    /// <summary>Bit 15: sign; bits 14:0: biased exponent (bias 16383).</summary>
    public ushort SignExponent;
}

/// <summary>The eight physical x87 data registers R0-R7 (ST(i) is R((TOP + i) mod 8)).</summary>
[InlineArray(8)]
public struct X87RegisterFile
{
    private Float80 _element0;
}

/// <summary>
/// The x87 FPU state: data registers, control/status/tag words and the last-instruction pointers
/// (SDM Vol. 1 chapter 8). TOP lives in <see cref="Fsw"/> bits 13:11, as in hardware.
/// </summary>
public struct X87State
{
    /// <summary>R0-R7.</summary>
    public X87RegisterFile R;

    /// <summary>FPU control word (reset value 0x037F, as FNINIT and KVM's vCPU reset).</summary>
    public ushort Fcw;

    /// <summary>FPU status word (TOP in bits 13:11).</summary>
    public ushort Fsw;

    /// <summary>The abridged tag word: bit i set = physical register Ri is valid (not empty).</summary>
    public byte ValidMask;

    /// <summary>The last non-control x87 opcode (11 bits).</summary>
    public ushort Fop;

    /// <summary>The last non-control x87 instruction's offset (64-bit RIP in 64-bit mode).</summary>
    public ulong Fip;

    /// <summary>The last x87 memory operand's offset.</summary>
    public ulong Fdp;

    /// <summary>The CS selector of <see cref="Fip"/> and the DS selector of <see cref="Fdp"/>.</summary>
    public ushort Fcs, Fds;

    /// <summary>TOP (FSW bits 13:11).</summary>
    public readonly int Top => (Fsw >> 11) & 7;

    /// <summary>The state FNINIT leaves (FCW 0x037F, everything else clear, all registers empty).</summary>
    public static X87State Initial()
    {
        var s = default(X87State);
        s.Fcw = 0x037F;
        return s;
    }
}
