using System.Buffers.Binary;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>MSI and MSI-X: programming, masking and pending bits, Bus Master Enable, and the INTx fallback.</summary>
public sealed class PciMsiTests
{
    private const int Msi = 0x40;
    private const int Msix = 0x58;
    private const ulong Bar2 = 0xE010_0000;

    private readonly FakePciHost _host = new();
    private readonly TestFunction _f = new();

    public PciMsiTests()
    {
        new PciBus(_host).Attach(1, 0, _f);
        Config.Write32(_f, 0x18, (uint)Bar2);
        Config.Write16(_f, 0x04, 0x0006); // memory space, bus master
    }

    private void Entry(int vector, ulong address, uint data, bool masked)
    {
        Span<byte> e = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(e, address);
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], data);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], masked ? 1u : 0u);
        for (int i = 0; i < 16; i += 4)
        {
            _host.GuestWrite(IoBusKind.Mmio, Bar2 + (ulong)(vector * 16) + (ulong)i, e.Slice(i, 4));
        }
    }

    [Fact]
    public void WithoutMsiTheFunctionFallsBackToIntx() => Assert.False(_f.Vector(0));

    [Fact]
    public void MsiSendsTheProgrammedMessageWithTheVectorInTheLowDataBits()
    {
        Assert.Equal(Msi, _f.MsixCapability.Offset - 0x18);
        Assert.Equal(0x0184, Config.Read16(_f, Msi + 2)); // 64-bit, per-vector mask, 4 vectors capable
        Config.Write32(_f, Msi + 4, 0xFEE0_1003); // low 2 bits are not writable
        Config.Write32(_f, Msi + 8, 0);
        Config.Write16(_f, Msi + 12, 0x4040);
        Config.Write16(_f, Msi + 2, 0x0021); // enable, 4 vectors
        Assert.True(_f.Vector(3));
        Assert.True(_f.Vector(9)); // beyond what is enabled: nothing
        Assert.Equal([(0xFEE0_1000UL, 0x4043u)], _host.Msis);
        Assert.Equal([new PciAddress(0, 1, 0)], _host.MsiRequesters); // the function's requester ID goes with it
    }

    [Fact]
    public void TheRequesterIdIsBusDeviceFunction() => Assert.Equal(0xA3_2Fu, new PciAddress(0xA3, 5, 7).RequesterId);

    [Fact]
    public void MaskedMsiVectorIsPendingUntilUnmasked()
    {
        Config.Write32(_f, Msi + 4, 0xFEE0_0000);
        Config.Write16(_f, Msi + 12, 0x30);
        Config.Write32(_f, Msi + 16, 1);
        Config.Write16(_f, Msi + 2, 1);
        _f.Vector(0);
        Assert.Empty(_host.Msis);
        Assert.Equal(1u, Config.Read32(_f, Msi + 20));
        Config.Write32(_f, Msi + 20, 0); // pending bits are read-only
        Assert.Equal(1u, Config.Read32(_f, Msi + 20));
        Config.Write32(_f, Msi + 16, 0);
        Assert.Equal([(0xFEE0_0000UL, 0x30u)], _host.Msis);
        Assert.Equal(0u, Config.Read32(_f, Msi + 20));
    }

    [Fact]
    public void MsixVectorsStartMaskedAndPendInTheBitArray()
    {
        Config.Write16(_f, Msix + 2, 0x8000);
        Assert.Equal(1u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 12));
        Assert.True(_f.Vector(2));
        Assert.Empty(_host.Msis);
        Assert.Equal(4u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 0x800));

        Entry(2, 0xFEE0_2000, 0x61, masked: false);
        Assert.Equal([(0xFEE0_2000UL, 0x61u)], _host.Msis);
        Assert.Equal(0u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 0x800));
        Assert.True(_f.Vector(2));
        Assert.Equal(2, _host.Msis.Count);
        Assert.Equal(0x61u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 0x28));
    }

    [Fact]
    public void MsixFunctionMaskHoldsEveryVector()
    {
        Entry(0, 0xFEE0_0000, 0x40, masked: false);
        Entry(1, 0xFEE0_1000, 0x41, masked: false);
        Config.Write16(_f, Msix + 2, 0xC000); // enable + function mask
        _f.Vector(0);
        _f.Vector(1);
        Assert.Empty(_host.Msis);
        Config.Write16(_f, Msix + 2, 0x8000);
        Assert.Equal([(0xFEE0_0000UL, 0x40u), (0xFEE0_1000UL, 0x41u)], _host.Msis);
    }

    [Fact]
    public void MsixTakesPrecedenceOverMsi()
    {
        Config.Write32(_f, Msi + 4, 0xFEE0_0000);
        Config.Write16(_f, Msi + 2, 1);
        Entry(0, 0xFEE0_5000, 0x99, masked: false);
        Config.Write16(_f, Msix + 2, 0x8000);
        _f.Vector(0);
        Assert.Equal([(0xFEE0_5000UL, 0x99u)], _host.Msis);
    }

    [Fact]
    public void WithoutBusMasterTheMessageIsLost()
    {
        Entry(0, 0xFEE0_0000, 0x40, masked: false);
        Config.Write16(_f, Msix + 2, 0x8000);
        Config.Write16(_f, 0x04, 0x0002);
        Assert.True(_f.Vector(0));
        Assert.Empty(_host.Msis);
    }

    [Fact]
    public void MsixTableKeepsOnlyTheMaskBitOfVectorControlAndPbaIgnoresWrites()
    {
        _host.GuestWrite(IoBusKind.Mmio, Bar2 + 12, [0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Equal(1u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 12));
        _host.GuestWrite(IoBusKind.Mmio, Bar2 + 0x800, [0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Equal(0u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 0x800));
        Assert.Equal(0u, _host.GuestRead32(IoBusKind.Mmio, Bar2 + 0x400)); // between table and PBA
    }
}
