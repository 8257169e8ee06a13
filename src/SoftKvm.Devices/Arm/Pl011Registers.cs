namespace SoftKvm.Devices.Arm;

/// <summary>
/// The PL011 UART register map and bits, spelled as in the PrimeCell UART (PL011) Technical Reference
/// Manual, ARM DDI 0183 (section 3.2 "Summary of registers", 3.3 "Register descriptions").
/// Registers not listed are reserved: read as zero, writes ignored.
/// </summary>
internal static class Pl011Registers
{
    /// <summary>The size of the register window (4 KiB).</summary>
    public const ulong WindowSize = 0x1000;

    public const ulong UARTDR = 0x000;      // data, RW
    public const ulong UARTRSR = 0x004;     // receive status (read) / error clear UARTECR (write)
    public const ulong UARTFR = 0x018;      // flags, RO
    public const ulong UARTILPR = 0x020;    // IrDA low-power counter, RW
    public const ulong UARTIBRD = 0x024;    // integer baud rate divisor, RW, 16 bits
    public const ulong UARTFBRD = 0x028;    // fractional baud rate divisor, RW, 6 bits
    public const ulong UARTLCR_H = 0x02C;   // line control, RW
    public const ulong UARTCR = 0x030;      // control, RW
    public const ulong UARTIFLS = 0x034;    // interrupt FIFO level select, RW
    public const ulong UARTIMSC = 0x038;    // interrupt mask set/clear, RW
    public const ulong UARTRIS = 0x03C;     // raw interrupt status, RO
    public const ulong UARTMIS = 0x040;     // masked interrupt status, RO
    public const ulong UARTICR = 0x044;     // interrupt clear, WO
    public const ulong UARTDMACR = 0x048;   // DMA control, RW
    public const ulong UARTPeriphID0 = 0xFE0;
    public const ulong UARTPCellID3 = 0xFFC;

    /// <summary>UARTPeriphID0..3 then UARTPCellID0..3 (DDI 0183 3.3.14-3.3.15; the values QEMU's virt model reports).</summary>
    public static ReadOnlySpan<byte> Id => [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

    /// <summary>The FIFO depth (16 entries, the value QEMU models for r1p4).</summary>
    public const int FifoDepth = 16;

    // UARTFR bits (DDI 0183 3.3.3).
    public const uint FR_BUSY = 1 << 3;
    public const uint FR_RXFE = 1 << 4;
    public const uint FR_TXFF = 1 << 5;
    public const uint FR_RXFF = 1 << 6;
    public const uint FR_TXFE = 1 << 7;

    // UARTLCR_H bits (3.3.7).
    public const uint LCR_H_FEN = 1 << 4;

    // UARTCR bits (3.3.8).
    public const uint CR_UARTEN = 1 << 0;
    public const uint CR_LBE = 1 << 7;
    public const uint CR_TXE = 1 << 8;
    public const uint CR_RXE = 1 << 9;
    public const uint CR_Reset = CR_TXE | CR_RXE;

    /// <summary>UARTIFLS reset value: both FIFOs trigger at half full.</summary>
    public const uint IFLS_Reset = 0x12;

    // Interrupt bits, common to UARTIMSC/RIS/MIS/ICR (3.3.10-3.3.13).
    public const uint INT_RX = 1 << 4;   // RXRIS
    public const uint INT_TX = 1 << 5;   // TXRIS
    public const uint INT_RT = 1 << 6;   // RTRIS, receive timeout
    public const uint INT_OE = 1 << 10;  // OERIS, overrun
    public const uint INT_All = 0x7FF;

    // UARTRSR bits (3.3.2).
    public const uint RSR_OE = 1 << 3;
}
