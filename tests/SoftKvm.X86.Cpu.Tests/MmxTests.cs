using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class MmxTests
{
    private const ulong Data = 0x200000;

    private static TestMachine Machine(Action<Assembler> body, bool longMode = true)
    {
        var m = new TestMachine();
        if (longMode)
        {
            m.Setup64();
        }
        else
        {
            m.Setup32();
        }

        m.R.Cr4 |= 0x600;
        m.R.Gpr[Gpr.Rbx] = Data;
        m.Load(a =>
        {
            body(a);
            a.hlt();
        });
        m.Cpu.StateChanged();
        return m;
    }

    [Fact]
    public void Mmx_arithmetic_aliases_the_x87_registers_and_emms_empties_the_tags()
    {
        using var m = Machine(a =>
        {
            a.movq(mm0, __qword_ptr[rbx]);
            a.movq(mm1, __qword_ptr[rbx + 8]);
            a.paddusb(mm0, mm1);
            a.punpckhbw(mm1, mm0);
            a.movq(__qword_ptr[rbx + 16], mm0);
            a.movq(__qword_ptr[rbx + 24], mm1);
            a.fnstsw(ax);
        });
        m.Memory.Write<ulong>(Data, 0x80FF_0102_0304_0506);
        m.Memory.Write<ulong>(Data + 8, 0x8001_1010_1010_1010);
        m.R.Fpu.Fsw = 5 << 11; // TOP = 5
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0xFFFF_1112_1314_1516UL, m.Memory.Read<ulong>(Data + 16));
        Assert.Equal(0xFF80_FF01_1110_1210UL, m.Memory.Read<ulong>(Data + 24)); // high dwords interleaved: mm1 byte, mm0 byte
        Assert.Equal(0xFF, m.R.Fpu.ValidMask);
        Assert.Equal(0, m.R.Fpu.Top);
        Assert.Equal(0xFFFF, m.R.Fpu.R[0].SignExponent);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rax] & 0x3800);

        using var e = Machine(a =>
        {
            a.pxor(mm2, mm2);
            a.emms();
        });
        Assert.Equal(X86ExitReason.Hlt, e.Run());
        Assert.Equal(0, e.R.Fpu.ValidMask);
    }

    [Fact]
    public void Mmx_is_ud_with_cr0_em_nm_with_cr0_ts_and_mf_with_a_pending_x87_exception()
    {
        foreach (var (cr0, fsw, vector) in new[] { (4UL, 0, ExceptionVector.UD), (8UL, 0, ExceptionVector.NM), (0UL, 0x80 | 4, ExceptionVector.MF) })
        {
            using var m = Machine(a => a.paddb(mm0, mm1));
            m.R.Cr0 |= cr0;
            m.R.Fpu.Fsw = (ushort)fsw;
            m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
            Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
            Assert.Equal(vector, m.Cpu.Exit.Vector);
            Assert.Equal(0, m.Cpu.UnimplementedCount);
        }
    }

    [Fact]
    public void Mmx_and_sse_work_in_32_bit_protected_mode()
    {
        using var m = Machine(a =>
        {
            a.movd(mm3, eax);
            a.pshufw(mm3, mm3, 0);
            a.movq2dq(xmm1, mm3);
            a.cvtpi2pd(xmm2, mm3);
            a.movdqu(__xmmword_ptr[ebx], xmm1);
            a.movupd(__xmmword_ptr[ebx + 16], xmm2);
            a.pextrw(ecx, mm3, 3);
            a.emms();
        }, longMode: false);
        m.R.Gpr[Gpr.Rax] = 0x1234_0007;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0x0007_0007_0007_0007UL, m.Memory.Read<ulong>(Data));
        Assert.Equal(0UL, m.Memory.Read<ulong>(Data + 8));
        Assert.Equal(BitConverter.DoubleToUInt64Bits(0x0007_0007), m.Memory.Read<ulong>(Data + 16));
        Assert.Equal(7UL, m.R.Gpr[Gpr.Rcx]);
    }
}
