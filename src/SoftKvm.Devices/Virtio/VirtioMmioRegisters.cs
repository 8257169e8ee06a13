namespace SoftKvm.Devices.Virtio;

/// <summary>
/// The virtio-mmio (version 2) register layout, spelled as in Virtual I/O Device (VIRTIO) Version 1.2,
/// section 4.2.2 "MMIO Device Register Layout". Control registers are 32 bits wide; the device-specific
/// configuration space starts at <see cref="Config"/>.
/// </summary>
internal static class VirtioMmioRegisters
{
    /// <summary>The size of one transport's window (QEMU's virt spaces them 0x200 apart).</summary>
    public const ulong WindowSize = 0x200;

    public const ulong MagicValue = 0x000;          // R: 0x74726976 ("virt")
    public const ulong Version = 0x004;             // R: 2
    public const ulong DeviceID = 0x008;            // R
    public const ulong VendorID = 0x00C;            // R
    public const ulong DeviceFeatures = 0x010;      // R: 32 bits selected by DeviceFeaturesSel
    public const ulong DeviceFeaturesSel = 0x014;   // W
    public const ulong DriverFeatures = 0x020;      // W
    public const ulong DriverFeaturesSel = 0x024;   // W
    public const ulong QueueSel = 0x030;            // W
    public const ulong QueueNumMax = 0x034;         // R
    public const ulong QueueNum = 0x038;            // W
    public const ulong QueueReady = 0x044;          // RW
    public const ulong QueueNotify = 0x050;         // W
    public const ulong InterruptStatus = 0x060;     // R
    public const ulong InterruptACK = 0x064;        // W
    public const ulong Status = 0x070;              // RW
    public const ulong QueueDescLow = 0x080;        // W
    public const ulong QueueDescHigh = 0x084;       // W
    public const ulong QueueDriverLow = 0x090;      // W
    public const ulong QueueDriverHigh = 0x094;     // W
    public const ulong QueueDeviceLow = 0x0A0;      // W
    public const ulong QueueDeviceHigh = 0x0A4;     // W
    public const ulong SHMSel = 0x0AC;              // W
    public const ulong SHMLenLow = 0x0B0;           // R: all ones = no shared memory region
    public const ulong SHMLenHigh = 0x0B4;          // R
    public const ulong SHMBaseLow = 0x0B8;          // R
    public const ulong SHMBaseHigh = 0x0BC;         // R
    public const ulong QueueReset = 0x0C0;          // RW
    public const ulong ConfigGeneration = 0x0FC;    // R
    public const ulong Config = 0x100;

    public const uint Magic = 0x74726976;
    public const uint TransportVersion = 2;

    /// <summary>"QEMU" in little-endian, the vendor id QEMU's transports report.</summary>
    public const uint Vendor = 0x554D4551;

    // InterruptStatus bits (4.2.2).
    public const uint InterruptUsedBuffer = 1;
    public const uint InterruptConfigChange = 2;
}

/// <summary>Device status bits, virtio 1.2 section 2.1.</summary>
internal static class VirtioStatus
{
    public const uint Acknowledge = 1;
    public const uint Driver = 2;
    public const uint DriverOk = 4;
    public const uint FeaturesOk = 8;
    public const uint DeviceNeedsReset = 64;
    public const uint Failed = 128;
}

/// <summary>Reserved (device-independent) feature bits, virtio 1.2 section 6.</summary>
internal static class VirtioFeatures
{
    public const ulong Version1 = 1UL << 32;
}
