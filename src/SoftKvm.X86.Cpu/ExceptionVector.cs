namespace SoftKvm.X86.Cpu;

/// <summary>x86 exception vectors and their class (SDM Vol. 3 table 6-1).</summary>
public static class ExceptionVector
{
    /// <summary>Divide error.</summary>
    public const int DE = 0;
    /// <summary>Debug.</summary>
    public const int DB = 1;
    /// <summary>NMI.</summary>
    public const int NMI = 2;
    /// <summary>Breakpoint (trap).</summary>
    public const int BP = 3;
    /// <summary>Overflow (trap).</summary>
    public const int OF = 4;
    /// <summary>BOUND range exceeded.</summary>
    public const int BR = 5;
    /// <summary>Invalid opcode.</summary>
    public const int UD = 6;
    /// <summary>Device not available.</summary>
    public const int NM = 7;
    /// <summary>Double fault (abort).</summary>
    public const int DF = 8;
    /// <summary>Invalid TSS.</summary>
    public const int TS = 10;
    /// <summary>Segment not present.</summary>
    public const int NP = 11;
    /// <summary>Stack-segment fault.</summary>
    public const int SS = 12;
    /// <summary>General protection.</summary>
    public const int GP = 13;
    /// <summary>Page fault.</summary>
    public const int PF = 14;
    /// <summary>x87 floating point.</summary>
    public const int MF = 16;
    /// <summary>Alignment check.</summary>
    public const int AC = 17;
    /// <summary>Machine check (abort).</summary>
    public const int MC = 18;
    /// <summary>SIMD floating point.</summary>
    public const int XM = 19;

    /// <summary>Whether the vector pushes an error code when delivered as an exception.</summary>
    public static bool HasErrorCode(int vector) => vector is DF or TS or NP or SS or GP or PF or AC or 21;

    /// <summary>Whether the vector is trap-class (the instruction retired before it is reported).</summary>
    public static bool IsTrap(int vector) => vector is BP or OF;

    /// <summary>The class of an exception the emulator raised (docs/kvm-semantics.md#x86-faulting-emulation,
    /// with the 2022 rule that emulator-raised #DBs, code breakpoints and general detect, are
    /// fault-like).</summary>
    public static X86ExceptionClass Classify(int vector) => vector switch
    {
        BP or OF => X86ExceptionClass.Trap,
        DF or MC => X86ExceptionClass.Abort,
        NMI => X86ExceptionClass.Interrupt,
        > 31 => X86ExceptionClass.Interrupt,
        _ => X86ExceptionClass.Fault,
    };

    /// <summary>Contributory exceptions for the double-fault rules (SDM table 6-4).</summary>
    internal static bool IsContributory(int vector) => vector is DE or TS or NP or SS or GP;
}
