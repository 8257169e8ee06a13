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
        Assert.Equal(Dsdt.SoftOff.ToArray(), d[AcpiTable.HeaderSize..].ToArray());
    }

    [Fact]
    public void MisalignedAddressIsRefused() =>
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(Base + 8, 1, 1, 0, 0x600));
}
