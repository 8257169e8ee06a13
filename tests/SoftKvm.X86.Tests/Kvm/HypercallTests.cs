using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>KVM's hypercall ABI (X86Vcpu.Hypercall.cs): VMCALL answered in the hypervisor layer, VMMCALL patched to VMCALL.</summary>
public class HypercallTests
{
    private const ulong EnoSys = unchecked((ulong)-1000L);

    [Fact]
    public void Unknown_hypercall_answers_minus_enosys_skips_vmcall_and_counts()
    {
        using var m = new KvmMachine();
        Action<Assembler> call = a =>
        {
            a.mov(eax, 0x1234);
            a.vmcall();
        };
        m.Load(a =>
        {
            call(a);
            a.hlt();
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(EnoSys, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(CodeBase + (ulong)Length(call) + 1, m.R.Rip);
        Assert.Equal(1UL, m.Stat("hypercalls"));
        Assert.Equal(0u, m.Count(6));
    }

    [Fact]
    public void Vapic_poll_irq_answers_zero()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rax, 0xFFFF_FFFF_0000_0001UL); // the number is RAX, all 64 bits in 64-bit mode: unknown
            a.vmcall();
            a.mov(rbx, rax);
            a.mov(eax, (uint)X86Vcpu.KvmHypercall.VapicPollIrq);
            a.vmcall();
            a.hlt();
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(EnoSys, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(2UL, m.Stat("hypercalls"));
    }

    [Fact]
    public void Hypercall_above_cpl0_answers_minus_eperm()
    {
        using var m = new KvmMachine();
        const ulong user = CodeBase + 0x1000;
        m.Load(a =>
        {
            a.mov(eax, (uint)X86Vcpu.KvmHypercall.VapicPollIrq);
            a.vmcall();
            a.mov(__qword_ptr[(uint)Data], rax);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin); // until the kick (a HLT here would #GP again and again, each logged by the handler)
        }, user);
        m.Load(a =>
        {
            a.push(0x23);
            a.push(0x70000);
            a.push(0x2);
            a.push(0x2B);
            a.mov(rax, user);
            a.push(rax);
            a.iretq();
        });
        var t = new Thread(() =>
        {
            while (m.Vm.Memory.Read<ulong>(Data) == 0)
            {
                Thread.Sleep(1);
            }

            m.Vcpu.Kick();
        });
        t.Start();
        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
        t.Join();
        Assert.Equal(unchecked((ulong)-1L), m.Vm.Memory.Read<ulong>(Data));
        Assert.Equal(1UL, m.Stat("hypercalls"));
    }

    [Fact]
    public void Hypercall_in_32_bit_mode_uses_32_bit_registers()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            // Far return to the 32-bit code segment (0x18) at 'compat', which does the hypercall and halts.
            a.push(0x18);
            a.mov(rax, CodeBase + 0x100);
            a.push(rax);
            a.db(0x48, 0xCB); // RETFQ
        });
        m.Vm.Memory.Write(CodeBase + 0x100, Assemble(32, CodeBase + 0x100, a =>
        {
            a.mov(eax, 0x1234);
            a.vmcall();
            a.hlt();
        }));

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(EnoSys & 0xFFFF_FFFF, m.R.Gpr[Gpr.Rax] & 0xFFFF_FFFF);
    }

    [Fact]
    public void Vmmcall_is_rewritten_to_vmcall_and_answered()
    {
        using var m = new KvmMachine();
        var code = m.Load(a =>
        {
            a.mov(eax, 0x1234);
            a.vmmcall();
            a.hlt();
        });
        int at = code.Length - 4;

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(EnoSys, m.R.Gpr[Gpr.Rax]);
        var patched = new byte[3];
        m.Vm.Memory.Read(CodeBase + (ulong)at, patched);
        Assert.Equal(new byte[] { 0x0F, 0x01, 0xC1 }, patched);
        Assert.Equal(1UL, m.Stat("hypercalls"));
        Assert.Equal(0u, m.Count(6));
    }

    [Fact]
    public void Send_ipi_delivers_to_the_apic_ids_of_the_bitmap_and_returns_how_many()
    {
        using var m = new KvmMachine(irqchip: true, vcpus: 2);
        m.Vm.Memory.Write(EoiFlag, (byte)1);
        m.Load(a =>
        {
            a.mov(rax, 0xFEE000F0UL);
            a.mov(__dword_ptr[rax], 0x1FF);                    // software-enable the APIC
            a.mov(eax, (uint)X86Vcpu.KvmHypercall.SendIpi);
            a.mov(ebx, 0b101);                                 // APIC ids 0 and 2 (2 does not exist)
            a.xor(ecx, ecx);
            a.xor(edx, edx);
            a.mov(esi, 0x40);                                  // fixed, vector 0x40
            a.vmcall();
            a.mov(__qword_ptr[(uint)Data], rax);
            a.mov(eax, (uint)X86Vcpu.KvmHypercall.SendIpi);
            a.mov(esi, 0x840);                                 // logical destination: refused
            a.vmcall();
            a.mov(__qword_ptr[(uint)Data + 8], rax);
            a.sti();
            a.hlt();                                           // the pending IPI ends the halt
            a.@out(0x80, al);
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1UL, m.Vm.Memory.Read<ulong>(Data));
        Assert.Equal(unchecked((ulong)-22L), m.Vm.Memory.Read<ulong>(Data + 8));
        Assert.Equal(1u, m.Count(0x40));
    }
}
