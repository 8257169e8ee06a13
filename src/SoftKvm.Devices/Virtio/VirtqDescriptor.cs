namespace SoftKvm.Devices.Virtio;

/// <summary>One descriptor of a split virtqueue (virtio 1.2 section 2.7.5): 16 bytes in guest memory.</summary>
/// <param name="Address">The guest-physical address of the buffer.</param>
/// <param name="Length">The buffer length.</param>
/// <param name="Flags">VIRTQ_DESC_F_NEXT (1), VIRTQ_DESC_F_WRITE (2), VIRTQ_DESC_F_INDIRECT (4).</param>
/// <param name="Next">The next descriptor when NEXT is set.</param>
internal readonly record struct VirtqDescriptor(ulong Address, uint Length, ushort Flags, ushort Next)
{
    public const ushort FlagNext = 1;
    public const ushort FlagWrite = 2;
    public const ushort FlagIndirect = 4;

    /// <summary>Whether the device writes this buffer (else it reads it).</summary>
    public bool IsWriteOnly => (Flags & FlagWrite) != 0;
}
