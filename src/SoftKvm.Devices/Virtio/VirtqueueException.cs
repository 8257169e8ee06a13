using SoftKvm.Core.Errors;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// The driver broke the virtqueue rules (a descriptor index out of range, a loop, an unnegotiated
/// indirect descriptor, misaligned rings). Never leaves the transport: it turns into DEVICE_NEEDS_RESET.
/// </summary>
internal sealed class VirtqueueException(string message) : SoftKvmException(message);
