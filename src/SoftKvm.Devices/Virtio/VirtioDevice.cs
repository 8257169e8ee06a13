using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// A virtio device behind a <see cref="VirtioMmioTransport"/> (virtio-console, virtio-blk). The
/// transport owns the registers, the queues and the lock; the device answers its configuration space and
/// serves its queues when the driver notifies. Every method runs under the transport's lock.
/// </summary>
public abstract class VirtioDevice
{
    /// <summary>The transport this device is attached to (set by the transport's constructor).</summary>
    internal VirtioMmioTransport? Transport { get; set; }

    /// <summary>The virtio device ID (section 5: 2 = block, 3 = console).</summary>
    internal abstract uint DeviceId { get; }

    /// <summary>The device-specific feature bits offered (the transport adds VIRTIO_F_VERSION_1).</summary>
    internal abstract ulong DeviceFeatures { get; }

    /// <summary>The number of virtqueues.</summary>
    internal abstract int QueueCount { get; }

    /// <summary>The largest queue size the driver may choose.</summary>
    internal virtual ushort MaxQueueSize => 256;

    /// <summary>Reads the device configuration space (bytes past its end read as zero).</summary>
    internal abstract void ReadConfig(ulong offset, Span<byte> data);

    /// <summary>Writes the device configuration space; fields that are read-only ignore writes.</summary>
    internal abstract void WriteConfig(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>The driver notified queue <paramref name="queue"/>: serve its available buffers.</summary>
    internal abstract void OnNotify(GuestMemory memory, int queue);

    /// <summary>The driver set DRIVER_OK: the device may now use its queues.</summary>
    internal virtual void OnDriverOk(GuestMemory memory)
    {
    }

    /// <summary>The driver reset the device.</summary>
    internal virtual void OnReset()
    {
    }

    /// <summary>Copies a little-endian configuration image into a config read, zero past its end.</summary>
    internal static void ReadConfigImage(ReadOnlySpan<byte> image, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= (ulong)image.Length)
        {
            return;
        }

        var source = image[(int)offset..];
        source[..Math.Min(source.Length, data.Length)].CopyTo(data);
    }
}
