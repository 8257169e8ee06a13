using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Vmm.Tests.X86;

public class MpTableTests
{
    private static int Sum(ReadOnlySpan<byte> data)
    {
        int sum = 0;
        foreach (byte b in data)
        {
            sum += b;
        }

        return sum & 0xFF;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(255)]
    public void BothChecksumsSumToZero(int cpus)
    {
        var blob = MpTable.Build(0xF0000, cpus, 0);
        Assert.Equal(MpTable.Size(cpus), blob.Length);
        Assert.Equal(0, Sum(blob.AsSpan(0, 16)));
        int length = BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(16 + 4));
        Assert.Equal(blob.Length - 16, length);
        Assert.Equal(0, Sum(blob.AsSpan(16, length)));
    }

    [Fact]
    public void FloatingPointerAndTableDescribeProcessorsIoApicAndIrqs()
    {
        var blob = MpTable.Build(0xF0000, 4, 4);
        Assert.Equal("_MP_", Encoding.ASCII.GetString(blob, 0, 4));
        Assert.Equal(0xF0010u, BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4)));
        Assert.Equal(1, blob[8]);
        Assert.Equal(4, blob[9]);
        var t = blob.AsSpan(16);
        Assert.Equal("PCMP", Encoding.ASCII.GetString(blob, 16, 4));
        Assert.Equal(4, t[6]);
        Assert.Equal(0xFEE0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(t[36..]));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(t[34..]);
        Assert.Equal(4 + 1 + 1 + 16 + 2, count);

        int at = 44;
        var seen = new Dictionary<byte, int>();
        var irqToPin = new Dictionary<int, int>();
        for (int i = 0; i < count; i++)
        {
            byte type = t[at];
            seen[type] = seen.GetValueOrDefault(type) + 1;
            if (type == MpTable.EntryProcessor)
            {
                int id = t[at + 1];
                Assert.Equal(MpTable.LocalApicVersion, t[at + 2]);
                Assert.Equal(id == 0 ? 3 : 1, t[at + 3]);
                at += 20;
                continue;
            }

            if (type == MpTable.EntryBus)
            {
                Assert.Equal("ISA   ", Encoding.ASCII.GetString(t.Slice(at + 2, 6)));
            }
            else if (type == MpTable.EntryIoApic)
            {
                Assert.Equal(4, t[at + 1]);
                Assert.Equal(1, t[at + 3]);
                Assert.Equal(0xFEC0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(t[(at + 4)..]));
            }
            else if (type == MpTable.EntryIoInterrupt && t[at + 1] == 0)
            {
                Assert.Equal(4, t[at + 6]);
                irqToPin[t[at + 5]] = t[at + 7];
            }

            at += 8;
        }

        Assert.Equal(at, t.Length);
        Assert.Equal(4, seen[MpTable.EntryProcessor]);
        Assert.Equal(1, seen[MpTable.EntryBus]);
        Assert.Equal(1, seen[MpTable.EntryIoApic]);
        Assert.Equal(16, seen[MpTable.EntryIoInterrupt]);
        Assert.Equal(2, seen[MpTable.EntryLocalInterrupt]);
        Assert.Equal(2, irqToPin[0]);
        Assert.Equal(4, irqToPin[4]);
        Assert.False(irqToPin.ContainsKey(2));
    }
}
