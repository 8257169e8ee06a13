using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>The options of the x86 PC (<c>softkvm run --arch x86_64</c>).</summary>
public sealed record PcOptions : IMachineOptions
{
    /// <summary>
    /// EPT exits carry no instruction length on every vCPU, as a VMX hypervisor running nested sees them
    /// for EPT misconfigurations, so the hypervisor decodes the instruction to skip it
    /// (<c>--x86-withhold-insn-length</c>).
    /// </summary>
    public bool WithholdInstructionLength { get; init; }

    /// <summary>
    /// KVM's <c>kvm.force_emulation_prefix</c> on the VM: <c>ud2; .ascii "kvm"</c> before an instruction
    /// makes the hypervisor emulate it (guest programs that test the instruction emulator use it;
    /// <c>--x86-force-emulation-prefix</c>).
    /// </summary>
    public bool ForceEmulationPrefix { get; init; }

    /// <summary>
    /// The virtio devices (the disks, then the console) are virtio-pci functions on bus 0 from device 3, as
    /// on QEMU's <c>pc</c> (the default, <c>--x86-virtio pci</c>); false puts them in virtio-mmio windows
    /// announced on the command line instead (<c>--x86-virtio mmio</c>), which kernels built with
    /// VIRTIO_MMIO_CMDLINE_DEVICES and the guest programs of guests/x86/kvm find.
    /// </summary>
    public bool VirtioPci { get; init; } = true;
}
