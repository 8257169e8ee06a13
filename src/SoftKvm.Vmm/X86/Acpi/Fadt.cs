using System.Buffers.Binary;
using SoftKvm.Devices.X86;

namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The Fixed ACPI Description Table ("FACP", ACPI 6.5 section 5.2.9) of the PC, revision 3 (244 bytes,
/// ACPI 2.0's layout, as QEMU's <c>pc</c>): the FACS and DSDT, SCI on IRQ 9, no SMI command port (the
/// machine is always in ACPI mode), the PM1a event and control blocks and the 24-bit PM timer of
/// <see cref="AcpiPm"/> (both as 32-bit port fields and as the X_ Generic Address Structures), no GPE
/// block, C2/C3 not supported, the RTC century register 0x32, the reset register (the PIIX reset control
/// at 0xCF9, value 6: a hard reset), and the boot architecture flags of a PC with legacy ISA devices, no
/// 8042 keyboard controller and no VGA.
/// </summary>
public static class Fadt
{
    /// <summary>The table's length for revision 3.</summary>
    public const int Length = 244;

    /// <summary>The revision.</summary>
    public const byte Revision = 3;

    /// <summary>The SCI's ISA IRQ (QEMU's PIIX4 power management function's).</summary>
    public const int SciIrq = 9;

    /// <summary>Flags: WBINVD works, C1 supported, no fixed power button, no fixed sleep button, RESET_REG supported.</summary>
    public const uint Flags = (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10);

    /// <summary>IAPC_BOOT_ARCH: LEGACY_DEVICES, VGA Not Present (and no 8042: bit 1 clear).</summary>
    public const ushort BootArchitecture = (1 << 0) | (1 << 2);

    /// <summary>Field offsets used here and by the tests.</summary>
    public const int FirmwareCtrl = 36, DsdtAddress = 40, SciInt = 46, SmiCmd = 48, Pm1aEvtBlk = 56, Pm1aCntBlk = 64,
        PmTmrBlk = 76, Pm1EvtLen = 88, Pm1CntLen = 89, PmTmrLen = 91, PLvl2Lat = 96, PLvl3Lat = 98, Century = 108,
        IapcBootArch = 109, FlagsOffset = 112, ResetReg = 116, ResetValue = 128, XDsdt = 140, XPm1aEvtBlk = 148,
        XPm1aCntBlk = 172, XPmTmrBlk = 208;

    /// <summary>Builds the FADT pointing at the FACS at <paramref name="facs"/> and the DSDT at <paramref name="dsdt"/>, with the PM registers at <paramref name="pmBase"/>.</summary>
    public static byte[] Build(uint facs, uint dsdt, ushort pmBase)
    {
        var t = AcpiTable.New("FACP", Length, Revision);
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[FirmwareCtrl..], facs);
        BinaryPrimitives.WriteUInt32LittleEndian(s[DsdtAddress..], dsdt);
        BinaryPrimitives.WriteUInt16LittleEndian(s[SciInt..], SciIrq);
        BinaryPrimitives.WriteUInt32LittleEndian(s[SmiCmd..], 0);
        ushort evt = (ushort)(pmBase + AcpiPm.EventBlock);
        ushort cnt = (ushort)(pmBase + AcpiPm.ControlBlock);
        ushort tmr = (ushort)(pmBase + AcpiPm.TimerBlock);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Pm1aEvtBlk..], evt);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Pm1aCntBlk..], cnt);
        BinaryPrimitives.WriteUInt32LittleEndian(s[PmTmrBlk..], tmr);
        s[Pm1EvtLen] = AcpiPm.EventBlockLength;
        s[Pm1CntLen] = AcpiPm.ControlBlockLength;
        s[PmTmrLen] = AcpiPm.TimerBlockLength;
        BinaryPrimitives.WriteUInt16LittleEndian(s[PLvl2Lat..], 0x0FFF); // > 100: C2 not supported
        BinaryPrimitives.WriteUInt16LittleEndian(s[PLvl3Lat..], 0x0FFF); // > 1000: C3 not supported
        s[Century] = 0x32; // the CMOS RTC's century register (IBM PC)
        BinaryPrimitives.WriteUInt16LittleEndian(s[IapcBootArch..], BootArchitecture);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FlagsOffset..], Flags);
        AcpiTable.WriteIoAddress(s, ResetReg, ResetControl.Port, 8, 1);
        s[ResetValue] = ResetControl.FadtResetValue;
        BinaryPrimitives.WriteUInt64LittleEndian(s[XDsdt..], dsdt);
        AcpiTable.WriteIoAddress(s, XPm1aEvtBlk, evt, AcpiPm.EventBlockLength * 8, 2);
        AcpiTable.WriteIoAddress(s, XPm1aCntBlk, cnt, AcpiPm.ControlBlockLength * 8, 2);
        AcpiTable.WriteIoAddress(s, XPmTmrBlk, tmr, AcpiPm.TimerBlockLength * 8, 3);
        return AcpiTable.Seal(t);
    }
}
