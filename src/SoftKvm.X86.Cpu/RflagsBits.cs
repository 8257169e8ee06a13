namespace SoftKvm.X86.Cpu;

/// <summary>RFLAGS bits.</summary>
public static class Rflags
{
    /// <summary>Carry.</summary>
    public const ulong CF = 1UL << 0;
    /// <summary>Reserved, reads as 1.</summary>
    public const ulong Fixed1 = 1UL << 1;
    /// <summary>Parity.</summary>
    public const ulong PF = 1UL << 2;
    /// <summary>Auxiliary carry.</summary>
    public const ulong AF = 1UL << 4;
    /// <summary>Zero.</summary>
    public const ulong ZF = 1UL << 6;
    /// <summary>Sign.</summary>
    public const ulong SF = 1UL << 7;
    /// <summary>Trap (single-step).</summary>
    public const ulong TF = 1UL << 8;
    /// <summary>Interrupt enable.</summary>
    public const ulong IF = 1UL << 9;
    /// <summary>Direction.</summary>
    public const ulong DF = 1UL << 10;
    /// <summary>Overflow.</summary>
    public const ulong OF = 1UL << 11;
    /// <summary>IO privilege level (2 bits).</summary>
    public const ulong IOPL = 3UL << 12;
    /// <summary>Nested task.</summary>
    public const ulong NT = 1UL << 14;
    /// <summary>Resume.</summary>
    public const ulong RF = 1UL << 16;
    /// <summary>Virtual-8086 mode.</summary>
    public const ulong VM = 1UL << 17;
    /// <summary>Alignment check.</summary>
    public const ulong AC = 1UL << 18;
    /// <summary>Virtual interrupt flag.</summary>
    public const ulong VIF = 1UL << 19;
    /// <summary>Virtual interrupt pending.</summary>
    public const ulong VIP = 1UL << 20;
    /// <summary>CPUID available.</summary>
    public const ulong ID = 1UL << 21;
    /// <summary>The six arithmetic status flags.</summary>
    public const ulong Status = CF | PF | AF | ZF | SF | OF;
}
