namespace SoftKvm.Vmm.Runner;

/// <summary>Deterministic execution of a <see cref="VmRunner"/> (docs/snapshots.md#deterministic-execution).</summary>
public sealed record DeterministicOptions
{
    /// <summary>The default instructions of one vCPU's turn.</summary>
    public const long DefaultQuantum = 16_384;

    /// <summary>The instructions a vCPU retires in one turn before the next vCPU runs.</summary>
    public long Quantum { get; init; } = DefaultQuantum;

    /// <summary>Console input, live or replayed (null: none).</summary>
    public ConsoleInputSchedule? Input { get; init; }

    /// <summary>The guest's console device that takes <see cref="Input"/> (the machine's <c>SendInput</c>).</summary>
    public InputPump.InputSink? InputSink { get; init; }
}
