using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;

namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// The native code generator on the hot loops of computebench.elf, in-process: (a) the time to translate
/// each loop's block (discovery, IR, passes, encoding, publishing), and (b) the guest instructions per
/// second of each loop as native code and interpreted. Engines alternate (A B A B ...); medians are
/// printed. <c>dotnet run -c Release --project bench/SoftKvm.Benchmarks -- arm64-native [reps]</c>
/// (<c>arm64-native compile-loop</c> translates the blocks over and over, for a profiler). The spike's
/// comparison with the optimized IL tier (docs/native-codegen-spike.md) ran this at commit 95920bf,
/// before the IL tiers were retired.
/// </summary>
public static unsafe class NativeLoops
{
    private const ulong RamBase = 0x4000_0000;
    private const ulong RamSize = 256UL << 20;
    private const ulong Data = 0x4400_0000; // 64 MiB into RAM: the loops' buffers
    private const ulong Stack = 0x4300_0000;

    /// <summary>A loop of computebench.elf: where it starts, how to make it run long, and how much of it one pass runs.</summary>
    private sealed record Loop(string Name, ulong Pc, long Pass, Action<Arm64Cpu> Setup);

    private static readonly Loop[] Loops =
    [
        // ldr x1,[sp,#120]; strb wzr,[x0],#1; cmp x1,x0; b.ne
        new("clear (strb post-index)", 0x400805ec, 4_000_000, c =>
        {
            c.State.SpEl1 = Stack;
            c.State.X[0] = Data;
            Poke(c, Stack + 120, Data + (32UL << 20));
        }),

        // madd; lsr; strb post-index; cmp; b.ne
        new("lcg fill (madd, strb)", 0x40080644, 5_000_000, c =>
        {
            c.State.X[0] = 0x123456789abcdefUL;
            c.State.X[22] = 6364136223846793005UL;
            c.State.X[21] = 1442695040888963407UL;
            c.State.X[1] = Data;
            c.State.X[24] = Data + (32UL << 20);
        }),

        // ldrb post-index; eor; and; ldr [x20, x0, lsl #2]; eor lsr; cmp; b.ne
        new("crc32 table (ldrb, ldr indexed)", 0x40080664, 7_000_000, c =>
        {
            c.State.X[2] = Data;
            c.State.X[24] = Data + (32UL << 20);
            c.State.X[20] = Data + (48UL << 20);
            c.State.X[1] = 0xffffffff;
        }),

        // strb [x26, x1]; add; cmp; b.ls
        new("sieve mark (strb indexed, b.ls)", 0x40080710, 4_000_000, c =>
        {
            c.State.X[26] = Data;
            c.State.X[1] = 0;
            c.State.X[0] = 3;
            c.State.X[3] = 30UL << 20;
            c.State.X[5] = 1;
        }),

        // ldr post-index x2; smaddl; cmp; b.ne
        new("matrix (ldr post-index, smaddl)", 0x40080808, 2_500_000, c =>
        {
            c.State.X[10] = Data;
            c.State.X[7] = Data + (8UL << 20);
            c.State.X[11] = Data + (8UL << 20) + (96UL * 600_000);
            c.State.X[2] = 0;
        }),

        // ldr indexed x2; sub; cbz; madd; csel ls; cmp; b.ne (the sort check)
        new("sort check (ldr, csel, madd)", 0x400808d0, 80_000, c =>
        {
            c.State.X[23] = Data;
            c.State.X[0] = 1;
            c.State.X[1] = 1;
            c.State.X[4] = 1000003;
            c.State.X[27] = 0;
        }),

        // madd, and, lsr, ubfx, lsrv, add sxtb, asrv, add sxtw, eor, mul, umulh, cmp w, b.ne: registers only
        new("hash (mul, umulh, shifts)", 0x40080a6c, 5_000_000, c =>
        {
            c.State.X[2] = 0x123456789abcdefUL;
            c.State.X[22] = 6364136223846793005UL;
            c.State.X[21] = 1442695040888963407UL;
            c.State.X[1] = 1469598103934665603UL;
            c.State.X[7] = 0x100000001b3UL;
            c.State.X[3] = 0;
            c.State.X[6] = 0xffffffffUL;
        }),

        // xorshift, two udiv, msub, ror, rbit, clz and an inner popcount loop (ands, b.ne)
        new("mix (udiv, rbit, clz, inner loop)", 0x4008095c, 5_000_000, c =>
        {
            c.State.X[0] = 0x2fe94f82a000UL;
            c.State.X[1] = 0x9e3779b97f4a7c15UL;
            c.State.X[28] = 0xf4c58c31d00eUL;
            c.State.X[8] = 0x5555555555555556UL;
            c.State.X[6] = unchecked((ulong)-7L);
            c.State.X[4] = 4;
            c.State.X[2] = 0;
            c.State.X[3] = 2;
            c.State.X[5] = 1;
            c.State.X[7] = ulong.MaxValue;
        }),
    ];

    private static void Poke(Arm64Cpu cpu, ulong address, ulong value) => s_vm!.Memory.Write(new GuestPhysAddr(address), value);

    [ThreadStatic]
    private static Arm64Vm? s_vm;

    public static int Run(string[] args)
    {
        if (args.Length > 1 && args[1] == "compile-loop")
        {
            // For profiling the translator: the loop blocks translated over and over.
            byte[] image = File.ReadAllBytes(ComputeGuestRunner.FindGuest("computebench.elf"));
            var (vm, _) = NewMachine(image);
            var translator = NativeTranslator.ForThisThread;
            for (int i = 0; i < 30000; i++)
            {
                foreach (Loop loop in Loops)
                {
                    uint* host = (uint*)vm.Memory.TryGetHostPointer(loop.Pc, false, out _);
                    translator.Translate(NativeCodeCache.Instance, host, loop.Pc, BlockMode.El1 | BlockMode.SpEl1 | BlockMode.Unaligned, 32);
                }
            }

            return 0;
        }

        int reps = args.Length > 1 && int.TryParse(args[1], out int n) ? n : 5;
        byte[] elf = File.ReadAllBytes(ComputeGuestRunner.FindGuest("computebench.elf"));
        Console.WriteLine($"native code generator: {Loops.Length} loops of computebench.elf, {reps} alternating repetitions, medians");
        Console.WriteLine();
        CompileTimes(elf, reps);
        Console.WriteLine();
        CodeSpeed(elf, reps);
        return 0;
    }

    private static (Arm64Vm Vm, Arm64Vcpu Vcpu) NewMachine(byte[] elf)
    {
        var vm = new Arm64Vm();
        vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), RamSize);
        ComputeGuestRunner.LoadElf(vm, elf);
        var vcpu = (Arm64Vcpu)vm.CreateVcpu(0);
        vcpu.Init(new Arm64VcpuInit());
        return (vm, vcpu);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    /// <summary>(a) Translation time of each loop's block, for blocks of up to 16 and up to 32 instructions.</summary>
    private static void CompileTimes(byte[] elf, int reps)
    {
        var (vm, vcpu) = NewMachine(elf);
        using var machine = vm;
        var cache = NativeCodeCache.Instance;
        var translator = NativeTranslator.ForThisThread;
        const int perRep = 20;
        BlockMode mode = BlockMode.El1 | BlockMode.SpEl1;

        // Warm up: the JIT tiers the translator's own code after a few dozen calls, in the background.
        for (int w = 0; w < 60; w++)
        {
            foreach (Loop loop in Loops)
            {
                uint* host = (uint*)vm.Memory.TryGetHostPointer(loop.Pc, false, out _);
                translator.Translate(cache, host, loop.Pc, mode, 16);
                translator.Translate(cache, host, loop.Pc, mode, 32);
            }
        }

        Thread.Sleep(500);
        Console.WriteLine("(a) translation time per block, microseconds of thread CPU time (discovery, IR, passes, encoding, publishing)");
        Console.WriteLine($"{"loop",-36} {"insns",5} {"host",5} {"us",7} {"insns",5} {"host",5} {"us",7}");
        var all16 = new List<double>();
        var all32 = new List<double>();
        foreach (Loop loop in Loops)
        {
            uint* host = (uint*)vm.Memory.TryGetHostPointer(loop.Pc, false, out _);
            var t16 = new List<double>();
            var t32 = new List<double>();
            int insns16 = 0, host16 = 0, insns32 = 0, host32 = 0;
            for (int r = 0; r < reps; r++)
            {
                foreach (int max in new[] { 16, 32 })
                {
                    TimeSpan t0 = ComputeGuestRunner.ThreadCpuTime();
                    for (int i = 0; i < perRep; i++)
                    {
                        translator.Translate(cache, host, loop.Pc, mode, max);
                    }

                    double us = (ComputeGuestRunner.ThreadCpuTime() - t0).TotalMicroseconds / perRep;
                    if (max == 16)
                    {
                        t16.Add(us);
                        (insns16, host16) = (translator.LastIr.Indices.Length, translator.LastHostInstructions);
                    }
                    else
                    {
                        t32.Add(us);
                        (insns32, host32) = (translator.LastIr.Indices.Length, translator.LastHostInstructions);
                    }
                }
            }

            all16.Add(Median(t16));
            all32.Add(Median(t32));
            Console.WriteLine($"{loop.Name,-36} {insns16,5} {host16,5} {Median(t16),7:F1} {insns32,5} {host32,5} {Median(t32),7:F1}");
        }

        Console.WriteLine($"{"median over the loops",-36} {"",5} {"",5} {Median(all16),7:F1} {"",5} {"",5} {Median(all32),7:F1}");
    }

    /// <summary>(b) Guest instructions per second in each loop: native code against the interpreter.</summary>
    private static void CodeSpeed(byte[] elf, int reps)
    {
        Console.WriteLine("(b) code speed, guest MIPS in the loop (thread CPU time; blocks translated in a warm-up pass first)");
        Console.WriteLine($"{"loop",-36} {"native",9} {"interp.",9} {"ratio",9}");
        var ratios = new List<double>();
        foreach (Loop loop in Loops)
        {
            var native = new List<double>();
            var interpreted = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                native.Add(Mips(elf, loop, translate: true));
                interpreted.Add(Mips(elf, loop, translate: false));
            }

            double mn = Median(native), mi = Median(interpreted);
            ratios.Add(mn / mi);
            Console.WriteLine($"{loop.Name,-36} {mn,9:F0} {mi,9:F0} {mn / mi,9:F2}x");
        }

        Console.WriteLine($"{"median over the loops",-36} {"",9} {"",9} {Median(ratios),9:F2}x");
    }

    private static double Mips(byte[] elf, Loop loop, bool translate)
    {
        var (vm, vcpu) = NewMachine(elf);
        using var machine = vm;
        s_vm = vm;
        Arm64Cpu cpu = vcpu.Cpu;
        cpu.TranslationEnabled = translate;
        RunPass(cpu, loop); // translates
        int passes = translate ? 3 : 1;
        TimeSpan start = ComputeGuestRunner.ThreadCpuTime();
        long retired = 0;
        for (int p = 0; p < passes; p++)
        {
            retired += RunPass(cpu, loop);
        }

        return retired / (ComputeGuestRunner.ThreadCpuTime() - start).TotalSeconds / 1e6;
    }

    /// <summary>Sets the loop up and runs one pass of it in budgets of 16384, as Arm64Vcpu does; the instructions retired.</summary>
    private static long RunPass(Arm64Cpu cpu, Loop loop)
    {
        loop.Setup(cpu);
        cpu.State.Pc = loop.Pc;
        long start = cpu.Retired;
        int requests = 0;
        while (cpu.Retired - start < loop.Pass)
        {
            CpuExit exit = cpu.Run(ref requests, Math.Min(16384, loop.Pass - (cpu.Retired - start)));
            if (exit != CpuExit.Budget)
            {
                throw new InvalidOperationException($"{loop.Name}: left the loop ({exit}, PC {cpu.State.Pc:x})");
            }
        }

        return cpu.Retired - start;
    }
}
