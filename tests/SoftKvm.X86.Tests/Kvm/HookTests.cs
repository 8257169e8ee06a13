using Iced.Intel;
using SoftKvm.Core;
using SoftKvm.Core.Hooks;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// Embedder hooks on x86 (docs/hooks.md): instructions and blocks seen with their lengths, stores in a
/// watched range with their values, INT3 reported as a software exception, and the same guest result as
/// without hooks.
/// </summary>
public sealed class HookTests
{
    private const int Iterations = 100;

    // mov rcx,100; mov rdi,Data; L: mov [rdi],rcx; add rax,rcx; dec rcx; jnz L; int3; hlt
    private static void Program(Assembler a)
    {
        var loop = a.CreateLabel();
        a.mov(rcx, Iterations);
        a.mov(rdi, Data);
        a.Label(ref loop);
        a.mov(__qword_ptr[rdi], rcx);
        a.add(rax, rcx);
        a.dec(rcx);
        a.jnz(loop);
        a.int3();
        a.hlt();
    }

    private static readonly int Entry = Length(a => { a.mov(rcx, Iterations); a.mov(rdi, Data); });

    private static KvmMachine Start()
    {
        var m = new KvmMachine();
        m.Load(Program);
        m.Vcpu.Cpu.Translation = true;
        return m;
    }

    private static void RunToHlt(KvmMachine m)
    {
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal((ulong)(Iterations * (Iterations + 1) / 2), m.R.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Instruction_and_block_hooks_see_the_loop_with_lengths()
    {
        using var m = Start();
        var insns = new Dictionary<ulong, (int Size, int Count)>();
        var blocks = new Dictionary<(ulong, int), int>();
        using var i = m.Vm.Hooks.AddInstructionHook((_, a, s) => insns[a] = (s, insns.GetValueOrDefault(a).Count + 1), AddressRange.FromStart(CodeBase, 0x1000));
        using var b = m.Vm.Hooks.AddBlockHook((_, a, s) => blocks[(a, s)] = blocks.GetValueOrDefault((a, s)) + 1, AddressRange.FromStart(CodeBase, 0x1000));
        RunToHlt(m);

        ulong loop = CodeBase + (ulong)Entry;
        int body = Length(a => { a.mov(__qword_ptr[rdi], rcx); a.add(rax, rcx); a.dec(rcx); });
        ulong jnz = loop + (ulong)body;
        Assert.Equal((3, Iterations), insns[loop]);                     // mov [rdi],rcx
        Assert.Equal(Iterations, insns[jnz].Count);
        Assert.Equal((1, 1), insns[jnz + 2]);                           // int3 (jnz rel8: 2 bytes)
        Assert.Equal(1, insns[CodeBase].Count);

        // The entry block runs up to the first JNZ; the taken JNZ enters the loop block 99 times; the
        // fall-through starts the INT3 block; the handler's IRET returns to HLT, a block of its own.
        Assert.Equal(1, blocks[(CodeBase, Entry + body + 2)]);
        Assert.Equal(Iterations - 1, blocks[(loop, body + 2)]);
        Assert.Equal(1, blocks[(jnz + 2, 1)]);
        Assert.Equal(1, blocks[(jnz + 3, 1)]);
        Assert.Equal(4, blocks.Count);
    }

    [Fact]
    public void A_memory_hook_sees_the_stores_in_its_range_with_their_values_and_a_hook_outside_sees_nothing()
    {
        using var m = Start();
        var writes = new List<(MemoryAccessKind Kind, ulong Address, int Size, ulong Value)>();
        int elsewhere = 0;
        using var w = m.Vm.Hooks.AddMemoryHook((_, k, a, s, v) => writes.Add((k, a, s, v)), MemoryAccessKind.ReadWrite, AddressRange.FromStart(Data, 8));
        using var o = m.Vm.Hooks.AddMemoryHook((_, _, _, _, _) => elsewhere++, MemoryAccessKind.ReadWrite, AddressRange.FromStart(Data + 8, 0x100));
        RunToHlt(m);

        Assert.Equal(Iterations, writes.Count);
        for (int i = 0; i < Iterations; i++)
        {
            Assert.Equal((MemoryAccessKind.Write, Data, 8, (ulong)(Iterations - i)), writes[i]);
        }

        Assert.Equal(0, elsewhere);
        Assert.Equal(1UL, m.Vm.Memory.Read<ulong>(Data));
    }

    [Fact]
    public void An_exception_hook_sees_int3_as_a_software_exception()
    {
        using var m = Start();
        var seen = new List<GuestException>();
        using var e = m.Vm.Hooks.AddExceptionHook((Vcpu _, in GuestException x) => seen.Add(x));
        RunToHlt(m);

        var x = Assert.Single(seen);
        Assert.Equal(GuestExceptionKind.Software, x.Kind);
        Assert.Equal(3, x.Vector);
        ulong int3 = CodeBase + (ulong)Length(Program) - 2;
        Assert.Equal(int3 + 1, x.ReturnAddress);                       // a trap: RIP after INT3
        Assert.Equal(m.LastRip(3), x.ReturnAddress);
        Assert.NotEqual(x.ReturnAddress, x.HandlerAddress);
    }
}
