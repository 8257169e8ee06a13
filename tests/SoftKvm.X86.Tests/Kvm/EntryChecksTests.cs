using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// Register states a VMM can set that KVM refuses (KVM_SET_SREGS: -EINVAL) or that VMX refuses to enter
/// (KVM_EXIT_FAIL_ENTRY with hardware_entry_failure_reason 0x80000021: exit reason 33, invalid guest state,
/// with the VM-entry failure bit), so VMM authors learn of their register-setup bugs as on hardware.
/// </summary>
public class EntryChecksTests
{
    public static TheoryData<string, string> InvalidGuestStates => new()
    {
        { "cr0-pg-without-pe", "CR0.PG=1 with CR0.PE=0" },
        { "ia32e-without-paging", "CR0.PG=0" },
        { "tr-unusable", "TR is unusable" },
        { "tr-available-tss", "busy TSS" },
        { "rflags-bit-3", "RFLAGS reserved bits" },
        { "rflags-bit-15", "RFLAGS reserved bits" },
        { "rflags-bit-22", "RFLAGS reserved bits" },
        { "rflags-bit-1-clear", "bit 1 is clear" },
        { "rip-not-canonical", "RIP is not canonical" },
        { "cs-long-and-big", "CS.L=1 with CS.D=1" },
        { "cs-data-segment", "CS is not a present accessed code segment" },
        { "efer-reserved-bit", "reserved IA32_EFER bits" },
        { "gdtr-not-canonical", "not canonical" },
    };

    private static void Break(ref X86Registers r, string what)
    {
        switch (what)
        {
            case "cr0-pg-without-pe": r.Cr0 &= ~1UL; break;
            case "ia32e-without-paging": r.Cr0 &= ~(1UL << 31); break;
            case "tr-unusable": r.Tr.Attributes |= SegmentRegister.Unusable; break;
            case "tr-available-tss": r.Tr.Attributes &= ~2u; break;
            case "rflags-bit-3": r.Rflags |= 1UL << 3; break;
            case "rflags-bit-15": r.Rflags |= 1UL << 15; break;
            case "rflags-bit-22": r.Rflags |= 1UL << 22; break;
            case "rflags-bit-1-clear": r.Rflags &= ~2UL; break;
            case "rip-not-canonical": r.Rip = 0x8000_0000_0000_0000UL; break;
            case "cs-long-and-big": r.Seg[SegmentIndex.Cs].Attributes |= SegmentRegister.DefaultBig; break;
            case "cs-data-segment": r.Seg[SegmentIndex.Cs].Attributes = (r.Seg[SegmentIndex.Cs].Attributes & ~0xFu) | 1; break; // type 1: data, read-only
            case "efer-reserved-bit": r.Efer |= 1UL << 12; break;
            case "gdtr-not-canonical": r.Gdtr.Base = 0x0000_8000_0000_0000UL; break;
            default: throw new ArgumentException(what);
        }
    }

    [Theory]
    [MemberData(nameof(InvalidGuestStates))]
    public void Invalid_guest_state_fails_the_entry_with_vmxs_invalid_guest_state_reason(string what, string message)
    {
        using var m = new KvmMachine();
        m.Load(a => a.hlt());
        Break(ref m.R, what);
        var before = m.R;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.FailEntry, m.Run.ExitReason);
        Assert.Equal(0x8000_0021UL, m.Run.FailEntry.HardwareEntryFailureReason);
        Assert.Equal(X86Vcpu.InvalidGuestStateEntryFailure, m.Run.FailEntry.HardwareEntryFailureReason);
        Assert.Contains(message, m.Run.FailEntry.Message);
        Assert.Equal(before.Rip, m.R.Rip);             // the guest ran nothing
        Assert.Equal(0L, m.Vcpu.Cpu.InstructionsRetired);
        Assert.Equal(1UL, m.Stat("exits"));

        // A failed entry changes nothing: the next run fails again until the VMM repairs the state.
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.FailEntry, m.Run.ExitReason);
    }

    [Fact]
    public void Rflags_reserved_bits_pass_kvm_set_regs_and_fail_the_entry()
    {
        using var m = new KvmMachine();
        m.Load(a => a.hlt());
        var r = m.Vcpu.GetRegisters();
        r.Rflags = 2 | (1UL << 5);
        m.Vcpu.SetRegisters(r);                          // KVM_SET_REGS does not check RFLAGS
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.FailEntry, m.Run.ExitReason);

        r.Rflags = 0;                                   // bit 1 clear: KVM_SET_REGS sets it
        m.Vcpu.SetRegisters(r);
        Assert.Equal(2UL, m.Vcpu.GetRegisters().Rflags);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
    }

    [Fact]
    public void A_state_broken_through_the_register_api_after_an_exit_fails_the_next_entry()
    {
        // The entries of a run skip the checks until the VMM touches the registers (X86Vcpu._guestStateChecked).
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.@out(0x80, Iced.Intel.AssemblerRegisters.al);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason); // entered: the state passed
        var bad = m.Vcpu.GetRegisters();
        bad.Tr.Attributes |= SegmentRegister.Unusable;
        m.Vcpu.SetRegisters(bad);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.FailEntry, m.Run.ExitReason);
        Assert.Contains("TR", m.Run.FailEntry.Message);
    }

    [Fact]
    public void Unusable_tr_from_the_register_api_fails_the_entry_and_a_repaired_state_runs()
    {
        using var m = new KvmMachine();
        m.Load(a => a.hlt());
        var good = m.Vcpu.GetRegisters();
        var bad = good;
        bad.Tr.Attributes |= SegmentRegister.Unusable;
        m.Vcpu.SetRegisters(bad);                        // KVM_SET_SREGS takes it; VMX does not enter it
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.FailEntry, m.Run.ExitReason);
        m.Vcpu.SetRegisters(good);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
    }

    public static TheoryData<string, string> InvalidSregs => new()
    {
        { "cr0-pg-without-pe", "CR0.PG=1 with CR0.PE=0" },
        { "cr0-nw-without-cd", "CR0.NW=1 with CR0.CD=0" },
        { "cr0-high-bits", "CR0 bits 63:32" },
        { "long-paging-without-pae", "CR4.PAE=1 and EFER.LMA=1" },
        { "long-paging-without-lma", "CR4.PAE=1 and EFER.LMA=1" },
        { "lma-without-paging", "EFER.LMA=1 without paging" },
        { "64-bit-cs-without-lma", "64-bit CS" },
    };

    [Theory]
    [MemberData(nameof(InvalidSregs))]
    public void Special_registers_kvm_set_sregs_refuses_are_refused_with_einval(string what, string message)
    {
        using var m = new KvmMachine();
        var r = m.Vcpu.GetRegisters();
        switch (what)
        {
            case "cr0-pg-without-pe": r.Cr0 &= ~1UL; break;
            case "cr0-nw-without-cd": r.Cr0 |= 1UL << 29; break;
            case "cr0-high-bits": r.Cr0 |= 1UL << 32; break;
            case "long-paging-without-pae": r.Cr4 &= ~0x20UL; break;
            case "long-paging-without-lma": r.Efer &= ~0x400UL; break;
            case "lma-without-paging": r.Cr0 &= ~(1UL << 31); break;
            case "64-bit-cs-without-lma": r.Cr0 &= ~(1UL << 31); r.Efer &= ~0x500UL; break;
        }

        var e = Assert.Throws<VcpuException>(() => m.Vcpu.SetRegisters(r));
        Assert.Equal(KvmErrno.InvalidArgument, e.Errno);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(0x80010011UL, m.Vcpu.GetRegisters().Cr0); // nothing changed
    }
}
