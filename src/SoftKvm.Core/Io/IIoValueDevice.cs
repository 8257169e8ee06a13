namespace SoftKvm.Core.Io;

/// <summary>
/// A device that also serves a CPU access of 1, 2, 4 or 8 bytes as one value, without the byte span of
/// <see cref="IIoDevice"/> (issue 19: an in-kernel device on a vCPU's exit path). Both forms must do the same:
/// <see cref="IoBus.TryReadValue"/> and <see cref="IoBus.TryWriteValue"/> call these, everything else the span forms.
/// </summary>
public interface IIoValueDevice : IIoDevice
{
    /// <summary>
    /// A read of <paramref name="size"/> (1, 2, 4 or 8) bytes at <paramref name="offset"/>: the bytes as a
    /// little-endian value, zero-extended (what <see cref="IIoDevice.Read"/> would store in a span of that size).
    /// </summary>
    /// <param name="vcpu">The vCPU doing the access, or null when the VMM accesses the device.</param>
    /// <param name="offset">The offset from the start of the registered range.</param>
    /// <param name="size">The access size: 1, 2, 4 or 8.</param>
    ulong ReadValue(Vcpu? vcpu, ulong offset, int size);

    /// <summary>A write of the low <paramref name="size"/> (1, 2, 4 or 8) bytes of <paramref name="value"/> at <paramref name="offset"/>.</summary>
    /// <param name="vcpu">The vCPU doing the access, or null when the VMM accesses the device.</param>
    /// <param name="offset">The offset from the start of the registered range.</param>
    /// <param name="size">The access size: 1, 2, 4 or 8.</param>
    /// <param name="value">The data, little-endian in its low bytes.</param>
    void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value);
}
