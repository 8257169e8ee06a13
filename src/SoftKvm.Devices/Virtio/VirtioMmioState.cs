namespace SoftKvm.Devices.Virtio;

/// <summary>The saved state of one virtqueue of a <see cref="VirtioMmioTransport"/>.</summary>
/// <param name="Size">QueueNum.</param>
/// <param name="Ready">QueueReady.</param>
/// <param name="DescTable">QueueDesc.</param>
/// <param name="DriverArea">QueueDriver (the available ring).</param>
/// <param name="DeviceArea">QueueDevice (the used ring).</param>
/// <param name="LastAvail">The next available-ring position the device will read.</param>
/// <param name="UsedIndex">The used index the device last published.</param>
public sealed record VirtqueueState(ushort Size, bool Ready, ulong DescTable, ulong DriverArea, ulong DeviceArea, ushort LastAvail, ushort UsedIndex);

/// <summary>The saved state of a <see cref="VirtioMmioTransport"/> (the device's own data is not included).</summary>
public sealed record VirtioMmioState
{
    /// <summary>The device status byte.</summary>
    public uint Status { get; init; }

    /// <summary>DeviceFeaturesSel.</summary>
    public uint DeviceFeaturesSel { get; init; }

    /// <summary>DriverFeaturesSel.</summary>
    public uint DriverFeaturesSel { get; init; }

    /// <summary>The features the driver accepted.</summary>
    public ulong DriverFeatures { get; init; }

    /// <summary>QueueSel.</summary>
    public uint QueueSel { get; init; }

    /// <summary>InterruptStatus.</summary>
    public uint InterruptStatus { get; init; }

    /// <summary>The queues.</summary>
    public IReadOnlyList<VirtqueueState> Queues { get; init; } = [];
}
