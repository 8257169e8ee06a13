namespace SoftKvm.Devices.X86;

/// <summary>The saved state of a <see cref="Uart16550"/>.</summary>
public sealed record Uart16550State
{
    /// <summary>Divisor latch LSB.</summary>
    public byte Dll { get; init; }

    /// <summary>Divisor latch MSB.</summary>
    public byte Dlm { get; init; }

    /// <summary>Interrupt enable.</summary>
    public byte Ier { get; init; }

    /// <summary>FIFO control as last written (bit 0 and the trigger bits 7:6).</summary>
    public byte Fcr { get; init; }

    /// <summary>Line control.</summary>
    public byte Lcr { get; init; }

    /// <summary>Modem control.</summary>
    public byte Mcr { get; init; }

    /// <summary>Scratch.</summary>
    public byte Scr { get; init; }

    /// <summary>Whether an overrun is latched in LSR.</summary>
    public bool Overrun { get; init; }

    /// <summary>Whether the THR-empty interrupt is pending.</summary>
    public bool ThrEmptyPending { get; init; }

    /// <summary>The receive FIFO, oldest byte first.</summary>
    public byte[] RxFifo { get; init; } = [];
}
