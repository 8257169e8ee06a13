namespace SoftKvm.Vmm.Machines;

/// <summary>
/// The options of one architecture's machine (a record per machine, for example the arm64 virt machine's
/// GIC version), carried by <see cref="MachineConfig.MachineOptions"/> so that the configuration itself
/// names no architecture type; each builder reads its own with <see cref="MachineConfig.OptionsOf{T}"/>.
/// </summary>
public interface IMachineOptions;
