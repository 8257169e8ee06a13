using System.Numerics;
using SoftKvm.Core.Errors;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>CPUID and the MSRs the hypervisor layer answers (the CPU model exits for those it does not implement).</summary>
public sealed partial class X86Vcpu
{
    /// <summary>KVM_CPUID_SIGNATURE: the hypervisor's signature leaf.</summary>
    public const uint KvmCpuidSignature = 0x4000_0000;

    /// <summary>KVM_CPUID_FEATURES: the paravirtual feature leaf.</summary>
    public const uint KvmCpuidFeatures = 0x4000_0001;

    private const uint MsrTscDeadline = 0x6E0;
    private const uint MsrMtrrCap = 0xFE;
    private const uint MsrMtrrDefType = 0x2FF;
    private const uint MsrFeatureControl = 0x3A;
    private const uint MsrArchCapabilities = 0x10A;

    /// <summary>
    /// IA32_ARCH_CAPABILITIES (read-only, announced by CPUID.7.0:EDX[29], as KVM's kvm_get_arch_capabilities
    /// does): the software CPU neither speculates nor has fill buffers, caches or microcode to leak from, so
    /// it is not affected by the transient-execution attacks these bits rule out: RDCL_NO (Meltdown: no page
    /// table isolation needed), SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO,
    /// FBSDP_NO, PSDP_NO, BHI_NO, PBRSB_NO, GDS_NO and RFDS_NO.
    /// </summary>
    public const ulong ArchCapabilities = (1UL << 0) | (1UL << 3) | (1UL << 4) | (1UL << 5) | (1UL << 6) | (1UL << 8)
        | (1UL << 13) | (1UL << 14) | (1UL << 15) | (1UL << 20) | (1UL << 24) | (1UL << 26) | (1UL << 27);
    private const ulong FeatureControlLocked = 1;

    private X86CpuidEntry[] _cpuid = [];
    private readonly ulong[] _mtrrVariable = new ulong[16];
    private readonly ulong[] _mtrrFixed = new ulong[11];
    private ulong _mtrrDefType;
    private ulong _featureControl;

    /// <summary>
    /// <c>KVM_SET_CPUID2</c>: answers that replace the built-in ones for their leaf (and subleaf). Without
    /// an entry, CPUID answers the CPU model's honest feature set plus what this layer provides: MTRRs, the
    /// APIC id in leaf 1 EBX[31:24], IA32_ARCH_CAPABILITIES (<see cref="ArchCapabilities"/>); with the in-kernel irqchip the APIC, x2APIC, TSC-deadline and leaf 0x15
    /// (the APIC bus clock as the crystal, and the TSC's ratio to it); KVM's signature leaf 0x40000000 and
    /// an empty feature leaf 0x40000001 (the hypercall ABI, no paravirtual features).
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    public void SetCpuid(IEnumerable<X86CpuidEntry> entries)
    {
        ThrowIfRunning();
        _cpuid = [.. entries];
    }

    /// <summary>The CPUID answer for <paramref name="leaf"/>/<paramref name="subleaf"/> the guest sees.</summary>
    public void GetCpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        foreach (var e in _cpuid)
        {
            if (e.Function == leaf && (e.Index < 0 || (uint)e.Index == subleaf))
            {
                eax = e.Eax;
                ebx = e.Ebx;
                ecx = e.Ecx;
                edx = e.Edx;
                return;
            }
        }

        _cpu.GetCpuid(leaf, subleaf, out eax, out ebx, out ecx, out edx);
        switch (leaf)
        {
            case 1:
                ebx = (ebx & 0x00FF_FFFF) | ((uint)(Id & 0xFF) << 24);
                edx |= 1u << 12; // MTRR
                if (Apic is not null)
                {
                    edx |= 1u << 9;                 // APIC
                    ecx |= (1u << 21) | (1u << 24); // x2APIC, TSC-deadline
                }

                break;
            case 7 when subleaf == 0:
                edx |= 1u << 29; // IA32_ARCH_CAPABILITIES
                break;
            case 0x15 when Apic is not null:
                // The crystal is the APIC bus clock (Linux sets lapic_timer_period from it); TSC = crystal * EBX / EAX.
                long gcd = (long)BigInteger.GreatestCommonDivisor(_cpu.TscFrequency, LocalApic.BusHz);
                eax = (uint)(LocalApic.BusHz / gcd);
                ebx = (uint)(_cpu.TscFrequency / gcd);
                ecx = (uint)LocalApic.BusHz;
                break;
            case KvmCpuidSignature:
                // KVM's signature leaf (Documentation/virt/kvm/x86/cpuid.rst): "KVMKVMKVM\0\0\0", the highest KVM leaf.
                eax = KvmCpuidFeatures;
                ebx = 0x4B4D564B; // "KVMK"
                ecx = 0x564B4D56; // "VMKV"
                edx = 0x0000004D; // "M\0\0\0"
                break;
            case KvmCpuidFeatures:
                // No paravirtual features (no kvmclock, PV EOI, steal time...): the hypercall ABI alone (X86Vcpu.Hypercall.cs).
                break;
        }
    }

    private int HandleCpuid()
    {
        ref var r = ref _cpu.Regs;
        GetCpuid((uint)r.Gpr[Gpr.Rax], (uint)r.Gpr[Gpr.Rcx], out uint a, out uint b, out uint c, out uint d);
        r.Gpr[Gpr.Rax] = a;
        r.Gpr[Gpr.Rbx] = b;
        r.Gpr[Gpr.Rcx] = c;
        r.Gpr[Gpr.Rdx] = d;
        return SkipEmulatedInstruction(InstructionLengthOrUnknown());
    }

    private int HandleRdmsr()
    {
        ref var r = ref _cpu.Regs;
        uint index = (uint)r.Gpr[Gpr.Rcx];
        if (!TryReadMsr(index, out ulong value))
        {
            _cpu.InjectException(ExceptionVector.GP, 0, true);
            return 1;
        }

        r.Gpr[Gpr.Rax] = value & 0xFFFF_FFFF;
        r.Gpr[Gpr.Rdx] = value >> 32;
        return SkipEmulatedInstruction(InstructionLengthOrUnknown());
    }

    private int HandleWrmsr()
    {
        ref var r = ref _cpu.Regs;
        uint index = (uint)r.Gpr[Gpr.Rcx];
        ulong value = (r.Gpr[Gpr.Rax] & 0xFFFF_FFFF) | (r.Gpr[Gpr.Rdx] << 32);
        if (!TryWriteMsr(index, value))
        {
            _cpu.InjectException(ExceptionVector.GP, 0, true);
            return 1;
        }

        return SkipEmulatedInstruction(InstructionLengthOrUnknown());
    }

    /// <summary>An MSR the CPU model left to the hypervisor; false = #GP.</summary>
    private bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        if (LocalApic.IsX2ApicMsr(index))
        {
            return Apic is not null && Apic.TryReadMsr(index, out value);
        }

        switch (index)
        {
            case MsrTscDeadline:
                if (Apic is null)
                {
                    return false;
                }

                value = Apic.TscDeadline;
                return true;
            case MsrMtrrCap:
                value = 0x508; // 8 variable ranges, fixed ranges, write-combining
                return true;
            case MsrMtrrDefType:
                value = _mtrrDefType;
                return true;
            case >= 0x200 and <= 0x20F:
                value = _mtrrVariable[index - 0x200];
                return true;
            case MsrFeatureControl:
                value = _featureControl;
                return true;
            case MsrArchCapabilities:
                value = ArchCapabilities;
                return true;
            case 0x17 or 0x8B or 0x34 or 0x140 or 0x179 or 0x17A or 0x1D9:
                // PLATFORM_ID, BIOS_SIGN_ID, SMI_COUNT, FEATURE_CONTROL, MISC_FEATURES_ENABLES, MCG_CAP, MCG_STATUS, DEBUGCTL: 0.
                return true;
        }

        int fixedIndex = FixedMtrrIndex(index);
        if (fixedIndex >= 0)
        {
            value = _mtrrFixed[fixedIndex];
            return true;
        }

        return false;
    }

    /// <summary>
    /// <c>KVM_SET_MSRS</c> for an MSR this layer owns (the MTRRs, IA32_FEATURE_CONTROL, IA32_TSC_DEADLINE), as
    /// the host writes it: the lock of IA32_FEATURE_CONTROL does not stop it. Firmware sets these on real
    /// hardware; a VMM that boots a kernel directly sets them instead (e.g. the MTRRs enabled, write-back).
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running, or the MSR or value is not one this layer accepts.</exception>
    public void SetMsr(uint index, ulong value)
    {
        ThrowIfRunning();
        if (index == MsrFeatureControl && (value & ~FeatureControlLocked) == 0)
        {
            _featureControl = value;
            return;
        }

        if (LocalApic.IsX2ApicMsr(index) || index == MsrFeatureControl || !TryWriteMsr(index, value))
        {
            throw new VcpuException($"vCPU {Id}: MSR 0x{index:x} = 0x{value:x} cannot be set through the hypervisor layer");
        }
    }

    private bool TryWriteMsr(uint index, ulong value)
    {
        if (LocalApic.IsX2ApicMsr(index))
        {
            return Apic is not null && Apic.TryWriteMsr(index, value);
        }

        switch (index)
        {
            case MsrTscDeadline:
                if (Apic is null)
                {
                    return false;
                }

                Apic.WriteTscDeadline(value);
                return true;
            case MsrMtrrDefType:
                if ((value & ~0xCFFUL) != 0)
                {
                    return false;
                }

                _mtrrDefType = value;
                return true;
            case >= 0x200 and <= 0x20F:
                _mtrrVariable[index - 0x200] = value;
                return true;
            case 0x8B:
                return true; // BIOS_SIGN_ID: written before a CPUID to read the microcode revision
            case MsrFeatureControl:
                // Writable until locked (KVM's vmx_set_msr for a guest write); no VMX, SMX, SGX or LMCE to enable, so only the lock bit.
                if ((_featureControl & FeatureControlLocked) != 0 || (value & ~FeatureControlLocked) != 0)
                {
                    return false;
                }

                _featureControl = value;
                return true;
            case 0x179 or 0x17A or 0x1D9 or 0x140:
                return value == 0;
        }

        int fixedIndex = FixedMtrrIndex(index);
        if (fixedIndex >= 0)
        {
            _mtrrFixed[fixedIndex] = value;
            return true;
        }

        return false;
    }

    private static int FixedMtrrIndex(uint index) => index switch
    {
        0x250 => 0,
        0x258 => 1,
        0x259 => 2,
        >= 0x268 and <= 0x26F => 3 + (int)(index - 0x268),
        _ => -1,
    };
}
