using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Native code while an interrupt is pending but masked (an IRQ line up during an irqsave section, the timer
/// expired while PSTATE.I = 1). The interpreter checks the lines before every instruction; native code does
/// not, so it runs only where no pending interrupt can be taken, and each way one can become takeable inside
/// native code leaves it exactly after the instruction that made it so, for the run loop's interpreter to
/// take it before the next one, as the architecture does:
/// <list type="bullet">
/// <item>MSR DAIFClr (with I or F) and MSR DAIF, which native code runs itself: after the write, a pending
/// line (<see cref="Translation.Native.NativeContext.PendingInterrupts"/>) that DAIF no longer masks runs
/// the instruction again in the interpreter (its effect is the same twice), whose check below leaves
/// (X64Lowering.Interrupts.cs);</item>
/// <item>every other instruction that can unmask or raise a line runs in the interpreter for native code
/// (MSR to ICC_PMR_EL1, ICC_IGRPEN1_EL1 or another CPU-interface register, whose write sets the lines at once):
/// after it, <see cref="MayRunTranslated"/> false sends native code to the run loop
/// (<see cref="InterpretForNative"/>); the timer registers end the run (the vCPU drives the timer lines);</item>
/// <item>ERET is an exception return, which always goes back to the run loop; an exception taken masks; WFI
/// traps; and a line that rises while native code runs comes with a kick (the exit request every block entry
/// and backward branch checks), as before.</item>
/// </list>
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>
    /// Whether the interpreter must look before the next instruction (<see cref="_attention"/> being set): a check
    /// of every instruction, or an interrupt pending that PSTATE.DAIF does not mask.
    /// </summary>
    private bool InterruptOrCheckDue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _attentionEveryInstruction || (_context->PendingInterrupts & ~State.Daif) != 0;
    }
}
