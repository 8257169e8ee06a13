using SoftKvm.Core.Errors;

namespace SoftKvm.Vmm.Errors;

/// <summary>An input file is missing or cannot be read; the message names the file and the option.</summary>
public sealed class InputFileException(string message) : SoftKvmException(message);

/// <summary>A kernel, initrd or firmware file is not in a format SoftKvm can boot (or is malformed).</summary>
public sealed class BadImageException(string message) : SoftKvmException(message);

/// <summary>Guest RAM cannot hold what has to be loaded into it (kernel, initrd, device tree).</summary>
public sealed class MemoryTooSmallException(string message) : SoftKvmException(message);

/// <summary>The machine configuration is invalid (vCPU count, memory size, GIC model, architecture).</summary>
public sealed class ConfigurationException(string message) : SoftKvmException(message);

/// <summary>The machine for an architecture is not wired into this build.</summary>
public sealed class MachineUnavailableException(string message) : SoftKvmException(message);

/// <summary>A device tree cannot be built as asked (unbalanced nodes, bad names); a programming error of the caller.</summary>
public sealed class FdtException(string message) : SoftKvmException(message);
