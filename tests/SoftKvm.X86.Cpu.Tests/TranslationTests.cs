using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// Translated blocks against the interpreter: the same program runs on a machine that compiles every
/// place it looks up at once (on the test thread) and on one that only interprets, and everything
/// architectural must be equal (registers, RFLAGS, RIP, memory, retired count); then the semantics a
/// block must keep: budget, MMIO exits and their completion, faults, code written by the VMM and by the
/// guest itself, a kick, trap flag, no allocation.
/// </summary>
public class TranslationTests
{
    internal const ulong Data = 0x200000;
    private const ulong Mmio = 0x2000_0000; // beyond the 16 MiB slot, mapped by the identity page tables

    /// <summary>Whether the translating machines run 64-bit code as native x86-64 blocks (<see cref="NativeTranslationTests"/>).</summary>
    protected virtual bool NativeBlocks => false;

    private protected TestMachine Machine(int bitness, bool translate) => NewMachine(bitness, translate, translate && NativeBlocks);

    /// <summary>A machine in 32- or 64-bit mode that compiles every place it looks up at once, on the calling thread
    /// (<paramref name="translate"/>; 64-bit code as native blocks when <paramref name="native"/>), or only interprets.</summary>
    internal static TestMachine NewMachine(int bitness, bool translate, bool native)
    {
        var m = new TestMachine();
        if (bitness == 64)
        {
            m.Setup64();
        }
        else
        {
            m.Setup32();
        }

        m.Cpu.Translation = translate;
        m.Cpu.Native = native;
        m.Cpu.TranslationThreshold = 0;
        m.Cpu.TranslateSynchronously = true;
        return m;
    }

    /// <summary>A loop over registers, memory, flags and the handler-run instructions (ROR, BSF, CMOV, XCHG).</summary>
    private static void MixedLoop64(Assembler a)
    {
        var loop = a.CreateLabel();
        var skip = a.CreateLabel();
        a.mov(ecx, 300);
        a.mov(rbx, Data);
        a.xor(eax, eax);
        a.mov(r9, 0x123456789ABCDEF);
        a.Label(ref loop);
        a.add(eax, ecx);
        a.imul(edx, eax, 7);
        a.xor(edx, ecx);
        a.shl(edx, 3);
        a.mov(__dword_ptr[rbx], edx);
        a.add(__dword_ptr[rbx + 4], eax);
        a.movzx(esi, __byte_ptr[rbx + 1]);
        a.lea(rdi, __qword_ptr[rsi + rcx * 4 + 16]);
        a.add(rbx, 8);
        a.inc(r8);
        a.ror(r9, 5);
        a.mov(r10, rax);
        a.mul(r9);
        a.mov(rax, r10);
        a.bsf(r11, r9);
        a.cmp(esi, 100);
        a.cmovb(r12, rdi);
        a.jae(skip);
        a.sub(r13, rsi);
        a.Label(ref skip);
        a.xchg(r14, r9);
        a.xchg(r14, r9);
        a.push(rax);
        a.pop(r15);
        a.setg(__byte_ptr[rbx]);
        a.sar(r15d, 2);
        a.neg(r15);
        a.not(r15);
        a.sub(ecx, 1);
        a.jne(loop);
        a.adc(eax, 0);
        a.hlt();
    }

    /// <summary>CALL/RET, PUSH/POP, 8- and 16-bit registers, LOOP and SHRD, in 32-bit flat mode.</summary>
    private static void CallLoop32(Assembler a)
    {
        var loop = a.CreateLabel();
        var f = a.CreateLabel();
        var inner = a.CreateLabel();
        a.mov(ecx, 200);
        a.mov(edi, (uint)Data);
        a.Label(ref loop);
        a.push(ecx);
        a.call(f);
        a.pop(ecx);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
        a.Label(ref f);
        a.mov(eax, __dword_ptr[esp + 4]);
        a.add(__dword_ptr[(uint)Data + 0x1000], eax);
        a.mov(dl, al);
        a.add(dh, dl);
        a.adc(bx, ax);
        a.mov(ecx, 3);
        a.Label(ref inner);
        a.mov(__byte_ptr[edi], cl);
        a.inc(edi);
        a.loop(inner);
        a.shrd(eax, edx, 3);
        a.ret();
    }

    /// <summary>[before;] mov ecx, n; loop: body; dec ecx; jnz loop; hlt.</summary>
    protected static Action<Assembler> CountedLoop(int n, Action<Assembler> body, Action<Assembler>? before = null) => a =>
    {
        var loop = a.CreateLabel();
        before?.Invoke(a);
        a.mov(ecx, n);
        a.Label(ref loop);
        body(a);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
    };

    internal static void AssertSameState(TestMachine interpreted, TestMachine translated)
    {
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(interpreted.R.Gpr[i], translated.R.Gpr[i]);
        }

        Assert.Equal(interpreted.R.Rip, translated.R.Rip);
        Assert.Equal(interpreted.R.Rflags, translated.R.Rflags);
        Assert.Equal(interpreted.Cpu.InstructionsRetired, translated.Cpu.InstructionsRetired);
        var a = new byte[0x2000];
        var b = new byte[0x2000];
        interpreted.Memory.Read(Data, a);
        translated.Memory.Read(Data, b);
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(32)]
    public void Loop_runs_translated_in_the_interpreters_exact_state(int bitness)
    {
        Action<Assembler> program = bitness == 64 ? MixedLoop64 : CallLoop32;
        using var interpreted = Machine(bitness, translate: false);
        using var translated = Machine(bitness, translate: true);
        interpreted.Load(program);
        translated.Load(program);
        Assert.Equal(X86ExitReason.Hlt, interpreted.Run(1_000_000));
        Assert.Equal(X86ExitReason.Hlt, translated.Run(1_000_000));
        AssertSameState(interpreted, translated);
        Assert.True(translated.Cpu.TranslatedInstructions > translated.Cpu.InstructionsRetired * 3 / 4,
            $"{translated.Cpu.TranslatedInstructions} of {translated.Cpu.InstructionsRetired} ran translated");
        Assert.Equal(0, translated.Cpu.TranslationFailures);
    }

    [Fact]
    public void No_block_runs_while_a_data_segment_is_not_flat()
    {
        // DS based at 0x1000: every DS access must go through the interpreter's segmentation.
        static void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 100);
            a.mov(ebx, (uint)Data);
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[ebx]);
            a.add(eax, ecx);
            a.mov(__dword_ptr[ebx + 4], eax);
            a.add(ebx, 4);
            a.push(ecx);
            a.mov(edi, (uint)Data + 0x1800);
            a.mov(ecx, 3);
            a.rep.stosb();
            a.pop(ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(Program);
            m.R.Seg[SegmentIndex.Ds].Base = 0x1000;
            m.Cpu.StateChanged();
            Assert.Equal(X86ExitReason.Hlt, m.Run());
        }

        AssertSameState(interpreted, translated);
        Assert.Equal(0, translated.Cpu.TranslatedInstructions);

        // Flat again: the same loop (REP STOSB and all) runs translated where it can, to the same state.
        using var flatInterpreted = Machine(32, translate: false);
        using var flatTranslated = Machine(32, translate: true);
        foreach (var m in new[] { flatInterpreted, flatTranslated })
        {
            m.Load(Program);
            Assert.Equal(X86ExitReason.Hlt, m.Run());
        }

        AssertSameState(flatInterpreted, flatTranslated);
        Assert.True(flatTranslated.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void A_return_to_another_place_than_after_the_call_goes_there()
    {
        // f moves its return address past the INC EBX (one byte): a block that runs the call and the RET
        // inside it must follow the popped address, not the place after the call.
        static void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            var f = a.CreateLabel();
            a.mov(ecx, 5);
            a.Label(ref loop);
            a.call(f);
            a.inc(ebx);
            a.inc(edx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
            a.Label(ref f);
            a.add(__dword_ptr[esp], 1);
            a.ret();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        interpreted.Load(Program);
        translated.Load(Program);
        foreach (var m in new[] { interpreted, translated })
        {
            m.R.Gpr[Gpr.Rbx] = 0;
            m.R.Gpr[Gpr.Rdx] = 0;
            Assert.Equal(X86ExitReason.Hlt, m.Run());
        }

        AssertSameState(interpreted, translated);
        Assert.Equal(0UL, translated.R.Gpr[Gpr.Rbx]);
        Assert.Equal(5UL, translated.R.Gpr[Gpr.Rdx]);
        Assert.True(translated.Cpu.TranslatedInstructions > 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(50)]
    [InlineData(1000)]
    public void Budget_is_kept_to_the_instruction(int slice)
    {
        using var interpreted = Machine(64, translate: false);
        using var translated = Machine(64, translate: true);
        interpreted.Load(MixedLoop64);
        translated.Load(MixedLoop64);
        for (int round = 0; round < 100_000; round++)
        {
            var a = interpreted.Run(slice);
            var b = translated.Run(slice);
            Assert.Equal(a, b);
            Assert.Equal(interpreted.R.Rip, translated.R.Rip);
            Assert.Equal(interpreted.Cpu.InstructionsRetired, translated.Cpu.InstructionsRetired);
            if (a == X86ExitReason.Hlt)
            {
                break;
            }
        }

        AssertSameState(interpreted, translated);
        // The loop's block (34 instructions) runs only when what is left of the budget at its entry covers a pass through it.
        Assert.True(slice < 1000 || translated.Cpu.TranslatedInstructions > translated.Cpu.InstructionsRetired / 2);
    }

    private sealed class Bus(ulong value) : IX86EmulationBus
    {
        public int Reads;

        public X86BusResult ReadMemory(ulong gpa, Span<byte> data)
        {
            Reads++;
            BitConverter.TryWriteBytes(data, (uint)value);
            return X86BusResult.Done;
        }

        public X86BusResult WriteMemory(ulong gpa, ReadOnlySpan<byte> data) => X86BusResult.Done;

        public X86BusResult ReadPort(ushort port, int size, Span<byte> data) => X86BusResult.Done;

        public X86BusResult WritePort(ushort port, ReadOnlySpan<byte> data) => X86BusResult.Done;
    }

    [Fact]
    public void Mmio_load_inside_a_translated_loop_exits_at_the_load_and_completes_once()
    {
        using var m = Machine(64, translate: true);
        m.Load(CountedLoop(50, a =>
        {
            a.add(edx, 2);
            a.mov(eax, __dword_ptr[rsi]);
            a.add(ebx, eax);
        }, before: a => a.mov(rsi, Mmio)));
        ulong loadRip = TestMachine.Code + 10 + 5 + 3; // mov rsi, imm64 (10), mov ecx, imm32 (5), add edx, 2 (3)
        m.R.Gpr[Gpr.Rdx] = 0; // (RESET leaves the CPU signature in EDX)
        var bus = new Bus(3);
        int exits = 0;
        while (true)
        {
            var reason = m.Run();
            if (reason == X86ExitReason.Hlt)
            {
                break;
            }

            Assert.Equal(X86ExitReason.EptViolation, reason);
            Assert.Equal(loadRip, m.R.Rip);
            Assert.Equal(Mmio, m.Cpu.Exit.GuestPhysicalAddress);
            exits++;
            Assert.Equal((ulong)(2 * exits), m.R.Gpr[Gpr.Rdx]); // the ADD before the load retired, once
            Assert.Equal(X86EmulationResult.Retired, m.Cpu.EmulateOne(bus));
        }

        Assert.Equal(50, exits);
        Assert.Equal(50, bus.Reads);
        Assert.Equal(150UL, m.R.Gpr[Gpr.Rbx]);
        Assert.True(m.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void Page_fault_inside_a_block_is_taken_at_the_faulting_instruction()
    {
        using var m = Machine(64, translate: true);
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0); // unmap 0x400000-0x5FFFFF
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, 0x3FFF00UL);
            a.Label(ref loop);
            a.inc(ecx);
            a.mov(__qword_ptr[rsi], rcx);
            a.add(rsi, 8);
            a.jmp(loop);
        });
        m.R.Rflags = 2 | Rflags.CF;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.PF, m.Cpu.Exit.Vector);
        Assert.Equal(0x400000UL, m.Cpu.Exit.Qualification);
        Assert.Equal(TestMachine.Code + 10 + 2, m.R.Rip); // at the store
        Assert.Equal(0x400000UL, m.R.Gpr[Gpr.Rsi]);
        Assert.Equal(33UL, m.R.Gpr[Gpr.Rcx]); // the INC of the faulting round retired
        Assert.Equal(32UL, m.Memory.Read<ulong>(0x3FFFF8));
        Assert.True(m.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void Code_rewritten_by_the_vmm_after_translation_runs_as_written()
    {
        using var m = Machine(64, translate: true);
        m.Load(CountedLoop(10, a => a.add(eax, 1)));
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(10UL, m.R.Gpr[Gpr.Rax]);
        Assert.True(m.Cpu.TranslatedInstructions > 0);

        m.Memory.Write<uint>(TestMachine.Code + 5 + 1, 3); // add eax, 1 (05 imm32) -> add eax, 3
        m.R.Rip = TestMachine.Code;
        m.R.Gpr[Gpr.Rax] = 0;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(30UL, m.R.Gpr[Gpr.Rax]);
        Assert.True(m.Cpu.StaleBlocks > 0);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_store_into_the_running_loop_is_seen_by_its_next_iteration(bool translate, bool byHandler)
    {
        // add eax, imm32 at Code + 5; the loop then rewrites that immediate to 5: 1 + 5 * 9. The store is a MOV (compiled
        // into a block) or an XCHG (run by the interpreter's handler inside a block).
        using var m = Machine(32, translate);
        m.Load(CountedLoop(10, a =>
        {
            a.add(eax, 0x12345601); // 05 imm32
            if (byHandler)
            {
                a.mov(edx, 5);
                a.xchg(__dword_ptr[(uint)TestMachine.Code + 6], edx);
            }
            else
            {
                a.mov(__dword_ptr[(uint)TestMachine.Code + 6], 5);
            }
        }));
        m.Memory.Write<uint>(TestMachine.Code + 6, 1);
        m.R.Gpr[Gpr.Rax] = 0;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(46UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(translate, m.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void Bytes_a_block_jumps_over_may_change_without_dropping_the_block()
    {
        // mov ecx, 10; loop: add eax, 1; jmp over; 8 data bytes; over: dec ecx; jnz loop; hlt. The data bytes lie
        // between the block's instructions but are none of them: rewriting them leaves the block valid.
        using var m = Machine(64, translate: true);
        byte[] code = m.Load(a =>
        {
            var loop = a.CreateLabel();
            var over = a.CreateLabel();
            a.mov(ecx, 10);
            a.Label(ref loop);
            a.add(eax, 1);
            a.jmp(over);
            a.dq(0x1111111111111111);
            a.Label(ref over);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(10UL, m.R.Gpr[Gpr.Rax]);
        Assert.True(m.Cpu.TranslatedInstructions > 0);

        ulong data = TestMachine.Code + (ulong)code.AsSpan().IndexOf((ReadOnlySpan<byte>)[0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
        m.Memory.Write<ulong>(data, 0x2222222222222222);
        m.R.Rip = TestMachine.Code;
        m.R.Gpr[Gpr.Rax] = 0;
        long translated = m.Cpu.TranslatedInstructions;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(10UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(0, m.Cpu.StaleBlocks);
        Assert.True(m.Cpu.TranslatedInstructions > translated);
    }

    [Fact]
    public void A_kick_stops_an_endless_translated_loop_at_an_instruction_boundary()
    {
        using var m = Machine(64, translate: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(rax);
            a.jmp(loop);
        });
        m.R.Gpr[Gpr.Rax] = 0;
        var kicker = new Thread(() =>
        {
            Thread.Sleep(100);
            m.Cpu.RequestExit();
        });
        kicker.Start();
        Assert.Equal(X86ExitReason.ExitRequested, m.Run(long.MaxValue));
        kicker.Join();
        long retired = m.Cpu.InstructionsRetired;
        ulong incs = m.R.Gpr[Gpr.Rax];
        Assert.True(incs > 1000);
        // Stopped at the INC (after a JMP) or at the JMP (after an INC).
        Assert.Equal(m.R.Rip == TestMachine.Code ? (ulong)retired / 2 : (ulong)(retired + 1) / 2, incs);
        Assert.True(m.Cpu.TranslatedInstructions > retired / 2);
    }

    [Fact]
    public void Trap_flag_single_steps_code_that_has_a_block()
    {
        using var m = Machine(64, translate: true);
        m.Load(CountedLoop(5, _ => { }));
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        long translatedBefore = m.Cpu.TranslatedInstructions;
        Assert.True(translatedBefore > 0);

        m.R.Rip = TestMachine.Code;
        m.R.Rflags = 2 | Rflags.TF;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;
        for (int step = 1; step <= 3; step++)
        {
            Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
            Assert.Equal(ExceptionVector.DB, m.Cpu.Exit.Vector);
            Assert.Equal(0x4000UL, m.Cpu.Exit.Qualification & 0x4000);
        }

        Assert.Equal(translatedBefore, m.Cpu.TranslatedInstructions);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_loop_allocates_nothing(bool translate)
    {
        using var m = Machine(64, translate);
        m.Load(MixedLoop64);
        // Warm up until the tiered JIT has settled (its call-counting stubs allocate on first calls; the
        // first run compiles the blocks); then a whole run of the loop must not allocate at all.
        long allocated = long.MaxValue;
        for (int round = 0; round < 8 && allocated != 0; round++)
        {
            m.R.Rip = TestMachine.Code;
            long before = GC.GetAllocatedBytesForCurrentThread();
            var reason = m.Run(1_000_000);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(X86ExitReason.Hlt, reason);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(translate, m.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void A_second_vcpu_takes_the_block_another_compiled()
    {
        using var m = Machine(64, translate: true);
        m.Cpu.TranslateSynchronously = false;
        m.Cpu.TranslationThreshold = 5;
        m.Load(CountedLoop(3_000_000, a => a.add(rax, rcx)));
        var start = m.R;
        Assert.Equal(X86ExitReason.Hlt, RunToHalt(m.Cpu));
        // (The same bytes at the same host address may have been compiled by an earlier test: the cache is the process's.)
        Assert.True(m.Cpu.BlocksTranslated + m.Cpu.BlocksShared > 0);

        using var second = new X86Cpu(m.Memory) { Translation = true, Native = NativeBlocks, TranslationThreshold = 5 };
        second.Regs = start;
        second.StateChanged();
        Assert.Equal(X86ExitReason.Hlt, RunToHalt(second));
        Assert.Equal(m.R.Gpr[Gpr.Rax], second.Regs.Gpr[Gpr.Rax]);
        if (NativeBlocks)
        {
            Assert.True(second.BlocksTranslated > 0); // native blocks are each vCPU's own
        }
        else
        {
            Assert.Equal(0, second.BlocksTranslated);
            Assert.True(second.BlocksShared > 0);
        }

        Assert.True(second.TranslatedInstructions > second.InstructionsRetired / 2);
    }

    private static X86ExitReason RunToHalt(X86Cpu cpu)
    {
        var reason = X86ExitReason.BudgetExhausted;
        for (int i = 0; i < 100_000 && reason == X86ExitReason.BudgetExhausted; i++)
        {
            reason = cpu.Run(20_000);
        }

        return reason;
    }

    [Fact]
    public void Background_translation_installs_blocks_while_the_guest_runs()
    {
        // rax += rcx while --rcx: the guest runs (in slices, as a vCPU does) until ten million instructions ran
        // translated; the translator thread is the process's, so other tests' blocks may queue before this one.
        const ulong start = 1UL << 40;
        using var m = Machine(64, translate: true);
        m.Cpu.TranslateSynchronously = false;
        m.Cpu.TranslationThreshold = 50;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rcx, start);
            a.Label(ref loop);
            a.add(rax, rcx); // 3 bytes
            a.dec(rcx);      // 3 bytes
            a.jnz(loop);
        });
        m.R.Gpr[Gpr.Rax] = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (m.Cpu.TranslatedInstructions < 10_000_000 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.Equal(X86ExitReason.BudgetExhausted, m.Run(20_000));
        }

        // The sum of the values of RCX added so far: start down to RCX + 1, and RCX itself when stopped at the DEC.
        ulong counter = m.R.Gpr[Gpr.Rcx];
        ulong last = m.R.Rip == TestMachine.Code + 10 + 3 ? counter : counter + 1;
        var expected = ((UInt128)start * (start + 1) / 2) - ((UInt128)last * (last - 1) / 2);
        Assert.Equal((ulong)expected, m.R.Gpr[Gpr.Rax]);
        // (Or compiled for an earlier test: the cache is the process's.)
        Assert.True(m.Cpu.BlocksTranslated + m.Cpu.BlocksShared > 0,
            $"translated {m.Cpu.BlocksTranslated}, shared {m.Cpu.BlocksShared}, failures {m.Cpu.TranslationFailures} ({m.Cpu.LastTranslationFailure})");
        Assert.True(m.Cpu.TranslatedInstructions >= 10_000_000);
    }
}
