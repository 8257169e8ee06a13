namespace SoftKvm.Devices.X86;

/// <summary>The saved state of an <see cref="AcpiPm"/>.</summary>
/// <param name="Enable">PM1a_EN.</param>
/// <param name="Control">PM1a_CNT (SCI_EN and SLP_TYP).</param>
public sealed record AcpiPmState(ushort Enable, ushort Control);
