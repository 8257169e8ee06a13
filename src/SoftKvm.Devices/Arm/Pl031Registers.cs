namespace SoftKvm.Devices.Arm;

/// <summary>
/// The PL031 real-time clock register map, spelled as in the PrimeCell Real Time Clock (PL031) Technical
/// Reference Manual, ARM DDI 0224 (section 3.2 "Summary of RTC registers"). Reserved offsets read as
/// zero and ignore writes.
/// </summary>
internal static class Pl031Registers
{
    /// <summary>The size of the register window (4 KiB).</summary>
    public const ulong WindowSize = 0x1000;

    public const ulong RTCDR = 0x000;    // data (the counter), RO
    public const ulong RTCMR = 0x004;    // match, RW
    public const ulong RTCLR = 0x008;    // load, RW
    public const ulong RTCCR = 0x00C;    // control, RW: bit 0 RTCStart
    public const ulong RTCIMSC = 0x010;  // interrupt mask set/clear, RW
    public const ulong RTCRIS = 0x014;   // raw interrupt status, RO
    public const ulong RTCMIS = 0x018;   // masked interrupt status, RO
    public const ulong RTCICR = 0x01C;   // interrupt clear, WO
    public const ulong RTCPeriphID0 = 0xFE0;
    public const ulong RTCPCellID3 = 0xFFC;

    /// <summary>RTCPeriphID0..3 then RTCPCellID0..3 (DDI 0224 3.3.9-3.3.10).</summary>
    public static ReadOnlySpan<byte> Id => [0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

    /// <summary>The RTCINTR bit of RTCIMSC/RIS/MIS/ICR.</summary>
    public const uint RTCINTR = 1;
}
