using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Machines;

/// <summary>
/// Stands for an architecture whose machine is not wired into this build: <see cref="Prepare"/> fails
/// with a one-line <see cref="MachineUnavailableException"/> (exit code 2) naming the architecture.
/// </summary>
public sealed class UnavailableMachineBuilder(string architecture, string reason) : IMachineBuilder
{
    /// <inheritdoc />
    public string Architecture { get; } = architecture;

    /// <inheritdoc />
    public IPreparedMachine Prepare(MachineConfig config) =>
        throw new MachineUnavailableException($"the {Architecture} machine is not available in this build: {reason}");
}
