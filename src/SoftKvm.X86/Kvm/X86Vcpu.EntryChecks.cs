using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// What VMX checks before it enters the guest, and what KVM refuses before that. KVM_SET_SREGS refuses a
/// register file <c>kvm_is_valid_sregs</c> rejects (-EINVAL, <see cref="SetRegisters"/>). The rest of the
/// guest state is checked at entry, as VMX checks the VMCS guest-state area (SDM Vol. 3 §26.3.1) — at the first
/// entry, after any register access of the VMM, after an INIT or SIPI and after a failed entry, since between those
/// only the guest's own instructions change it, and they never make a state VMX refuses. A state VMX would not enter (set by the VMM through <see cref="SetRegisters"/> or <see cref="X86Cpu.Regs"/>)
/// fails the entry with <c>KVM_EXIT_FAIL_ENTRY</c> and VMX's exit reason 33 (invalid guest state) with bit 31
/// (VM-entry failure) set, as KVM passes it on in <c>hardware_entry_failure_reason</c>
/// (docs/kvm-semantics.md#register-checks-and-failed-entries).
/// </summary>
public sealed partial class X86Vcpu
{
    /// <summary>VMX basic exit reason 33 (VM-entry failure due to invalid guest state) with bit 31 (VM-entry failure) set.</summary>
    public const ulong InvalidGuestStateEntryFailure = 0x8000_0000UL | 33;

    private const ulong Cr0Pe = 1, Cr0Nw = 1UL << 29, Cr0Cd = 1UL << 30, Cr0Pg = 1UL << 31;
    private const ulong Cr4Pae = 1UL << 5, Cr4Pcide = 1UL << 17;
    private const ulong EferLme = 1UL << 8, EferLma = 1UL << 10;

    /// <summary>IA32_EFER bits an Intel CPU has: SCE, LME, LMA, NXE.</summary>
    private const ulong EferDefined = 1UL | EferLme | EferLma | (1UL << 11);

    /// <summary>RFLAGS bits VMX requires to be 0: 63:22, 15, 5 and 3.</summary>
    private const ulong RflagsReserved = ~0x3F_FFFFUL | (1UL << 15) | (1UL << 5) | (1UL << 3);

    /// <summary>
    /// KVM's <c>kvm_is_valid_sregs</c>: CR0 with bits 63:32, NW without CD, or PG without PE; paging with
    /// EFER.LME but without CR4.PAE or EFER.LMA; otherwise EFER.LMA or a 64-bit CS. Null when valid.
    /// </summary>
    private static string? InvalidSregs(in X86Registers r)
    {
        if ((r.Cr0 >> 32) != 0)
        {
            return "CR0 bits 63:32 are set";
        }

        if ((r.Cr0 & (Cr0Nw | Cr0Cd)) == Cr0Nw)
        {
            return "CR0.NW=1 with CR0.CD=0";
        }

        if ((r.Cr0 & (Cr0Pg | Cr0Pe)) == Cr0Pg)
        {
            return "CR0.PG=1 with CR0.PE=0";
        }

        if ((r.Efer & EferLme) != 0 && (r.Cr0 & Cr0Pg) != 0)
        {
            return (r.Cr4 & Cr4Pae) == 0 || (r.Efer & EferLma) == 0 ? "paging with EFER.LME=1 needs CR4.PAE=1 and EFER.LMA=1" : null;
        }

        if ((r.Efer & EferLma) != 0)
        {
            return "EFER.LMA=1 without paging and EFER.LME=1";
        }

        return r.Seg[SegmentIndex.Cs].IsLong ? "a 64-bit CS (CS.L=1) outside IA-32e mode" : null;
    }

    /// <summary>Refuses what KVM_SET_SREGS refuses, with -EINVAL and one line naming the rule.</summary>
    private static void ThrowIfInvalidSregs(in X86Registers r)
    {
        if (InvalidSregs(r) is { } why)
        {
            throw new VcpuException($"invalid special registers: {why}", KvmErrno.InvalidArgument);
        }
    }

    /// <summary>
    /// The VMX guest-state checks a VMM can trip through the register API (SDM Vol. 3 §26.3.1.1-4), with
    /// KVM's controls: unrestricted guest (real mode and unpaged protected mode allowed), IA-32e mode
    /// guest = EFER.LMA, IA32_EFER loaded on entry. Null when VMX would enter.
    /// </summary>
    private string? InvalidGuestState()
    {
        ref readonly var r = ref _cpu.Regs;
        bool ia32e = (r.Efer & EferLma) != 0;
        ref readonly var cs = ref r.Seg[SegmentIndex.Cs];

        // §26.3.1.1 control registers and IA32_EFER.
        if ((r.Cr0 >> 32) != 0)
        {
            return "CR0 bits 63:32 are set";
        }

        if ((r.Cr0 & (Cr0Pg | Cr0Pe)) == Cr0Pg)
        {
            return "CR0.PG=1 with CR0.PE=0";
        }

        if (ia32e && ((r.Cr0 & Cr0Pg) == 0 || (r.Cr4 & Cr4Pae) == 0))
        {
            return "IA-32e mode (EFER.LMA=1) with CR0.PG=0 or CR4.PAE=0";
        }

        if (!ia32e && (r.Cr4 & Cr4Pcide) != 0)
        {
            return "CR4.PCIDE=1 outside IA-32e mode";
        }

        if ((r.Efer & ~EferDefined) != 0)
        {
            return "reserved IA32_EFER bits are set";
        }

        if ((r.Cr0 & Cr0Pg) != 0 && ((r.Efer ^ (r.Efer >> 2)) & EferLme) != 0)
        {
            return "CR0.PG=1 with EFER.LME different from EFER.LMA";
        }

        // §26.3.1.2 segment registers: CS, TR, LDTR.
        if ((cs.Attributes & (SegmentRegister.CodeOrData | SegmentRegister.Present)) != (SegmentRegister.CodeOrData | SegmentRegister.Present)
            || cs.Type is not (3 or 9 or 11 or 13 or 15))
        {
            return "CS is not a present accessed code segment";
        }

        if (ia32e && cs.IsLong && cs.IsBig)
        {
            return "CS.L=1 with CS.D=1 in IA-32e mode";
        }

        if (!GranularityMatchesLimit(cs))
        {
            return "CS.G does not match its limit";
        }

        ref readonly var tr = ref r.Tr;
        if ((tr.Attributes & SegmentRegister.Unusable) != 0)
        {
            return "TR is unusable";
        }

        if ((tr.Selector & 4) != 0 || (tr.Attributes & (SegmentRegister.CodeOrData | SegmentRegister.Present)) != SegmentRegister.Present
            || !(tr.Type == 11 || (!ia32e && tr.Type == 3)) || !GranularityMatchesLimit(tr))
        {
            return "TR is not a present busy TSS of the mode's type";
        }

        ref readonly var ldtr = ref r.Ldtr;
        if ((ldtr.Attributes & SegmentRegister.Unusable) == 0
            && ((ldtr.Selector & 4) != 0 || (ldtr.Attributes & (SegmentRegister.CodeOrData | SegmentRegister.Present)) != SegmentRegister.Present
                || ldtr.Type != 2 || !GranularityMatchesLimit(ldtr)))
        {
            return "LDTR is usable but not a present LDT";
        }

        // §26.3.1.3 descriptor tables.
        if (!X86Cpu.IsCanonical(r.Gdtr.Base) || !X86Cpu.IsCanonical(r.Idtr.Base))
        {
            return "the GDTR or IDTR base is not canonical";
        }

        // §26.3.1.4 RIP and RFLAGS.
        bool code64 = ia32e && cs.IsLong;
        if (!code64 && (r.Rip >> 32) != 0)
        {
            return "RIP bits 63:32 are set outside 64-bit mode";
        }

        if (code64 && !X86Cpu.IsCanonical(r.Rip))
        {
            return "RIP is not canonical";
        }

        if ((r.Rflags & RflagsReserved) != 0 || (r.Rflags & Rflags.Fixed1) == 0)
        {
            return "RFLAGS reserved bits are set (63:22, 15, 5, 3) or bit 1 is clear";
        }

        if ((r.Rflags & Rflags.VM) != 0 && (ia32e || (r.Cr0 & Cr0Pe) == 0))
        {
            return "RFLAGS.VM=1 in IA-32e mode or with CR0.PE=0";
        }

        return null;
    }

    /// <summary>The limit/G consistency VMX checks: a limit with any of bits 11:0 clear needs G=0, one with any of bits 31:20 set needs G=1.</summary>
    private static bool GranularityMatchesLimit(in SegmentRegister s)
    {
        bool g = (s.Attributes & SegmentRegister.Granularity) != 0;
        return !((s.Limit & 0xFFF) != 0xFFF && g) && !((s.Limit & 0xFFF0_0000) != 0 && !g);
    }

    /// <summary>A failed VM entry: <c>KVM_EXIT_FAIL_ENTRY</c> with VMX's invalid-guest-state reason; the guest ran nothing.</summary>
    private int FailEntry(string why)
    {
        ref var f = ref RunState.FailEntry;
        f.HardwareEntryFailureReason = InvalidGuestStateEntryFailure;
        f.Cpu = (uint)Math.Max(0, Thread.GetCurrentProcessorId());
        f.Message = why;
        RunState.ExitReason = ExitReason.FailEntry;
        return 0;
    }
}
