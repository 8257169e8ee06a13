namespace SoftKvm.Devices.X86;

/// <summary>
/// The 16550A UART register map (offsets from the base port, 0x3F8 for COM1) and bits, spelled as in the
/// National Semiconductor PC16550D data sheet, table II "Summary of Accessible Registers" and section 8.
/// </summary>
internal static class Uart16550Registers
{
    /// <summary>The number of ports the UART decodes.</summary>
    public const ulong PortCount = 8;

    public const ulong RBR_THR_DLL = 0; // receiver buffer (read), transmitter holding (write), divisor latch LSB (DLAB=1)
    public const ulong IER_DLM = 1;     // interrupt enable, divisor latch MSB (DLAB=1)
    public const ulong IIR_FCR = 2;     // interrupt identification (read), FIFO control (write)
    public const ulong LCR = 3;         // line control
    public const ulong MCR = 4;         // modem control
    public const ulong LSR = 5;         // line status
    public const ulong MSR = 6;         // modem status
    public const ulong SCR = 7;         // scratch

    public const int FifoDepth = 16;

    // IER bits.
    public const byte IER_ERBFI = 0x01; // received data available
    public const byte IER_ETBEI = 0x02; // transmitter holding register empty
    public const byte IER_ELSI = 0x04;  // receiver line status
    public const byte IER_EDSSI = 0x08; // modem status
    public const byte IER_Mask = 0x0F;

    // IIR values (bits 3:0) in priority order, and the FIFO-enabled bits 7:6.
    public const byte IIR_NoInterrupt = 0x01;
    public const byte IIR_ReceiverLineStatus = 0x06;
    public const byte IIR_ReceivedDataAvailable = 0x04;
    public const byte IIR_CharacterTimeout = 0x0C;
    public const byte IIR_ThrEmpty = 0x02;
    public const byte IIR_ModemStatus = 0x00;
    public const byte IIR_FifosEnabled = 0xC0;

    // FCR bits.
    public const byte FCR_Enable = 0x01;
    public const byte FCR_ClearRx = 0x02;
    public const byte FCR_ClearTx = 0x04;

    // LCR bits.
    public const byte LCR_DLAB = 0x80;

    // MCR bits.
    public const byte MCR_DTR = 0x01;
    public const byte MCR_RTS = 0x02;
    public const byte MCR_OUT1 = 0x04;
    public const byte MCR_OUT2 = 0x08;
    public const byte MCR_LOOP = 0x10;
    public const byte MCR_Mask = 0x1F;

    // LSR bits.
    public const byte LSR_DR = 0x01;
    public const byte LSR_OE = 0x02;
    public const byte LSR_THRE = 0x20;
    public const byte LSR_TEMT = 0x40;

    // MSR bits.
    public const byte MSR_CTS = 0x10;
    public const byte MSR_DSR = 0x20;
    public const byte MSR_RI = 0x40;
    public const byte MSR_DCD = 0x80;

    /// <summary>Reset values: 8N1, divisor 12 (9600 baud), OUT2 set so the interrupt reaches the PIC.</summary>
    public const byte LCR_Reset = 0x03;
    public const byte MCR_Reset = MCR_OUT2;
    public const byte DLL_Reset = 0x0C;
}
