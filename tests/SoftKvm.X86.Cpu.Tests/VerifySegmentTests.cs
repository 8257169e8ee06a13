using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>VERR and VERW (SystemOps.VerifySegment): ZF from the descriptor's type, DPL, CPL and RPL, never a fault.</summary>
public class VerifySegmentTests
{
    [Theory]
    [InlineData(0x08, true, false)]   // code64 DPL0, execute/read
    [InlineData(0x10, true, true)]    // data DPL0, read/write
    [InlineData(0x13, false, false)]  // the same with RPL 3 > DPL 0
    [InlineData(0x23, true, true)]    // data DPL3, RPL3
    [InlineData(0x40, false, false)]  // the TSS: a system segment
    [InlineData(0x00, false, false)]  // null
    [InlineData(0x03, false, false)]  // null with an RPL
    [InlineData(0x04, false, false)]  // an LDT selector without an LDT
    [InlineData(0x200, false, false)] // past the GDT's limit
    public void Zf_says_whether_the_segment_is_readable_and_writable(int selector, bool readable, bool writable)
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(eax, selector);
            a.stc();
            a.verr(ax);
            a.setz(bl);
            a.cmp(eax, eax);           // ZF = 1 before VERW: it must clear it when the answer is no
            a.verw(ax);
            a.setz(cl);
            a.setc(dl);                // CF from STC, left alone by both
            a.hlt();
        });
        m.R.Gpr[Gpr.Rdx] = 0;

        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(readable ? 1UL : 0, m.R.Gpr[Gpr.Rbx] & 0xFF);
        Assert.Equal(writable ? 1UL : 0, m.R.Gpr[Gpr.Rcx] & 0xFF);
    }

    [Fact]
    public void Verw_with_a_memory_operand_as_linux_clear_cpu_buffers_uses_it()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Memory.Write<ushort>(0x9000, 0x10);
        m.Load(a =>
        {
            a.verw(__word_ptr[0x9000]);
            a.setz(bl);
            a.hlt();
        });

        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rbx] & 0xFF);
    }

    [Fact]
    public void Verw_faults_only_on_its_operand()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0); // unmap 0x400000-0x5FFFFF
        m.Load(a =>
        {
            a.mov(rax, 0x400000);
            a.verw(__word_ptr[rax]);
            a.hlt();
        });
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;

        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.PF, m.Cpu.Exit.Vector);
        Assert.Equal(0x400000UL, m.Cpu.Exit.Qualification);
    }
}
