namespace SoftKvm.Core.Io;

/// <summary>
/// A device some of whose 32-bit registers read a value that never changes (identification registers, reserved space
/// that reads as zero: the GIC distributor's GICD_TYPER, IIDR, PIDR2), published for generated code (issue 19): a vCPU's
/// native code completes a word-aligned 32-bit read of such a register with one load, without leaving it, and counts the
/// exit as the hypervisor does (<see cref="IoBus.FixedReadsAt"/>). Reading a word there must be the same as
/// <see cref="IIoDevice.Read"/> of those 4 bytes, for any vCPU and at any time the device stays registered.
/// </summary>
public interface IIoFixedReads : IIoDevice
{
    /// <summary>
    /// The table of the 4 KiB page at <paramref name="pageOffset"/> (a multiple of 4096 from the start of the device's
    /// range), or null: 1,024 entries, one per 32-bit word of the page, each the word's value with bit 32 set where the word
    /// reads a fixed value and 0 where it does not. The memory never moves and stays valid as long as the device does; an
    /// entry may change from set to 0 at any time (the device then serves that word itself), never from one value to another.
    /// </summary>
    unsafe ulong* FixedReads(ulong pageOffset);
}
