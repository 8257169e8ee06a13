namespace SoftKvm.Vmm.Runner;

/// <summary>How a VM run ended.</summary>
/// <param name="ExitCode">The process exit code the command returns (0 power-off, 3 internal error, ...).</param>
/// <param name="Reason">Why it ended.</param>
/// <param name="Message">One line describing it (for errors: naming the exit reason, PC and instruction).</param>
/// <param name="VcpuId">The vCPU whose exit ended the run, when one did.</param>
public sealed record RunOutcome(int ExitCode, StopReason Reason, string Message, int? VcpuId = null)
{
    /// <summary>The exit code of an internal error.</summary>
    public const int InternalErrorExitCode = 3;

    /// <summary>The exit code after Ctrl-C (128 + SIGINT).</summary>
    public const int CancelledExitCode = 130;
}
