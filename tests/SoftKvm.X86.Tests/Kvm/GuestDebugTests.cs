using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>KVM_SET_GUEST_DEBUG: single-step, software and hardware breakpoints as <c>Debug</c> exits.</summary>
public class GuestDebugTests
{
    [Fact]
    public void Single_step_exits_after_every_instruction_without_touching_guest_tf()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.nop();
            a.pushfq();
            a.pop(rax);
            a.hlt();
        });
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep);
        ulong[] pcs = new ulong[3];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
            pcs[i] = m.Run.Debug.Pc;
        }

        Assert.Equal(new[] { CodeBase + 1, CodeBase + 2, CodeBase + 3 }, pcs);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rax] & Rflags.TF); // the guest never sees a debugger's TF
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.None);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
    }

    [Fact]
    public void Software_breakpoint_exits_with_rip_at_the_int3()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.nop();
            a.int3();
            a.hlt();
        });
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseSoftwareBreakpoints);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(3u, m.Run.Debug.Exception);
        Assert.Equal(CodeBase + 1, m.Run.Debug.Pc);
        Assert.Equal(CodeBase + 1, m.R.Rip);
        Assert.Equal(0u, m.Count(3));
    }

    [Fact]
    public void Hardware_breakpoint_exits_once_and_the_guest_keeps_its_debug_registers()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.nop();
            a.nop();
            a.nop();
            a.hlt();
        });
        m.R.Dr7 = 0x400;
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseHardwareBreakpoints,
            [CodeBase + 2, 0, 0, 0, 0x402]);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(1u, m.Run.Debug.Exception);
        Assert.Equal(CodeBase + 2, m.Run.Debug.Pc);
        Assert.NotEqual(0UL, m.Run.Debug.Dr6 & 1);
        Assert.Equal(0x402UL, m.Run.Debug.Dr7 & 0x403);
        Assert.Equal(0x400UL, m.R.Dr7);                  // the guest's own DR7 is back outside guest execution
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());       // RF passes the breakpoint once
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(0u, m.Count(1));
    }

    [Fact]
    public void Emulation_failure_above_cpl0_injects_ud_instead_of_exiting()
    {
        using var m = new KvmMachine();
        // Enter CPL 3 by IRETQ to user code that jumps into MMIO (an instruction fetch the emulator cannot do).
        const ulong user = CodeBase + 0x1000;
        m.Load(a =>
        {
            a.mov(rax, Mmio);
            a.jmp(rax);
        }, user);
        m.Load(a =>
        {
            a.push(0x23);                  // SS: data DPL3
            a.push(0x70000);               // RSP
            a.push(0x2);                   // RFLAGS
            a.push(0x2B);                  // CS: code64 DPL3
            a.mov(rax, user);
            a.push(rax);
            a.iretq();
        });
        m.SetSkip(6, 0);
        var t = new Thread(() =>
        {
            // The #UD handler IRETs back to the MMIO address; stop after the first delivery.
            while (m.Count(6) == 0)
            {
                Thread.Sleep(1);
            }

            m.Vcpu.Kick();
        });
        t.Start();
        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
        t.Join();
        Assert.True(m.Count(6) >= 1);
        Assert.True(m.Stat("insn_emulation_fail") >= 1);
        Assert.Equal(0UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Ioevent_with_data_match_through_the_emulator_and_other_writes_go_to_the_vmm()
    {
        using var m = new KvmMachine();
        var fd = new EventFd();
        m.Vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(Mmio + 0x40, 4, fd, 7));
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.mov(__dword_ptr[rbx + 0x40], 7);
            a.mov(__dword_ptr[rbx + 0x40], 8);
            a.hlt();
        });
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0, seen));
        Assert.Equal(1UL, fd.Count);
        Assert.Single(seen);
        Assert.Equal((Mmio + 0x40, 4u, true, 8UL), seen[0]);
        Assert.Equal(1UL, m.Stat("mmio_exits"));
        Assert.Equal(2UL, m.Stat("insn_emulation"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Single_step_with_block_irq_runs_the_next_instruction_and_the_interrupt_comes_after(bool block)
    {
        // A self-IPI made pending while IF = 0, then STI and three NOPs stepped one by one. With BLOCKIRQ (what
        // the gdb stub asks for, QEMU's SSTEP_NOIRQ) each step runs the next NOP and the interrupt waits for the
        // debugger to let go; without it the step after the STI shadow ends at the handler, before its first
        // instruction (KVM's step of an event delivery).
        using var m = new KvmMachine(irqchip: true);
        Action<Iced.Intel.Assembler> prefix = a =>
        {
            a.mov(rsi, 0xFEE00000UL);
            a.mov(__dword_ptr[rsi + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rsi + 0x300], 0x40041); // self IPI 0x41
            a.sti();
        };
        ulong sti = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.nop();
            a.nop();
            a.@out(0x80, al);
        });
        var flags = X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep | (block ? X86GuestDebugFlags.BlockInterrupts : 0);
        m.Vcpu.SetGuestDebug(flags);
        for (int i = 0; i < 5; i++) // three MOVs, STI, and the NOP in its shadow
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        }

        Assert.Equal(sti + 1, m.Run.Debug.Pc);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        if (!block)
        {
            Assert.NotEqual(sti + 2, m.Run.Debug.Pc); // at the handler
            Assert.Equal(0u, m.Count(0x41));
            return;
        }

        Assert.Equal(sti + 2, m.Run.Debug.Pc);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(sti + 3, m.Run.Debug.Pc);
        Assert.Equal(0u, m.Count(0x41));

        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.None);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x41));
        Assert.Equal(sti + 3, m.LastRip(0x41)); // taken at the instruction the steps had reached
    }
}
