using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// The debug-exception pieces of SDM Vol. 3 6.8.3 and 17.2-17.3 at the CPU model's interface (the guest
/// program guests/x86/kvm/dbgrules.elf checks the whole rule set from inside a guest): what a #DB exit
/// reports and leaves alone, DR7.GD, the traps a MOV SS holds across an exit, their merge with an injected
/// #DB, and the monitor trap flag.
/// </summary>
public sealed class DebugExceptionTests
{
    private const ulong Watched = 0x200000;

    // DR0: a 2-byte read/write breakpoint on Watched.
    private static void WatchDr0(TestMachine m)
    {
        m.R.Dr[0] = Watched;
        m.R.Dr7 = 0x400 | 1 | (3UL << 16) | (1UL << 18);
        m.Memory.Write<ushort>(Watched, 0x10);
    }

    [Fact]
    public void An_intercepted_data_breakpoint_is_a_trap_exit_and_leaves_dr6_alone()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(ax, __word_ptr[Watched]);
            a.nop();
        });
        WatchDr0(m);
        m.R.Dr6 = 0xFFFF0FF0;
        m.Cpu.StateChanged();
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;

        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(1UL, m.Cpu.Exit.Qualification & 0xF);
        Assert.True(m.Cpu.Exit.DebugTrap);
        Assert.Equal(0xFFFF0FF0UL, m.R.Dr6);
    }

    [Fact]
    public void An_intercepted_code_breakpoint_is_a_fault_exit_at_the_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.nop());
        m.R.Dr[1] = TestMachine.Code;
        m.R.Dr7 = 0x400 | 4;
        m.Cpu.StateChanged();
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;

        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(2UL, m.Cpu.Exit.Qualification & 0xF);
        Assert.False(m.Cpu.Exit.DebugTrap);
        Assert.Equal(TestMachine.Code, m.R.Rip);
    }

    [Fact]
    public void General_detect_faults_at_mov_dr_with_bd_and_delivery_clears_gd()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.mov(rax, dr0));
        m.R.Dr7 = 0x400 | (1UL << 13);
        m.Cpu.StateChanged();
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;

        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(1UL << 13, m.Cpu.Exit.Qualification);
        Assert.False(m.Cpu.Exit.DebugTrap);
        Assert.Equal(TestMachine.Code, m.R.Rip);
        Assert.NotEqual(0UL, m.R.Dr7 & (1UL << 13)); // an exit is not a delivery: GD stays

        m.Cpu.Controls.ExceptionBitmap = 0;
        m.Run();
        Assert.Equal((uint)ExceptionVector.DB, m.LastVector);
        Assert.Equal(0UL, m.R.Dr7 & (1UL << 13));
        Assert.NotEqual(0UL, m.R.Dr6 & (1UL << 13));
    }

    [Fact]
    public void General_detect_comes_after_the_cpl_and_dr4_checks()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.mov(rax, dr4));
        m.R.Cr4 |= 8; // DE: DR4 is reserved
        m.R.Dr7 = 0x400 | (1UL << 13);
        m.Cpu.StateChanged();
        m.Run();
        Assert.Equal((uint)ExceptionVector.UD, m.LastVector);
    }

    [Fact]
    public void Traps_a_mov_ss_holds_across_an_exit_are_delivered_after_the_instruction_the_hypervisor_completes()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(ss, __word_ptr[Watched]);
            a.@out(0x80, al);
            a.nop();
        });
        WatchDr0(m);
        m.Cpu.StateChanged();

        Assert.Equal(X86ExitReason.IoInstruction, m.Run());
        Assert.Equal(1UL, m.Cpu.PendingDebugExceptions);

        // The hypervisor retires the OUT (its skip clears the shadow); the held #DB comes at the next entry.
        m.R.Rip += (ulong)m.Cpu.Exit.InstructionLength;
        m.Cpu.Shadow = InterruptShadow.None;
        m.Run();
        Assert.Equal((uint)ExceptionVector.DB, m.LastVector);
        Assert.Equal(1UL, m.R.Dr6 & 0xF);
        Assert.Equal(0UL, m.Cpu.PendingDebugExceptions);
    }

    [Fact]
    public void An_injected_single_step_db_and_held_traps_are_one_db()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(ss, __word_ptr[Watched]);
            a.@out(0x80, al);
            a.nop();
        });
        WatchDr0(m);
        m.Cpu.StateChanged();
        m.Run();
        m.R.Rip += (ulong)m.Cpu.Exit.InstructionLength;
        m.Cpu.Shadow = InterruptShadow.None;
        m.Cpu.InjectException(ExceptionVector.DB, dr6: 0x4000);
        m.Cpu.Controls.ExceptionBitmap = 0;

        m.Run();
        Assert.Equal((uint)ExceptionVector.DB, m.LastVector);
        Assert.Equal(0x4001UL, m.R.Dr6 & 0xE00F);
        Assert.Equal(1L, m.Cpu.EventsDelivered);
    }

    [Fact]
    public void The_monitor_trap_flag_exits_after_an_event_delivery_before_the_handler_runs()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.nop());
        m.R.Rflags |= Rflags.IF;
        m.Cpu.StateChanged();
        m.Cpu.SetPendingInterrupt(0x40);
        m.Cpu.Controls.MonitorTrapFlag = true;

        Assert.Equal(X86ExitReason.MonitorTrapFlag, m.Run(1));
        Assert.Equal(TestMachine.Handlers + 0x40 * 16, m.R.Rip);
        Assert.Equal(0xFFFFFFFFu, m.LastVector); // the handler's first instruction has not run
        Assert.Equal(0L, m.Cpu.InstructionsRetired);
    }
}
