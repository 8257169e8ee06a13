using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.X86;
using SoftKvm.Vmm.X86.Acpi;

namespace SoftKvm.Vmm.Tests.X86;

/// <summary>
/// The PC's ACPI tables read the way an operating system reads them (ACPI 6.5 chapter 5): the RSDP found
/// by the scan of 0xE0000-0xFFFFF, the XSDT and RSDT, then each table by signature; values as QEMU's
/// <c>pc</c> presents them.
/// </summary>
public class AcpiTablesTests
{
    private const uint Base = (uint)PcMemoryMap.AcpiAddress;

    private static readonly byte[] Block = AcpiTables.Build(Base, 4, 4, PcPlatform.LevelIrqs, 0x600);

    private static Span<byte> At(ulong address, int length) => Block.AsSpan((int)(address - Base), length);

    private static Span<byte> Table(ulong address) => At(address, (int)BinaryPrimitives.ReadUInt32LittleEndian(At(address + 4, 4)));

    private static ulong Rsdp()
    {
        for (ulong a = Base; a + 36 <= Base + (ulong)Block.Length; a += 16)
        {
            if (Encoding.ASCII.GetString(At(a, 8)) == "RSD PTR " && AcpiTable.SumsToZero(At(a, 20)))
            {
                return a;
            }
        }

        throw new InvalidOperationException("no RSDP");
    }

    private static Dictionary<string, ulong> ByXsdt()
    {
        var rsdp = At(Rsdp(), 36);
        var xsdt = Table(BinaryPrimitives.ReadUInt64LittleEndian(rsdp[24..]));
        var tables = new Dictionary<string, ulong>();
        for (int at = AcpiTable.HeaderSize; at < xsdt.Length; at += 8)
        {
            ulong a = BinaryPrimitives.ReadUInt64LittleEndian(xsdt[at..]);
            tables[Encoding.ASCII.GetString(At(a, 4))] = a;
        }

        return tables;
    }

    [Fact]
    public void RsdpIsFoundByTheBiosAreaScanWithBothChecksums()
    {
        ulong a = Rsdp();
        Assert.Equal(PcMemoryMap.AcpiAddress, a);
        Assert.InRange(a, 0xE0000UL, 0xFFFFFUL);
        var r = At(a, 36);
        Assert.True(AcpiTable.SumsToZero(r));
        Assert.Equal(2, r[15]);
        Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(r[20..]));
        Assert.True(Block.Length + (int)(Base - 0xE0000) <= 0x10000); // inside 0xE0000-0xEFFFF, below the MP table
    }

    [Fact]
    public void RsdtAndXsdtListTheSameTablesAndEveryChecksumHolds()
    {
        var rsdp = At(Rsdp(), 36);
        var rsdt = Table(BinaryPrimitives.ReadUInt32LittleEndian(rsdp[16..]));
        var xsdt = Table(BinaryPrimitives.ReadUInt64LittleEndian(rsdp[24..]));
        Assert.Equal("RSDT", Encoding.ASCII.GetString(rsdt[..4]));
        Assert.Equal("XSDT", Encoding.ASCII.GetString(xsdt[..4]));
        Assert.True(AcpiTable.SumsToZero(rsdt));
        Assert.True(AcpiTable.SumsToZero(xsdt));
        int n = (rsdt.Length - 36) / 4;
        Assert.Equal(n, (xsdt.Length - 36) / 8);
        for (int i = 0; i < n; i++)
        {
            uint a = BinaryPrimitives.ReadUInt32LittleEndian(rsdt[(36 + (i * 4))..]);
            Assert.Equal(a, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[(36 + (i * 8))..]));
            Assert.True(AcpiTable.SumsToZero(Table(a)));
            Assert.Equal("SOFTKV", Encoding.ASCII.GetString(Table(a)[10..16]));
        }

        Assert.Equal(new[] { "APIC", "FACP" }, ByXsdt().Keys.Order());
    }

    [Fact]
    public void MadtHasOneLocalApicPerVcpuTheIoApicAndQemusOverrides()
    {
        var madt = Table(ByXsdt()["APIC"]);
        Assert.Equal(PcMemoryMap.LocalApicBase, BinaryPrimitives.ReadUInt32LittleEndian(madt[36..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(madt[40..])); // PCAT_COMPAT
        var lapics = new List<(int Uid, int Id)>();
        var overrides = new Dictionary<int, (uint Gsi, ushort Flags)>();
        (int Id, uint Address, uint Base)? ioapic = null;
        int nmiLint = -1;
        for (int at = 44; at < madt.Length; at += madt[at + 1])
        {
            var e = madt[at..];
            switch (e[0])
            {
                case 0:
                    Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
                    lapics.Add((e[2], e[3]));
                    break;
                case 1:
                    ioapic = (e[2], BinaryPrimitives.ReadUInt32LittleEndian(e[4..]), BinaryPrimitives.ReadUInt32LittleEndian(e[8..]));
                    break;
                case 2:
                    Assert.Equal(0, e[2]);
                    overrides[e[3]] = (BinaryPrimitives.ReadUInt32LittleEndian(e[4..]), BinaryPrimitives.ReadUInt16LittleEndian(e[8..]));
                    break;
                case 4:
                    Assert.Equal(0xFF, e[2]);
                    nmiLint = e[5];
                    break;
                default:
                    Assert.Fail($"unexpected MADT entry type {e[0]}");
                    break;
            }
        }

        Assert.Equal([(0, 0), (1, 1), (2, 2), (3, 3)], lapics);
        Assert.Equal((4, PcMemoryMap.IoApicBase, 0u), ioapic);
        Assert.Equal((2u, (ushort)0), overrides[0]); // the PIT's IRQ 0 on GSI 2
        foreach (int irq in new[] { 9, 10, 11 }) // the SCI and the PCI IRQs: level, active high (QEMU's 0x000d)
        {
            Assert.Equal(((uint)irq, (ushort)0x000D), overrides[irq]);
        }

        Assert.Equal(4, overrides.Count);
        Assert.Equal(1, nmiLint);
    }

    [Fact]
    public void FadtPointsAtTheFacsDsdtPmRegistersAndResetRegister()
    {
        var fadt = Table(ByXsdt()["FACP"]);
        Assert.Equal(244, fadt.Length);
        Assert.Equal(3, fadt[8]);
        uint facs = BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.FirmwareCtrl..]);
        Assert.Equal(0u, facs % 64);
        Assert.Equal("FACS", Encoding.ASCII.GetString(At(facs, 4)));
        Assert.Equal(64u, BinaryPrimitives.ReadUInt32LittleEndian(At(facs + 4, 4)));
        uint dsdt = BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.DsdtAddress..]);
        Assert.Equal(dsdt, BinaryPrimitives.ReadUInt64LittleEndian(fadt[Fadt.XDsdt..]));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(fadt[Fadt.SciInt..]));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.SmiCmd..]));
        Assert.Equal(0x600u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.Pm1aEvtBlk..]));
        Assert.Equal(0x604u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.Pm1aCntBlk..]));
        Assert.Equal(0x608u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.PmTmrBlk..]));
        Assert.Equal((4, 2, 4), (fadt[Fadt.Pm1EvtLen], fadt[Fadt.Pm1CntLen], fadt[Fadt.PmTmrLen]));
        Assert.Equal(0x608UL, BinaryPrimitives.ReadUInt64LittleEndian(fadt[(Fadt.XPmTmrBlk + 4)..]));
        Assert.Equal(1, fadt[Fadt.XPmTmrBlk]); // system I/O
        Assert.Equal(32, fadt[Fadt.XPmTmrBlk + 1]);
        Assert.Equal([1, 8, 0, 1], fadt.Slice(Fadt.ResetReg, 4).ToArray());
        Assert.Equal(0xCF9UL, BinaryPrimitives.ReadUInt64LittleEndian(fadt[(Fadt.ResetReg + 4)..]));
        Assert.Equal(6, fadt[Fadt.ResetValue]);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt[Fadt.FlagsOffset..]) & (1u << 10)); // RESET_REG_SUP
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(fadt[Fadt.IapcBootArch..]) & 2); // no 8042
        Assert.Equal(0x32, fadt[Fadt.Century]);

        var d = Table(dsdt);
        Assert.Equal("DSDT", Encoding.ASCII.GetString(d[..4]));
        Assert.True(AcpiTable.SumsToZero(d));
        Assert.Equal([.. Dsdt.SoftOff, .. Dsdt.PciRootBridge()], d[AcpiTable.HeaderSize..].ToArray());
    }

    /// <summary>
    /// \_SB.PCI0 as `iasl -d` shows it (checked by hand): _HID PNP0A03, _CRS with the bus numbers, the
    /// configuration ports, the I/O ranges around them, the VGA window and the window BARs are assigned from,
    /// and a _PRT that routes each device's INTA-INTD as the PCI host wires them.
    /// </summary>
    [Fact]
    public void DsdtDescribesThePciHostBridgeSoThatAnAcpiKernelFindsBus0()
    {
        byte[] aml = Dsdt.PciRootBridge();
        Assert.Equal([0x10], aml[..1]); // ScopeOp
        Assert.True(Find(aml, [0x5B, 0x82]) > 0); // DeviceOp
        Assert.True(Find(aml, [0x08, .. "_HID"u8, 0x0C, 0x41, 0xD0, 0x0A, 0x03]) > 0); // EisaId ("PNP0A03")

        // _CRS: Buffer (PkgLength, BufferSize) { descriptors, end tag }.
        int crs = Find(aml, [0x08, .. "_CRS"u8, 0x11]) + 6;
        int lead = aml[crs];
        int at = crs + 1 + (lead >> 6);
        at += aml[at] == 0x0A ? 2 : aml[at] == 0x0B ? 3 : 1; // the buffer size
        var ranges = new List<(int Type, ulong Min, ulong Max)>();
        while (aml[at] != 0x79)
        {
            int tag = aml[at];
            if (tag == 0x47)
            {
                ranges.Add((0x47, BinaryPrimitives.ReadUInt16LittleEndian(aml.AsSpan(at + 2)), BinaryPrimitives.ReadUInt16LittleEndian(aml.AsSpan(at + 4))));
                at += 8;
                continue;
            }

            int length = BinaryPrimitives.ReadUInt16LittleEndian(aml.AsSpan(at + 1));
            var body = aml.AsSpan(at + 3, length);
            ranges.Add(tag == 0x88
                ? (body[0], BinaryPrimitives.ReadUInt16LittleEndian(body[5..]), BinaryPrimitives.ReadUInt16LittleEndian(body[7..]))
                : (body[0], BinaryPrimitives.ReadUInt32LittleEndian(body[7..]), BinaryPrimitives.ReadUInt32LittleEndian(body[11..])));
            at += 3 + length;
        }

        Assert.Equal(
            [(2, 0UL, 0xFFUL), (0x47, 0xCF8UL, 0xCF8UL), (1, 0UL, 0xCF7UL), (1, 0xD00UL, 0xFFFFUL), (0, 0xA0000UL, 0xBFFFFUL),
             (0, PcPlatform.PciMemoryWindow.Start, PcPlatform.PciMemoryWindow.Last)],
            ranges);
        Assert.InRange(PcPlatform.PciIoWindow.Last, 0xD00UL, 0xFFFFUL);
        Assert.InRange(PcPlatform.PciIoWindow.Start, 0xD00UL, 0xFFFFUL);

        // _PRT: Package (0x80) of Package (4) { address, pin, Zero, GSI }; device 3's pin A on PIRQ D (11).
        int prt = Find(aml, [0x08, .. "_PRT"u8, 0x12]) + 6;
        Assert.Equal(0x80, aml[prt + 1 + (aml[prt] >> 6)]);
        byte[] device3PinA = [0x12, 0x0B, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x00, 0x00, 0x0A, (byte)PcPciHost.Irq(3, 1)];
        Assert.True(Find(aml, device3PinA) > 0);
        Assert.Equal(11, PcPciHost.Irq(3, 1));
    }

    private static int Find(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    [Fact]
    public void MisalignedAddressIsRefused() =>
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(Base + 8, 1, 1, 0, 0x600));
}
