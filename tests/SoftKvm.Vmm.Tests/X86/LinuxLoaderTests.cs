using System.Buffers.Binary;
using System.Text;
using SoftKvm.Devices;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.X86;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.Tests.X86;

/// <summary>The Linux/x86 boot protocol (boot.rst) as the PC's loader follows it, on synthetic bzImages.</summary>
public sealed class LinuxLoaderTests : IDisposable
{
    private const ulong Pref = 0x100_0000;
    private const uint InitSize = 0x40_0000;
    private readonly List<string> _files = [];

    public void Dispose()
    {
        foreach (var f in _files)
        {
            File.Delete(f);
        }
    }

    /// <summary>A bzImage: boot sector and one setup sector with the header, then <paramref name="kernelBytes"/> bytes of a pattern.</summary>
    internal static byte[] Image(ushort version = 0x020F, byte loadFlags = 1, ushort xloadFlags = 3, bool relocatable = true, int kernelBytes = 0x3000, uint cmdlineSize = 2047)
    {
        var d = new byte[1024 + kernelBytes];
        var s = d.AsSpan();
        d[0x1F1] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);
        d[0x200] = 0xEB;
        d[0x201] = 0x6A; // header end 0x26C
        Encoding.ASCII.GetBytes("HdrS").CopyTo(s[0x202..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], version);
        d[0x211] = loadFlags;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x20_0000);
        d[0x234] = relocatable ? (byte)1 : (byte)0;
        d[0x235] = 21;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], xloadFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], cmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], Pref);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], InitSize);
        for (int i = 1024; i < d.Length; i++)
        {
            d[i] = (byte)(i * 7);
        }

        return d;
    }

    private string Write(byte[] data)
    {
        string path = Path.GetTempFileName();
        File.WriteAllBytes(path, data);
        _files.Add(path);
        return path;
    }

    private MachineConfig Config(byte[] kernel, ulong memory = 64UL << 20, byte[]? initrd = null, string? append = "console=ttyS0", int cpus = 1) => new()
    {
        Architecture = "x86_64",
        Cpus = cpus,
        MemorySize = memory,
        Kernel = Write(kernel),
        Initrd = initrd is null ? null : Write(initrd),
        Append = append,
    };

    private static IMachine Create(MachineConfig config) =>
        new PcMachineBuilder().Prepare(config).Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));

    private static byte[] Read(IMachine m, ulong address, int length)
    {
        var b = new byte[length];
        m.Vm.Memory.Read(address, b);
        return b;
    }

    [Fact]
    public void Setup_header_fields_are_read_where_boot_rst_puts_them()
    {
        var image = BzImage.Parse("k", Image());
        var h = image.Header;
        Assert.Equal("2.15", h.VersionText);
        Assert.Equal(1024, h.KernelFileOffset);
        Assert.Equal(0x26C, h.End);
        Assert.True(h.Has64BitEntry);
        Assert.True(h.Relocatable);
        Assert.Equal(0x20_0000u, h.KernelAlignment);
        Assert.Equal(Pref, h.PrefAddress);
        Assert.Equal(InitSize, h.InitSize);
        Assert.Equal(0x7FFF_FFFFu, h.InitrdAddrMax);
        Assert.Equal(InitSize, image.MemorySize);
    }

    [Fact]
    public void The_64_bit_entry_state_long_mode_at_load_plus_0x200_with_rsi_the_zero_page()
    {
        byte[] kernel = Image();
        using var m = Create(Config(kernel, cpus: 2));
        var v0 = (X86Vcpu)m.Vcpus[0];
        var r = v0.GetRegisters();
        Assert.Equal(Pref + 0x200, r.Rip);
        Assert.Equal(PcMemoryMap.LinuxZeroPage, r.Gpr[Gpr.Rsi]);
        Assert.Equal(0x8000_0001UL, r.Cr0 & 0x8000_0001);
        Assert.Equal(0x20UL, r.Cr4 & 0x20);
        Assert.Equal(0x500UL, r.Efer & 0x500);
        Assert.Equal(PcMemoryMap.LinuxPageTables, r.Cr3);
        Assert.Equal((ushort)0x10, r.Seg[SegmentIndex.Cs].Selector);
        Assert.Equal(SegmentRegister.LongMode, r.Seg[SegmentIndex.Cs].Attributes & (SegmentRegister.LongMode | SegmentRegister.DefaultBig));
        Assert.Equal((ushort)0x18, r.Seg[SegmentIndex.Ds].Selector);
        Assert.Equal(PcMemoryMap.LinuxGdt, r.Gdtr.Base);
        Assert.Equal(0UL, r.Rflags & (1 << 9));
        Assert.Equal(X86MpState.Uninitialized, ((X86Vcpu)m.Vcpus[1]).MpState);
        Assert.Equal(kernel.AsSpan(1024).ToArray(), Read(m, Pref, kernel.Length - 1024));

        // The identity map: PML4[0] -> PDPT, PDPT[i] -> directory i, each directory entry a 2 MiB page of itself;
        // the GDT holds the descriptors the segments came from.
        ulong Entry(ulong table, ulong index) => BinaryPrimitives.ReadUInt64LittleEndian(Read(m, (table & ~0xFFFUL) + (index * 8), 8));
        foreach (ulong address in (ulong[])[Pref + 0x200, 0xFFFF_F000])
        {
            ulong pdpt = Entry(r.Cr3, 0);
            ulong pd = Entry(pdpt, address >> 30);
            ulong page = Entry(pd, (address >> 21) & 511);
            Assert.Equal(3UL, pdpt & 3);
            Assert.Equal(0x83UL, page & 0x83);
            Assert.Equal(address & ~0x1F_FFFFUL, page & ~0xFFFUL);
        }

        Assert.Equal(PcLinuxLoader.FlatCode64, BinaryPrimitives.ReadUInt64LittleEndian(Read(m, PcMemoryMap.LinuxGdt + 0x10, 8)));
        Assert.Equal(PcMachine.FlatData32, BinaryPrimitives.ReadUInt64LittleEndian(Read(m, PcMemoryMap.LinuxGdt + 0x18, 8)));
    }

    [Fact]
    public void The_zero_page_holds_the_header_loader_type_command_line_initrd_and_e820_map()
    {
        byte[] kernel = Image();
        byte[] initrd = new byte[0x1800];
        initrd.AsSpan().Fill(0x5A);
        const ulong memory = 64UL << 20;
        var config = Config(kernel, memory, initrd, append: "console=ttyS0 quiet");
        using var m = Create(config);
        var zp = Read(m, PcMemoryMap.LinuxZeroPage, 4096);
        var z = zp.AsSpan();
        Assert.Equal(kernel.AsSpan(0x1F1, 0x210 - 0x1F1).ToArray(), z[0x1F1..0x210].ToArray()); // the header up to type_of_loader
        Assert.Equal(kernel.AsSpan(0x22C, 0x26C - 0x22C).ToArray(), z[0x22C..0x26C].ToArray()); // from initrd_addr_max to its end
        Assert.Equal(0xFF, zp[0x210]);
        Assert.Equal((uint)Pref, BinaryPrimitives.ReadUInt32LittleEndian(z[0x214..]));
        Assert.Equal(0x53726448u, BinaryPrimitives.ReadUInt32LittleEndian(z[0x202..]));
        Assert.Equal((ushort)0x020F, BinaryPrimitives.ReadUInt16LittleEndian(z[0x206..]));

        uint cmdline = BinaryPrimitives.ReadUInt32LittleEndian(z[0x228..]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(z[0x0C8..]));
        string text = Encoding.ASCII.GetString(Read(m, cmdline, 256));
        Assert.Equal(PcMachineBuilder.KernelCommandLine(config) + "\0", text[..(text.IndexOf('\0') + 1)]);
        Assert.StartsWith("console=ttyS0 quiet\0", text); // the virtio devices are on PCI by default: nothing appended

        uint ramdisk = BinaryPrimitives.ReadUInt32LittleEndian(z[0x218..]);
        Assert.Equal((uint)initrd.Length, BinaryPrimitives.ReadUInt32LittleEndian(z[0x21C..]));
        Assert.Equal(0u, ramdisk % 4096);
        Assert.True(ramdisk >= Pref + InitSize, "the initrd is above the kernel's init_size");
        Assert.True(ramdisk + (ulong)initrd.Length <= memory, "the initrd is in RAM");
        Assert.True(memory - (ramdisk + (ulong)initrd.Length) < 4096, "the initrd is as high as it can be");
        Assert.Equal(initrd, Read(m, ramdisk, initrd.Length));

        var map = PcMemoryMap.Ranges(memory);
        Assert.Equal(map.Count, zp[0x1E8]);
        for (int i = 0; i < map.Count; i++)
        {
            var e = z.Slice(0x2D0 + (i * 20), 20);
            Assert.Equal(map[i], new MultibootMemoryRange(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]), BinaryPrimitives.ReadUInt32LittleEndian(e[16..])));
        }

        Assert.Equal(1u, map[0].Type);
        Assert.Equal(0UL, map[0].Base);
    }

    [Fact]
    public void The_initrd_stays_below_initrd_addr_max()
    {
        byte[] kernel = Image();
        BinaryPrimitives.WriteUInt32LittleEndian(kernel.AsSpan(0x22C), 0x1FF_FFFF); // 32 MiB
        using var m = Create(Config(kernel, 256UL << 20, new byte[0x2000]));
        uint ramdisk = BinaryPrimitives.ReadUInt32LittleEndian(Read(m, PcMemoryMap.LinuxZeroPage + 0x218, 4));
        Assert.Equal(0x200_0000u - 0x2000, ramdisk);
    }

    [Fact]
    public void A_kernel_without_the_64_bit_entry_starts_in_32_bit_protected_mode_at_its_load_address()
    {
        using var m = Create(Config(Image(xloadFlags: 0)));
        var r = ((X86Vcpu)m.Vcpus[0]).GetRegisters();
        Assert.Equal(Pref, r.Rip);
        Assert.Equal(PcMemoryMap.LinuxZeroPage, r.Gpr[Gpr.Rsi]);
        Assert.Equal(0x11UL, r.Cr0 & 0x8000_0011);
        Assert.Equal(0UL, r.Efer & 0x500);
        Assert.Equal(SegmentRegister.DefaultBig, r.Seg[SegmentIndex.Cs].Attributes & (SegmentRegister.LongMode | SegmentRegister.DefaultBig));
        Assert.Equal((ushort)0x10, r.Seg[SegmentIndex.Cs].Selector);
    }

    [Fact]
    public void A_relocatable_kernel_that_does_not_fit_at_pref_address_loads_at_the_lowest_aligned_address()
    {
        byte[] kernel = Image();
        BinaryPrimitives.WriteUInt64LittleEndian(kernel.AsSpan(0x258), 0x1000_0000); // 256 MiB, above a 64 MiB machine
        using var m = Create(Config(kernel));
        Assert.Equal(0x20_0000UL + 0x200, ((X86Vcpu)m.Vcpus[0]).GetRegisters().Rip);
    }

    [Theory]
    [InlineData(0x020B, 1, "boot protocol 2.11")]
    [InlineData(0x020F, 0, "zImage")]
    public void Old_protocols_and_zimages_are_refused_with_one_line(ushort version, byte loadFlags, string says)
    {
        var e = Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(Image(version, loadFlags))));
        Assert.Contains(says, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_truncated_image_is_refused()
    {
        var e = Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(Image()[..0x240])));
        Assert.Contains("setup header", e.Message);
        e = Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(Image(kernelBytes: 0)[..1024])));
        Assert.Contains("before its protected-mode kernel", e.Message);
    }

    [Fact]
    public void Ram_smaller_than_init_size_and_a_long_command_line_are_refused()
    {
        Assert.Throws<MemoryTooSmallException>(() => new PcMachineBuilder().Prepare(Config(Image(), memory: 4UL << 20)));
        var e = Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(Image(cmdlineSize: 10), append: "console=ttyS0 loglevel=8")));
        Assert.Contains("cmdline_size", e.Message);
    }
}
