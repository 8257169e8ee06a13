namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// Plain Stopwatch mode for the iteration loop: runs compute.elf N times (after one warm-up run),
/// prints time and MIPS for each and the median. Runs in seconds.
/// </summary>
public static class QuickComputeMode
{
    public static int Run(string[] args)
    {
        int runs = args.Length > 1 && int.TryParse(args[1], out int n) ? n : 5;
        string path = args.Length > 2 ? args[2] : ComputeGuestRunner.FindGuest();
        byte[] elf = File.ReadAllBytes(path);
        var warm = ComputeGuestRunner.Run(elf);
        Console.WriteLine($"warm-up: {warm.Instructions} instructions, {warm.Elapsed.TotalMilliseconds:F0} ms, {warm.Mips:F1} MIPS");
        var mips = new List<double>();
        var cpuMips = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var r = ComputeGuestRunner.Run(elf);
            if (r.Output != warm.Output)
            {
                Console.Error.WriteLine("guest output differs between runs");
                return 1;
            }

            mips.Add(r.Mips);
            cpuMips.Add(r.CpuMips);
            Console.WriteLine($"run {i}: {r.Instructions} instructions, {r.Elapsed.TotalMilliseconds:F0} ms, {r.Mips:F1} MIPS; "
                + $"thread CPU {r.CpuTime.TotalMilliseconds:F0} ms, {r.CpuMips:F1} MIPS");
        }

        mips.Sort();
        cpuMips.Sort();
        Console.WriteLine($"median: {mips[mips.Count / 2]:F1} MIPS (wall), {cpuMips[cpuMips.Count / 2]:F1} MIPS (thread CPU time)");
        return 0;
    }
}
