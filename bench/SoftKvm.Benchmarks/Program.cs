using BenchmarkDotNet.Running;

namespace SoftKvm.Benchmarks;

/// <summary>
/// Entry point: `dotnet run -c Release --project bench/SoftKvm.Benchmarks -- --filter '*'` runs every
/// micro benchmark; `--filter '*IoBus*'` one class (`'*X86Loop*'`: the x86 model interpreted and translated);
/// `-- arm64-compute [runs]` is the quick Stopwatch mode on guests/arm64/compute.elf (MIPS, median of the runs);
/// `-- arm64-native [reps]` measures the native code generator: translation time and loop speed against the interpreter (Arm64/NativeLoops.cs);
/// `-- x86-native [reps] [vmlinux]` the x86 one against the IL blocks and the interpreter (X86/X86NativeLoops.cs).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "arm64-compute")
        {
            return Arm64.QuickComputeMode.Run(args);
        }

        if (args.Length > 0 && args[0] == "arm64-native")
        {
            return Arm64.NativeLoops.Run(args);
        }

        if (args.Length > 0 && args[0] == "x86-native")
        {
            return X86.X86NativeLoops.Run(args);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
