using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>The vCPU's register-by-name API, through which a VMM sets a boot state without the CPU model.</summary>
public sealed class RegisterAccessTests
{
    private const ulong FlatCode32 = 0x00CF_9B00_0000_FFFF;
    private const ulong FlatData32 = 0x00CF_9300_0000_FFFF;

    [Fact]
    public void A_flat_32_bit_state_set_by_name_runs_32_bit_code()
    {
        using var vm = new X86Vm();
        vm.SetMemoryRegion(0, 0, 1 << 20);
        var v = vm.CreateVcpu(0);
        // mov eax, [0x2000]; add eax, ebx; hlt (32-bit encodings: the 16-bit reading of A1 takes a 2-byte address)
        vm.Memory.Write(0x1000, new byte[] { 0xA1, 0x00, 0x20, 0x00, 0x00, 0x01, 0xD8, 0xF4 });
        vm.Memory.Write(0x2000UL, 40u);
        v.SetRegister(X86Register.Cr0, 0x11);
        foreach (var s in Enum.GetValues<X86Segment>())
        {
            v.SetSegment(s, s == X86Segment.Cs ? (ushort)0x10 : (ushort)0x18, s == X86Segment.Cs ? FlatCode32 : FlatData32);
        }

        v.SetRegister(X86Register.Rip, 0x1000);
        v.SetRegister(X86Register.Rflags, 0);
        v.SetRegister(X86Register.Rbx, 2);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Hlt, v.RunState.ExitReason);
        Assert.Equal(42UL, v.GetRegister(X86Register.Rax));
        Assert.Equal(0x1008UL, v.GetRegister(X86Register.Rip));
        Assert.Equal(2UL, v.GetRegister(X86Register.Rflags) & 2); // bit 1 forced, as KVM_SET_REGS does
        var r = v.GetRegisters();
        Assert.Equal(0xFFFF_FFFFu, r.Seg[SegmentIndex.Ss].Limit);
        Assert.Equal((ushort)0x10, r.Seg[SegmentIndex.Cs].Selector);
    }

    [Fact]
    public void Every_register_reads_back_what_was_written()
    {
        using var vm = new X86Vm();
        vm.SetMemoryRegion(0, 0, 1 << 20);
        var v = vm.CreateVcpu(0);
        foreach (var reg in Enum.GetValues<X86Register>())
        {
            if (reg is X86Register.Cr0 or X86Register.Cr4 or X86Register.Efer or X86Register.Rflags)
            {
                continue; // mode bits: covered by the boot-state test
            }

            ulong value = 0x1000 + (ulong)reg;
            v.SetRegister(reg, value);
            Assert.Equal(value, v.GetRegister(reg));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => v.GetRegister((X86Register)99));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.SetSegment((X86Segment)6, 0, 0));
    }

    [Fact]
    public void Cr8_is_the_local_apic_tpr_with_the_irqchip()
    {
        using var vm = new X86Vm();
        vm.CreateIrqchip();
        vm.SetMemoryRegion(0, 0, 1 << 20);
        var v = vm.CreateVcpu(0);

        v.SetRegister(X86Register.Cr8, 5);

        Assert.Equal(0x50u, v.Apic!.Tpr);
        Assert.Equal(5UL, v.GetRegister(X86Register.Cr8));
    }

    [Fact]
    public void Withholding_the_instruction_length_is_a_vcpu_option()
    {
        using var vm = new X86Vm();
        var v = vm.CreateVcpu(0);
        Assert.False(v.WithholdEptInstructionLength);

        v.WithholdEptInstructionLength = true;

        Assert.True(v.WithholdEptInstructionLength);
        Assert.True(v.Cpu.Controls.WithholdEptInstructionLength);
    }
}
