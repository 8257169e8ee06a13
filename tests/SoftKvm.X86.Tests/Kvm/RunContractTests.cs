using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#run-contract, #mmio-exit-data and #x86-port-io: completion of MMIO and port IO
/// exactly once, immediate exit, kicks.
/// </summary>
public class RunContractTests
{
    [Fact]
    public void Immediate_exit_completes_an_mmio_read_once()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(eax, D[rbx + 0]);
            a.inc(ecx);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rbx] = Mmio;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        m.Run.Mmio.SetValue(0x1234);
        m.Run.ImmediateExit = true;

        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason); // not rewritten
        Assert.Equal(0x1234UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(CodeBase + 2, m.R.Rip);
        Assert.False(m.Vcpu.HasPendingCompletion);

        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run()); // again: nothing more happens
        Assert.Equal(CodeBase + 2, m.R.Rip);

        m.Run.ImmediateExit = false;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(CodeBase + 5, m.R.Rip);
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(1UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Immediate_exit_completes_an_in_once_with_the_merge_rule()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rax, 0x1111_2222_3333_4444UL);
            a.@in(al, 0x71);
            a.mov(rcx, rax);
            a.@in(ax, 0x71);
            a.mov(rdx, rax);
            a.@in(eax, 0x71);
            a.hlt();
        });
        byte[] answers = [0xAB, 0xCD, 0xEF];
        ulong[] lengths = [2, 3, 2]; // in al,imm8 / in ax,imm8 (0x66 prefix) / in eax,imm8
        ulong[] results = new ulong[3];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Io, m.Run.ExitReason);
            Assert.Equal(IoDirection.In, m.Run.Io.Direction);
            Span<byte> page = m.Run.PioData;
            page[0] = answers[i];
            page[1] = 0x99;
            page[2] = 0x88;
            page[3] = 0x77;
            m.Run.ImmediateExit = true;
            ulong rip = m.R.Rip;
            Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
            Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
            Assert.Equal(rip + lengths[i], m.R.Rip); // skipped once
            results[i] = m.R.Gpr[Gpr.Rax];
            m.Run.ImmediateExit = false;
        }

        Assert.Equal(0x1111_2222_3333_44ABUL, results[0]);
        Assert.Equal(0x1111_2222_3333_99CDUL, results[1]);
        Assert.Equal(0x7788_99EFUL, results[2]);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(3UL, m.Stat("io_exits"));
    }

    [Fact]
    public void Kick_after_an_exit_completes_first_and_returns_intr_once()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.@out(0x80, al);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        m.Vcpu.Kick();
        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
        Assert.Equal(ExitReason.Intr, m.Run.ExitReason);
        Assert.Equal(CodeBase + 2, m.R.Rip); // the OUT retired once
        Assert.Equal(1UL, m.Stat("signal_exits"));
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(CodeBase + 3, m.R.Rip);
    }

    [Fact]
    public void Rep_outs_exits_once_per_element_and_rep_ins_once_per_batch()
    {
        using var m = new KvmMachine();
        m.Vm.Memory.Write(Data, "abc"u8.ToArray());
        m.Load(a =>
        {
            a.mov(rsi, Data);
            a.mov(ecx, 3);
            a.mov(dx, 0x3F8);
            a.rep.outsb();
            a.mov(rdi, Data + 0x10);
            a.mov(ecx, 2);
            a.rep.insb();
            a.hlt();
        });
        var outs = new List<byte>();
        int ins = 0;
        while (true)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            if (m.Run.ExitReason != ExitReason.Io)
            {
                break;
            }

            if (m.Run.Io.Direction == IoDirection.Out)
            {
                Assert.Equal(1u, m.Run.Io.Count); // KVM's emulator writes one OUTS element per exit
                outs.Add(m.Run.PioData[0]);
            }
            else
            {
                Assert.Equal(2u, m.Run.Io.Count); // and reads a batch of INS elements in one
                for (int i = 0; i < m.Run.Io.Count; i++)
                {
                    m.Run.PioData[i] = (byte)('x' + i);
                }

                ins++;
            }
        }

        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal("abc"u8.ToArray(), outs.ToArray());
        Assert.Equal(1, ins);
        Assert.Equal((byte)'x', m.Vm.Memory.Read<byte>(Data + 0x10));
        Assert.Equal((byte)'y', m.Vm.Memory.Read<byte>(Data + 0x11));
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rcx]);
    }

    [Fact]
    public void Hlt_without_irqchip_exits_and_with_irqchip_sleeps_until_a_kick()
    {
        using (var m = new KvmMachine())
        {
            m.Load(a => a.hlt());
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
            Assert.Equal(CodeBase + 1, m.R.Rip);
        }

        using (var m = new KvmMachine(irqchip: true))
        {
            m.Load(a => a.hlt());
            var t = new Thread(() =>
            {
                // Kick once the vCPU has taken its HLT (a fixed delay raced the first run's JIT on a loaded host).
                SpinWait.SpinUntil(() => m.Stat("halt_exits") >= 1, TimeSpan.FromSeconds(30));
                Thread.Sleep(50);
                m.Vcpu.Kick();
            });
            t.Start();
            Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
            t.Join();
            Assert.Equal(ExitReason.Intr, m.Run.ExitReason);
            Assert.Equal(SoftKvm.X86.Kvm.X86MpState.Halted, m.Vcpu.MpState);
            Assert.True(m.Stat("halt_wakeup") >= 1);
        }
    }

    [Fact]
    public void Msrs_unknown_to_the_cpu_model_are_answered_or_raise_gp()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(ecx, 0x2FF);          // MTRRdefType
            a.mov(eax, 0xC06);
            a.xor(edx, edx);
            a.wrmsr();
            a.xor(eax, eax);
            a.rdmsr();
            a.mov(rbx, rax);
            a.mov(ecx, 0x12345);        // nothing: #GP
            a.rdmsr();
            a.hlt();
        });
        m.SetSkip(13, 2);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(0xC06UL, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(new byte[] { 13 }, m.Events());
    }

    [Fact]
    public void Userspace_irqchip_interrupt_window_exit_then_kvm_interrupt()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.nop();
            a.sti();
            a.nop();
            a.nop();
            a.hlt();
        });
        m.Run.RequestInterruptWindow = true;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.IrqWindowOpen, m.Run.ExitReason);
        Assert.True(m.Run.ReadyForInterruptInjection);
        Assert.True(m.Run.IfFlag);
        Assert.Equal(CodeBase + 3, m.R.Rip); // after STI and the instruction in its shadow
        Assert.Equal(1UL, m.Stat("request_irq_exits"));
        m.Run.RequestInterruptWindow = false;
        m.Vcpu.InjectInterrupt(0x40);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(CodeBase + 3, m.LastRip(0x40));
        Assert.Equal(1UL, m.Stat("irq_injections"));
    }
}
