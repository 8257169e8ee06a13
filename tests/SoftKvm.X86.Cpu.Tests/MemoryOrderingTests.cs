using Iced.Intel;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// MFENCE between two vCPUs on their own host threads: the one reordering an x86 host allows (a later load passing an
/// earlier store still in the store buffer) is what Peterson's lock needs MFENCE to forbid. A no-op MFENCE lets both
/// vCPUs into the critical section now and then, and a plain increment there loses updates.
/// </summary>
public class MemoryOrderingTests
{
    private const ulong Flags = 0x200000; // flag of vCPU 0, flag of vCPU 1, turn, counter: one qword each

    [Fact]
    public void Mfence_in_an_il_block_runs_the_interpreters_barrier()
    {
        var mfence = Decode(0x0F, 0xAE, 0xF0);
        Assert.Equal(BlockOp.Generic, BlockCompiler.Classify(ref mfence, 64)); // the handler above, not the block's NOP
    }

    [Theory]
    [InlineData(false, false)] // the interpreter
    [InlineData(true, false)]  // IL blocks
    [InlineData(true, true)]   // native x86-64 blocks
    public void Petersons_lock_with_mfence_loses_no_update_between_two_vcpus(bool translation, bool native)
    {
        const int n = 20000;
        using var m = TestMachine.Native64(native);
        m.Cpu.Translation = translation;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var wait = a.CreateLabel();
            var enter = a.CreateLabel();
            a.mov(ecx, n);
            a.Label(ref loop);
            a.mov(__qword_ptr[r8], 1);        // flag[me] = 1
            a.mov(__qword_ptr[r10 + 16], r11); // turn = other
            a.mfence();
            a.Label(ref wait);
            a.cmp(__qword_ptr[r9], 1);          // while (flag[other] && turn == other)
            a.jne(enter);
            a.cmp(__qword_ptr[r10 + 16], r11);
            a.je(wait);
            a.Label(ref enter);
            a.mov(rax, __qword_ptr[r10 + 24]); // counter++, not atomic: the lock is all that protects it
            a.inc(rax);
            a.mov(__qword_ptr[r10 + 24], rax);
            a.mov(__qword_ptr[r8], 0);         // flag[me] = 0
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Set(ref m.R, me: 0);
        m.Cpu.StateChanged();
        using var second = new X86Cpu(m.Memory)
        {
            Translation = translation, Native = native, TranslationThreshold = 0, TranslateSynchronously = true,
        };
        second.Regs = m.R;
        second.Regs.Gpr[Gpr.Rsp] = 0x70000;
        Set(ref second.Regs, me: 1);
        second.StateChanged();

        var r2 = X86ExitReason.None;
        var thread = new Thread(() => r2 = RunToHalt(second));
        thread.Start();
        var r1 = RunToHalt(m.Cpu);
        thread.Join();
        Assert.Equal(X86ExitReason.Hlt, r1);
        Assert.Equal(X86ExitReason.Hlt, r2);
        Assert.Equal(2UL * n, m.Memory.Read<ulong>(Flags + 24));
    }

    /// <summary>Runs until the vCPU halts: a vCPU that waits at the lock for one its host thread was descheduled from
    /// spends slices of its budget doing so (a busy machine), so the budget only bounds each slice; a wall-clock limit
    /// ends a hang.</summary>
    private static X86ExitReason RunToHalt(X86Cpu cpu)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        X86ExitReason r;
        while ((r = cpu.Run(1_000_000)) == X86ExitReason.BudgetExhausted && DateTime.UtcNow < until)
        {
        }
        return r;
    }

    private static void Set(ref X86Registers r, int me) // r8, r9, r10, r11
    {
        r.Gpr[8] = Flags + (ulong)(8 * me);
        r.Gpr[9] = Flags + (ulong)(8 * (1 - me));
        r.Gpr[10] = Flags;
        r.Gpr[11] = (ulong)(1 - me);
    }

    private static Instruction Decode(params byte[] bytes)
    {
        var decoder = Decoder.Create(64, bytes);
        decoder.Decode(out var i);
        return i;
    }
}
