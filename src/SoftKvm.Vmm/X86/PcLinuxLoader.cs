using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The Linux loader of the PC, as QEMU's <c>-kernel -initrd -append</c> for a bzImage, but without running
/// the real-mode setup (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol" / "32-bit Boot Protocol"):
/// the protected-mode kernel at <c>pref_address</c> (<see cref="BzImage.ChooseLoadAddress"/>), the initrd
/// as high in low RAM as <c>initrd_addr_max</c> allows, the zero page (<see cref="LinuxBootParams"/>: setup
/// header, command line, initrd, the E820 map of <see cref="PcMemoryMap.Ranges"/>), the command line, a GDT
/// with the flat __BOOT_CS (0x10) and __BOOT_DS (0x18), and, for the 64-bit entry, page tables that map
/// the first 4 GiB one to one with 2 MiB pages. A kernel with XLF_KERNEL_64 is entered in long mode at
/// its load address + 0x200, any other at its load address in 32-bit protected mode.
/// </summary>
internal static class PcLinuxLoader
{
    /// <summary>The boot code segment selector (__BOOT_CS).</summary>
    public const ushort BootCs = 0x10;

    /// <summary>The boot data segment selector (__BOOT_DS).</summary>
    public const ushort BootDs = 0x18;

    /// <summary>The 64-bit code descriptor of the 64-bit entry (base 0, limit 4 GiB, L = 1, execute/read).</summary>
    public const ulong FlatCode64 = 0x00AF_9B00_0000_FFFF;

    /// <summary>The size of the identity map: PML4, PDPT and four page directories.</summary>
    public const int PageTableSize = 6 * 4096;

    /// <summary>Places <paramref name="kernel"/>, <paramref name="config"/>'s initrd and command line, and the boot data.</summary>
    /// <exception cref="BadImageException">the command line is longer than the kernel takes.</exception>
    /// <exception cref="MemoryTooSmallException">the kernel or the initrd does not fit in RAM.</exception>
    public static PcBoot Plan(MachineConfig config, BzImage kernel)
    {
        ulong lowRam = PcMemoryMap.LowRamSize(config.MemorySize);
        ulong load = kernel.ChooseLoadAddress(lowRam);
        ulong kernelEnd = load + kernel.MemorySize;
        string what = $"kernel '{kernel.Name}'";
        var pieces = new List<PcBootPiece> { new(load, kernel.Data.AsMemory(kernel.Header.KernelFileOffset), 0, what) };

        ulong initrdAddress = 0, initrdSize = 0;
        if (config.Initrd is not null)
        {
            byte[] initrd = InputFiles.ReadAll(config.Initrd, "initrd");
            initrdSize = (ulong)initrd.Length;
            ulong top = Math.Min(lowRam, (ulong)kernel.Header.InitrdAddrMax + 1);
            initrdAddress = top >= initrdSize ? (top - initrdSize) & ~0xFFFUL : 0;
            if (initrdAddress < kernelEnd)
            {
                throw new MemoryTooSmallException(
                    $"initrd ({SizeText.Of(initrdSize)}) does not fit between the kernel's end 0x{kernelEnd:x} and 0x{top:x} (RAM and initrd_addr_max) in {SizeText.Of(config.MemorySize)} of RAM");
            }

            pieces.Add(new PcBootPiece(initrdAddress, initrd, 0, "initrd"));
        }

        string commandLine = PcMachineBuilder.KernelCommandLine(config);
        byte[] cmdline = Encoding.UTF8.GetBytes(commandLine + "\0");
        if ((ulong)cmdline.Length - 1 > kernel.Header.CmdlineSize || PcMemoryMap.LinuxCommandLine + (ulong)cmdline.Length > PcMemoryMap.BootDataEnd)
        {
            throw new BadImageException(
                $"the kernel command line is {cmdline.Length - 1} bytes; '{kernel.Name}' takes at most {Math.Min(kernel.Header.CmdlineSize, PcMemoryMap.BootDataEnd - PcMemoryMap.LinuxCommandLine - 1)} (cmdline_size)");
        }

        bool long64 = kernel.Header.Has64BitEntry;
        byte[] zeroPage = LinuxBootParams.Build(kernel, load, PcMemoryMap.LinuxCommandLine, initrdAddress, initrdSize, PcMemoryMap.Ranges(config.MemorySize));
        pieces.Add(new PcBootPiece(PcMemoryMap.LinuxZeroPage, zeroPage, 0, "zero page"));
        pieces.Add(new PcBootPiece(PcMemoryMap.LinuxCommandLine, cmdline, 0, "command line"));
        pieces.Add(new PcBootPiece(PcMemoryMap.LinuxGdt, Gdt(long64 ? FlatCode64 : PcMachine.FlatCode32), 0, "GDT"));
        if (long64)
        {
            pieces.Add(new PcBootPiece(PcMemoryMap.LinuxPageTables, IdentityMap(PcMemoryMap.LinuxPageTables), 0, "page tables"));
            return new PcBoot(pieces, PcEntryMode.Linux64, load + LinuxSetupHeader.Entry64Offset, PcMemoryMap.LinuxZeroPage);
        }

        return new PcBoot(pieces, PcEntryMode.Linux32, load, PcMemoryMap.LinuxZeroPage);
    }

    /// <summary>The GDT: two null entries, then <paramref name="code"/> at __BOOT_CS and the flat data segment at __BOOT_DS.</summary>
    public static byte[] Gdt(ulong code)
    {
        var gdt = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootCs), code);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootDs), PcMachine.FlatData32);
        return gdt;
    }

    /// <summary>
    /// Page tables at <paramref name="address"/> mapping 0-4 GiB one to one, writable, with 2 MiB pages:
    /// the PML4, one PDPT with four entries, four page directories.
    /// </summary>
    public static byte[] IdentityMap(ulong address)
    {
        const ulong present = 1, writable = 2, large = 0x80;
        var t = new byte[PageTableSize];
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(s, (address + 0x1000) | present | writable);
        for (int i = 0; i < 4; i++)
        {
            ulong directory = address + 0x2000 + ((ulong)i * 0x1000);
            BinaryPrimitives.WriteUInt64LittleEndian(s[(0x1000 + (i * 8))..], directory | present | writable);
            for (int j = 0; j < 512; j++)
            {
                ulong page = ((ulong)i << 30) | ((ulong)j << 21);
                BinaryPrimitives.WriteUInt64LittleEndian(s[(0x2000 + (i * 0x1000) + (j * 8))..], page | present | writable | large);
            }
        }

        return t;
    }
}
