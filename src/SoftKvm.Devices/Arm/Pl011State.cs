namespace SoftKvm.Devices.Arm;

/// <summary>The saved state of a <see cref="Pl011"/>: every register and the receive FIFO.</summary>
public sealed record Pl011State
{
    /// <summary>UARTCR.</summary>
    public uint Cr { get; init; }

    /// <summary>UARTLCR_H.</summary>
    public uint LcrH { get; init; }

    /// <summary>UARTIBRD.</summary>
    public uint Ibrd { get; init; }

    /// <summary>UARTFBRD.</summary>
    public uint Fbrd { get; init; }

    /// <summary>UARTILPR.</summary>
    public uint Ilpr { get; init; }

    /// <summary>UARTIFLS.</summary>
    public uint Ifls { get; init; }

    /// <summary>UARTIMSC.</summary>
    public uint Imsc { get; init; }

    /// <summary>UARTRIS.</summary>
    public uint Ris { get; init; }

    /// <summary>UARTRSR.</summary>
    public uint Rsr { get; init; }

    /// <summary>UARTDMACR.</summary>
    public uint Dmacr { get; init; }

    /// <summary>The receive FIFO, oldest byte first.</summary>
    public byte[] RxFifo { get; init; } = [];
}
