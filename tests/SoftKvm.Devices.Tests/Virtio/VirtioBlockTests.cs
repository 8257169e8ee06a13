using System.Buffers.Binary;
using SoftKvm.Devices.Virtio;

namespace SoftKvm.Devices.Tests.Virtio;

public sealed class VirtioBlockTests : IDisposable
{
    private const ulong Header = VirtioDriver.Ram + 0x30000;
    private const ulong Data = VirtioDriver.Ram + 0x31000;
    private const ulong Status = VirtioDriver.Ram + 0x32000;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"softkvm-blk-{Guid.NewGuid():N}.img");

    public VirtioBlockTests()
    {
        var image = new byte[8 * 512];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = (byte)(i / 512);
        }

        File.WriteAllBytes(_path, image);
    }

    public void Dispose() => File.Delete(_path);

    private static void WriteHeader(VirtioDriver d, uint type, ulong sector)
    {
        var h = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(8), sector);
        d.Memory.Write(Header, h);
    }

    private static byte Submit(VirtioDriver d, uint type, ulong sector, uint dataLength, bool dataWritable)
    {
        WriteHeader(d, type, sector);
        d.Memory.Write(Status, (byte)0xFF);
        if (dataLength == 0)
        {
            d.Post(0, (Header, 16, false), (Status, 1, true));
        }
        else
        {
            d.Post(0, (Header, 16, false), (Data, dataLength, dataWritable), (Status, 1, true));
        }

        d.Notify(0);
        return d.Memory.Read<byte>(Status);
    }

    [Fact]
    public void ConfigReportsCapacityAndFeatures()
    {
        using var blk = new VirtioBlock(_path, readOnly: false);
        using var d = new VirtioDriver(blk);
        Assert.Equal(2u, d.Reg(0x008));
        Assert.Equal(8u, d.Reg(0x100));
        Assert.Equal(0u, d.Reg(0x104));
        Assert.Equal(512u, d.Reg(0x100 + 20));
        ulong f = d.DeviceFeatures();
        Assert.NotEqual(0UL, f & (1UL << 9));
        Assert.Equal(0UL, f & (1UL << 5));
    }

    [Fact]
    public void ReadsSectors()
    {
        using var blk = new VirtioBlock(_path, readOnly: false);
        using var d = new VirtioDriver(blk);
        Assert.True(d.Initialise(1));
        Assert.Equal(0, Submit(d, 0, 3, 1024, true));
        var data = d.ReadBytes(Data, 1024);
        Assert.Equal(3, data[0]);
        Assert.Equal(4, data[1023]);
        Assert.Equal((0u, 1025u), d.Used(0, 0));
    }

    [Fact]
    public void WritesAndFlushes()
    {
        using (var blk = new VirtioBlock(_path, readOnly: false))
        using (var d = new VirtioDriver(blk))
        {
            Assert.True(d.Initialise(1));
            d.Memory.Write(Data, Enumerable.Repeat((byte)0xAB, 512).ToArray());
            Assert.Equal(0, Submit(d, 1, 7, 512, false));
            Assert.Equal(0, Submit(d, 4, 0, 0, false));
            Assert.Equal(1, blk.Flushes);
        }

        Assert.Equal(0xAB, File.ReadAllBytes(_path)[7 * 512]);
    }

    [Fact]
    public void ReadOnlyDiskOffersRoAndRejectsWrites()
    {
        using var blk = new VirtioBlock(_path, readOnly: true);
        using var d = new VirtioDriver(blk);
        Assert.NotEqual(0UL, d.DeviceFeatures() & (1UL << 5));
        Assert.True(d.Initialise(1));
        Assert.Equal(1, Submit(d, 1, 0, 512, false));
        Assert.Equal(0, File.ReadAllBytes(_path)[0]);
        Assert.Equal(0, Submit(d, 0, 0, 512, true));
    }

    [Fact]
    public void OutOfRangeAndUnalignedRequestsFailWithIoErr()
    {
        using var blk = new VirtioBlock(_path, readOnly: false);
        using var d = new VirtioDriver(blk);
        Assert.True(d.Initialise(1));
        Assert.Equal(1, Submit(d, 0, 8, 512, true));
        Assert.Equal(1, Submit(d, 0, 7, 1024, true));
        Assert.Equal(1, Submit(d, 0, 0, 100, true));
    }

    [Fact]
    public void GetIdAndUnsupportedTypes()
    {
        using var blk = new VirtioBlock(_path, readOnly: false);
        using var d = new VirtioDriver(blk);
        Assert.True(d.Initialise(1));
        Assert.Equal(0, Submit(d, 8, 0, 20, true));
        string id = System.Text.Encoding.ASCII.GetString(d.ReadBytes(Data, 20)).TrimEnd('\0');
        Assert.Equal(Path.GetFileName(_path)[..20], id);
        Assert.Equal(2, Submit(d, 11, 0, 0, false)); // DISCARD: not offered
    }

    [Fact]
    public void MissingImageIsAOneLineConfigurationError()
    {
        var e = Assert.Throws<DeviceConfigurationException>(() => new VirtioBlock("/nonexistent/disk.img", false));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("/nonexistent/disk.img", e.Message);
    }
}
