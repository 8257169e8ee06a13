using BenchmarkDotNet.Attributes;

namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// guests/arm64/compute.elf on the AArch64 interpreter, whole run (VM creation included, which is
/// small next to the guest). MIPS = InstructionsRetired / time, reported as a column by the quick mode
/// (<c>dotnet run -c Release --project bench/SoftKvm.Benchmarks -- arm64-compute [runs]</c>).
/// </summary>
[MemoryDiagnoser]
public class ComputeGuestBenchmarks
{
    private byte[] _elf = [];

    [GlobalSetup]
    public void Setup() => _elf = File.ReadAllBytes(ComputeGuestRunner.FindGuest());

    [Benchmark]
    public long ComputeElf() => ComputeGuestRunner.Run(_elf).Instructions;
}
