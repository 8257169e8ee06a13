using SoftKvm.Arm64.Vgic;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// The GIC frames' value form (<see cref="IIoValueDevice"/>, a vCPU's in-kernel MMIO exit through
/// <see cref="IoBus.TryReadValue"/>) reads and writes what the span form does.
/// </summary>
public class ValueAccessTests
{
    [Fact]
    public void ANarrowReadOfAWideRegisterHasOnlyItsBytes()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        ulong typer = gic.GetRedistributorBase(1)!.Value + 0x8; // GICR_TYPER of vCPU 1: Aff0 = 1 in [39:32]
        var cache = default(IoBusCache);

        Assert.True(vm.MmioBus.TryReadValue(vm.GetVcpu(0), typer, 4, ref cache, out ulong low));
        Assert.True(vm.MmioBus.TryReadValue(vm.GetVcpu(0), typer + 4, 4, ref cache, out ulong high));
        Assert.True(vm.MmioBus.TryReadValue(vm.GetVcpu(0), typer, 8, ref cache, out ulong whole));

        Assert.Equal(1UL << 32 | 1 << 8 | 1 << 4, whole); // Affinity 1, Processor_Number 1, Last
        Assert.Equal(whole & 0xffff_ffff, low);
        Assert.Equal(whole >> 32, high);
    }

    [Theory]
    [InlineData(3, 0x1_0000)] // GICv3 distributor
    [InlineData(2, 0x1000)]   // GICv2 distributor
    public void EveryDistributorOffsetAndWidthReadsAsTheSpanForm(int model, int frame) =>
        AssertValueReadsMatch(model, model == 3 ? Gic.V3Dist : Gic.V2Dist, frame);

    [Fact]
    public void EveryRedistributorOffsetAndWidthReadsAsTheSpanForm() => AssertValueReadsMatch(3, 0, 0x2_0000);

    [Fact]
    public void FixedDistributorWordsReadAsTheRegisterMapSays_WithAndWithoutAnIts()
    {
        // The distributor's table of fixed words (GICD_TYPER, IIDR, PIDR2, RAZ registers) against the register map's
        // generic read, before and after an ITS changes GICD_TYPER (IDbits, LPIS).
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        Assert.True(vm.MmioBus.TryFind(Gic.V3Dist, 4, out var device, out ulong _));
        var file = (IGicRegisterFile)device;
        var cache = default(IoBusCache);
        ulong typerBefore = 0;
        foreach (bool its in new[] { false, true })
        {
            if (its)
            {
                gic.CreateIts();
            }

            var expected = new byte[4];
            for (ulong offset = 0; offset < 0x1_0000; offset += 4)
            {
                GicMmio.Read(file, GicRegisterMaps.V3Distributor, offset, expected, 0);
                Assert.True(vm.MmioBus.TryReadValue(vm.GetVcpu(0), Gic.V3Dist + offset, 4, ref cache, out ulong value));
                Assert.True(BitConverter.ToUInt32(expected) == value, $"+0x{offset:x}: 0x{value:x}, the map says 0x{BitConverter.ToUInt32(expected):x}");
            }

            vm.MmioBus.TryReadValue(vm.GetVcpu(0), Gic.V3Dist + 4, 4, ref cache, out ulong typer);
            Assert.Equal(its, (typer & 1 << 17) != 0); // LPIS
            Assert.NotEqual(typerBefore, typer);
            typerBefore = typer;
        }
    }

    [Fact]
    public unsafe void TheDistributorsPublishedPagesAreItsFixedWords_AndWithoutAnItsAreClearedByOne()
    {
        // What native code reads (IIoFixedReads, issue 19): every 32-bit word of every page of the frame marked in the page's
        // table reads that value through the bus; an ITS created later clears the table taken before it.
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        var cache = default(IoBusCache);
        var pages = new List<nint>();
        int marked = 0;
        for (ulong page = 0; page < 0x1_0000; page += 0x1000)
        {
            ulong* words = vm.MmioBus.FixedReadsAt(Gic.V3Dist + page, ref cache, out long generation);
            Assert.Equal(*vm.MmioBus.GenerationAddress, generation);
            Assert.True(words != null, $"no table for page 0x{page:x}");
            pages.Add((nint)words);
            for (int w = 0; w < 1024; w++)
            {
                if ((words[w] >> 32) != 0)
                {
                    marked++;
                    Assert.Equal((uint)words[w], Gic.Read32(vm, 0, Gic.V3Dist + page + (ulong)(4 * w)));
                }
            }
        }

        Assert.True(((ulong*)pages[0])[1] >> 32 != 0, "GICD_TYPER is not marked");
        Assert.True(marked > 16, $"{marked} marked words");
        gic.CreateIts();
        foreach (nint page in pages)
        {
            for (int w = 0; w < 1024; w++)
            {
                Assert.Equal(0UL, ((ulong*)page)[w]);
            }
        }

        ulong* withIts = vm.MmioBus.FixedReadsAt(Gic.V3Dist, ref cache, out long _);
        Assert.Equal((uint)withIts[1], Gic.Read32(vm, 0, Gic.V3Dist + 4));
        Assert.NotEqual(0UL, withIts[1] & 1 << 17); // LPIS
    }

    [Fact]
    public void ValueWritesChangeWhatSpanWritesChange()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        var cache = default(IoBusCache);
        ulong sgiFrame = gic.GetRedistributorBase(1)!.Value + 0x10000;

        Assert.True(vm.MmioBus.TryWriteValue(vm.GetVcpu(1), Gic.V3Dist + 0x420, 1, 0xa0, ref cache));  // IPRIORITYR byte of INTID 32
        Assert.True(vm.MmioBus.TryWriteValue(vm.GetVcpu(1), Gic.V3Dist + 0x6100, 8, 1, ref cache));   // IROUTER of INTID 32: vCPU 1
        Assert.True(vm.MmioBus.TryWriteValue(vm.GetVcpu(1), sgiFrame + 0x100, 4, 0x1_0000, ref cache)); // ISENABLER0: PPI 16

        Assert.Equal(0xa0, Gic.Read8(vm, 0, Gic.V3Dist + 0x420));
        Assert.Equal(1UL, Gic.Read64(vm, 0, Gic.V3Dist + 0x6100));
        Assert.Equal(0x1_0000u, Gic.Read32(vm, 0, sgiFrame + 0x100) & 0xffff_0000);
    }

    private static void AssertValueReadsMatch(int model, ulong frameBase, int frameSize)
    {
        var (vm, gic) = model == 3 ? Gic.V3(2, spis: 64) : Gic.V2(2, spis: 64);
        using var _ = vm;
        ulong state = frameBase; // where the per-IRQ arrays are: a redistributor's SGI_base frame
        if (frameBase == 0)
        {
            frameBase = gic.GetRedistributorBase(1)!.Value;
            state = frameBase + 0x10000;
        }

        // Some state to read: priorities, enables and pending bits of a few interrupts (RAZ/WI where a frame has none).
        var vcpu = vm.GetVcpu(1);
        for (int i = 0; i < 0x80; i += 4)
        {
            vm.MmioBus.Write(vcpu, state + 0x400 + (ulong)i, BitConverter.GetBytes(0x80604020u + (uint)i));
        }

        vm.MmioBus.Write(vcpu, state + 0x100, BitConverter.GetBytes(0x00ff_ff0fu));
        vm.MmioBus.Write(vcpu, state + 0x104, BitConverter.GetBytes(0x0f0f_0000u));
        vm.MmioBus.Write(vcpu, state + 0x204, BitConverter.GetBytes(0x0000_3000u));
        var cache = default(IoBusCache);
        var span = new byte[8];
        int nonZero = 0;
        foreach (int size in new[] { 1, 2, 4, 8 })
        {
            for (int offset = 0; offset < frameSize; offset += size)
            {
                ulong address = frameBase + (ulong)offset;
                Array.Clear(span);
                Assert.True(vm.MmioBus.Read(vcpu, address, span.AsSpan(0, size)));
                Assert.True(vm.MmioBus.TryReadValue(vcpu, address, size, ref cache, out ulong value));
                Assert.True(BitConverter.ToUInt64(span) == value, $"{size}-byte read at +0x{offset:x}: span 0x{BitConverter.ToUInt64(span):x}, value 0x{value:x}");
                nonZero += value != 0 ? 1 : 0;
            }
        }

        Assert.True(nonZero > 40, $"only {nonZero} reads were not zero: the state was not set up");
    }
}
