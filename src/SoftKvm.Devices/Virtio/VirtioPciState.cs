using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// The saved state of a <see cref="VirtioPciTransport"/>: the PCI function (configuration space with the BARs,
/// command register and capabilities, the MSI-X table and Pending Bit Array, the INTx level), the virtio state
/// machine and queues behind it, and what only the common configuration structure holds: its feature and queue
/// selectors and the MSI-X vectors the driver gave the configuration change and each queue. The configuration
/// generation is not state: the device configuration never changes under the driver, so it is always 0.
/// </summary>
/// <param name="Function">The PCI function's configuration and interrupt state.</param>
/// <param name="Virtio">The status, features, interrupt status and virtqueues.</param>
/// <param name="DeviceFeatureSelect">device_feature_select.</param>
/// <param name="DriverFeatureSelect">driver_feature_select.</param>
/// <param name="QueueSelect">queue_select.</param>
/// <param name="ConfigVector">config_msix_vector.</param>
/// <param name="QueueVectors">Each queue's queue_msix_vector.</param>
public sealed record VirtioPciState(
    PciFunctionState Function,
    VirtioMmioState Virtio,
    uint DeviceFeatureSelect,
    uint DriverFeatureSelect,
    ushort QueueSelect,
    ushort ConfigVector,
    IReadOnlyList<ushort> QueueVectors);
