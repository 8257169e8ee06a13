using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>A PC with its kernel parsed and its boot data (initrd, Multiboot information or zero page, MP table) placed.</summary>
internal sealed class PreparedPc(MachineConfig config, PcBoot boot, byte ioApicId) : IPreparedMachine
{
    public byte[]? DeviceTree => null;

    /// <summary>What the loader decided.</summary>
    public PcBoot Boot => boot;

    public IMachine Create(MachineIo io)
    {
        ArgumentNullException.ThrowIfNull(io);
        return new PcMachine(config, boot, ioApicId, io);
    }
}
