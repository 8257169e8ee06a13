using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class ArithmeticTests
{
    private const ulong Status = Rflags.Status;

    private static (ulong Rax, ulong Flags) Exec64(ulong rax, ulong rbx, Action<Assembler> body, ulong flagsIn = 2)
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            body(a);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rax] = rax;
        m.R.Gpr[Gpr.Rbx] = rbx;
        m.R.Rflags = flagsIn;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        return (m.R.Gpr[Gpr.Rax], m.R.Rflags & Status);
    }

    [Theory]
    [InlineData(0x7FUL, 1UL, 0x80UL, Rflags.OF | Rflags.SF | Rflags.AF)]
    [InlineData(0xFFUL, 1UL, 0x00UL, Rflags.CF | Rflags.ZF | Rflags.AF | Rflags.PF)]
    [InlineData(0x10UL, 0x20UL, 0x30UL, Rflags.PF)]
    public void Add_al_bl_flags(ulong a, ulong b, ulong result, ulong flags)
    {
        var (rax, f) = Exec64(a, b, x => x.add(al, bl));
        Assert.Equal(result, rax & 0xFF);
        Assert.Equal(flags, f);
    }

    [Fact]
    public void Sub_eax_zero_extends_and_borrows()
    {
        var (rax, f) = Exec64(0xFFFFFFFF_00000000, 1, x => x.sub(eax, ebx));
        Assert.Equal(0xFFFFFFFFUL, rax);
        Assert.Equal(Rflags.CF | Rflags.SF | Rflags.AF | Rflags.PF, f);
    }

    [Fact]
    public void Adc_uses_carry_in()
    {
        var (res, f) = Exec64(ulong.MaxValue, 0, x => x.adc(rax, rbx), 2 | Rflags.CF);
        Assert.Equal(0UL, res);
        Assert.Equal(Rflags.CF | Rflags.ZF | Rflags.PF | Rflags.AF, f);
    }

    [Fact]
    public void Partial_register_writes_merge()
    {
        var (rax, _) = Exec64(0x1122334455667788, 0xAA, x => x.mov(ah, bl));
        Assert.Equal(0x112233445566AA88UL, rax);
        (rax, _) = Exec64(0x1122334455667788, 0xBBBB, x => x.mov(ax, bx));
        Assert.Equal(0x112233445566BBBBUL, rax);
    }

    [Fact]
    public void Inc_preserves_carry()
    {
        var (rax, f) = Exec64(0x7FFFFFFF, 0, x => x.inc(eax), 2 | Rflags.CF);
        Assert.Equal(0x80000000UL, rax);
        Assert.Equal(Rflags.CF | Rflags.OF | Rflags.SF | Rflags.AF | Rflags.PF, f);
    }

    [Fact]
    public void Shl_by_one_sets_of_and_cf()
    {
        var (rax, f) = Exec64(0xC0, 0, x => x.shl(al, 1));
        Assert.Equal(0x80UL, rax & 0xFF);
        Assert.Equal(Rflags.CF | Rflags.SF, f & ~Rflags.AF); // AF is undefined after a shift (native code: the host's)
    }

    [Fact]
    public void Rcr_8bit_rotates_through_carry()
    {
        var (rax, f) = Exec64(0x01, 0, x => x.rcr(al, 1), 2 | Rflags.CF);
        Assert.Equal(0x80UL, rax & 0xFF);
        Assert.Equal(Rflags.CF | Rflags.OF, f & (Rflags.CF | Rflags.OF));
    }

    [Fact]
    public void Mul_64_sets_rdx_and_cf()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mul(rbx);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rax] = ulong.MaxValue;
        m.R.Gpr[Gpr.Rbx] = 2;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(ulong.MaxValue - 1, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rdx]);
        Assert.NotEqual(0UL, m.R.Rflags & Rflags.CF);
    }

    [Fact]
    public void Div_by_zero_raises_de_and_commits_nothing()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.div(rbx);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rax] = 1234;
        m.R.Gpr[Gpr.Rdx] = 0;
        m.R.Gpr[Gpr.Rbx] = 0;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DE;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.DE, m.Cpu.Exit.Vector);
        Assert.Equal(TestMachine.Code, m.R.Rip);
        Assert.Equal(1234UL, m.R.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Idiv_overflow_raises_de_through_idt()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.idiv(ebx);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rax] = 0x80000000;
        m.R.Gpr[Gpr.Rdx] = 0xFFFFFFFF;
        m.R.Gpr[Gpr.Rbx] = 0xFFFFFFFF;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0u, m.LastVector);
        Assert.Equal(TestMachine.Code, m.Memory.Read<ulong>(TestMachine.Stack - 40));
    }

    [Fact]
    public void Rep_movsb_and_scasb()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Memory.Write(0x200000, "hello world\0"u8.ToArray());
        m.Load(a =>
        {
            a.mov(rsi, 0x200000);
            a.mov(rdi, 0x300000);
            a.mov(ecx, 12);
            a.rep.movsb();
            a.mov(rdi, 0x300000);
            a.mov(ecx, 100);
            a.xor(eax, eax);
            a.repne.scasb();
            a.hlt();
        });
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        var copy = new byte[12];
        m.Memory.Read(0x300000, copy);
        Assert.Equal("hello world\0"u8.ToArray(), copy);
        Assert.Equal(0x30000CUL, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(88UL, m.R.Gpr[Gpr.Rcx]);
    }

    [Fact]
    public void Call_ret_push_pop_and_cmov()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            var f = a.CreateLabel();
            var end = a.CreateLabel();
            a.mov(eax, 5);
            a.call(f);
            a.jmp(end);
            a.Label(ref f);
            a.push(rax);
            a.pop(rbx);
            a.cmp(ebx, 5);
            a.mov(ecx, 77);
            a.cmove(edx, ecx);
            a.ret();
            a.Label(ref end);
            a.hlt();
        });
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(5UL, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(77UL, m.R.Gpr[Gpr.Rdx]);
        Assert.Equal(TestMachine.Stack, m.R.Gpr[Gpr.Rsp]);
    }
}
