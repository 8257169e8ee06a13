using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>What CPUID and the hypervisor layer's MSRs announce (X86Vcpu.Cpuid.cs).</summary>
public class CpuidTests
{
    [Fact]
    public void Cpuid_announces_kvm_and_the_apic_features_with_the_irqchip_only()
    {
        using var plain = new KvmMachine();
        plain.Vcpu.GetCpuid(0x4000_0000, 0, out uint eax, out uint ebx, out uint ecx, out uint edx);
        Assert.Equal(0x4000_0001u, eax);
        Assert.Equal("KVMKVMKVM\0\0\0", System.Text.Encoding.ASCII.GetString([.. BitConverter.GetBytes(ebx), .. BitConverter.GetBytes(ecx), .. BitConverter.GetBytes(edx)]));
        plain.Vcpu.GetCpuid(1, 0, out _, out _, out ecx, out edx);
        Assert.Equal(0u, edx & (1u << 9));
        Assert.Equal(0u, ecx & (1u << 21));

        using var withChip = new KvmMachine(irqchip: true);
        withChip.Vcpu.GetCpuid(1, 0, out _, out _, out ecx, out edx);
        Assert.NotEqual(0u, edx & (1u << 9));
        Assert.NotEqual(0u, ecx & (1u << 21));
        Assert.NotEqual(0u, ecx & (1u << 24));
        withChip.Vcpu.GetCpuid(0x15, 0, out eax, out ebx, out ecx, out _);
        Assert.Equal(1_000_000_000u, ecx);
        Assert.Equal(withChip.Vcpu.Cpu.TscFrequency, (long)ecx * ebx / eax);
    }

    [Fact]
    public void Arch_capabilities_is_announced_readable_and_read_only()
    {
        using var m = new KvmMachine();
        m.Vcpu.GetCpuid(7, 0, out _, out _, out _, out uint leaf7Edx);
        Assert.NotEqual(0u, leaf7Edx & (1u << 29));
        m.Load(a =>
        {
            a.mov(ecx, 0x10A);
            a.rdmsr();
            a.mov(__dword_ptr[(uint)Data], eax);
            a.mov(__dword_ptr[(uint)Data + 4], edx);
            a.wrmsr(); // read-only: #GP, whose handler skips the two bytes
            a.hlt();
        });
        m.SetSkip(13, 2);

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(X86Vcpu.ArchCapabilities, m.Vm.Memory.Read<ulong>(Data));
        Assert.Equal(1UL, X86Vcpu.ArchCapabilities & 1); // RDCL_NO: Linux needs no page table isolation
        Assert.Equal(1u, m.Count(13));
    }
}
