namespace SoftKvm.X86.Cpu;

/// <summary>
/// An inexact budget for native blocks: <see cref="Run"/> keeps its budget to the instruction by default (a block longer
/// than what remains is not entered: the interpreter runs the rest, and each place it passes is a look-up that
/// translates a block starting there). A hypervisor whose budget is only a time slice lets a native block that starts
/// inside the budget run to its end (at most <see cref="Translation.Native.X86NativeTranslator.MaxInstructions"/>
/// instructions past it). On the Linux boot the exact 20,000-instruction slices interpreted 7.1M instructions at
/// their ends (docs/performance.md, issue 20).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>Whether <see cref="Run"/> stops exactly at its budget (default true); false lets a native block begun
    /// inside the budget finish past it (the run then ends at the block's end).</summary>
    public bool ExactBudget { get; set; } = true;
}
