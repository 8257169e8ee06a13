using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class X87Tests
{
    private const ulong Data = 0x200000;

    private static TestMachine Machine(Action<Assembler> body)
    {
        var m = new TestMachine();
        m.Setup64();
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

    private static void RunToHlt(TestMachine m) => Assert.Equal(X86ExitReason.Hlt, m.Run());

    private static ulong D(double d) => BitConverter.DoubleToUInt64Bits(d);

    [Fact]
    public void Fld_fadd_fmul_fdiv_fsqrt_and_store()
    {
        using var m = Machine(a =>
        {
            a.fld(__qword_ptr[rbx]);        // 2.5
            a.fld(__dword_ptr[rbx + 8]);    // 4.0f
            a.faddp(st1, st0);                    // 6.5
            a.fld(__qword_ptr[rbx]);
            a.fmulp(st1, st0);              // 16.25
            a.fsqrt();                      // 4.0311...
            a.fld1();
            a.fdivrp(st1, st0);             // 1 / sqrt
            a.fstp(__qword_ptr[rbx + 16]);
        });
        m.Memory.Write<ulong>(Data, D(2.5));
        m.Memory.Write<uint>(Data + 8, (uint)BitConverter.SingleToInt32Bits(4.0f));
        RunToHlt(m);
        Assert.Equal(1.0 / Math.Sqrt(16.25), BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 16)), 15);
        Assert.Equal(0, m.R.Fpu.ValidMask);
        Assert.Equal(0, m.R.Fpu.Top);
    }

    [Fact]
    public void Fild_fistp_m64_is_exact_beyond_double_precision()
    {
        using var m = Machine(a =>
        {
            a.fild(__qword_ptr[rbx]);
            a.fistp(__qword_ptr[rbx + 8]);
            a.fild(__word_ptr[rbx + 16]);
            a.fistp(__dword_ptr[rbx + 20]);
        });
        m.Memory.Write<ulong>(Data, 0x123456789ABCDEF1);
        m.Memory.Write<short>(Data + 16, -12345);
        RunToHlt(m);
        Assert.Equal(0x123456789ABCDEF1UL, m.Memory.Read<ulong>(Data + 8));
        Assert.Equal(-12345, m.Memory.Read<int>(Data + 20));
    }

    [Fact]
    public void M80_load_store_round_trips_every_bit()
    {
        using var m = Machine(a =>
        {
            a.fld(__tword_ptr[rbx]);
            a.fstp(__tword_ptr[rbx + 16]);
        });
        m.Memory.Write<ulong>(Data, 0xC90FDAA22168C235);
        m.Memory.Write<ushort>(Data + 8, 0xC000);
        RunToHlt(m);
        Assert.Equal(0xC90FDAA22168C235UL, m.Memory.Read<ulong>(Data + 16));
        Assert.Equal(0xC000, m.Memory.Read<ushort>(Data + 24));
    }

    [Theory]
    [InlineData(0x037F, 2.5, 2L)]   // nearest even
    [InlineData(0x077F, -2.5, -3L)] // down
    [InlineData(0x0B7F, 2.1, 3L)]   // up
    [InlineData(0x0F7F, -2.9, -2L)] // toward zero
    public void Fistp_rounds_with_fcw_rc(ushort fcw, double value, long expected)
    {
        using var m = Machine(a =>
        {
            a.fldcw(__word_ptr[rbx + 24]);
            a.fld(__qword_ptr[rbx]);
            a.fistp(__qword_ptr[rbx + 8]);
        });
        m.Memory.Write<ushort>(Data + 24, fcw);
        m.Memory.Write<ulong>(Data, D(value));
        RunToHlt(m);
        Assert.Equal(expected, m.Memory.Read<long>(Data + 8));
        Assert.Equal(0x20, m.R.Fpu.Fsw & 0x3F); // PE
    }

    [Fact]
    public void Fisttp_truncates_and_out_of_range_stores_the_integer_indefinite()
    {
        using var m = Machine(a =>
        {
            a.fld(__qword_ptr[rbx]);
            a.fisttp(__dword_ptr[rbx + 8]);
            a.fld(__qword_ptr[rbx + 16]);
            a.fistp(__word_ptr[rbx + 24]);
        });
        m.Memory.Write<ulong>(Data, D(-7.99));
        m.Memory.Write<ulong>(Data + 16, D(40000));
        RunToHlt(m);
        Assert.Equal(-7, m.Memory.Read<int>(Data + 8));
        Assert.Equal(0x8000, m.Memory.Read<ushort>(Data + 24));
        Assert.Equal(1, m.R.Fpu.Fsw & 1); // IE
    }

    [Fact]
    public void Fdiv_honours_the_rounding_control()
    {
        using var m = Machine(a =>
        {
            a.fldcw(__word_ptr[rbx + 24]);
            a.fld1();
            a.fld(__qword_ptr[rbx]);
            a.fdivp(st1, st0);
            a.fstp(__qword_ptr[rbx + 8]);
        });
        m.Memory.Write<ushort>(Data + 24, 0x0B7F); // round up
        m.Memory.Write<ulong>(Data, D(3.0));
        RunToHlt(m);
        Assert.Equal(0x3FD5555555555556UL, m.Memory.Read<ulong>(Data + 8));
    }

    [Fact]
    public void Fcomi_and_fucomip_set_eflags_and_fcom_sets_condition_codes()
    {
        using var m = Machine(a =>
        {
            a.fld(__qword_ptr[rbx]);      // 2
            a.fld1();                     // st0 = 1, st1 = 2
            a.fcomi(st0, st1);
            a.pushfq();
            a.fcom(st0, st1);
            a.fnstsw(ax);
            a.fld(__qword_ptr[rbx + 8]);  // NaN
            a.fucomip(st0, st1);
            a.pushfq();
        });
        m.Memory.Write<ulong>(Data, D(2.0));
        m.Memory.Write<ulong>(Data + 8, D(double.NaN));
        RunToHlt(m);
        Assert.Equal(Rflags.CF, m.Memory.Read<ulong>(TestMachine.Stack - 8) & Rflags.Status);
        Assert.Equal(Rflags.ZF | Rflags.PF | Rflags.CF, m.Memory.Read<ulong>(TestMachine.Stack - 16) & Rflags.Status);
        ushort sw = (ushort)m.R.Gpr[Gpr.Rax];
        Assert.Equal(0x0100, sw & 0x4500); // C0: st0 < st1
        Assert.Equal(6, (sw >> 11) & 7);  // TOP after two pushes
        Assert.Equal(0, m.R.Fpu.Fsw & 1); // FUCOMIP: a QNaN does not signal
    }

    [Fact]
    public void Stack_underflow_is_masked_into_the_indefinite_with_ie_and_sf()
    {
        using var m = Machine(a => a.fstp(__qword_ptr[rbx]));
        RunToHlt(m);
        Assert.Equal(0xFFF8000000000000UL, m.Memory.Read<ulong>(Data));
        Assert.Equal(0x41, m.R.Fpu.Fsw & 0x41);
    }

    [Fact]
    public void Unmasked_exception_raises_mf_at_the_next_waiting_instruction()
    {
        using var m = Machine(a =>
        {
            a.fldcw(__word_ptr[rbx]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);
            a.wait();
        });
        m.Memory.Write<ushort>(Data, 0x037B); // ZM clear
        m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.MF, m.Cpu.Exit.Vector);
        Assert.Equal(0x8084, m.R.Fpu.Fsw & 0x8084); // B, ES, ZE
        Assert.Equal(0x8000000000000000UL, m.R.Fpu.R[(m.R.Fpu.Top + 1) & 7].Significand); // ST1 still 1.0
    }

    [Fact]
    public void Fnstenv_stores_the_environment_and_masks_exceptions_and_fldenv_restores()
    {
        using var m = Machine(a =>
        {
            a.fldcw(__word_ptr[rbx + 64]);
            a.fldz();
            a.fld1();
            a.fnstenv(__[rbx]);
            a.fnstcw(__word_ptr[rbx + 66]);
            a.fldenv(__[rbx]);
        });
        m.Memory.Write<ushort>(Data + 64, 0x0360);
        RunToHlt(m);
        Assert.Equal(0x0360, m.Memory.Read<ushort>(Data));
        Assert.Equal(6, (m.Memory.Read<ushort>(Data + 4) >> 11) & 7);
        Assert.Equal(0x4FFF, m.Memory.Read<ushort>(Data + 8)); // R7 zero (01), R6 valid (00), the rest empty (11)
        Assert.Equal(0x037F, m.Memory.Read<ushort>(Data + 66));             // masked after FNSTENV
        Assert.Equal(0x0360, m.R.Fpu.Fcw);                                  // restored by FLDENV
        Assert.Equal(0xC0, m.R.Fpu.ValidMask);
    }

    [Fact]
    public void Frndint_fchs_fabs_fxch()
    {
        using var m = Machine(a =>
        {
            a.fld(__qword_ptr[rbx]);   // 2.5
            a.frndint();               // 2 (nearest even)
            a.fchs();                  // -2
            a.fld1();
            a.fxch(st0, st1);            // st0 = -2, st1 = 1
            a.fabs();
            a.fstp(__qword_ptr[rbx + 8]);
            a.fstp(__qword_ptr[rbx + 16]);
        });
        m.Memory.Write<ulong>(Data, D(2.5));
        RunToHlt(m);
        Assert.Equal(2.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 8)));
        Assert.Equal(1.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 16)));
    }

    [Fact]
    public void Fninit_resets_control_status_and_tags()
    {
        using var m = Machine(a =>
        {
            a.fld1();
            a.fninit();
            a.fnstsw(ax);
        });
        m.R.Gpr[Gpr.Rax] = 0xFFFF;
        RunToHlt(m);
        Assert.Equal(0x037F, m.R.Fpu.Fcw);
        Assert.Equal(0, m.R.Fpu.ValidMask);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rax] & 0xFFFF);
    }

    [Fact]
    public void Fbld_and_fbstp_convert_packed_bcd_exactly()
    {
        using var m = Machine(a =>
        {
            a.fbld(__tword_ptr[rbx]);
            a.fld1();
            a.faddp(st1, st0);
            a.fbstp(__tword_ptr[rbx + 16]);
            a.fld(__qword_ptr[rbx + 32]);
            a.fbstp(__tword_ptr[rbx + 48]);
        });
        m.Memory.Write<ulong>(Data, 0x3456789012345678);
        m.Memory.Write<ushort>(Data + 8, 0x8012);                     // -123456789012345678
        m.Memory.Write<ulong>(Data + 32, D(1e19));                     // out of BCD range
        RunToHlt(m);
        Assert.Equal(0x3456789012345677UL, m.Memory.Read<ulong>(Data + 16)); // -123456789012345677
        Assert.Equal(0x8012, m.Memory.Read<ushort>(Data + 24));
        Assert.Equal(0xC000000000000000UL, m.Memory.Read<ulong>(Data + 48)); // the BCD indefinite
        Assert.Equal(0xFFFF, m.Memory.Read<ushort>(Data + 56));
        Assert.Equal(1, m.R.Fpu.Fsw & 1);
        Assert.Equal(0, m.Cpu.UnimplementedCount);
    }

    [Fact]
    public void Fnsave_frstor_round_trip_in_32_bit_protected_mode()
    {
        using var m = new TestMachine();
        m.Setup32();
        m.R.Gpr[Gpr.Rbx] = Data;
        m.Load(a =>
        {
            a.fld1();
            a.fldpi();
            a.fnsave(__[ebx]);
            a.fnstcw(__word_ptr[ebx + 200]);
            a.frstor(__[ebx]);
            a.fstp(__tword_ptr[ebx + 210]);
            a.fstp(__qword_ptr[ebx + 220]);
            a.hlt();
        });
        RunToHlt(m);
        Assert.Equal(0x037F, m.Memory.Read<ushort>(Data));                    // FCW in the 28-byte environment
        Assert.Equal(6, (m.Memory.Read<ushort>(Data + 4) >> 11) & 7);         // TOP
        Assert.Equal((uint)TestMachine.Code + 2, m.Memory.Read<uint>(Data + 12)); // FIP: the FLDPI
        Assert.Equal(0x0018, m.Memory.Read<ushort>(Data + 16));               // FCS
        Assert.Equal(0x1EB, m.Memory.Read<ushort>(Data + 18) & 0x7FF);        // FOP of D9 EB
        Assert.Equal(0xC90FDAA22168C235UL, m.Memory.Read<ulong>(Data + 28));  // ST0 = pi
        Assert.Equal(0x037F, m.Memory.Read<ushort>(Data + 200));              // FNSAVE re-initialized
        Assert.Equal(0xC90FDAA22168C235UL, m.Memory.Read<ulong>(Data + 210));
        Assert.Equal(1.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 220)));
        Assert.Equal(0, m.R.Fpu.ValidMask);
    }

    [Theory]
    [InlineData(7.5, 2.0, false, 1.5, 3)]
    [InlineData(-7.5, 2.0, false, -1.5, 3)]
    [InlineData(7.0, 2.0, true, -1.0, 4)]
    [InlineData(5.0, 2.0, true, 1.0, 2)]
    [InlineData(0.75, 2.0, true, 0.75, 0)]
    [InlineData(1.5, 2.0, true, -0.5, 1)]
    public void Fprem_and_fprem1_give_the_remainder_and_quotient_bits(double a, double b, bool ieee, double remainder, int quotient)
    {
        using var m = Machine(x =>
        {
            x.fld(__qword_ptr[rbx + 8]);
            x.fld(__qword_ptr[rbx]);
            if (ieee)
            {
                x.fprem1();
            }
            else
            {
                x.fprem();
            }

            x.fnstsw(ax);
            x.fstp(__qword_ptr[rbx + 16]);
        });
        m.Memory.Write<ulong>(Data, D(a));
        m.Memory.Write<ulong>(Data + 8, D(b));
        RunToHlt(m);
        Assert.Equal(remainder, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 16)));
        ushort sw = (ushort)m.R.Gpr[Gpr.Rax];
        int q = ((sw >> 8) & 1) << 2 | ((sw >> 14) & 1) << 1 | ((sw >> 9) & 1);
        Assert.Equal(quotient, q);
        Assert.Equal(0, sw & 0x400); // complete
    }

    [Fact]
    public void Fprem_loop_reduces_a_huge_argument_exactly()
    {
        using var m = Machine(x =>
        {
            var again = x.CreateLabel();
            x.fld(__qword_ptr[rbx + 8]);
            x.fld(__qword_ptr[rbx]);
            x.Label(ref again);
            x.fprem();
            x.fnstsw(ax);
            x.test(ah, 4);
            x.jnz(again);
            x.fstp(__qword_ptr[rbx + 16]);
        });
        m.Memory.Write<ulong>(Data, D(1e300));
        m.Memory.Write<ulong>(Data + 8, D(3.0));
        RunToHlt(m);
        Assert.Equal(1e300 % 3.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 16)));
    }

    [Fact]
    public void Fscale_and_fxtract_are_exact()
    {
        using var m = Machine(x =>
        {
            x.fld(__qword_ptr[rbx + 8]);  // 3.7
            x.fld(__qword_ptr[rbx]);      // 1.5
            x.fscale();                   // 1.5 * 2^3 = 12
            x.fstp(__qword_ptr[rbx + 16]);
            x.fstp(__qword_ptr[rbx + 40]);
            x.fld(__qword_ptr[rbx + 24]); // -12
            x.fxtract();                  // st0 = -1.5, st1 = 3
            x.fstp(__qword_ptr[rbx + 32]);
            x.fstp(__qword_ptr[rbx + 40]);
        });
        m.Memory.Write<ulong>(Data, D(1.5));
        m.Memory.Write<ulong>(Data + 8, D(3.7));
        m.Memory.Write<ulong>(Data + 24, D(-12.0));
        RunToHlt(m);
        Assert.Equal(12.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 16)));
        Assert.Equal(-1.5, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 32)));
        Assert.Equal(3.0, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 40)));
        Assert.Equal(0, m.R.Fpu.ValidMask);
    }

    [Fact]
    public void Transcendentals_use_double_precision_math()
    {
        using var m = Machine(x =>
        {
            x.fld1();
            x.fld1();
            x.fpatan();                      // atan2(1, 1)
            x.fstp(__qword_ptr[rbx]);
            x.fld(__qword_ptr[rbx + 48]);    // y = 3
            x.fld(__qword_ptr[rbx + 56]);    // x = 8
            x.fyl2x();                       // 3 * log2(8)
            x.fstp(__qword_ptr[rbx + 8]);
            x.fld(__qword_ptr[rbx + 64]);    // 0.5
            x.f2xm1();
            x.fstp(__qword_ptr[rbx + 16]);
            x.fld(__qword_ptr[rbx + 64]);
            x.fsincos();                     // st0 = cos, st1 = sin
            x.fstp(__qword_ptr[rbx + 24]);
            x.fstp(__qword_ptr[rbx + 32]);
            x.fld(__qword_ptr[rbx + 64]);
            x.fptan();                       // st0 = 1, st1 = tan
            x.fstp(__qword_ptr[rbx + 40]);
            x.fstp(__qword_ptr[rbx + 72]);
        });
        m.Memory.Write<ulong>(Data + 48, D(3));
        m.Memory.Write<ulong>(Data + 56, D(8));
        m.Memory.Write<ulong>(Data + 64, D(0.5));
        RunToHlt(m);
        double Q(ulong off) => BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + off));
        Assert.Equal(Math.PI / 4, Q(0));
        Assert.Equal(9.0, Q(8));
        Assert.Equal(Math.Sqrt(2) - 1, Q(16), 15);
        Assert.Equal(Math.Cos(0.5), Q(24));
        Assert.Equal(Math.Sin(0.5), Q(32));
        Assert.Equal(1.0, Q(40));
        Assert.Equal(Math.Tan(0.5), Q(72));
        Assert.Equal(0, m.R.Fpu.ValidMask);
    }

    [Fact]
    public void Fsin_of_a_huge_argument_sets_c2_and_keeps_the_operand()
    {
        using var m = Machine(x =>
        {
            x.fld(__qword_ptr[rbx]);
            x.fsin();
            x.fnstsw(ax);
            x.fstp(__qword_ptr[rbx + 8]);
        });
        m.Memory.Write<ulong>(Data, D(1e30));
        RunToHlt(m);
        Assert.Equal(0x400UL, m.R.Gpr[Gpr.Rax] & 0x400);
        Assert.Equal(1e30, BitConverter.UInt64BitsToDouble(m.Memory.Read<ulong>(Data + 8)));
    }
}
