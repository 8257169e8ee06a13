namespace SoftKvm.X86.Cpu;

/// <summary>The interrupt shadow (VMX guest interruptibility state bits 0 and 1).</summary>
public enum InterruptShadow
{
    /// <summary>No shadow.</summary>
    None = 0,

    /// <summary>Blocking by STI: interrupts are blocked until the next instruction retires.</summary>
    Sti = 1,

    /// <summary>Blocking by MOV SS / POP SS: interrupts, NMIs and the single-step #DB are blocked for one instruction.</summary>
    MovSs = 2,
}
