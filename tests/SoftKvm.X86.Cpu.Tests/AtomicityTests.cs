using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class AtomicityTests
{
    private const ulong Counter = 0x200000;

    [Fact]
    public void Locked_rmw_from_two_vcpus_loses_no_update()
    {
        using var m = new TestMachine();
        m.Setup64();
        const int n = 20000;
        m.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, n);
            a.mov(rsi, Counter);
            a.Label(ref top);
            a.@lock.inc(__qword_ptr[rsi]);
            a.mov(edx, 1);
            a.@lock.xadd(__qword_ptr[rsi + 8], rdx);
            a.@lock.bts(__qword_ptr[rsi + 16], rcx);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        using var second = new X86Cpu(m.Memory);
        second.Regs = m.R;
        second.Regs.Gpr[Gpr.Rsp] = 0x70000;
        second.StateChanged();
        var r2 = X86ExitReason.None;
        var thread = new Thread(() => r2 = second.Run(10_000_000));
        thread.Start();
        var r1 = m.Run(10_000_000);
        thread.Join();
        Assert.Equal(X86ExitReason.Hlt, r1);
        Assert.Equal(X86ExitReason.Hlt, r2);
        Assert.Equal(2UL * n, m.Memory.Read<ulong>(Counter));
        Assert.Equal(2UL * n, m.Memory.Read<ulong>(Counter + 8));
    }

    [Fact]
    public void Lock_cmpxchg_spinlock_protects_a_plain_counter()
    {
        using var m = new TestMachine();
        m.Setup64();
        const int n = 5000;
        m.Load(a =>
        {
            var spin = a.CreateLabel();
            a.mov(ecx, n);
            a.mov(rsi, Counter);
            a.Label(ref spin);
            a.xor(eax, eax);
            a.mov(edx, 1);
            a.@lock.cmpxchg(__dword_ptr[rsi], edx);
            a.jnz(spin);
            a.mov(rbx, __qword_ptr[rsi + 8]);
            a.inc(rbx);
            a.mov(__qword_ptr[rsi + 8], rbx);
            a.mov(__dword_ptr[rsi], 0);
            a.dec(ecx);
            a.jnz(spin);
            a.hlt();
        });
        using var second = new X86Cpu(m.Memory);
        second.Regs = m.R;
        second.Regs.Gpr[Gpr.Rsp] = 0x70000;
        second.StateChanged();
        var r2 = X86ExitReason.None;
        var thread = new Thread(() => r2 = second.Run(50_000_000));
        thread.Start();
        var r1 = m.Run(50_000_000);
        thread.Join();
        Assert.Equal(X86ExitReason.Hlt, r1);
        Assert.Equal(X86ExitReason.Hlt, r2);
        Assert.Equal(2UL * n, m.Memory.Read<ulong>(Counter + 8));
    }

    [Fact]
    public void Int_n_through_a_dpl0_gate_from_user_mode_faults_at_the_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.@int(0x40);
            a.hlt();
        });
        m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x2B, 0x00AFFB000000FFFF);
        m.R.Seg[SegmentIndex.Ss] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
        m.Cpu.StateChanged();
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(13u, m.LastVector);
        Assert.Equal(0x40UL * 8 + 2, m.Memory.Read<ulong>(0x90000 - 48)); // #GP error code: IDT, vector 0x40
        Assert.Equal(TestMachine.Code, m.Memory.Read<ulong>(0x90000 - 40));
    }

    [Theory]
    [InlineData(ExceptionVector.PF, X86ExceptionClass.Fault)]
    [InlineData(ExceptionVector.BP, X86ExceptionClass.Trap)]
    [InlineData(ExceptionVector.OF, X86ExceptionClass.Trap)]
    [InlineData(ExceptionVector.DB, X86ExceptionClass.Fault)]
    [InlineData(ExceptionVector.DF, X86ExceptionClass.Abort)]
    [InlineData(0x20, X86ExceptionClass.Interrupt)]
    public void Exception_classes_follow_the_spec(int vector, X86ExceptionClass expected)
    {
        Assert.Equal(expected, ExceptionVector.Classify(vector));
    }
}
