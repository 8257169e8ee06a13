using SoftKvm.Core.Errors;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>CPUID and the MSRs the hypervisor layer answers (the CPU model exits for those it does not implement).</summary>
public sealed partial class X86Vcpu
{
    private const uint MsrTscDeadline = 0x6E0;
    private const uint MsrMtrrCap = 0xFE;
    private const uint MsrMtrrDefType = 0x2FF;

    private X86CpuidEntry[] _cpuid = [];
    private readonly ulong[] _mtrrVariable = new ulong[16];
    private readonly ulong[] _mtrrFixed = new ulong[11];
    private ulong _mtrrDefType;

    /// <summary>
    /// <c>KVM_SET_CPUID2</c>: answers that replace the built-in ones for their leaf (and subleaf). Without
    /// an entry, CPUID answers the CPU model's honest feature set plus what this layer provides (APIC,
    /// x2APIC and TSC-deadline with the in-kernel irqchip, the APIC id in leaf 1 EBX[31:24]).
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
        if (leaf == 1)
        {
            ebx = (ebx & 0x00FF_FFFF) | ((uint)(Id & 0xFF) << 24);
            if (Apic is not null)
            {
                edx |= 1u << 9;                 // APIC
                ecx |= (1u << 21) | (1u << 24); // x2APIC, TSC-deadline
            }
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
            case 0x17 or 0x8B or 0x34 or 0x3A or 0x140 or 0x179 or 0x17A or 0x1D9:
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
