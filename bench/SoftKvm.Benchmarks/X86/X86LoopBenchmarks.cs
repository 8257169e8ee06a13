using BenchmarkDotNet.Attributes;
using Iced.Intel;
using SoftKvm.Core.Memory;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.Benchmarks.X86;

/// <summary>
/// The x86 CPU model on a compute loop of the kind compilers emit (ALU, shifts, a multiply, loads and
/// stores, a call and a return per round), one million instructions per operation, interpreted and as
/// translated blocks: MIPS = 1000 / (mean in ms), and the allocated column shows that neither engine
/// allocates per instruction. `dotnet run -c Release --project bench/SoftKvm.Benchmarks -- --filter '*X86Loop*'`.
/// </summary>
[MemoryDiagnoser]
public class X86LoopBenchmarks
{
    private const ulong Code = 0x100000;
    private const ulong Data = 0x200000;
    private const ulong Stack = 0x80000;
    private GuestMemory _memory = null!;
    private X86Cpu _cpu = null!;

    /// <summary>Whether hot code runs as translated blocks.</summary>
    [Params(false, true)]
    public bool Translate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = new GuestMemory();
        _memory.SetRegion(0, 0, 16 << 20, MemorySlotFlags.None);
        _cpu = new X86Cpu(_memory) { Translation = Translate };
        ref var r = ref _cpu.Regs;
        r.Cr0 = 0x11; // 32-bit protected mode, flat segments, no paging
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x08, 0x00CF9B000000FFFF);
        foreach (int s in new[] { SegmentIndex.Ds, SegmentIndex.Es, SegmentIndex.Ss, SegmentIndex.Fs, SegmentIndex.Gs })
        {
            r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
        }

        r.Rflags = 2;
        r.Gpr[Gpr.Rsp] = Stack;
        _cpu.StateChanged();

        var a = new Assembler(32);
        var top = a.CreateLabel();
        var f = a.CreateLabel();
        a.mov(esi, (uint)Data);
        a.Label(ref top);
        a.mov(eax, __dword_ptr[esi + ecx * 4]);
        a.imul(eax, eax, 1103515245);
        a.add(eax, 12345);
        a.mov(edx, eax);
        a.shr(edx, 8);
        a.xor(ebx, edx);
        a.and(ecx, 255);
        a.mov(__dword_ptr[esi + ecx * 4], eax);
        a.call(f);
        a.inc(ecx);
        a.cmp(ecx, 1000);
        a.jne(top);
        a.jmp(top);
        a.Label(ref f);
        a.add(edi, ebx);
        a.rol(edi, 3);
        a.ret();
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), Code);
        _memory.Write(Code, code.ToArray());
        _cpu.Regs.Rip = Code;
        RunMillion(); // warm up: the blocks compile on the translator thread
        Thread.Sleep(500);
        RunMillion();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cpu.Dispose();
        _memory.Dispose();
    }

    /// <summary>One million guest instructions.</summary>
    [Benchmark(OperationsPerInvoke = 1)]
    public X86ExitReason RunMillion() => _cpu.Run(1_000_000);
}
