namespace SoftKvm.X86.Cpu;

/// <summary>Exception classes for retirement (SDM Vol. 3 6.5; KVM's emulator view).</summary>
public enum X86ExceptionClass
{
    /// <summary>The instruction did not retire; architectural state is as before it.</summary>
    Fault,

    /// <summary>The instruction retired; the exception is reported after it (#BP, #OF).</summary>
    Trap,

    /// <summary>#DF, #MC.</summary>
    Abort,

    /// <summary>NMI and vectors above 31: not emulator exceptions.</summary>
    Interrupt,
}
