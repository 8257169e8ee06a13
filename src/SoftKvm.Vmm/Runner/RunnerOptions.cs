namespace SoftKvm.Vmm.Runner;

/// <summary>Options of a <see cref="VmRunner"/>.</summary>
public sealed record RunnerOptions
{
    /// <summary>Where diagnostics go (unhandled accesses, stop reasons); null: nowhere.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>Records every exit (for <c>--trace</c>); null: no tracing.</summary>
    public ExitTraceWriter? Trace { get; init; }

    /// <summary>How long to wait for vCPU threads to end after a stop.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A debugger (the gdb stub) that holds vCPUs and takes <c>Debug</c> exits; null: a <c>Debug</c> exit is an error.</summary>
    public IVcpuDebugger? Debugger { get; init; }

    /// <summary>Handles <c>KVM_EXIT_HYPERCALL</c> (Arm semihosting); null: a hypercall exit is an error.</summary>
    public IHypercallHandler? Hypercalls { get; init; }

    /// <summary>The stack size of each vCPU thread.</summary>
    public int VcpuThreadStackSize { get; init; } = 16 << 20;

    /// <summary>The exit counts the runner starts from (a restored snapshot's; zero for a new VM).</summary>
    public VmmExitCounts ExitsSeenBefore { get; init; }
}
