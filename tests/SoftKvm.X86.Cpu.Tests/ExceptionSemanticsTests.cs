using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class ExceptionSemanticsTests
{
    [Fact]
    public void Page_fault_sets_cr2_error_code_and_commits_nothing()
    {
        using var m = new TestMachine();
        m.Setup64();
        // Unmap the 2 MiB page at 0x400000 (PD entry 2).
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0);
        m.Load(a =>
        {
            a.mov(rax, 0x400010);
            a.add(__qword_ptr[rax], 1);
            a.hlt();
        });
        m.R.Rflags = 2 | Rflags.CF;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.PF, m.Cpu.Exit.Vector);
        Assert.Equal(2u, m.Cpu.Exit.ErrorCode); // not present, write, supervisor
        Assert.Equal(0x400010UL, m.Cpu.Exit.Qualification);
        Assert.Equal(TestMachine.Code + 10, m.R.Rip);
        Assert.Equal(2 | Rflags.CF, m.R.Rflags);
    }

    [Fact]
    public void Page_fault_is_delivered_with_error_code_and_cr2()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr[0x400008]);
            a.hlt();
        });
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(14u, m.LastVector);
        Assert.Equal(0x400008UL, m.R.Cr2);
        Assert.Equal(0UL, m.Memory.Read<ulong>(TestMachine.Stack - 48)); // error code: read, not present, supervisor
        Assert.Equal(TestMachine.Code, m.Memory.Read<ulong>(TestMachine.Stack - 40));
    }

    [Fact]
    public void Single_step_raises_db_with_bs_after_each_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.hlt();
        });
        m.R.Rflags = 2 | Rflags.TF;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.DB, m.Cpu.Exit.Vector);
        Assert.Equal(TestMachine.Code + 1, m.R.Rip);
        Assert.NotEqual(0UL, m.R.Dr6 & 0x4000);
        Assert.NotEqual(0UL, m.Cpu.Exit.Qualification & 0x4000);
    }

    [Fact]
    public void Single_step_over_faulting_instruction_delivers_only_the_fault()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.syscall();
            a.hlt();
        });
        m.R.Efer &= ~1UL; // SCE = 0: SYSCALL raises #UD
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(X86ExitReason.Hlt, m.Run(10));
        Assert.Equal(6u, m.LastVector);
        Assert.Equal(TestMachine.Code, m.Memory.Read<ulong>(TestMachine.Stack - 40));
        Assert.Equal(2 | Rflags.TF | Rflags.RF, m.Memory.Read<ulong>(TestMachine.Stack - 24));
    }

    [Fact]
    public void Sti_shadow_delays_interrupt_by_one_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.sti();
            a.mov(ebx, 1);
            a.mov(ecx, 2);
            a.hlt();
        });
        m.Cpu.SetPendingInterrupt(0x40);
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0x40u, m.LastVector);
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(TestMachine.Code + 6, m.Memory.Read<ulong>(TestMachine.Stack - 40));
    }

    [Fact]
    public void Mov_ss_suppresses_single_step_for_one_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        var code = m.Load(a =>
        {
            a.mov(eax, 0x10);
            a.mov(ss, ax);
            a.nop();
            a.hlt();
        });
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;
        m.R.Rip = TestMachine.Code + 5;
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        // The #DB is reported after the NOP, not after MOV SS.
        Assert.Equal(TestMachine.Code + (ulong)code.Length - 1, m.R.Rip);
    }

    [Fact]
    public void Rf_suppresses_instruction_breakpoint_once_and_is_cleared()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.hlt();
        });
        m.R.Dr[0] = TestMachine.Code;
        m.R.Dr7 = 0x401;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(TestMachine.Code, m.R.Rip);
        Assert.Equal(1UL, m.Cpu.Exit.Qualification & 0xF);
        m.R.Rflags |= Rflags.RF;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0UL, m.R.Rflags & Rflags.RF);
    }

    [Fact]
    public void Int3_is_a_trap_with_rip_after_the_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.int3();
            a.hlt();
        });
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.BP;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.BP, m.Cpu.Exit.Vector);
        Assert.Equal(TestMachine.Code + 1, m.R.Rip);
    }

    [Fact]
    public void Missing_idt_entry_double_faults_then_triple_faults()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.ud2();
        });
        m.R.Idtr.Limit = 0; // every vector is outside the IDT: #UD -> #GP -> #DF -> shutdown
        Assert.Equal(X86ExitReason.TripleFault, m.Run());
        Assert.True(m.Cpu.IsShutdown);
    }

    [Fact]
    public void User_mode_syscall_sysret_round_trip()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.R.Star = (0x08UL << 32) | (0x18UL << 48); // SYSRET: CS = 0x18+16 = 0x28 (user code64), SS = 0x18+8 = 0x20
        m.R.Lstar = 0x110000;
        m.R.Sfmask = Rflags.IF;
        m.Load(a =>
        {
            a.mov(eax, 42);
            a.sysretq();
        }, 0x110000);
        m.Load(a =>
        {
            a.syscall();
            a.mov(ebx, eax);
            a.int3();
        });
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.BP;
        // Start in user mode.
        m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x2B, 0x00AFFB000000FFFF);
        m.R.Seg[SegmentIndex.Ss] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
        m.Cpu.StateChanged();
        Assert.Equal(3, m.Cpu.Cpl);
        var reason = m.Run();
        Assert.True(reason == X86ExitReason.ExceptionOrNmi, $"{reason} vector {m.LastVector} rip {m.R.Rip:x} cpl {m.Cpu.Cpl}");
        Assert.Equal(42UL, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(3, m.Cpu.Cpl);
    }

    [Fact]
    public void User_page_fault_switches_to_rsp0_and_iret_returns()
    {
        using var m = new TestMachine();
        m.Setup64();
        // Handler for #BP (vector 3): IRETQ back.
        m.Load(a => a.iretq(), TestMachine.Handlers + 3 * 16);
        m.SetGateDpl64(3, 3);
        m.Load(a =>
        {
            a.int3();
            a.mov(ecx, 9);
            a.hlt();
        });
        m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x2B, 0x00AFFB000000FFFF);
        m.R.Seg[SegmentIndex.Ss] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
        m.Cpu.StateChanged();
        // HLT at CPL3 raises #GP; its handler stores 13 and halts at CPL0.
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(9UL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(13u, m.LastVector);
        Assert.Equal(0x23UL, m.Memory.Read<ulong>(0x90000 - 8)); // old SS on the RSP0 stack
    }
}
