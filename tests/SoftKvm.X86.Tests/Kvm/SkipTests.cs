using Iced.Intel;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-skip-and-single-step: the fast-MMIO skip (and every other skip) goes through the
/// common skip routine.
/// </summary>
public class SkipTests
{
    private static (KvmMachine M, EventFd Fd) FastMmioMachine(bool withhold, bool irqchip = false)
    {
        var m = new KvmMachine(irqchip);
        var fd = new EventFd();
        m.Vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(Doorbell, 0, fd));
        m.Vcpu.Cpu.Controls.WithholdEptInstructionLength = withhold;
        return (m, fd);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fast_mmio_write_with_tf_raises_one_db_at_the_next_instruction(bool withhold)
    {
        var (m, fd) = FastMmioMachine(withhold);
        using var _ = m;
        Action<Assembler> prefix = a =>
        {
            a.mov(rbx, Doorbell);
            SetTf(a);
            a.mov(D[rbx + 0x0], eax);
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.hlt();
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1UL, fd.Count);
        Assert.Equal(1u, m.Count(1));
        Assert.Equal(next, m.LastRip(1));
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next + 2, m.R.Rip);
        Assert.Equal(0UL, m.R.Rflags & Rflags.RF);
        Assert.Equal(0UL, m.Stat("mmio_exits"));
        Assert.Equal(0UL, m.Stat("insn_emulation"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fast_mmio_skip_advances_by_the_true_length_of_a_long_encoding(bool withhold)
    {
        var (m, fd) = FastMmioMachine(withhold);
        using var _ = m;
        // A 10-byte store: REX + opcode + ModRM + disp32 + imm32 (the decoded length must be used, never a guess).
        Action<Assembler> store = a => a.mov(D[rbx + 0], 0x11223344);
        m.Load(a =>
        {
            a.mov(rbx, Doorbell);
            store(a);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1UL, fd.Count);
        Assert.Equal(CodeBase + (ulong)Length(a => a.mov(rbx, Doorbell)) + (ulong)Length(store) + 1, m.R.Rip);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fast_mmio_under_guest_single_step_is_a_debug_exit_at_the_next_instruction(bool withhold)
    {
        var (m, fd) = FastMmioMachine(withhold);
        using var _ = m;
        var bytes = m.Load(a =>
        {
            a.mov(D[rbx + 0], eax);
            a.nop();
        });
        m.R.Gpr[Gpr.Rbx] = Doorbell;
        m.Vcpu.SetGuestDebug(X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep);

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(1u, m.Run.Debug.Exception);
        Assert.NotEqual(0UL, m.Run.Debug.Dr6 & (1UL << 14));
        Assert.Equal(CodeBase + 2, m.Run.Debug.Pc);
        Assert.Equal(CodeBase + 2, m.R.Rip);
        Assert.Equal(1UL, fd.Count);
        Assert.Equal(0u, m.Count(1));

        // The next step is the NOP: one more debug exit, one instruction further.
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Debug, m.Run.ExitReason);
        Assert.Equal(CodeBase + 3, m.Run.Debug.Pc);
        Assert.Equal(1UL, fd.Count);
        Assert.NotEmpty(bytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sti_shadow_ends_with_the_skipped_instruction(bool withhold)
    {
        var (m, fd) = FastMmioMachine(withhold);
        using var _ = m;
        Action<Assembler> prefix = a =>
        {
            a.mov(rbx, Doorbell);
            a.sti();
            a.mov(D[rbx + 0], eax);
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.nop();
            a.hlt();
        });
        m.Vcpu.InjectInterrupt(0x40); // INTR raised while IF=0

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x40));
        Assert.Equal(next, m.LastRip(0x40)); // after the MOV, not after the following NOP
        Assert.Equal(1UL, fd.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sti_and_mov_ss_shadows_with_a_self_ipi_end_with_the_skipped_instruction(bool withhold)
    {
        foreach (bool movSs in new[] { false, true })
        {
            var (m, fd) = FastMmioMachine(withhold, irqchip: true);
            using var _ = m;
            Action<Assembler> prefix = a =>
            {
                a.mov(rbx, Doorbell);
                a.mov(rsi, 0xFEE00000UL);
                a.mov(D[rsi + 0xF0], 0x1FF);   // APIC software enable
                a.mov(B[(uint)EoiFlag], 1);
                a.mov(D[rsi + 0x300], 0x40040); // self IPI, vector 0x40, fixed (IF=0: stays pending)
                a.mov(ax, ss);
                a.sti();
                if (movSs)
                {
                    a.mov(ss, ax);
                }

                a.mov(D[rbx + 0], eax);
            };
            ulong next = CodeBase + (ulong)Length(prefix);
            m.Load(a =>
            {
                prefix(a);
                a.nop();
                a.nop();
                a.@out(0x80, al);
            });

            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Io, m.Run.ExitReason);
            Assert.Equal(1u, m.Count(0x40));
            Assert.Equal(next, m.LastRip(0x40));
            Assert.Equal(1UL, fd.Count);
            Assert.False(m.Vcpu.Apic!.IsInService(0x40)); // the handler's EOI went to the in-kernel APIC
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mov_ss_suppresses_the_step_trap_until_after_the_skipped_instruction(bool withhold)
    {
        var (m, fd) = FastMmioMachine(withhold);
        using var _ = m;
        Action<Assembler> prefix = a =>
        {
            a.mov(rbx, Doorbell);
            a.mov(ax, ss);
            SetTf(a);
            a.mov(ss, ax);
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
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next, m.LastRip(1));
        Assert.Equal(1UL, fd.Count);
    }

    [Fact]
    public void Failed_skip_decode_leaves_rip_and_is_an_emulation_failure()
    {
        var (m, fd) = FastMmioMachine(withhold: true);
        using var _ = m;
        const ulong code = 0x201000; // mapped through the 4 KiB page table
        m.Load(a => a.mov(D[rbx + 0], eax), code);
        m.R.Rip = code;
        m.R.Gpr[Gpr.Rbx] = Doorbell;
        // When the doorbell rings (on the vCPU thread, before the skip), the code page disappears.
        fd.Signaled += _ =>
        {
            m.Vm.Memory.Write<ulong>(Pt + 1 * 8, 0);
            m.Vcpu.Cpu.FlushTlb();
        };

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.InternalError, m.Run.ExitReason);
        Assert.Equal(InternalErrorSuberror.Emulation, m.Run.Internal.Suberror);
        Assert.Equal(code, m.R.Rip);
        Assert.Equal(1UL, m.Stat("insn_emulation_fail"));
        Assert.Equal(0UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Cpuid_with_tf_is_answered_and_single_steps_once()
    {
        using var m = new KvmMachine(irqchip: true);
        Action<Assembler> prefix = a =>
        {
            a.mov(eax, 1);
            SetTf(a);
            a.cpuid();
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next, m.LastRip(1));
        Assert.NotEqual(0UL, m.R.Gpr[Gpr.Rdx] & (1UL << 9)); // APIC with the in-kernel irqchip
        Assert.NotEqual(0UL, m.R.Gpr[Gpr.Rcx] & (1UL << 21)); // x2APIC
    }

    [Fact]
    public void Out_to_the_vmm_with_tf_single_steps_once_after_completion()
    {
        using var m = new KvmMachine();
        Action<Assembler> prefix = a =>
        {
            a.mov(al, 0x5A);
            SetTf(a);
            a.@out(0x80, al);
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(IoDirection.Out, m.Run.Io.Direction);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        Assert.Equal(0x5A, m.Run.PioData[0]);
        Assert.Equal(next - 2, m.R.Rip); // still at the OUT until the VMM re-enters
        Assert.Equal(0u, m.Count(1));

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(next, m.LastRip(1));
        Assert.Equal(1UL, m.Stat("io_exits"));
    }

    [Fact]
    public void Hlt_skip_single_steps_through_the_common_routine()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            SetTf(a);
            a.hlt();
            a.nop();
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        ulong afterHlt = CodeBase + (ulong)Length(a => SetTf(a)) + 1;
        Assert.Equal(afterHlt, m.R.Rip);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(afterHlt, m.LastRip(1));
        Assert.Equal(2UL, m.Stat("halt_exits"));
    }
}
