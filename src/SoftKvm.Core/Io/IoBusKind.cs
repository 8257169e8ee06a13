namespace SoftKvm.Core.Io;

/// <summary>The IO buses of a VM, as KVM's <c>kvm_bus</c>.</summary>
public enum IoBusKind
{
    /// <summary>Memory-mapped IO: guest-physical addresses no memory slot backs.</summary>
    Mmio,

    /// <summary>x86 port IO.</summary>
    Pio,
}
