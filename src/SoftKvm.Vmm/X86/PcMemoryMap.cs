using SoftKvm.Vmm.Loaders;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The PC's guest-physical layout: RAM from 0 up to min(size, 3 GiB) in slot 0, the rest from 4 GiB in
/// slot 1 (the 3-4 GiB hole holds the IOAPIC and local APIC); the legacy VGA/BIOS hole 0x9FC00-0xFFFFF is
/// backed by RAM but reported as reserved, and holds the MP table (0xF0000) and the loader's boot data
/// (0x8000-0x9EFFF, below the hole, reported as RAM as QEMU does).
/// </summary>
public static class PcMemoryMap
{
    /// <summary>The end of conventional memory (639 KiB; the EBDA follows).</summary>
    public const ulong ConventionalEnd = 0x9FC00;

    /// <summary>Where extended memory starts (1 MiB).</summary>
    public const ulong ExtendedStart = 0x10_0000;

    /// <summary>The BIOS area the MP floating pointer is searched in (0xF0000-0xFFFFF).</summary>
    public const ulong BiosStart = 0xF_0000;

    /// <summary>Where the MP floating pointer and configuration table go.</summary>
    public const ulong MpTableAddress = BiosStart;

    /// <summary>The start of the loader's boot data (the Multiboot information structure and what it points to).</summary>
    public const ulong BootDataStart = 0x8000;

    /// <summary>The end of the loader's boot data area.</summary>
    public const ulong BootDataEnd = 0x9F000;

    /// <summary>The highest end of low RAM: the PCI/APIC hole starts here (3 GiB).</summary>
    public const ulong LowRamLimit = 0xC000_0000;

    /// <summary>Where RAM above the hole continues (4 GiB).</summary>
    public const ulong HighRamBase = 0x1_0000_0000;

    /// <summary>The first virtio-mmio window (QEMU microvm's VIRTIO_MMIO_BASE), below the IOAPIC.</summary>
    public const ulong VirtioMmioBase = 0xFEB0_0000;

    /// <summary>The size of and distance between virtio-mmio windows (512 bytes, as microvm).</summary>
    public const ulong VirtioMmioStride = 0x200;

    /// <summary>How many virtio-mmio windows the PC has (microvm's 8 transports).</summary>
    public const int VirtioMmioCount = 8;

    /// <summary>The ISA IRQ (IOAPIC pin) of window 0; window n uses this + n (microvm's legacy base 5: IRQs 5-12).</summary>
    public const int VirtioFirstIrq = 5;

    /// <summary>The IOAPIC's MMIO base.</summary>
    public const uint IoApicBase = 0xFEC0_0000;

    /// <summary>The local APIC's MMIO base.</summary>
    public const uint LocalApicBase = 0xFEE0_0000;

    /// <summary>The smallest RAM accepted (2 MiB: the kernel loads at 1 MiB).</summary>
    public const ulong MinMemorySize = 2UL << 20;

    /// <summary>The largest RAM accepted (256 GiB).</summary>
    public const ulong MaxMemorySize = 256UL << 30;

    /// <summary>The guest-physical address of virtio-mmio window <paramref name="index"/>.</summary>
    public static ulong VirtioMmioAddress(int index) => VirtioMmioBase + ((ulong)index * VirtioMmioStride);

    /// <summary>The IRQ (IOAPIC pin, GSI) of virtio-mmio window <paramref name="index"/>.</summary>
    public static int VirtioIrq(int index) => VirtioFirstIrq + index;

    /// <summary>
    /// The kernel command-line parameter that announces window <paramref name="index"/> to Linux's
    /// virtio_mmio driver (as microvm: <c>virtio_mmio.device=512@0xfeb00000:5</c>).
    /// </summary>
    public static string VirtioMmioCommandLine(int index) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"virtio_mmio.device={VirtioMmioStride}@0x{VirtioMmioAddress(index):x}:{VirtioIrq(index)}");

    /// <summary>The size of slot 0 (RAM from 0).</summary>
    public static ulong LowRamSize(ulong memorySize) => Math.Min(memorySize, LowRamLimit);

    /// <summary>The size of slot 1 (RAM from 4 GiB), 0 when everything fits below 3 GiB.</summary>
    public static ulong HighRamSize(ulong memorySize) => memorySize > LowRamLimit ? memorySize - LowRamLimit : 0;

    /// <summary>The memory map the guest gets for <paramref name="memorySize"/> bytes of RAM (E820 style).</summary>
    public static IReadOnlyList<MultibootMemoryRange> Ranges(ulong memorySize)
    {
        var list = new List<MultibootMemoryRange>
        {
            new(0, ConventionalEnd, 1),
            new(ConventionalEnd, ExtendedStart - ConventionalEnd, 2),
        };
        ulong low = LowRamSize(memorySize);
        if (low > ExtendedStart)
        {
            list.Add(new(ExtendedStart, low - ExtendedStart, 1));
        }

        if (HighRamSize(memorySize) is ulong high and > 0)
        {
            list.Add(new(HighRamBase, high, 1));
        }

        return list;
    }

    /// <summary>The memory the Multiboot information structure reports for <paramref name="memorySize"/> bytes of RAM.</summary>
    public static MultibootMemory Multiboot(ulong memorySize) => new(
        (uint)(ConventionalEnd / 1024),
        (uint)Math.Min((LowRamSize(memorySize) - ExtendedStart) / 1024, uint.MaxValue),
        Ranges(memorySize));
}
