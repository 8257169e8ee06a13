using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// An x86 Linux bzImage of boot protocol 2.12 or later, as QEMU's <c>-kernel</c> takes it: the boot sector
/// and real-mode setup (which this loader does not run), then the protected-mode kernel, loaded at
/// <c>pref_address</c> (or, when RAM is too small there and the kernel is relocatable, at the lowest
/// <c>kernel_alignment</c>-aligned address from 1 MiB) and entered at its 64-bit or 32-bit entry
/// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol" and "32-bit Boot Protocol").
/// </summary>
public sealed class BzImage
{
    /// <summary>The lowest address the protected-mode kernel is loaded at (1 MiB).</summary>
    public const ulong MinLoadAddress = 0x10_0000;

    private BzImage(string name, byte[] data, LinuxSetupHeader header)
    {
        Name = name;
        Data = data;
        Header = header;
    }

    /// <summary>The file name, for messages.</summary>
    public string Name { get; }

    /// <summary>The whole file.</summary>
    public byte[] Data { get; }

    /// <summary>The setup header.</summary>
    public LinuxSetupHeader Header { get; }

    /// <summary>The setup header's bytes as the file holds them (0x1F1 up to its end), for the zero page.</summary>
    public ReadOnlySpan<byte> SetupHeaderBytes => Data.AsSpan(LinuxSetupHeader.Offset, Header.End - LinuxSetupHeader.Offset);

    /// <summary>The protected-mode kernel: everything after the setup sectors.</summary>
    public ReadOnlySpan<byte> ProtectedModeKernel => Data.AsSpan(Header.KernelFileOffset);

    /// <summary>The memory the kernel occupies from its load address: init_size, and at least its own size.</summary>
    public ulong MemorySize => Math.Max(Header.InitSize, (ulong)(Data.Length - Header.KernelFileOffset));

    /// <summary>Whether <paramref name="data"/> is an x86 Linux kernel with a setup header (whatever its protocol).</summary>
    public static bool IsBzImage(ReadOnlySpan<byte> data) => LinuxSetupHeader.IsPresent(data);

    /// <summary>Parses a bzImage; <paramref name="name"/> appears in errors.</summary>
    /// <exception cref="BadImageException">truncated, older than protocol 2.12, a zImage, or with an invalid alignment.</exception>
    public static BzImage Parse(string name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!LinuxSetupHeader.TryRead(data, out var h))
        {
            throw new BadImageException($"'{name}' ends inside its Linux setup header ({data.Length} bytes)");
        }

        if (h.Version < LinuxSetupHeader.MinVersion)
        {
            throw new BadImageException($"'{name}' is a Linux kernel of boot protocol {h.VersionText}; softkvm loads protocol 2.12 and later");
        }

        if ((h.LoadFlags & LinuxSetupHeader.LoadedHigh) == 0)
        {
            throw new BadImageException($"'{name}' is a zImage (loaded below 1 MiB); softkvm loads bzImages only");
        }

        if (h.KernelFileOffset >= data.Length)
        {
            throw new BadImageException($"'{name}' has {h.SetupSectors} setup sectors but ends at byte {data.Length}, before its protected-mode kernel");
        }

        if (h.Relocatable && (h.KernelAlignment == 0 || (h.KernelAlignment & (h.KernelAlignment - 1)) != 0))
        {
            throw new BadImageException($"'{name}' has kernel_alignment 0x{h.KernelAlignment:x}, not a power of two");
        }

        if (!h.Relocatable && (h.PrefAddress < MinLoadAddress || h.PrefAddress % 4096 != 0))
        {
            throw new BadImageException($"'{name}' is not relocatable and wants pref_address 0x{h.PrefAddress:x}, not a page at or above 1 MiB");
        }

        return new BzImage(name, data, h);
    }

    /// <summary>
    /// Where the protected-mode kernel goes in RAM that ends at <paramref name="ramEnd"/>: pref_address when
    /// the kernel's <see cref="MemorySize"/> fits there, else (relocatable kernels only) the lowest
    /// kernel_alignment-aligned address from 1 MiB.
    /// </summary>
    /// <exception cref="MemoryTooSmallException">the kernel fits nowhere.</exception>
    public ulong ChooseLoadAddress(ulong ramEnd)
    {
        ulong pref = Header.PrefAddress;
        if (Header.Relocatable && (pref < MinLoadAddress || pref % Header.KernelAlignment != 0))
        {
            pref = AlignUp(Math.Max(pref, MinLoadAddress), Header.KernelAlignment);
        }

        if (pref + MemorySize <= ramEnd)
        {
            return pref;
        }

        ulong low = Header.Relocatable ? AlignUp(MinLoadAddress, Header.KernelAlignment) : pref;
        if (low + MemorySize <= ramEnd)
        {
            return low;
        }

        throw new MemoryTooSmallException(
            $"kernel '{Name}' needs {SizeText.Of(MemorySize)} (init_size) from 0x{low:x}, more than the RAM below 0x{ramEnd:x}");
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
