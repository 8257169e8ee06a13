using System.Buffers.Binary;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// The x86 Linux setup header ("The real-mode kernel header" of the kernel's
/// Documentation/arch/x86/boot.rst): the fields at offset 0x1F1 of a bzImage that a loader reads. The
/// header is copied into the zero page (<see cref="LinuxBootParams"/>) at the same offset.
/// </summary>
/// <param name="SetupSects">setup_sects: 512-byte sectors of real-mode code after the boot sector (0 means 4).</param>
/// <param name="Version">version: the boot protocol, major in the high byte (0x020F = 2.15).</param>
/// <param name="LoadFlags">loadflags (bit 0 LOADED_HIGH: the protected-mode code loads at 1 MiB or above).</param>
/// <param name="Code32Start">code32_start: the 32-bit entry point when loaded at its default address.</param>
/// <param name="InitrdAddrMax">initrd_addr_max: the highest address the initrd may occupy.</param>
/// <param name="KernelAlignment">kernel_alignment: the alignment a relocatable kernel wants.</param>
/// <param name="Relocatable">relocatable_kernel: the kernel may be loaded at any kernel_alignment-aligned address.</param>
/// <param name="MinAlignment">min_alignment: log2 of the smallest alignment the kernel accepts.</param>
/// <param name="XLoadFlags">xloadflags (bit 0 XLF_KERNEL_64: a 64-bit entry at the load address + 0x200).</param>
/// <param name="CmdlineSize">cmdline_size: the longest command line, without its terminating NUL.</param>
/// <param name="PrefAddress">pref_address: where the kernel prefers to be (and a non-relocatable one must be) loaded.</param>
/// <param name="InitSize">init_size: the memory the kernel needs from its load address until it has relocated itself.</param>
/// <param name="End">The end of the header in the file: 0x202 + the byte at 0x201 (the jump's displacement).</param>
public readonly record struct LinuxSetupHeader(
    byte SetupSects, ushort Version, byte LoadFlags, uint Code32Start, uint InitrdAddrMax, uint KernelAlignment,
    bool Relocatable, byte MinAlignment, ushort XLoadFlags, uint CmdlineSize, ulong PrefAddress, uint InitSize, int End)
{
    /// <summary>Where the header starts in the image and in the zero page.</summary>
    public const int Offset = 0x1F1;

    /// <summary>The oldest boot protocol this loader supports (2.12: xloadflags, the 64-bit entry).</summary>
    public const ushort MinVersion = 0x020C;

    /// <summary>loadflags bit 0: LOADED_HIGH.</summary>
    public const byte LoadedHigh = 1;

    /// <summary>xloadflags bit 0: XLF_KERNEL_64, the kernel has the 64-bit entry at the load address + 0x200.</summary>
    public const ushort KernelHas64BitEntry = 1;

    /// <summary>The offset of the 64-bit entry from the load address.</summary>
    public const ulong Entry64Offset = 0x200;

    /// <summary>The header's field offsets (in the image and the zero page).</summary>
    public static class Field
    {
        /// <summary>setup_sects.</summary>
        public const int SetupSects = 0x1F1;
        /// <summary>vid_mode.</summary>
        public const int VidMode = 0x1FA;
        /// <summary>boot_flag (0xAA55).</summary>
        public const int BootFlag = 0x1FE;
        /// <summary>The jump instruction; its second byte gives the header's end.</summary>
        public const int Jump = 0x200;
        /// <summary>header ("HdrS").</summary>
        public const int Header = 0x202;
        /// <summary>version.</summary>
        public const int Version = 0x206;
        /// <summary>type_of_loader.</summary>
        public const int TypeOfLoader = 0x210;
        /// <summary>loadflags.</summary>
        public const int LoadFlags = 0x211;
        /// <summary>code32_start.</summary>
        public const int Code32Start = 0x214;
        /// <summary>ramdisk_image.</summary>
        public const int RamdiskImage = 0x218;
        /// <summary>ramdisk_size.</summary>
        public const int RamdiskSize = 0x21C;
        /// <summary>cmd_line_ptr.</summary>
        public const int CmdLinePtr = 0x228;
        /// <summary>initrd_addr_max.</summary>
        public const int InitrdAddrMax = 0x22C;
        /// <summary>kernel_alignment.</summary>
        public const int KernelAlignment = 0x230;
        /// <summary>relocatable_kernel.</summary>
        public const int RelocatableKernel = 0x234;
        /// <summary>min_alignment.</summary>
        public const int MinAlignment = 0x235;
        /// <summary>xloadflags.</summary>
        public const int XLoadFlags = 0x236;
        /// <summary>cmdline_size.</summary>
        public const int CmdlineSize = 0x238;
        /// <summary>setup_data.</summary>
        public const int SetupData = 0x250;
        /// <summary>pref_address.</summary>
        public const int PrefAddress = 0x258;
        /// <summary>init_size.</summary>
        public const int InitSize = 0x260;
    }

    /// <summary>The protocol as text ("2.15").</summary>
    public string VersionText => $"{Version >> 8}.{Version & 0xFF:d2}";

    /// <summary>The number of real-mode setup sectors (setup_sects, with 0 meaning 4).</summary>
    public int SetupSectors => SetupSects == 0 ? 4 : SetupSects;

    /// <summary>Where the protected-mode kernel starts in the file: after the boot sector and the setup sectors.</summary>
    public int KernelFileOffset => (SetupSectors + 1) * 512;

    /// <summary>Whether the kernel has the 64-bit entry (XLF_KERNEL_64).</summary>
    public bool Has64BitEntry => (XLoadFlags & KernelHas64BitEntry) != 0;

    /// <summary>Whether <paramref name="image"/> carries a setup header: boot_flag 0xAA55 and the "HdrS" magic.</summary>
    public static bool IsPresent(ReadOnlySpan<byte> image) =>
        image.Length >= Field.Header + 4
        && BinaryPrimitives.ReadUInt16LittleEndian(image[Field.BootFlag..]) == 0xAA55
        && BinaryPrimitives.ReadUInt32LittleEndian(image[Field.Header..]) == 0x53726448; // "HdrS"

    /// <summary>Reads the header of <paramref name="image"/>, which <see cref="IsPresent"/> accepted; false when the image ends inside the header.</summary>
    public static bool TryRead(ReadOnlySpan<byte> image, out LinuxSetupHeader header)
    {
        header = default;
        if (!IsPresent(image))
        {
            return false;
        }

        int end = Field.Header + image[Field.Jump + 1];
        if (image.Length < Math.Max(end, Field.InitSize + 4))
        {
            return false;
        }

        header = new LinuxSetupHeader(
            image[Field.SetupSects],
            BinaryPrimitives.ReadUInt16LittleEndian(image[Field.Version..]),
            image[Field.LoadFlags],
            BinaryPrimitives.ReadUInt32LittleEndian(image[Field.Code32Start..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[Field.InitrdAddrMax..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[Field.KernelAlignment..]),
            image[Field.RelocatableKernel] != 0,
            image[Field.MinAlignment],
            BinaryPrimitives.ReadUInt16LittleEndian(image[Field.XLoadFlags..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[Field.CmdlineSize..]),
            BinaryPrimitives.ReadUInt64LittleEndian(image[Field.PrefAddress..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[Field.InitSize..]),
            end);
        return true;
    }
}
