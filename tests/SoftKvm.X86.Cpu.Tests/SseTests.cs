using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class SseTests
{
    private const ulong Data = 0x200000;

    /// <summary>64-bit CPL 0 with CR4.OSFXSR/OSXMMEXCPT set (as Linux runs), RBX = a 16-byte aligned data area.</summary>
    private static TestMachine Machine(Action<Assembler> body, ulong cr4Extra = 0x600)
    {
        var m = new TestMachine();
        m.Setup64();
        m.R.Cr4 |= cr4Extra;
        m.R.Gpr[Gpr.Rbx] = Data;
        m.Load(a =>
        {
            body(a);
            a.hlt();
        });
        m.Cpu.StateChanged();
        return m;
    }

    private static void RunToHlt(TestMachine m) => Assert.Equal(X86ExitReason.Hlt, m.Run());

    private static int RunToException(TestMachine m)
    {
        m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        return m.Cpu.Exit.Vector;
    }

    private static ulong F(float f) => (uint)BitConverter.SingleToInt32Bits(f);

    private static ulong D(double d) => BitConverter.DoubleToUInt64Bits(d);

    [Fact]
    public void Reset_state_has_mxcsr_1f80_and_fcw_037f()
    {
        using var m = new TestMachine();
        Assert.Equal(0x1F80u, m.R.Mxcsr);
        Assert.Equal(0x037F, m.R.Fpu.Fcw);
        Assert.Equal(0, m.R.Fpu.ValidMask);
    }

    [Fact]
    public void Cpuid_advertises_fpu_mmx_fxsr_sse_sse2_but_not_sse3()
    {
        using var m = new TestMachine();
        m.Cpu.GetCpuid(1, 0, out _, out _, out uint ecx, out uint edx);
        Assert.Equal(1u << 0, edx & 1);
        Assert.Equal(15u << 23, edx & (15u << 23));
        Assert.Equal(0u, ecx & 1);
    }

    [Fact]
    public void Sse_without_osfxsr_is_ud()
    {
        using var m = Machine(a => a.addps(xmm0, xmm1), cr4Extra: 0);
        Assert.Equal(ExceptionVector.UD, RunToException(m));
        Assert.Equal(0, m.Cpu.UnimplementedCount);
    }

    [Fact]
    public void Sse_with_cr0_em_is_ud_and_with_cr0_ts_is_nm()
    {
        using var m = Machine(a => a.addps(xmm0, xmm1));
        m.R.Cr0 |= 4;
        Assert.Equal(ExceptionVector.UD, RunToException(m));
        using var n = Machine(a => a.addps(xmm0, xmm1));
        n.R.Cr0 |= 8;
        Assert.Equal(ExceptionVector.NM, RunToException(n));
        Assert.Equal(TestMachine.Code, n.R.Rip);
    }

    [Fact]
    public void X87_with_cr0_em_is_nm_and_wait_needs_mp_and_ts()
    {
        using var m = Machine(a => a.fld1());
        m.R.Cr0 |= 4;
        Assert.Equal(ExceptionVector.NM, RunToException(m));

        using var w = Machine(a => a.wait());
        w.R.Cr0 |= 8; // TS without MP: WAIT runs
        RunToHlt(w);
        using var w2 = Machine(a => a.wait());
        w2.R.Cr0 |= 8 | 2;
        Assert.Equal(ExceptionVector.NM, RunToException(w2));
    }

    [Fact]
    public void Aligned_move_of_misaligned_memory_is_gp_and_commits_nothing()
    {
        using var m = Machine(a => a.movaps(xmm0, __xmmword_ptr[rbx + 8]));
        m.R.Xmm[0] = new XmmRegister(1, 2);
        Assert.Equal(ExceptionVector.GP, RunToException(m));
        Assert.Equal(0u, m.Cpu.Exit.ErrorCode);
        Assert.Equal(1UL, m.R.Xmm[0].Lo);
        Assert.Equal(TestMachine.Code, m.R.Rip);

        using var u = Machine(a => a.movups(xmm0, __xmmword_ptr[rbx + 8]));
        u.Memory.Write<ulong>(Data + 8, 0x1111);
        u.Memory.Write<ulong>(Data + 16, 0x2222);
        RunToHlt(u);
        Assert.Equal(0x1111UL, u.R.Xmm[0].Lo);
        Assert.Equal(0x2222UL, u.R.Xmm[0].Hi);
    }

    [Fact]
    public void Packed_integer_source_must_be_aligned_too()
    {
        using var m = Machine(a => a.paddb(xmm0, __xmmword_ptr[rbx + 4]));
        Assert.Equal(ExceptionVector.GP, RunToException(m));
    }

    [Fact]
    public void Ldmxcsr_with_a_reserved_bit_is_gp_and_stmxcsr_round_trips()
    {
        using var m = Machine(a =>
        {
            a.ldmxcsr(__dword_ptr[rbx]);
            a.stmxcsr(__dword_ptr[rbx + 4]);
        });
        m.Memory.Write<uint>(Data, 0x7FC0);
        RunToHlt(m);
        Assert.Equal(0x7FC0u, m.R.Mxcsr);
        Assert.Equal(0x7FC0u, m.Memory.Read<uint>(Data + 4));

        using var bad = Machine(a => a.ldmxcsr(__dword_ptr[rbx]));
        bad.Memory.Write<uint>(Data, 0x10000 | 0x1F80);
        Assert.Equal(ExceptionVector.GP, RunToException(bad));
        Assert.Equal(0x1F80u, bad.R.Mxcsr);
    }

    [Fact]
    public void Fxsave_layout_and_fxrstor_round_trip()
    {
        using var m = Machine(a =>
        {
            a.fld1();
            a.fxsave64(__[rbx]);
            a.pxor(xmm3, xmm3);
            a.fninit();
            a.fxrstor64(__[rbx]);
        });
        m.R.Xmm[3] = new XmmRegister(0x0123456789ABCDEF, 0xFEDCBA9876543210);
        m.R.Mxcsr = 0x1F80 | 0x6000;
        RunToHlt(m);
        Assert.Equal(0x037F, m.Memory.Read<ushort>(Data));
        Assert.Equal(0x1F80u | 0x6000, m.Memory.Read<uint>(Data + 24));
        Assert.Equal(0xFFFFu, m.Memory.Read<uint>(Data + 28));
        Assert.Equal(0x8000000000000000UL, m.Memory.Read<ulong>(Data + 32)); // ST0 = 1.0
        Assert.Equal(0x3FFF, m.Memory.Read<ushort>(Data + 40));
        Assert.Equal(0x80, m.Memory.Read<byte>(Data + 4));                 // abridged tag: R7 valid (TOP = 7)
        Assert.Equal(0x0123456789ABCDEFUL, m.Memory.Read<ulong>(Data + 160 + 3 * 16));
        Assert.Equal(0xFEDCBA9876543210UL, m.R.Xmm[3].Hi);
        Assert.Equal(0x80, m.R.Fpu.ValidMask);
        Assert.Equal(7, m.R.Fpu.Top);
        Assert.Equal(0x1F80u | 0x6000, m.R.Mxcsr);
    }

    [Fact]
    public void Fxsave_misaligned_is_gp_and_fxrstor_rejects_reserved_mxcsr_bits()
    {
        using var m = Machine(a => a.fxsave64(__[rbx + 8]));
        Assert.Equal(ExceptionVector.GP, RunToException(m));
        using var r = Machine(a => a.fxrstor64(__[rbx]));
        r.Memory.Write<uint>(Data + 24, 0x00011F80);
        Assert.Equal(ExceptionVector.GP, RunToException(r));
    }

    [Fact]
    public void Unmasked_divide_by_zero_is_xm_with_osxmmexcpt_and_ud_without()
    {
        foreach (var (cr4, vector) in new[] { (0x600UL, ExceptionVector.XM), (0x200UL, ExceptionVector.UD) })
        {
            using var m = Machine(a => a.divss(xmm0, xmm1), cr4);
            m.R.Mxcsr = 0x1F80 & ~0x200u; // ZM clear
            m.R.Xmm[0] = new XmmRegister(F(1.0f), 0);
            m.R.Xmm[1] = new XmmRegister(F(0.0f), 0);
            Assert.Equal(vector, RunToException(m));
            Assert.Equal(F(1.0f), m.R.Xmm[0].Lo);   // destination unchanged
            Assert.Equal(4u, m.R.Mxcsr & 0x3F);      // ZE recorded
        }
    }

    [Fact]
    public void Masked_divide_by_zero_gives_infinity_and_sets_ze()
    {
        using var m = Machine(a => a.divsd(xmm0, xmm1));
        m.R.Xmm[0] = new XmmRegister(D(-2.0), 7);
        m.R.Xmm[1] = new XmmRegister(D(0.0), 0);
        RunToHlt(m);
        Assert.Equal(D(double.NegativeInfinity), m.R.Xmm[0].Lo);
        Assert.Equal(7UL, m.R.Xmm[0].Hi);
        Assert.Equal(4u, m.R.Mxcsr & 0x3F);
    }

    [Theory]
    [InlineData(0x0000u, 0x3FD5555555555555UL)] // nearest
    [InlineData(0x2000u, 0x3FD5555555555555UL)] // down
    [InlineData(0x4000u, 0x3FD5555555555556UL)] // up
    [InlineData(0x6000u, 0x3FD5555555555555UL)] // toward zero
    public void Divsd_honours_the_mxcsr_rounding_mode(uint rc, ulong expected)
    {
        using var m = Machine(a => a.divsd(xmm0, xmm1));
        m.R.Mxcsr = 0x1F80 | rc;
        m.R.Xmm[0] = new XmmRegister(D(1.0), 0);
        m.R.Xmm[1] = new XmmRegister(D(3.0), 0);
        RunToHlt(m);
        Assert.Equal(expected, m.R.Xmm[0].Lo);
        Assert.Equal(0x20u, m.R.Mxcsr & 0x3F); // PE
    }

    [Fact]
    public void Nan_rules_first_operand_for_arithmetic_second_for_min()
    {
        using var m = Machine(a =>
        {
            a.addss(xmm0, xmm1);
            a.minss(xmm2, xmm3);
        });
        m.R.Xmm[0] = new XmmRegister(0x7FA00001, 0); // SNaN
        m.R.Xmm[1] = new XmmRegister(0x7FC00002, 0); // QNaN
        m.R.Xmm[2] = new XmmRegister(0x7FC00003, 0);
        m.R.Xmm[3] = new XmmRegister(F(5.0f), 0);
        RunToHlt(m);
        Assert.Equal(0x7FE00001UL, m.R.Xmm[0].Lo);   // the first operand, quieted
        Assert.Equal(F(5.0f), m.R.Xmm[2].Lo);        // MIN returns the second operand
        Assert.Equal(1u, m.R.Mxcsr & 1);            // IE
    }

    [Fact]
    public void Conversions_use_integer_indefinite_and_truncation()
    {
        using var m = Machine(a =>
        {
            a.cvttsd2si(eax, xmm0);
            a.cvtsd2si(rcx, xmm1);
            a.cvttss2si(edx, xmm2);
        });
        m.R.Xmm[0] = new XmmRegister(D(3e10), 0);
        m.R.Xmm[1] = new XmmRegister(D(-2.5), 0);
        m.R.Xmm[2] = new XmmRegister(F(-7.9f), 0);
        RunToHlt(m);
        Assert.Equal(0x80000000UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(unchecked((ulong)-2L), m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(unchecked((uint)-7), (uint)m.R.Gpr[Gpr.Rdx]);
        Assert.Equal(0x21u, m.R.Mxcsr & 0x3F); // IE | PE
    }

    [Fact]
    public void Ftz_flushes_a_tiny_result_and_daz_zeroes_a_denormal_operand()
    {
        using var m = Machine(a =>
        {
            a.mulss(xmm0, xmm1);
            a.addss(xmm2, xmm3);
        });
        m.R.Mxcsr = 0x1F80 | 0x8000 | 0x40;
        m.R.Xmm[0] = new XmmRegister(F(1e-20f), 0);
        m.R.Xmm[1] = new XmmRegister(F(1e-20f), 0);
        m.R.Xmm[2] = new XmmRegister(1, 0); // the smallest denormal
        m.R.Xmm[3] = new XmmRegister(F(0.0f), 0);
        RunToHlt(m);
        Assert.Equal(0UL, m.R.Xmm[0].Lo);
        Assert.Equal(0UL, m.R.Xmm[2].Lo);
        Assert.Equal(0x30u, m.R.Mxcsr & 0x3F); // UE | PE, no DE under DAZ
    }

    [Fact]
    public void Comisd_sets_zf_pf_cf_and_clears_of_sf_af()
    {
        using var m = Machine(a =>
        {
            a.comisd(xmm0, xmm1);
            a.pushfq();
            a.ucomisd(xmm0, xmm2);
            a.pushfq();
        });
        m.R.Xmm[0] = new XmmRegister(D(1.0), 0);
        m.R.Xmm[1] = new XmmRegister(D(2.0), 0);
        m.R.Xmm[2] = new XmmRegister(D(double.NaN), 0);
        m.R.Rflags = 2 | Rflags.OF | Rflags.SF | Rflags.AF;
        RunToHlt(m);
        ulong less = m.Memory.Read<ulong>(TestMachine.Stack - 8) & Rflags.Status;
        ulong unordered = m.Memory.Read<ulong>(TestMachine.Stack - 16) & Rflags.Status;
        Assert.Equal(Rflags.CF, less);
        Assert.Equal(Rflags.ZF | Rflags.PF | Rflags.CF, unordered);
        Assert.Equal(0u, m.R.Mxcsr & 1); // UCOMISD: a QNaN does not signal
    }

    [Fact]
    public void Strlen_style_pcmpeqb_pmovmskb_finds_the_terminator()
    {
        using var m = Machine(a =>
        {
            a.pxor(xmm0, xmm0);
            a.movdqu(xmm1, __xmmword_ptr[rbx]);
            a.pcmpeqb(xmm1, xmm0);
            a.pmovmskb(eax, xmm1);
            a.bsf(eax, eax);
        });
        m.Memory.Write(Data, "hello, world\0xyz"u8.ToArray());
        RunToHlt(m);
        Assert.Equal(12UL, m.R.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Rcpps_and_rsqrtss_are_correctly_rounded_take_denormals_as_zero_and_raise_nothing()
    {
        using var m = Machine(a =>
        {
            a.rcpps(xmm0, xmm1);
            a.rsqrtss(xmm2, xmm3);
        });
        // Lanes: 4.0, the smallest denormal, a signalling NaN, -0.0.
        m.R.Xmm[1] = new XmmRegister(F(4.0f) | (1UL << 32), 0x7FA0_0001UL | (0x8000_0000UL << 32));
        m.R.Xmm[2] = new XmmRegister(0xDEAD_BEEF_0000_0000UL, 0x1234); // the scalar form keeps the upper elements
        m.R.Xmm[3] = new XmmRegister(F(-1.0f), 0);
        RunToHlt(m);
        Assert.Equal(F(0.25f) | (F(float.PositiveInfinity) << 32), m.R.Xmm[0].Lo);
        Assert.Equal(0x7FE0_0001UL | (F(float.NegativeInfinity) << 32), m.R.Xmm[0].Hi); // the NaN quieted; 1 / -0 = -inf
        Assert.Equal(0xDEAD_BEEF_FFC0_0000UL, m.R.Xmm[2].Lo);                         // 1 / sqrt(-1): the default NaN
        Assert.Equal(0x1234UL, m.R.Xmm[2].Hi);
        Assert.Equal(0u, m.R.Mxcsr & 0x3F);
    }

    [Fact]
    public void Shifts_shuffles_and_packs()
    {
        using var m = Machine(a =>
        {
            a.psrlw(xmm0, 17);          // count above 15 clears
            a.psraw(xmm1, 20);          // fills with the sign
            a.pshufd(xmm2, xmm3, 0x1B); // reverse the dwords
            a.packsswb(xmm4, xmm5);
            a.pslldq(xmm6, 3);
        });
        m.R.Xmm[0] = new XmmRegister(ulong.MaxValue, ulong.MaxValue);
        m.R.Xmm[1] = new XmmRegister(0x8000_7FFF_0001_FFFF, 0);
        m.R.Xmm[3] = new XmmRegister(0x0000000200000001, 0x0000000400000003);
        m.R.Xmm[4] = new XmmRegister(0x0100_FF00_0080_FF7F, 0);
        m.R.Xmm[5] = default;
        m.R.Xmm[6] = new XmmRegister(0x1122334455667788, 0x99AABBCCDDEEFF00);
        RunToHlt(m);
        Assert.Equal(0UL, m.R.Xmm[0].Lo | m.R.Xmm[0].Hi);
        Assert.Equal(0xFFFF_0000_0000_FFFFUL, m.R.Xmm[1].Lo);
        Assert.Equal(0x0000000300000004UL, m.R.Xmm[2].Lo);
        Assert.Equal(0x0000000100000002UL, m.R.Xmm[2].Hi);
        Assert.Equal(0x7F80_7F80UL, m.R.Xmm[4].Lo); // 0x0100->7F, 0xFF00->80, 0x0080->7F, 0xFF7F->80
        Assert.Equal(0x4455667788000000UL, m.R.Xmm[6].Lo);
        Assert.Equal(0xCCDDEEFF00112233UL, m.R.Xmm[6].Hi);
    }

    [Fact]
    public void Movd_movq_and_scalar_moves_zero_or_merge_as_specified()
    {
        using var m = Machine(a =>
        {
            a.movd(xmm0, eax);
            a.movss(xmm1, xmm2);              // register form merges
            a.movsd(xmm3, __qword_ptr[rbx]);  // load zeroes the upper half
            a.movq(rcx, xmm4);
        });
        m.R.Gpr[Gpr.Rax] = 0xFFFFFFFF_12345678;
        m.R.Xmm[0] = new XmmRegister(ulong.MaxValue, ulong.MaxValue);
        m.R.Xmm[1] = new XmmRegister(0xAAAAAAAA_BBBBBBBB, 0xCC);
        m.R.Xmm[2] = new XmmRegister(0x11111111_22222222, 0xDD);
        m.R.Xmm[3] = new XmmRegister(1, 2);
        m.R.Xmm[4] = new XmmRegister(0x5555, 6);
        m.Memory.Write<ulong>(Data, 0x77);
        RunToHlt(m);
        Assert.Equal(new XmmRegister(0x12345678, 0), m.R.Xmm[0]);
        Assert.Equal(new XmmRegister(0xAAAAAAAA_22222222, 0xCC), m.R.Xmm[1]);
        Assert.Equal(new XmmRegister(0x77, 0), m.R.Xmm[3]);
        Assert.Equal(0x5555UL, m.R.Gpr[Gpr.Rcx]);
    }
}
