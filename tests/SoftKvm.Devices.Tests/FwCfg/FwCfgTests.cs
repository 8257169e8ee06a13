using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core.Memory;
using SoftKvm.Devices.FwCfg;

namespace SoftKvm.Devices.Tests.FwCfg;

/// <summary>QEMU's fw_cfg through its x86 ports (selector 0x510, data 0x511, DMA 0x514): what a program built for QEMU's pc reads.</summary>
public sealed class FwCfgTests : IDisposable
{
    private const ulong Access = 0x1000;
    private const ulong Buffer = 0x2000;

    private readonly GuestMemory _memory = new();
    private readonly FwCfgDevice _cfg;
    private readonly FwCfgIoPorts _ports;

    public FwCfgTests()
    {
        _memory.SetRegion(0, 0, 0x10000, MemorySlotFlags.None);
        _cfg = new FwCfgDevice(_memory);
        _cfg.AddUInt16(FwCfgKeys.NbCpus, 4);
        _cfg.AddUInt64(FwCfgKeys.RamSize, 128UL << 20);
        _cfg.AddFile("etc/e820", [1, 2, 3, 4, 5]);
        _cfg.AddFile("bootorder", []);
        _ports = new FwCfgIoPorts(_cfg);
    }

    public void Dispose() => _memory.Dispose();

    private void Select(ushort key)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, key);
        _ports.Write(null, 0, b);
    }

    private byte[] ReadData(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = Io.Read8(_ports, 1);
        }

        return b;
    }

    private void Dma(uint control, uint length, ulong address)
    {
        Span<byte> s = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(s, control);
        BinaryPrimitives.WriteUInt32BigEndian(s[4..], length);
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], address);
        _memory.Write(Access, s);
        Span<byte> half = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(half, 0);
        _ports.Write(null, 4, half);
        BinaryPrimitives.WriteUInt32BigEndian(half, (uint)Access);
        _ports.Write(null, 8, half);
    }

    private uint DmaControl()
    {
        Span<byte> b = stackalloc byte[4];
        _memory.Read(Access, b);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    [Fact]
    public void SignatureIdAndNumbersReadThroughTheDataPort()
    {
        Select(FwCfgKeys.Signature);
        Assert.Equal("QEMU", Encoding.ASCII.GetString(ReadData(4)));
        Assert.Equal(0, Io.Read8(_ports, 1)); // past the end
        Select(FwCfgKeys.Id);
        Assert.Equal([3, 0, 0, 0], ReadData(4));
        Select(FwCfgKeys.NbCpus);
        Assert.Equal([4, 0], ReadData(2));
        Select(FwCfgKeys.RamSize);
        Assert.Equal(128UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(ReadData(8)));
    }

    [Fact]
    public void SelectingRewindsAndUnknownKeysReadZero()
    {
        Select(FwCfgKeys.Signature);
        ReadData(2);
        Select(FwCfgKeys.Signature | FwCfgKeys.WriteChannel); // the write channel bit selects the same item
        Assert.Equal((byte)'Q', Io.Read8(_ports, 0)); // a byte read at 0x510 reads data too, as in QEMU
        Select(0x1234);
        Assert.Equal([0, 0], ReadData(2));
        Io.Write8(_ports, 1, 0x55); // data writes are ignored
        Assert.Equal(0xFF, Io.Read8(_ports, 2)); // 0x512 is not decoded
    }

    [Fact]
    public void DirectoryListsFilesByNameWithBigEndianFields()
    {
        Select(FwCfgKeys.FileDir);
        var dir = ReadData(4 + (2 * 64));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(dir));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(4)));
        Assert.Equal(0x20, BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(8)));
        Assert.Equal("bootorder", Encoding.ASCII.GetString(dir, 12, 56).TrimEnd('\0'));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(68)));
        Assert.Equal(0x21, BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(72)));
        Assert.Equal("etc/e820", Encoding.ASCII.GetString(dir, 76, 56).TrimEnd('\0'));
        Assert.Equal((ushort)0x21, _cfg.FileKey("etc/e820"));
        Select(0x21);
        Assert.Equal([1, 2, 3, 4, 5], ReadData(5));
    }

    [Fact]
    public void DmaRegisterReadsTheSignature()
    {
        Span<byte> b = stackalloc byte[4];
        _ports.Read(null, 4, b);
        Assert.Equal("QEMU", Encoding.ASCII.GetString(b));
        _ports.Read(null, 8, b);
        Assert.Equal(" CFG", Encoding.ASCII.GetString(b));
    }

    [Fact]
    public void DmaSelectsReadsPastTheEndAsZeroAndReportsSuccess()
    {
        _memory.Write(Buffer, (ulong)0xAAAA_AAAA_AAAA_AAAA);
        Dma((0x21u << 16) | 8 | 2, 8, Buffer);
        Assert.Equal(0u, DmaControl());
        Span<byte> got = stackalloc byte[8];
        _memory.Read(Buffer, got);
        Assert.Equal([1, 2, 3, 4, 5, 0, 0, 0], got.ToArray());
    }

    [Fact]
    public void DmaSkipsAndContinuesFromTheOffset()
    {
        Dma((0x21u << 16) | 8 | 4, 3, 0);
        Assert.Equal(0u, DmaControl());
        Dma(2, 2, Buffer);
        Assert.Equal(0x0504, _memory.Read<ushort>(Buffer));
        Assert.Equal(0, Io.Read8(_ports, 1)); // the data port continues where DMA stopped: the end
    }

    [Fact]
    public void DmaWritesAndUnbackedTargetsSetTheErrorBit()
    {
        Dma((0x21u << 16) | 8 | 16, 1, Buffer);
        Assert.Equal(1u, DmaControl());
        Dma((0x21u << 16) | 8 | 2, 4, 0x10_0000);
        Assert.Equal(1u, DmaControl());
        _ports.Write(null, 4, [0, 0, 0, 1]); // a structure above 4 GiB, unbacked: dropped
        _ports.Write(null, 8, [0, 0, 0, 0]);
    }

    [Fact]
    public void BadFileNamesAreConfigurationErrors()
    {
        Assert.Throws<DeviceConfigurationException>(() => _cfg.AddFile(new string('x', 56), []));
        Assert.Throws<DeviceConfigurationException>(() => _cfg.AddFile("", []));
        Assert.Throws<ArgumentException>(() => _cfg.AddItem(0x30, []));
    }
}
