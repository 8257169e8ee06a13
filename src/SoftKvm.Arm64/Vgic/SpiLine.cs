using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>The interrupt line of one SPI, handed to a device model that knows nothing of the GIC.</summary>
internal sealed class SpiLine(Vgic vgic, int spi) : IIrqLine
{
    /// <summary>The SPI number (INTID 32 + spi).</summary>
    public int Spi { get; } = spi;

    /// <inheritdoc />
    public void Set(bool level) => vgic.SetSpiLevel(Spi, level);
}
