using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// Places a kernel, an initrd and the device tree in RAM the way QEMU's arm64 <c>virt</c> does
/// (hw/arm/boot.c, and Linux's arm64 booting.rst):
/// <list type="bullet">
/// <item>An Image whose header has a non-zero image_size loads at RAM + text_offset, or RAM + 2 MiB +
/// text_offset when text_offset is below 4 KiB (QEMU keeps the bottom for its boot stub); an Image without
/// image_size and a raw binary load at RAM + 0x80000. The kernel then occupies image_size (or the file size).</item>
/// <item>The initrd goes at RAM + min(RAM/2, 128 MiB), or above the kernel's end if that is higher, page
/// aligned; the device tree goes after the initrd (or where the initrd would be) aligned to 2 MiB, as
/// some kernels map the DTB's 2 MiB block.</item>
/// <item>An ELF loads its segments at their physical addresses and is entered at e_entry; the device tree
/// goes at the start of RAM when the image leaves it free (limited to the image's low address), else
/// after the image (or the initrd) aligned to 2 MiB.</item>
/// </list>
/// Anything that does not fit gives a <see cref="MemoryTooSmallException"/> naming what and how much.
/// </summary>
public static class Arm64BootPlanner
{
    /// <summary>The default load offset of an arm64 kernel (QEMU's KERNEL64_LOAD_ADDR).</summary>
    public const ulong DefaultKernelOffset = 0x80000;

    /// <summary>QEMU's boot stub area; a smaller text_offset moves the kernel up by 2 MiB.</summary>
    public const ulong BootloaderMaxSize = 4096;

    /// <summary>2 MiB.</summary>
    public const ulong TwoMiB = 2UL << 20;

    /// <summary>The highest initrd offset (128 MiB).</summary>
    public const ulong InitrdMaxOffset = 128UL << 20;

    private const ulong PageSize = 4096;

    /// <summary>Plans the boot of <paramref name="kernel"/> with an initrd of <paramref name="initrdSize"/> bytes (null: none).</summary>
    /// <exception cref="MemoryTooSmallException">the kernel or initrd does not fit, or no room is left for the device tree.</exception>
    /// <exception cref="BadImageException">an ELF segment lies below RAM.</exception>
    public static Arm64BootPlan Plan(ulong ramBase, ulong ramSize, KernelImage kernel, ulong? initrdSize)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ulong ramEnd = ramBase + ramSize;
        ulong kernelStart, kernelEnd, entry;
        bool isLinux = kernel.Format != KernelFormat.Elf;
        if (isLinux)
        {
            ulong offset = DefaultKernelOffset;
            ulong size = (ulong)kernel.Data.Length;
            if (kernel.Header is { ImageSize: not 0 } h)
            {
                offset = h.TextOffset < BootloaderMaxSize ? h.TextOffset + TwoMiB : h.TextOffset;
                size = Math.Max(h.ImageSize, size);
            }

            kernelStart = ramBase + offset;
            kernelEnd = kernelStart + size;
            entry = kernelStart;
            if (kernelEnd > ramEnd || kernelEnd < kernelStart)
            {
                throw new MemoryTooSmallException(
                    $"memory of {SizeText.Of(ramSize)} is too small for kernel '{kernel.Name}': it needs {SizeText.Of(kernelEnd - ramBase)} from the start of RAM");
            }
        }
        else
        {
            var elf = kernel.Elf!;
            foreach (var s in elf.Segments)
            {
                if (s.PhysicalAddress < ramBase)
                {
                    throw new BadImageException(
                        $"kernel '{kernel.Name}' has a segment at 0x{s.PhysicalAddress:x}, below RAM at 0x{ramBase:x}");
                }

                if (s.PhysicalAddress + s.MemorySize > ramEnd)
                {
                    throw new MemoryTooSmallException(
                        $"memory of {SizeText.Of(ramSize)} is too small for kernel '{kernel.Name}': a segment ends at 0x{s.PhysicalAddress + s.MemorySize:x}, RAM at 0x{ramEnd:x}");
                }
            }

            kernelStart = elf.LowAddress;
            kernelEnd = elf.HighAddress;
            entry = elf.Entry;
        }

        ulong initrdStart = ramBase + Math.Min(ramSize / 2, InitrdMaxOffset);
        initrdStart = AlignUp(Math.Max(initrdStart, kernelEnd), PageSize);
        ulong initrdBytes = initrdSize ?? 0;
        if (initrdSize is not null && (initrdStart > ramEnd || initrdBytes > ramEnd - initrdStart))
        {
            throw new MemoryTooSmallException(
                $"memory of {SizeText.Of(ramSize)} is too small: the initrd ({SizeText.Of(initrdBytes)}) does not fit in RAM after the kernel");
        }

        ulong dtb, limit = ramEnd;
        if (!isLinux && initrdSize is null && kernelStart > ramBase)
        {
            dtb = ramBase; // bare-metal ELF above the start of RAM: the DTB at RAM start, below the image
            limit = kernelStart;
        }
        else if (!isLinux && initrdSize is null && kernelEnd <= ramBase)
        {
            dtb = ramBase;
        }
        else
        {
            dtb = AlignUp(initrdStart + initrdBytes, TwoMiB);
        }

        if (dtb >= limit)
        {
            throw new MemoryTooSmallException($"memory of {SizeText.Of(ramSize)} is too small: no room for the device tree after the kernel and initrd");
        }

        return new Arm64BootPlan
        {
            Entry = entry,
            KernelStart = kernelStart,
            KernelEnd = kernelEnd,
            InitrdStart = initrdSize is null ? null : initrdStart,
            InitrdSize = initrdBytes,
            DtbAddress = dtb,
            DtbLimit = limit,
            IsLinux = isLinux,
        };
    }

    /// <summary>Checks that a device tree of <paramref name="dtbSize"/> bytes fits the plan.</summary>
    /// <exception cref="MemoryTooSmallException">it does not.</exception>
    public static void CheckDeviceTreeFits(Arm64BootPlan plan, int dtbSize)
    {
        if ((ulong)dtbSize > plan.DtbLimit - plan.DtbAddress)
        {
            throw new MemoryTooSmallException(
                $"the device tree ({SizeText.Of((ulong)dtbSize)}) does not fit at 0x{plan.DtbAddress:x} below 0x{plan.DtbLimit:x}");
        }
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
