using SoftKvm.Core.Errors;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// Register access by name (<c>KVM_GET_REGS</c>/<c>KVM_SET_REGS</c> and the control registers and segments
/// of <c>KVM_SET_SREGS</c>, one register at a time) and the vCPU's options: what a VMM needs to put a
/// vCPU in a boot state without knowing the CPU model's register file.
/// </summary>
public sealed partial class X86Vcpu
{
    /// <summary>
    /// Whether EPT exits carry no instruction length, as a VMX hypervisor running nested sees EPT
    /// misconfigurations: every skip of an MMIO instruction then decodes it (KVM-SEMANTICS 4).
    /// </summary>
    /// <exception cref="VcpuException">set while running.</exception>
    public bool WithholdEptInstructionLength
    {
        get => _cpu.Controls.WithholdEptInstructionLength;
        set
        {
            ThrowIfRunning();
            _cpu.Controls.WithholdEptInstructionLength = value;
        }
    }

    /// <summary>Reads <paramref name="register"/>.</summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    /// <exception cref="ArgumentOutOfRangeException">not a register of <see cref="X86Register"/>.</exception>
    public ulong GetRegister(X86Register register)
    {
        ThrowIfRunning();
        if (register == X86Register.Cr8 && Apic is not null)
        {
            return Apic.Tpr >> 4;
        }

        return RegisterRef(register);
    }

    /// <summary>
    /// Writes <paramref name="register"/> and recomputes the mode, as <c>KVM_SET_REGS</c>/<c>KVM_SET_SREGS</c>
    /// do: RFLAGS bit 1 is forced to 1; CR8 goes to the local APIC's TPR when the irqchip exists.
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    /// <exception cref="ArgumentOutOfRangeException">not a register of <see cref="X86Register"/>.</exception>
    public void SetRegister(X86Register register, ulong value)
    {
        ThrowIfRunning();
        if (register == X86Register.Cr8 && Apic is not null)
        {
            Apic.SetTprFromCr8(value);
        }

        RegisterRef(register) = register == X86Register.Rflags ? value | Rflags.Fixed1 : value;
        _cpu.StateChanged();
    }

    /// <summary>
    /// Loads <paramref name="segment"/> with <paramref name="selector"/> and the hidden part (base, limit,
    /// attributes) of the 8-byte GDT descriptor <paramref name="descriptor"/>, as a VMM fills
    /// <c>kvm_sregs</c> from the GDT it gives the guest (Firecracker's <c>kvm_segment_from_gdt</c>).
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    /// <exception cref="ArgumentOutOfRangeException">not a segment of <see cref="X86Segment"/>.</exception>
    public void SetSegment(X86Segment segment, ushort selector, ulong descriptor)
    {
        ThrowIfRunning();
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)segment, (uint)X86Segment.Gs, nameof(segment));
        _cpu.Regs.Seg[(int)segment] = SegmentRegister.FromDescriptor(selector, descriptor);
        _cpu.StateChanged();
    }

    private ref ulong RegisterRef(X86Register register)
    {
        ref var r = ref _cpu.Regs;
        switch (register)
        {
            case >= X86Register.Rax and <= X86Register.R15: return ref r.Gpr[(int)register];
            case X86Register.Rip: return ref r.Rip;
            case X86Register.Rflags: return ref r.Rflags;
            case X86Register.Cr0: return ref r.Cr0;
            case X86Register.Cr2: return ref r.Cr2;
            case X86Register.Cr3: return ref r.Cr3;
            case X86Register.Cr4: return ref r.Cr4;
            case X86Register.Cr8: return ref r.Cr8;
            case X86Register.Efer: return ref r.Efer;
            default: throw new ArgumentOutOfRangeException(nameof(register), register, "not an x86 register");
        }
    }
}
