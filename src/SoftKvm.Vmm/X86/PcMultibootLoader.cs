using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The Multiboot v1 loader of the PC: the kernel where its ELF32 program headers (or a.out kludge) say, the
/// initrd as module 0 after the kernel (page aligned, at or above 1 MiB), the information structure at
/// <see cref="PcMemoryMap.BootDataStart"/> (EBX).
/// </summary>
internal static class PcMultibootLoader
{
    /// <summary>Places <paramref name="kernel"/> and <paramref name="config"/>'s initrd and command line.</summary>
    /// <exception cref="BadImageException">the kernel loads into the loader's area.</exception>
    /// <exception cref="MemoryTooSmallException">the kernel or initrd does not fit in RAM.</exception>
    public static PcBoot Plan(MachineConfig config, MultibootImage kernel)
    {
        ulong lowRam = PcMemoryMap.LowRamSize(config.MemorySize);
        var pieces = new List<PcBootPiece>();
        foreach (var s in kernel.Segments)
        {
            if (s.Address < PcMemoryMap.ExtendedStart && s.Address + s.MemorySize > PcMemoryMap.BootDataStart)
            {
                throw new BadImageException(
                    $"'{kernel.Name}' loads at 0x{s.Address:x}-0x{s.Address + s.MemorySize - 1:x}, inside the loader's area 0x{PcMemoryMap.BootDataStart:x}-0x{PcMemoryMap.ExtendedStart - 1:x}");
            }

            if (s.Address + s.MemorySize > lowRam)
            {
                throw new MemoryTooSmallException(
                    $"kernel '{kernel.Name}' ({SizeText.Of(s.MemorySize)} at 0x{s.Address:x}) does not fit in {SizeText.Of(config.MemorySize)} of RAM");
            }

            pieces.Add(new PcBootPiece(s.Address, kernel.Data.AsMemory(s.FileOffset, s.FileSize), s.MemorySize - (ulong)s.FileSize, $"kernel '{kernel.Name}'"));
        }

        var modules = new List<MultibootModule>();
        if (config.Initrd is not null)
        {
            byte[] initrd = InputFiles.ReadAll(config.Initrd, "initrd");
            ulong start = (Math.Max(kernel.HighAddress, PcMemoryMap.ExtendedStart) + 0xFFF) & ~0xFFFUL;
            if (start + (ulong)initrd.Length > lowRam)
            {
                throw new MemoryTooSmallException(
                    $"initrd ({SizeText.Of((ulong)initrd.Length)} at 0x{start:x}) does not fit in {SizeText.Of(config.MemorySize)} of RAM");
            }

            pieces.Add(new PcBootPiece(start, initrd, 0, "initrd"));
            modules.Add(new MultibootModule((uint)start, (uint)(start + (ulong)initrd.Length), Path.GetFileName(config.Initrd)));
        }

        byte[] info = MultibootInfo.Build(PcMemoryMap.BootDataStart, PcMemoryMap.BootDataEnd, PcMemoryMap.Multiboot(config.MemorySize), PcMachineBuilder.KernelCommandLine(config), modules);
        pieces.Add(new PcBootPiece(PcMemoryMap.BootDataStart, info, 0, "boot data"));
        return new PcBoot(pieces, PcEntryMode.Multiboot, kernel.Entry, PcMemoryMap.BootDataStart);
    }
}
