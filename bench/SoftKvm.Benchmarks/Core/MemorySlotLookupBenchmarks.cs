using BenchmarkDotNet.Attributes;
using SoftKvm.Core.Memory;

namespace SoftKvm.Benchmarks.Core;

/// <summary>Guest-physical to host-pointer lookup (the CPU models' TLB-miss path).</summary>
[MemoryDiagnoser]
public unsafe class MemorySlotLookupBenchmarks
{
    private const int Probes = 1024;
    private GuestMemory _memory = null!;
    private ulong[] _addresses = null!;

    [Params(1, 32)]
    public int Slots { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = new GuestMemory();
        for (int i = 0; i < Slots; i++)
        {
            _memory.SetRegion(i, 0x40000000UL + (ulong)i * 0x200000, 0x100000, MemorySlotFlags.None);
        }

        var random = new Random(1);
        _addresses = new ulong[Probes];
        for (int i = 0; i < Probes; i++)
        {
            _addresses[i] = 0x40000000UL + (ulong)random.Next(Slots) * 0x200000 + (ulong)random.Next(0x100000);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(OperationsPerInvoke = Probes)]
    public long Lookup()
    {
        long sum = 0;
        foreach (ulong a in _addresses)
        {
            sum += (long)_memory.TryGetHostPointer(a, false, out _);
        }

        return sum;
    }
}
