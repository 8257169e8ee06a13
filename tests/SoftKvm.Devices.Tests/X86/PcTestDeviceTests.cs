using System.Buffers.Binary;
using SoftKvm.Core.Io;
using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

/// <summary>QEMU's pc-testdev as kvm-unit-tests' x86 tests use it (ioport widths, the IRQ ports, the flush port, iomem).</summary>
public class PcTestDeviceTests
{
    private readonly FakeIrqLine[] _lines = [.. Enumerable.Range(0, PcTestDevice.IrqLineCount).Select(_ => new FakeIrqLine())];
    private readonly List<ulong> _flushed = [];
    private readonly PcTestDevice _dev;

    public PcTestDeviceTests() => _dev = new PcTestDevice(_lines, _flushed.Add);

    [Fact]
    public void DataRegisterIsReadAndWrittenInParts()
    {
        Io.Write32(_dev.Data, 0, 0x1122_3344);
        Assert.Equal(0x1122_3344u, Io.Read32(_dev.Data, 0));
        Assert.Equal(0x22, Io.Read8(_dev.Data, 2));
        Io.Write8(_dev.Data, 1, 0xAB);
        Assert.Equal(0x1122_AB44u, Io.Read32(_dev.Data, 0));
        Span<byte> w = stackalloc byte[2];
        _dev.Data.Read(null, 2, w);
        Assert.Equal(0x1122, BinaryPrimitives.ReadUInt16LittleEndian(w));
        Io.Write8(_dev.ByteData, 3, 0x99); // the byte-wise view is the same register
        Assert.Equal(0x9922_AB44u, Io.Read32(_dev.Data, 0));
    }

    [Fact]
    public void IrqPortsDriveTheIsaLines()
    {
        Io.Write8(_dev.IrqLines, 10, 1);
        Assert.True(_lines[10].Level);
        Io.Write8(_dev.IrqLines, 10, 0);
        Assert.False(_lines[10].Level);
        Io.Write8(_dev.IrqLines, 23, 5);
        Assert.True(_lines[23].Level);
        Assert.Equal(0, Io.Read8(_dev.IrqLines, 23));
    }

    [Fact]
    public void FlushPortTakesOnlyDoublewords()
    {
        Io.Write32(_dev.FlushPage, 0, 0x0012_3456);
        Io.Write8(_dev.FlushPage, 0, 0x12);
        Assert.Equal([0x0012_3000UL], _flushed);
        Assert.Equal(0u, Io.Read32(_dev.FlushPage, 0));
    }

    [Fact]
    public void MemoryWindowStoresBytesAndSurvivesSaveRestore()
    {
        Io.Write32(_dev.Memory, 0xFFFC, 0xDEAD_BEEF);
        Assert.Equal(0xDEAD_BEEFu, Io.Read32(_dev.Memory, 0xFFFC));
        Io.Write32(_dev.Data, 0, 7);
        var saved = _dev.SaveState();
        Io.Write32(_dev.Memory, 0xFFFC, 0);
        Io.Write32(_dev.Data, 0, 0);
        _dev.RestoreState(saved);
        Assert.Equal(0xDEAD_BEEFu, Io.Read32(_dev.Memory, 0xFFFC));
        Assert.Equal(7u, Io.Read32(_dev.Data, 0));
    }
}
