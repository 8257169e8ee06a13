using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Fdt;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Fdt;

public class FdtBuilderTests
{
    private static byte[] Sample()
    {
        var fdt = new FdtBuilder();
        fdt.AddReservation(0x4800_0000, 0x1000);
        fdt.BeginNode("");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyStrings("compatible", "a,b", "c");
        fdt.BeginNode("child@1000");
        fdt.PropertyRegs("reg", (0x1000UL, 0x20UL));
        fdt.PropertyU64("big", 0x1122334455667788);
        fdt.PropertyEmpty("flag");
        fdt.EndNode();
        fdt.EndNode();
        return fdt.Finish(bootCpuIdPhys: 3);
    }

    [Fact]
    public void HeaderFieldsFollowDtSpec()
    {
        var blob = Sample();
        var r = new FdtReader(blob);
        Assert.Equal(0xD00DFEEDu, r.Magic);
        Assert.Equal((uint)blob.Length, r.TotalSize);
        Assert.Equal(17u, r.Version);
        Assert.Equal(16u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(24)));
        Assert.Equal(3u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(28)));
        Assert.Equal(40u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(16))); // rsvmap right after the header
    }

    [Fact]
    public void StructureAndReservationsRoundTrip()
    {
        var r = new FdtReader(Sample());
        Assert.Equal([(0x4800_0000UL, 0x1000UL)], r.Reservations);
        Assert.Equal(["/", "/child@1000"], r.NodeOrder);
        Assert.Equal([2u], r.Cells("/", "#address-cells"));
        Assert.Equal(["a,b", "c"], r.Strings("/", "compatible"));
        Assert.Equal([0u, 0x1000u, 0u, 0x20u], r.Cells("/child@1000", "reg"));
        Assert.Equal([0x11223344u, 0x55667788u], r.Cells("/child@1000", "big"));
        Assert.Empty(r.Prop("/child@1000", "flag"));
    }

    [Fact]
    public void PropertyNamesAreStoredOnce()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("");
        fdt.BeginNode("a");
        fdt.PropertyU32("same-name", 1);
        fdt.EndNode();
        fdt.BeginNode("b");
        fdt.PropertyU32("same-name", 2);
        fdt.EndNode();
        fdt.EndNode();
        var blob = fdt.Finish();
        uint stringsSize = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(32));
        Assert.Equal((uint)"same-name\0".Length, stringsSize);
    }

    [Fact]
    public void MisuseIsRejected()
    {
        var fdt = new FdtBuilder();
        Assert.Throws<FdtException>(() => fdt.PropertyU32("x", 1));
        Assert.Throws<FdtException>(() => fdt.BeginNode("notroot"));
        fdt.BeginNode("");
        Assert.Throws<FdtException>(() => fdt.BeginNode("bad name!"));
        Assert.Throws<FdtException>(() => fdt.PropertyU32("this-property-name-is-far-too-long-for-dt", 1));
        fdt.BeginNode("child");
        fdt.EndNode();
        Assert.Throws<FdtException>(() => fdt.PropertyU32("late", 1)); // after a subnode
        Assert.Throws<FdtException>(() => fdt.Finish()); // root still open
        fdt.EndNode();
        Assert.Throws<FdtException>(() => fdt.EndNode());
        fdt.Finish();
        Assert.Throws<FdtException>(() => fdt.BeginNode(""));
    }

    [Fact]
    public void DuplicatePropertyIsRejected()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("");
        fdt.PropertyU32("x", 1);
        Assert.Throws<FdtException>(() => fdt.PropertyU32("x", 2));
    }

    [DtcFact]
    public void DtcDecompilesTheBlob()
    {
        var (code, dts, errors) = Dtc.Decompile(Sample());
        Assert.Equal(0, code);
        Assert.Contains("compatible = \"a,b\\0c\";", dts);
        Assert.Contains("/memreserve/\t0x0000000048000000 0x0000000000001000;", dts);
        Assert.DoesNotContain("Warning", errors);
    }
}
