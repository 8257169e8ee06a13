using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>A PC with its kernel parsed and its boot data (initrd, Multiboot information, MP table) built.</summary>
internal sealed class PreparedPc(MachineConfig config, MultibootImage kernel, IReadOnlyList<(ulong Address, byte[] Data)> blobs, byte ioApicId) : IPreparedMachine
{
    public byte[]? DeviceTree => null;

    public MultibootImage Kernel => kernel;

    public IReadOnlyList<(ulong Address, byte[] Data)> Blobs => blobs;

    public IMachine Create(MachineIo io)
    {
        ArgumentNullException.ThrowIfNull(io);
        return new PcMachine(config, kernel, blobs, ioApicId, io);
    }
}
