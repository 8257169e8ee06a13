using SoftKvm.Devices;

namespace SoftKvm.Vmm.Machines;

/// <summary>The host side a machine's devices talk to.</summary>
/// <param name="Console">Where the guest's serial output goes (untouched bytes).</param>
/// <param name="Log">Where device diagnostics go.</param>
public sealed record MachineIo(SerialOutput Console, TextWriter Log);
