namespace SoftKvm.Core.Io;

/// <summary>
/// A device on an IO bus. The device sees an offset into its own range and the access bytes, never its
/// absolute address: it does not care where it sits in the address space. <c>data.Length</c> is the
/// access size (1, 2, 4 or 8 for CPU accesses; anything for VMM accesses). Data is little-endian, in
/// guest-memory byte order, as on the bus.
/// </summary>
public interface IIoDevice
{
    /// <summary>Handles a read of <c>data.Length</c> bytes at <paramref name="offset"/>; fills <paramref name="data"/>.</summary>
    /// <param name="vcpu">The vCPU doing the access, or null when the VMM accesses the device.</param>
    /// <param name="offset">The offset from the start of the registered range.</param>
    /// <param name="data">The bytes to fill.</param>
    void Read(Vcpu? vcpu, ulong offset, Span<byte> data);

    /// <summary>Handles a write of <paramref name="data"/> at <paramref name="offset"/>.</summary>
    /// <param name="vcpu">The vCPU doing the access, or null when the VMM accesses the device.</param>
    /// <param name="offset">The offset from the start of the registered range.</param>
    /// <param name="data">The bytes written.</param>
    void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data);
}
