using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-faulting-emulation: RIP, RFLAGS and single-step only when the emulated
/// instruction retires.
/// </summary>
public class RetirementTests
{
    [Fact]
    public void Syscall_ud_with_tf_and_rf_is_delivered_once_without_db()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.syscall();
            a.hlt();
        });
        m.R.Efer = 0xD00; // SCE = 0: SYSCALL raises #UD (the CPU model's #UD is intercepted and emulated)
        m.Vcpu.Cpu.StateChanged();
        m.R.Rflags = 2 | Rflags.TF | Rflags.RF;
        m.SetSkip(6, 2); // the #UD handler returns past the SYSCALL (and clears TF)

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 6 }, m.Events());
        Assert.Equal(CodeBase, m.LastRip(6));
        Assert.Equal(0u, m.Count(1));
        Assert.False(m.Vcpu.Cpu.HasInjectedEvent);
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        Assert.Equal(0UL, m.Stat("insn_emulation_fail"));
    }

    [Fact]
    public void Movs_from_mmio_into_a_not_present_page_faults_once_then_retires_once()
    {
        using var m = new KvmMachine();
        const ulong target = 0x201000;
        Action<Assembler> prefix = a =>
        {
            a.mov(rsi, Mmio);
            a.mov(rdi, target);
            SetTf(a);
        };
        ulong movs = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.movsq();
            a.nop();
            a.hlt();
        });
        m.Vm.Memory.Write<ulong>(Pt + 1 * 8, 0);                 // target page not present
        m.Vm.Memory.Write(PfFixupAddr, Pt + 1 * 8);              // the #PF handler maps it
        m.Vm.Memory.Write(PfFixupValue, target | 7);

        var seen = new List<(ulong, uint, bool, ulong)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0x1122334455667788, seen));

        Assert.Equal(new byte[] { 14, 1 }, m.Events());          // one #PF, no #DB before it, one #DB after retirement
        Assert.Equal(movs, m.LastRip(14));                        // the fault left RIP at the MOVS
        Assert.Equal(movs + 2, m.LastRip(1));                     // retired once: the #DB is at the NOP
        Assert.Equal(target, m.R.Cr2);
        Assert.Equal(0x1122334455667788UL, m.Vm.Memory.Read<ulong>(target));
        Assert.Equal(Mmio + 8, m.R.Gpr[Gpr.Rsi]);                 // advanced once, not twice
        Assert.Equal(target + 8, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(2, seen.Count);                              // the read before the fault and the read of the retry
        Assert.All(seen, s => Assert.False(s.Item3));
        Assert.Equal(2UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Emulated_mmio_load_with_tf_retires_and_single_steps_once()
    {
        using var m = new KvmMachine();
        Action<Assembler> prefix = a =>
        {
            a.mov(rbx, Mmio);
            a.mov(rcx, 0x55);
            SetTf(a);
            a.mov(ecx, D[rbx + 0]);
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.hlt();
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        Assert.False(m.Run.Mmio.IsWrite);
        Assert.Equal(Mmio, m.Run.Mmio.PhysAddr);
        Assert.Equal(4u, m.Run.Mmio.Length);
        Assert.Equal(next - 2, m.R.Rip); // a read exit leaves RIP at the load
        Assert.Equal(0u, m.Count(1));
        m.Run.Mmio.SetValue(0xCAFEBABE);

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(0xCAFEBABEUL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next, m.LastRip(1));
    }

    [Fact]
    public void Emulated_mmio_load_under_guest_single_step_is_one_debug_exit_after_completion()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(eax, D[rbx + 0]);
            a.nop();
        });
        m.R.Gpr[Gpr.Rbx] = Mmio;
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        m.Run.Mmio.SetValue(7);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(CodeBase + 2, m.Run.Debug.Pc);
        Assert.Equal(7UL, m.R.Gpr[Gpr.Rax]);
    }

    [Fact]
    public void Emulated_mmio_store_with_tf_single_steps_once_after_the_write_completes()
    {
        using var m = new KvmMachine();
        Action<Assembler> prefix = a =>
        {
            a.mov(rbx, Mmio);
            a.mov(eax, 0x12345678);
            SetTf(a);
            a.mov(D[rbx + 0], eax);
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        Assert.True(m.Run.Mmio.IsWrite);
        Assert.Equal(0x12345678UL, m.Run.Mmio.Value);
        Assert.Equal(next, m.R.Rip); // a write exit: the instruction has retired already
        Assert.Equal(0u, m.Count(1));
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next, m.LastRip(1));
    }

    [Fact]
    public void Gp_during_emulation_changes_nothing_and_counts_no_mmio_exit()
    {
        using var m = new KvmMachine(irqchip: true);
        Action<Assembler> prefix = a =>
        {
            a.mov(rsi, 0xFEC00000UL);            // the IOAPIC: an in-kernel read
            a.mov(rdi, 0x8000_0000_0000_0000UL); // a non-canonical destination: #GP
            a.mov(rcx, 0x77);
            a.stc();
        };
        ulong movs = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.movsd();
            a.@out(0x80, al);
        });
        m.SetSkip(13, 1);

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(new byte[] { 13 }, m.Events());
        Assert.Equal(movs, m.LastRip(13));
        Assert.Equal(0xFEC00000UL, m.R.Gpr[Gpr.Rsi]); // destination and source registers unchanged
        Assert.Equal(0x8000_0000_0000_0000UL, m.R.Gpr[Gpr.Rdi]);
        Assert.NotEqual(0UL, m.R.Rflags & Rflags.CF);
        Assert.Equal(0UL, m.Stat("mmio_exits"));
        Assert.Equal(1UL, m.Stat("insn_emulation"));
    }

    [Fact]
    public void Trap_class_exception_from_the_emulator_retires_the_instruction_and_single_steps()
    {
        // x86_emulate_instruction writes RIP and RFLAGS and single-steps when there was no exception or a
        // trap-class one (#BP, #OF). The #DB is queued after the #BP: two benign exceptions, so the later
        // replaces the earlier (kvm_multiple_exception) and the guest takes the #DB past the INT3.
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.int3();
            a.hlt();
        });
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(1, m.Vcpu.EmulateInstruction());
        Assert.Equal(CodeBase + 1, m.R.Rip);
        Assert.Equal(1, m.Vcpu.Cpu.InjectedVector);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());    // the single-step #DB, which replaced the #BP
        Assert.Equal(CodeBase + 1, m.LastRip(1));
        Assert.NotEqual(0UL, m.R.Dr6 & 0x4000);        // DR6.BS
        Assert.Equal(0u, m.Count(3));
    }

    [Fact]
    public void Trap_class_exception_from_the_emulator_under_guest_single_step_is_a_debug_exit_then_the_trap()
    {
        // With KVM_GUESTDBG_SINGLESTEP the single-step is a KVM_EXIT_DEBUG past the INT3; the #BP stays
        // queued and is delivered on the next run.
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.int3();
            a.hlt();
        });
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep);
        Assert.Equal(0, m.Vcpu.EmulateInstruction());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(CodeBase + 1, m.Run.Debug.Pc);
        Assert.Equal(3, m.Vcpu.Cpu.InjectedVector);
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.None);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 3 }, m.Events());
        Assert.Equal(CodeBase + 1, m.LastRip(3));
    }

    [Fact]
    public void Emulator_code_breakpoint_is_a_fault_without_rip_advance_or_single_step()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.nop();
            a.hlt();
        });
        m.R.Dr[0] = CodeBase;
        m.R.Dr7 = 0x401; // L0, execute breakpoint
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(1, m.Vcpu.EmulateInstruction());
        Assert.Equal(CodeBase, m.R.Rip);
        Assert.Equal(1, m.Vcpu.Cpu.InjectedVector);
        Assert.Equal(2 | Rflags.TF, m.R.Rflags);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(CodeBase, m.LastRip(1));          // the breakpoint, at the NOP
        Assert.Equal(1u, m.Count(1));                  // the handler cleared TF: no further #DB
        Assert.NotEqual(0UL, m.R.Dr6 & 1);             // B0
    }
}
