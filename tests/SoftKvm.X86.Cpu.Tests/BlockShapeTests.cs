using Iced.Intel;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// The shape of a hot loop's IL block does not depend on which of the loop's places got hot first (issue 19, session 10):
/// a loop is compiled once and entered at its head, at the targets of its branches and at the places after its exits;
/// the places after a port access the interpreter completed earn no heat of their own; a loop through an instruction the
/// interpreter runs (VMCALL) is the loop, not the code after it.
/// </summary>
public class BlockShapeTests
{
    /// <summary>Serves every port as an in-kernel device: IN reads 0x5A, OUT is taken.</summary>
    private sealed class InKernelPorts : IX86FastExitHost
    {
        public int Accesses;

        public bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index) => false;

        public bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
        {
            Accesses++;
            if (!write)
            {
                value = 0x5A;
            }

            return true;
        }
    }

    /// <summary>The calibration loop of exits.c's pit_sample, in short: mov ecx, N; loop: rdtsc; out 0x43, al; in al, 0x42;
    /// mov bl, al; in al, 0x42; movzx edx, al; add esi, edx; cmp edx, 0x5A; jne skip; inc edi; skip: dec ecx; jnz loop; hlt.</summary>
    private static void PortLoop(Assembler a, int rounds)
    {
        var loop = a.CreateLabel();
        var skip = a.CreateLabel();
        a.mov(ecx, rounds);
        a.Label(ref loop);
        a.rdtsc();
        a.@out(0x43, al);
        a.@in(al, 0x42);
        a.mov(bl, al);
        a.@in(al, 0x42);
        a.movzx(edx, al);
        a.add(esi, edx);
        a.cmp(edx, 0x5A);
        a.jne(skip);
        a.inc(edi);
        a.Label(ref skip);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
    }

    [Fact]
    public void A_loop_with_port_accesses_compiles_once_and_runs_as_its_block()
    {
        using var m = TranslationTests.NewMachine(32, translate: true, native: false);
        m.Cpu.TranslationThreshold = 50;
        var host = new InKernelPorts();
        m.Cpu.FastExits = host;
        m.Load(a => PortLoop(a, 1000));
        m.R.Gpr[Gpr.Rsi] = 0;
        m.R.Gpr[Gpr.Rdi] = 0;

        Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        Assert.Equal(3000, host.Accesses);
        Assert.Equal(1000UL * 0x5A, m.R.Gpr[Gpr.Rsi]);
        Assert.Equal(1000UL, m.R.Gpr[Gpr.Rdi]);

        // Before: the head and the places after each of the three accesses each reached the threshold and compiled the loop.
        Assert.Equal(1, m.Cpu.BlocksTranslated);
        Assert.True(m.Cpu.TranslatedInstructions > 9000, $"{m.Cpu.TranslatedInstructions} ran translated");
    }

    [Fact]
    public void A_loop_block_is_entered_at_each_of_its_places()
    {
        var page = Page(a => PortLoop(a, 1000));
        var shape = BlockCompiler.Shape(page, 5, TestMachine.Code, 32)!; // the loop's head
        Assert.Equal(12, shape.Items.Count); // RDTSC ... JNZ

        // The head (asked for), the JNE's target, the places after the OUT and each IN.
        int after(int k) => shape.Items[k].End;
        Assert.Equal(5, shape.Entries[0]);
        Assert.Equal(new[] { 5, shape.Items[10].Offset, after(1), after(2), after(4) }.Order(), shape.Entries.Order());

        // Entered after the second IN (a VMM exit came back there, say): the same loop, the same places.
        var again = BlockCompiler.Shape(page, after(4), TestMachine.Code, 32)!;
        Assert.Equal(shape.Items.Select(x => x.Offset), again.Items.Select(x => x.Offset));
        Assert.Equal(shape.Entries.Order(), again.Entries.Order());
    }

    [Fact]
    public void A_loops_memory_moves_are_entries_and_straight_codes_are_not()
    {
        // loop: mov eax, [ebx]; add esi, eax; dec ecx; jnz loop; then mov [ebx], esi; mov edx, [ebx + 4]; hlt.
        var page = Page(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[ebx]);
            a.add(esi, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.mov(__dword_ptr[ebx], esi);
            a.mov(edx, __dword_ptr[ebx + 4]);
            a.hlt();
        });

        var loopShape = BlockCompiler.Shape(page, 0, TestMachine.Code, 32)!;
        Assert.Equal(4, loopShape.Items.Count);
        Assert.Equal([0, loopShape.Items[0].End], loopShape.Entries.ToArray()); // where a VMM read's exit comes back

        int after = loopShape.Items[^1].End;
        var straight = BlockCompiler.Shape(page, after, TestMachine.Code, 32)!;
        Assert.Equal(2, straight.Items.Count);
        Assert.Equal([after], straight.Entries.ToArray());
    }

    /// <summary>mov esi, N; loop: mov eax, 0x7FFF; xor ebx, ebx; vmcall; cmp eax, -1000; jne bad; dec esi; jnz loop;
    /// then 70 × add edi, 1; hlt; bad: ud2.</summary>
    private static void VmcallLoop(Assembler a, int rounds)
    {
        var loop = a.CreateLabel();
        var bad = a.CreateLabel();
        a.mov(esi, rounds);
        a.Label(ref loop);
        a.mov(eax, 0x7FFF);
        a.xor(ebx, ebx);
        a.vmcall();
        a.cmp(eax, -1000);
        a.jne(bad);
        a.dec(esi);
        a.jnz(loop);
        for (int k = 0; k < 70; k++)
        {
            a.add(edi, 1);
        }

        a.hlt();
        a.Label(ref bad);
        a.ud2();
    }

    [Fact]
    public void The_block_after_a_vmcall_in_a_loop_is_the_loop()
    {
        var page = Page(a => VmcallLoop(a, 10));
        int afterVmcall = 5 + 5 + 2 + 3; // mov esi; mov eax; xor ebx, ebx; vmcall
        var shape = BlockCompiler.Shape(page, afterVmcall, TestMachine.Code, 32)!;

        // CMP, JNE, DEC, JNZ, MOV, XOR: the loop but the VMCALL, not the 70 ADDs after it (session 9: 64 instructions).
        Assert.Equal(6, shape.Items.Count);
        Assert.Equal([afterVmcall, 5], shape.Entries.ToArray());
        Assert.Equal(6, BlockCompiler.Compile(page, 0, afterVmcall, TestMachine.Code, 32)!.InstructionCount);
    }

    [Fact]
    public void A_vmcall_loop_runs_its_block_and_retires_as_the_interpreter_does()
    {
        using var interpreted = TranslationTests.NewMachine(32, translate: false, native: false);
        using var translated = TranslationTests.NewMachine(32, translate: true, native: false);
        translated.Cpu.TranslationThreshold = 20;
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(a => VmcallLoop(a, 500));
            m.R.Gpr[Gpr.Rdi] = 0;
            int vmcalls = 0;
            X86ExitReason reason;
            while ((reason = m.Run(1_000_000)) == X86ExitReason.Vmcall)
            {
                // The hypervisor's answer to an unknown hypercall, and the skip (X86Vcpu.Hypercall.cs).
                vmcalls++;
                m.R.Gpr[Gpr.Rax] = unchecked((ulong)-1000L) & 0xFFFFFFFF;
                m.R.Rip += 3;
            }

            Assert.Equal(X86ExitReason.Hlt, reason);
            Assert.Equal(500, vmcalls);
            Assert.Equal(70UL, m.R.Gpr[Gpr.Rdi]);
        }

        TranslationTests.AssertSameState(interpreted, translated);
        Assert.Equal(1, translated.Cpu.BlocksTranslated); // the loop, entered after each VMCALL
        Assert.True(translated.Cpu.TranslatedInstructions > 400 * 6, $"{translated.Cpu.TranslatedInstructions} ran translated");
    }

    [Theory]
    [InlineData(3, true)]
    [InlineData(0, false)]
    [InlineData(0, true)]
    public void A_port_access_in_a_block_at_cpl_3_is_allowed_by_iopl_or_by_the_io_bitmap(int iopl, bool bitmapDenies)
    {
        // loop: inc ebx; in al, 0x42; dec ecx; jnz loop; hlt. IOPL 3 (the bitmap is not read), or IOPL 0 and a TSS whose I/O
        // bitmap allows port 0x42: the INs in the block go to the fast path, HLT raises #GP. IOPL 0 and a bitmap that denies
        // it: #GP(0) at the first IN, the block's INC before it retired.
        bool allowed = iopl == 3 || !bitmapDenies;
        void Program(Assembler a)
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref loop);
            a.inc(ebx);
            a.@in(al, 0x42);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }

        using var interpreted = TranslationTests.NewMachine(32, translate: false, native: false);
        using var translated = TranslationTests.NewMachine(32, translate: true, native: false);
        foreach (var m in new[] { interpreted, translated })
        {
            var host = new InKernelPorts();
            m.Cpu.FastExits = host;
            m.Load(Program);
            m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x33, 0x00CFFB000000FFFF);
            for (int s = 0; s < 6; s++)
            {
                if (s != SegmentIndex.Cs)
                {
                    m.R.Seg[s] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
                }
            }

            m.R.Rflags = 2 | Rflags.IF | ((ulong)iopl << 12);
            m.R.Gpr[Gpr.Rbx] = 0;
            const ulong tss = 0x7000;
            m.R.Tr = SegmentRegister.FromDescriptor(0x40, 0x00008B0070000000 | 0x2067); // busy 32-bit TSS at 0x7000
            m.Memory.Write<ushort>(tss + 0x66, 0x68); // the I/O bitmap right after the TSS
            m.Memory.Write<byte>(tss + 0x68 + (0x42 >> 3), (byte)(bitmapDenies ? 1 << (0x42 & 7) : 0));
            m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.GP;
            m.Cpu.StateChanged();
            Assert.Equal(3, m.Cpu.Cpl);
            Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
            Assert.Equal(ExceptionVector.GP, m.Cpu.Exit.Vector);
            Assert.Equal(allowed ? 20 : 0, host.Accesses);
            Assert.Equal(allowed ? 20UL : 1UL, m.R.Gpr[Gpr.Rbx]);
            Assert.Equal(TestMachine.Code + (allowed ? 5UL + 1 + 2 + 1 + 2 : 5UL + 1), m.R.Rip); // at HLT, or at the IN
        }

        TranslationTests.AssertSameState(interpreted, translated);
        Assert.True(translated.Cpu.TranslatedInstructions > 0);
    }

    private static byte[] Page(Action<Assembler> build)
    {
        var a = new Assembler(32);
        build(a);
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), TestMachine.Code);
        var page = new byte[0x1000];
        ms.ToArray().CopyTo(page, 0);
        return page;
    }
}
