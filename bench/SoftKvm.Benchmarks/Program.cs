using BenchmarkDotNet.Running;

namespace SoftKvm.Benchmarks;

/// <summary>
/// Entry point: `dotnet run -c Release --project bench/SoftKvm.Benchmarks -- --filter '*'` runs every
/// micro benchmark; `--filter '*IoBus*'` one class.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
