using System.Buffers.Binary;
using System.Diagnostics;
using Iced.Intel;
using SoftKvm.Core.Memory;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Cpu.Translation;
using SoftKvm.X86.Cpu.Translation.Native;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.Benchmarks.X86;

/// <summary>
/// The x86 native code generator (issue 20) against the IL blocks and the interpreter, in-process:
/// (a) guest MIPS of two 64-bit hot loops in each engine (alternating engines, medians of the repetitions), and
/// (b) with a vmlinux (an ELF kernel, e.g. extracted from Debian's bzImage), the time to translate a block at each
/// of a sample of its function entries (the targets of its direct calls): native translation against the IL
/// blocks' compilation (BlockCompiler and the .NET JIT's dry call), median, 90th and 99th percentiles.
/// <c>dotnet run -c Release --project bench/SoftKvm.Benchmarks -- x86-native [reps] [vmlinux]</c>.
/// </summary>
public static unsafe class X86NativeLoops
{
    private const ulong Code = 0x100000;
    private const ulong Data = 0x200000;
    private const ulong Stack = 0x80000;
    private const long Pass = 20_000_000;

    public static int Run(string[] args)
    {
        int reps = args.Length > 1 && int.TryParse(args[1], out int r) ? r : 5;
        Loops(reps);
        if (args.Length > 2)
        {
            CompileTimes(args[2]);
        }

        return 0;
    }

    /// <summary>A compiler's kind of loop: load, multiply, add, shift, xor, store, a call and a return per round.</summary>
    private static void LcgLoop(Assembler a)
    {
        var top = a.CreateLabel();
        var f = a.CreateLabel();
        a.mov(rsi, Data);
        a.Label(ref top);
        a.mov(eax, __dword_ptr[rsi + rcx * 4]);
        a.imul(eax, eax, 1103515245);
        a.add(eax, 12345);
        a.mov(edx, eax);
        a.shr(edx, 8);
        a.xor(ebx, edx);
        a.and(ecx, 255);
        a.mov(__dword_ptr[rsi + rcx * 4], eax);
        a.call(f);
        a.inc(ecx);
        a.cmp(ecx, 1000);
        a.jne(top);
        a.jmp(top);
        a.Label(ref f);
        a.add(edi, ebx);
        a.rol(edi, 3);
        a.ret();
    }

    /// <summary>A multi-precision addition (the kernel's mpihelp_add_n, the RSA of its signature checks): ADC through INC.</summary>
    private static void AddCarryLoop(Assembler a)
    {
        var top = a.CreateLabel();
        var start = a.CreateLabel();
        a.mov(rsi, Data);
        a.mov(rdi, Data + 0x1000);
        a.mov(rbx, Data + 0x2000);
        a.Label(ref start);
        a.mov(rcx, -256);
        a.clc();
        a.Label(ref top);
        a.mov(rax, __qword_ptr[rsi + rcx * 8 + 0x800]);
        a.adc(rax, __qword_ptr[rdi + rcx * 8 + 0x800]);
        a.mov(__qword_ptr[rbx + rcx * 8 + 0x800], rax);
        a.inc(rcx);
        a.jnz(top);
        a.jmp(start);
    }

    private static void Loops(int reps)
    {
        (string Name, Action<Assembler> Program)[] loops = [("lcg + call/ret", LcgLoop), ("adc chain (mpihelp_add_n)", AddCarryLoop)];
        string[] engines = ["interpreter", "IL blocks", "native"];
        foreach (var (name, program) in loops)
        {
            var mips = new List<double>[engines.Length];
            for (int e = 0; e < engines.Length; e++)
            {
                mips[e] = [];
            }

            for (int rep = 0; rep < reps; rep++)
            {
                for (int e = 0; e < engines.Length; e++)
                {
                    using var memory = new GuestMemory();
                    memory.SetRegion(0, 0, 64 << 20, MemorySlotFlags.None);
                    using var cpu = LongModeCpu(memory, program, translate: e > 0, native: e == 2);
                    cpu.Run(Pass / 10); // warm-up: blocks translated, the JIT's tiers settled
                    long before = cpu.InstructionsRetired;
                    var clock = Stopwatch.StartNew();
                    cpu.Run(e == 0 ? Pass / 10 : Pass);
                    double seconds = clock.Elapsed.TotalSeconds;
                    mips[e].Add((cpu.InstructionsRetired - before) / seconds / 1e6);
                }
            }

            Console.WriteLine($"{name}: " + string.Join(", ", engines.Select((e, k) => $"{e} {Median(mips[k]):F0} MIPS")));
        }
    }

    /// <summary>A vCPU in 64-bit mode (identity-mapped 2 MiB pages over the first GiB) at <see cref="Code"/>.</summary>
    private static X86Cpu LongModeCpu(GuestMemory memory, Action<Assembler> program, bool translate, bool native)
    {
        const ulong pml4 = 0x1000, pdpt = 0x2000, pd = 0x3000;
        memory.Write<ulong>(pml4, pdpt | 7);
        memory.Write<ulong>(pdpt, pd | 7);
        for (ulong j = 0; j < 512; j++)
        {
            memory.Write<ulong>(pd + (j * 8), (j << 21) | 0x87);
        }

        var cpu = new X86Cpu(memory) { Translation = translate, Native = native, TranslationThreshold = 0, TranslateSynchronously = true };
        ref var r = ref cpu.Regs;
        r.Cr3 = pml4;
        r.Cr4 = 0x20;
        r.Efer = 0xD01;
        r.Cr0 = 0x80010011;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x08, 0x00AF9B000000FFFF);
        foreach (int s in new[] { SegmentIndex.Ds, SegmentIndex.Es, SegmentIndex.Ss, SegmentIndex.Fs, SegmentIndex.Gs })
        {
            r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
        }

        r.Rflags = 2;
        r.Gpr[Gpr.Rsp] = Stack;
        r.Rip = Code;
        var a = new Assembler(64);
        program(a);
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), Code);
        memory.Write(Code, code.ToArray());
        cpu.StateChanged();
        return cpu;
    }

    /// <summary>Translation time per block at the function entries of a vmlinux's .text.</summary>
    private static void CompileTimes(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        (ulong address, int offset, int size) = Text(elf);
        var entries = FunctionEntries(elf, address, offset, size);
        Console.WriteLine($"{path}: .text {size:N0} bytes at {address:x}, {entries.Count:N0} call targets");
        var sample = entries.Where((_, k) => k % Math.Max(1, entries.Count / 4000) == 0).ToList();

        fixed (byte* text = &elf[offset])
        {
            using var memory = new X86NativeCodeMemory();
            var translator = new X86NativeTranslator();
            var native = new List<double>();
            var nativeInsns = new List<double>();
            foreach (ulong rip in sample)
            {
                long start = Stopwatch.GetTimestamp();
                bool ok = translator.Translate(text + (rip - address), rip, user: false, memory, out _, out _, out int count);
                double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (ok)
                {
                    native.Add(us);
                    nativeInsns.Add(count);
                }
            }

            Report("native", native, nativeInsns);

            var il = new List<double>();
            var ilInsns = new List<double>();
            var page = new byte[0x1000];
            foreach (ulong rip in sample.Take(1000))
            {
                ulong pageRip = rip & ~0xFFFUL;
                new ReadOnlySpan<byte>(text + (pageRip - address), 0x1000).CopyTo(page);
                long start = Stopwatch.GetTimestamp();
                var block = BlockCompiler.Compile(page, (nint)(text + (pageRip - address)), (int)(rip - pageRip), pageRip, 64);
                block?.Code(null!, 0);
                double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (block is not null)
                {
                    il.Add(us);
                    ilInsns.Add(block.InstructionCount);
                }
            }

            Report("IL blocks", il, ilInsns);
        }
    }

    private static void Report(string name, List<double> us, List<double> insns)
    {
        us.Sort();
        Console.WriteLine($"  {name}: {us.Count} blocks, {Median(insns):F0} instructions (median), {insns.Average():F1} (mean); "
            + $"translation median {Percentile(us, 0.5):F1} µs, p90 {Percentile(us, 0.9):F1} µs, p99 {Percentile(us, 0.99):F1} µs, mean {us.Average():F1} µs");
    }

    private static (ulong Address, int Offset, int Size) Text(byte[] elf)
    {
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3C));
        int shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3E));
        var strings = elf.AsSpan((int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)shoff + (shstrndx * shentsize) + 0x18)));
        for (int i = 0; i < shnum; i++)
        {
            var sh = elf.AsSpan((int)shoff + (i * shentsize));
            var name = strings[(int)BinaryPrimitives.ReadUInt32LittleEndian(sh)..];
            if (name.StartsWith(".text\0"u8))
            {
                return (BinaryPrimitives.ReadUInt64LittleEndian(sh[0x10..]), (int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]),
                    (int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x20..]));
            }
        }

        throw new InvalidDataException("no .text section");
    }

    /// <summary>The targets of the direct calls in .text (a linear sweep): function entries, sorted; the calls of __fentry__ made NOPs.</summary>
    private static List<ulong> FunctionEntries(byte[] elf, ulong address, int offset, int size)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(elf, offset, size));
        decoder.IP = address;
        var calls = new List<(ulong At, ulong Target)>();
        while (decoder.IP < address + (ulong)size)
        {
            decoder.Decode(out Instruction i);
            if (i.Code == Iced.Intel.Code.Call_rel32_64 && i.NearBranchTarget - address < (ulong)size)
            {
                calls.Add((i.IP, i.NearBranchTarget));
            }
        }

        // The most called function is __fentry__, whose calls the kernel patches into 5-byte NOPs at boot: patched here too.
        ulong fentry = calls.GroupBy(c => c.Target).MaxBy(g => g.Count())!.Key;
        foreach (var (at, target) in calls)
        {
            if (target == fentry)
            {
                ((ReadOnlySpan<byte>)[0x0F, 0x1F, 0x44, 0x00, 0x00]).CopyTo(elf.AsSpan(offset + (int)(at - address)));
            }
        }

        return [.. new SortedSet<ulong>(calls.Select(c => c.Target).Where(t => t != fentry))];
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static double Median(List<double> values)
    {
        var s = values.OrderBy(x => x).ToList();
        return s.Count == 0 ? 0 : s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
