using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Core.Tests.Support;

namespace SoftKvm.Core.Tests.Io;

/// <summary>
/// The bus's fixed-value tables for generated code (<see cref="IoBus.FixedReadsAt"/>): a device page's table when a device
/// that has one holds the whole page, and the generation that tells code holding a table that the bus changed.
/// </summary>
public sealed unsafe class IoBusFixedReadsTests
{
    private readonly IoBus _bus = new(IoBusKind.Mmio);

    [Fact]
    public void EveryRegistrationAndUnregistrationAdvancesTheGeneration()
    {
        long* generation = _bus.GenerationAddress;
        long start = *generation;
        var device = new RecordingDevice();
        _bus.Register(0x1000, 0x100, device);
        Assert.Equal(start + 1, *generation);
        _bus.Unregister(device);
        Assert.Equal(start + 2, *generation);
        Assert.Throws<IoBusException>(() => _bus.Register(0x0, 0, device));
        Assert.Equal(start + 2, *generation); // a refused registration changes nothing
    }

    [Fact]
    public void APageOfADeviceWithTables_ItsTable_AtTheGenerationBeforeTheLookUp()
    {
        var device = new TableDevice();
        _bus.Register(0x10_0000, 0x2000, device);
        var cache = default(IoBusCache);

        ulong* first = _bus.FixedReadsAt(0x10_0004, ref cache, out long generation);
        ulong* second = _bus.FixedReadsAt(0x10_1ffc, ref cache, out _);
        Assert.Equal(*_bus.GenerationAddress, generation);
        Assert.True(first == device.Page(0));
        Assert.True(second == device.Page(1));
        Assert.Equal([0UL, 0x1000UL], device.Asked);
    }

    [Fact]
    public void NoTable_WhereTheDeviceHasNoneOrDoesNotHoldTheWholePage()
    {
        var cache = default(IoBusCache);
        _bus.Register(0x1000, 0x1000, new RecordingDevice());   // no tables
        _bus.Register(0x4000, 0x800, new TableDevice());        // half a page
        Assert.True(_bus.FixedReadsAt(0x1000, ref cache, out _) == null);
        Assert.True(_bus.FixedReadsAt(0x4000, ref cache, out _) == null);
        Assert.True(_bus.FixedReadsAt(0x9000, ref cache, out _) == null); // no device
    }

    private sealed class TableDevice : IIoFixedReads
    {
        private readonly ulong[] _words = GC.AllocateArray<ulong>(2048, pinned: true);

        public List<ulong> Asked { get; } = [];

        public ulong* Page(int n) => (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _words[1024 * n]);

        public ulong* FixedReads(ulong pageOffset)
        {
            Asked.Add(pageOffset);
            return Page((int)(pageOffset / 4096));
        }

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}
