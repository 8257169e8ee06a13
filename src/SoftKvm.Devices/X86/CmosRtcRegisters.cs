namespace SoftKvm.Devices.X86;

/// <summary>
/// The PC CMOS/RTC (Motorola MC146818A) registers behind ports 0x70 (index, bit 7 = NMI disable) and 0x71
/// (data), spelled as in the MC146818A data sheet, "Address Map" and "Registers A-D"; 0x32 is the IBM PC
/// century byte.
/// </summary>
internal static class CmosRtcRegisters
{
    /// <summary>The number of ports: index and data.</summary>
    public const ulong PortCount = 2;

    public const int Seconds = 0x00;
    public const int SecondsAlarm = 0x01;
    public const int Minutes = 0x02;
    public const int MinutesAlarm = 0x03;
    public const int Hours = 0x04;
    public const int HoursAlarm = 0x05;
    public const int DayOfWeek = 0x06;
    public const int DayOfMonth = 0x07;
    public const int Month = 0x08;
    public const int Year = 0x09;
    public const int RegisterA = 0x0A;
    public const int RegisterB = 0x0B;
    public const int RegisterC = 0x0C;
    public const int RegisterD = 0x0D;
    public const int Century = 0x32;

    public const int RamSize = 128;

    // Register A: 32.768 kHz time base, 1024 Hz periodic rate; UIP (bit 7) is never seen set here.
    public const byte A_Reset = 0x26;

    // Register B bits.
    public const byte B_SET = 0x80;
    public const byte B_PIE = 0x40;
    public const byte B_AIE = 0x20;
    public const byte B_UIE = 0x10;
    public const byte B_DM = 0x04;      // 1 = binary, 0 = BCD
    public const byte B_24H = 0x02;
    public const byte B_Reset = B_24H;  // 24-hour BCD, as a PC BIOS leaves it

    // Register C bits (read clears).
    public const byte C_IRQF = 0x80;
    public const byte C_AF = 0x20;
    public const byte C_UF = 0x10;

    // Register D: VRT, the RAM and time are valid.
    public const byte D_VRT = 0x80;

    public const byte Pm = 0x80;
}
