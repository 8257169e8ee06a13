using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// The instructions an interrupt handler of 32-bit code is made of, inside IL blocks (the IL tier, issue 19's
/// LAPIC EOI row): RDTSC and RDTSCP, the fences and PAUSE, PUSHA and POPA, PUSHF, CLI and STI. Each against the
/// interpreter: the same program on a machine that compiles every place it looks up at once and on one that only
/// interprets, to the same architectural state, faults included.
/// </summary>
public class IlBlockSystemInstructionTests
{
    private const ulong Data = TranslationTests.Data;

    private static TestMachine Machine(int bitness, bool translate) => TranslationTests.NewMachine(bitness, translate, native: false);

    private static void AssertSameState(TestMachine interpreted, TestMachine translated) => TranslationTests.AssertSameState(interpreted, translated);

    private const ulong PageDirectory = 0x9000;

    /// <summary>32-bit paging with 4 MiB pages identity-mapping 0-16 MiB, but for the 4 MiB page at <paramref name="hole"/>.</summary>
    private static void Paging32(TestMachine m, ulong hole)
    {
        for (ulong i = 0; i < 4; i++)
        {
            m.Memory.Write<uint>(PageDirectory + (i * 4), i << 22 == hole ? 0u : (uint)(i << 22) | 0x83);
        }

        m.R.Cr3 = PageDirectory;
        m.R.Cr4 |= 0x10; // PSE
        m.R.Cr0 |= 0x80000000;
        m.Cpu.StateChanged();
    }

    [Fact]
    public void Rdtsc_fences_pusha_popa_pushf_cli_and_sti_run_inside_blocks_as_interpreted()
    {
        // The TSC counts retired instructions on both machines: a block's RDTSC must read the count the interpreter
        // would, its own instructions before it included. RDTSCP's ECX is IA32_TSC_AUX.
        static void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(esi, 300);
            a.mov(edi, (uint)Data);
            a.Label(ref loop);
            a.lfence();
            a.rdtsc();
            a.mov(__dword_ptr[edi], eax);
            a.add(ebx, eax);
            a.pushad();
            a.mov(eax, 5);
            a.xor(edx, edx);
            a.add(__dword_ptr[esp + 28], 1); // the saved EAX
            a.popad();
            a.mov(__dword_ptr[edi + 4], eax);
            a.pause();
            a.cli();
            a.mfence();
            a.sfence();
            a.pushfd();
            a.pop(ebp);
            a.rdtscp();
            a.add(edi, 8);
            a.sti();
            a.dec(esi);
            a.jnz(loop);
            a.hlt();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(Program);
            m.Cpu.DeterministicTsc = true;
            m.R.TscAux = 0x5A5A;
            m.R.TscOffset = 1_000_000;
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        AssertSameState(interpreted, translated);
        Assert.Equal(0x5A5AUL, translated.R.Gpr[Gpr.Rcx]);
        Assert.Equal(interpreted.Memory.Read<uint>(Data) + 1, interpreted.Memory.Read<uint>(Data + 4));

        // Everything but the instructions after STI (its shadow: the run loop interprets the next one) ran in blocks.
        Assert.True(translated.Cpu.TranslatedInstructions > translated.Cpu.InstructionsRetired * 3 / 4,
            $"{translated.Cpu.TranslatedInstructions} of {translated.Cpu.InstructionsRetired} ran translated");
        Assert.Equal(0, translated.Cpu.TranslationFailures);
    }

    [Fact]
    public void Sti_ends_the_block_so_its_shadow_holds_off_a_pending_interrupt_for_one_instruction()
    {
        // IF = 0 with an interrupt pending: the block runs to STI and must end after it; the run loop then interprets
        // one instruction (INC EDX) in the shadow and delivers the interrupt before INC ESI.
        static void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 10);
            a.Label(ref loop);
            a.cli();
            a.inc(eax);
            a.sti();
            a.inc(edx);
            a.inc(esi);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(Program);
            m.R.Gpr[Gpr.Rax] = 0;
            m.R.Gpr[Gpr.Rdx] = 0;
            m.R.Gpr[Gpr.Rsi] = 0;
            m.Cpu.SetPendingInterrupt(0x40);
            Assert.Equal(X86ExitReason.Hlt, m.Run());
            Assert.Equal(0x40u, m.LastVector);
            Assert.Equal(1UL, m.R.Gpr[Gpr.Rax]);
            Assert.Equal(1UL, m.R.Gpr[Gpr.Rdx]);
            Assert.Equal(0UL, m.R.Gpr[Gpr.Rsi]);
        }

        AssertSameState(interpreted, translated);
        Assert.True(translated.Cpu.TranslatedInstructions >= 4, $"{translated.Cpu.TranslatedInstructions} ran translated"); // MOV, CLI, INC, STI
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pusha_and_popa_that_fault_half_way_take_the_page_fault_at_themselves(bool popa)
    {
        // PUSHAD from ESP = 8 MiB + 16 writes four registers into the page above 8 MiB, then faults below it (4-8 MiB
        // unmapped); POPAD from ESP = 12 MiB - 16 reads four, then faults above (12-16 MiB unmapped). A block ran the
        // INC and the loads before it; the fault is the interpreter's, at the instruction, registers as before it.
        ulong hole = popa ? 0xC00000UL : 0x400000UL;
        uint sp = popa ? 0xBFFFF0u : 0x800010u;
        void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 50);
            a.mov(ebp, (uint)Data);
            a.Label(ref loop);
            a.inc(ebx);
            a.pushad();
            a.popad();
            a.dec(ecx);
            a.jnz(loop);
            a.mov(esp, sp);
            a.mov(eax, 0x11111111);
            a.inc(ebx);
            if (popa)
            {
                a.popad();
            }
            else
            {
                a.pushad();
            }

            a.hlt();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            Paging32(m, hole);
            m.Load(Program);
            m.Memory.Write<ulong>(0xBFFFF0, 0x0123456789ABCDEF);
            m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
            Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
            Assert.Equal(ExceptionVector.PF, m.Cpu.Exit.Vector);
            Assert.Equal(popa ? 0xC00000UL : 0x7FFFFCUL, m.Cpu.Exit.Qualification);
            Assert.Equal(sp, (uint)m.R.Gpr[Gpr.Rsp]);
            Assert.Equal(0x11111111UL, m.R.Gpr[Gpr.Rax]);
            Assert.Equal(51UL, m.R.Gpr[Gpr.Rbx]);
        }

        AssertSameState(interpreted, translated);
        var a = new byte[32];
        var b = new byte[32];
        interpreted.Memory.Read(0x7FFFF0, a);
        translated.Memory.Read(0x7FFFF0, b);
        Assert.Equal(a, b);
        Assert.True(translated.Cpu.TranslatedInstructions > 150, $"{translated.Cpu.TranslatedInstructions} ran translated");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rdtsc_and_cli_outside_ring_0_take_the_interpreters_general_protection_fault(bool cli)
    {
        // CPL 3 with CR4.TSD (RDTSC) or IOPL 0 (CLI): #GP(0) at the instruction, the block's INC before it retired.
        void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref loop);
            a.inc(ebx);
            a.dec(ecx);
            a.jnz(loop);
            a.inc(ebx);
            if (cli)
            {
                a.cli();
            }
            else
            {
                a.rdtsc();
            }

            a.hlt();
        }

        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(Program);
            m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x33, 0x00CFFB000000FFFF);
            for (int s = 0; s < 6; s++)
            {
                if (s != SegmentIndex.Cs)
                {
                    m.R.Seg[s] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
                }
            }

            m.R.Cr4 |= 4; // TSD
            m.R.Rflags = 2 | Rflags.IF;
            m.R.Gpr[Gpr.Rbx] = 0;
            m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.GP;
            m.Cpu.StateChanged();
            Assert.Equal(3, m.Cpu.Cpl);
            Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
            Assert.Equal(ExceptionVector.GP, m.Cpu.Exit.Vector);
            Assert.Equal(21UL, m.R.Gpr[Gpr.Rbx]);
            Assert.Equal(TestMachine.Code + 5 + 1 + 1 + 2 + 1, m.R.Rip); // mov ecx, imm32; inc; dec; jnz rel8; inc
        }

        AssertSameState(interpreted, translated);
        Assert.True(translated.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void An_interrupt_handler_runs_as_a_block_from_its_first_instruction()
    {
        // main: l: hlt; jmp l (IF = 1).  handler (vector 0x50): inc ebx; add ecx, 2; iretd. The delivery makes the handler's
        // entry a place to look up, as a branch target is: its INC and ADD run in a block each time.
        const int vector = 0x50;
        const ulong handler = TestMachine.Code + 0x800;
        using var interpreted = Machine(32, translate: false);
        using var translated = Machine(32, translate: true);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(a =>
            {
                var l = a.CreateLabel();
                a.Label(ref l);
                a.hlt();
                a.jmp(l);
            });
            m.Load(a =>
            {
                a.inc(ebx);
                a.add(ecx, 2);
                a.iretd();
            }, handler);
            ulong gate = (handler & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
            m.Memory.Write<ulong>(TestMachine.Idt + (vector * 8), gate);
            m.R.Gpr[Gpr.Rbx] = 0;
            m.R.Gpr[Gpr.Rcx] = 0;
            m.R.Rflags = 2 | Rflags.IF;
            for (int k = 0; k < 10; k++)
            {
                Assert.Equal(X86ExitReason.Hlt, m.Run());
                Assert.Equal(TestMachine.Code, m.R.Rip);
                m.R.Rip++; // the hypervisor's skip of the HLT
                m.Cpu.SetPendingInterrupt(vector);
            }

            Assert.Equal(X86ExitReason.Hlt, m.Run());
            Assert.Equal(10UL, m.R.Gpr[Gpr.Rbx]);
            Assert.Equal(20UL, m.R.Gpr[Gpr.Rcx]);
        }

        AssertSameState(interpreted, translated);
        Assert.Equal(30, translated.Cpu.TranslatedInstructions); // each time the handler's INC and ADD, and the JMP after its IRET
    }
}
