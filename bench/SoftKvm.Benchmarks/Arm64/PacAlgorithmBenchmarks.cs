using BenchmarkDotNet.Attributes;
using SoftKvm.Arm64.Cpu.PointerAuth;

namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// One pointer authentication code per call (what PACIASP, AUTIASP and PACGA cost beyond their dispatch):
/// QARMA5 as the Arm ARM's pseudocode writes it cell by cell, QARMA5 table-driven (what the CPU runs), and
/// SoftKvm's IMPDEF algorithm (<c>--cpu max,pauth=impdef</c>).
/// <c>dotnet run -c Release --project bench/SoftKvm.Benchmarks -- --filter '*PacAlgorithm*'</c>.
/// </summary>
public class PacAlgorithmBenchmarks
{
    private ulong _data = 0xFFFF_8000_1234_5678, _modifier = 0xFFFF_8000_0FFF_FF00;

    [Benchmark(Baseline = true)]
    public ulong Qarma5Reference() => _data = Qarma5.Reference(_data, _modifier, 0x84BE_85CE_9804_E94B, 0xEC28_02D4_E0A4_88E9) >> 8;

    [Benchmark]
    public ulong Qarma5Tables() => _data = Qarma5.ComputePac(_data, _modifier, 0x84BE_85CE_9804_E94B, 0xEC28_02D4_E0A4_88E9) >> 8;

    [Benchmark]
    public ulong Impdef() => _data = PacImpdef.ComputePac(_data, _modifier, 0x84BE_85CE_9804_E94B, 0xEC28_02D4_E0A4_88E9) >> 8;
}
