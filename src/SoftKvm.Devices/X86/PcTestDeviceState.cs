namespace SoftKvm.Devices.X86;

/// <summary>The saved state of a <see cref="PcTestDevice"/>.</summary>
/// <param name="Data">The data register.</param>
/// <param name="Memory">The 64 KiB memory window.</param>
public sealed record PcTestDeviceState(uint Data, byte[] Memory);
