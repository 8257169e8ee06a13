using BenchmarkDotNet.Attributes;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Benchmarks.Core;

/// <summary>IO bus lookup cost against the number of registered devices (binary search: O(log n)).</summary>
[MemoryDiagnoser]
public class IoBusLookupBenchmarks
{
    private const int Probes = 1024;
    private IoBus _bus = null!;
    private ulong[] _addresses = null!;

    [Params(1, 64, 1000, 4096)]
    public int Devices { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _bus = new IoBus(IoBusKind.Mmio);
        for (int i = 0; i < Devices; i++)
        {
            _bus.Register(0x8000000UL + (ulong)i * 0x20000, 0x20000, new NullDevice());
        }

        var random = new Random(1);
        _addresses = new ulong[Probes];
        for (int i = 0; i < Probes; i++)
        {
            _addresses[i] = 0x8000000UL + (ulong)random.Next(Devices) * 0x20000 + (ulong)random.Next(0x20000 / 4) * 4;
        }
    }

    /// <summary>One lookup (the result is per probe: BenchmarkDotNet divides by OperationsPerInvoke).</summary>
    [Benchmark(OperationsPerInvoke = Probes)]
    public int Lookup()
    {
        int found = 0;
        foreach (ulong a in _addresses)
        {
            if (_bus.TryFind(a, 4, out _, out _))
            {
                found++;
            }
        }

        return found;
    }

    /// <summary>One dispatched 4-byte write, through ioevent and zone checks to the device.</summary>
    [Benchmark(OperationsPerInvoke = Probes)]
    public int Write()
    {
        Span<byte> data = stackalloc byte[4];
        int found = 0;
        foreach (ulong a in _addresses)
        {
            if (_bus.Write(null, a, data))
            {
                found++;
            }
        }

        return found;
    }

    /// <summary>One read of the same register again and again (a vCPU polling a device, a VMM exit's round trip), searched each time.</summary>
    [Benchmark(OperationsPerInvoke = Probes)]
    public int RepeatedRead()
    {
        Span<byte> data = stackalloc byte[4];
        ulong a = _addresses[0];
        int found = 0;
        for (int i = 0; i < Probes; i++)
        {
            if (_bus.Read(null, a, data))
            {
                found++;
            }
        }

        return found;
    }

    /// <summary><see cref="RepeatedRead"/> through the caller's remembered look-up (<see cref="IoBusCache"/>, per vCPU in the hypervisor and the VMM).</summary>
    [Benchmark(OperationsPerInvoke = Probes)]
    public int RepeatedReadCached() => CachedReads(_addresses[0]);

    /// <summary>The miss of an address no device holds (the in-kernel bus asked first about a VMM device's access), remembered as the gap it falls in.</summary>
    [Benchmark(OperationsPerInvoke = Probes)]
    public int RepeatedMissCached() => CachedReads(0x1000);

    private int CachedReads(ulong address)
    {
        Span<byte> data = stackalloc byte[4];
        var cache = default(IoBusCache);
        int found = 0;
        for (int i = 0; i < Probes; i++)
        {
            if (_bus.Read(null, address, data, ref cache))
            {
                found++;
            }
        }

        return found;
    }

    private sealed class NullDevice : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}
