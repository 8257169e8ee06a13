namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The guest-physical memory map and interrupt numbers of QEMU's arm64 <c>virt</c> machine
/// (hw/arm/virt.c <c>base_memmap</c>, <c>a15irqmap</c>; documented in QEMU's docs/system/arm/virt.rst),
/// kept identical so that images built for QEMU's virt run unchanged. Interrupt numbers here are GIC
/// INTIDs (SPI n is INTID 32 + n).
/// </summary>
public static class VirtMemoryMap
{
    /// <summary>Flash: two 64 MiB banks at 0 (not modelled; the range stays unmapped).</summary>
    public const ulong FlashBase = 0x0000_0000;

    /// <summary>The flash size (both banks).</summary>
    public const ulong FlashSize = 0x0800_0000;

    /// <summary>The GIC distributor.</summary>
    public const ulong GicDistributorBase = 0x0800_0000;

    /// <summary>The GIC distributor's size (64 KiB).</summary>
    public const ulong GicDistributorSize = 0x0001_0000;

    /// <summary>The GICv2 CPU interface.</summary>
    public const ulong GicCpuInterfaceBase = 0x0801_0000;

    /// <summary>The GICv2 CPU interface's size (64 KiB, as QEMU maps it).</summary>
    public const ulong GicCpuInterfaceSize = 0x0001_0000;

    /// <summary>The GICv3 ITS.</summary>
    public const ulong GicItsBase = 0x0808_0000;

    /// <summary>The GICv3 ITS's size.</summary>
    public const ulong GicItsSize = 0x0002_0000;

    /// <summary>The first GICv3 redistributor region.</summary>
    public const ulong GicRedistributorBase = 0x080A_0000;

    /// <summary>One GICv3 redistributor: the RD_base and SGI_base 64 KiB frames.</summary>
    public const ulong GicRedistributorStride = 0x0002_0000;

    /// <summary>The number of redistributors the first region holds (0x080A_0000..0x0900_0000).</summary>
    public const int GicRedistributorsInFirstRegion = 123;

    /// <summary>The first redistributor region's size.</summary>
    public const ulong GicRedistributorSize = GicRedistributorsInFirstRegion * GicRedistributorStride;

    /// <summary>The second GICv3 redistributor region (QEMU's VIRT_HIGH_GIC_REDIST2), for vCPUs 123 and up.</summary>
    public const ulong GicRedistributor2Base = 0x40_0000_0000;

    /// <summary>The number of redistributors the second region holds.</summary>
    public const int GicRedistributorsInSecondRegion = 512;

    /// <summary>The second redistributor region's size (64 MiB).</summary>
    public const ulong GicRedistributor2Size = GicRedistributorsInSecondRegion * GicRedistributorStride;

    /// <summary>The PL011 UART.</summary>
    public const ulong UartBase = 0x0900_0000;

    /// <summary>The PL011's window.</summary>
    public const ulong UartSize = 0x1000;

    /// <summary>The PL011's interrupt: SPI 1.</summary>
    public const int UartIntId = 33;

    /// <summary>The PL031 RTC.</summary>
    public const ulong RtcBase = 0x0901_0000;

    /// <summary>The PL031's window.</summary>
    public const ulong RtcSize = 0x1000;

    /// <summary>The PL031's interrupt: SPI 2.</summary>
    public const int RtcIntId = 34;

    /// <summary>The first virtio-mmio transport.</summary>
    public const ulong VirtioMmioBase = 0x0A00_0000;

    /// <summary>The distance between virtio-mmio transports, and each one's window.</summary>
    public const ulong VirtioMmioStride = 0x200;

    /// <summary>The number of virtio-mmio transports the map has room for.</summary>
    public const int VirtioMmioCount = 32;

    /// <summary>The interrupt of transport 0: SPI 16; transport n has INTID 48 + n.</summary>
    public const int VirtioMmioFirstIntId = 48;

    /// <summary>The PCIe host bridge's 32-bit memory window (VIRT_PCIE_MMIO): PCI memory addresses map 1:1.</summary>
    public const ulong PcieMmioBase = 0x1000_0000;

    /// <summary>The size of the 32-bit memory window.</summary>
    public const ulong PcieMmioSize = 0x2EFF_0000;

    /// <summary>The PCIe I/O window (VIRT_PCIE_PIO): PCI I/O port n is at this address + n.</summary>
    public const ulong PciePioBase = 0x3EFF_0000;

    /// <summary>The size of the I/O window (64 Ki ports).</summary>
    public const ulong PciePioSize = 0x1_0000;

    /// <summary>The PCIe configuration space, ECAM (VIRT_PCIE_ECAM, the low one): 1 MiB per bus.</summary>
    public const ulong PcieEcamBase = 0x3F00_0000;

    /// <summary>The ECAM window: 16 buses.</summary>
    public const ulong PcieEcamSize = 0x0100_0000;

    /// <summary>The interrupt of INTx pin p (1-4) of device d is SPI 3 + (d + p - 1) mod 4: INTIDs 35..38.</summary>
    public const int PcieFirstIntxIntId = 35;

    /// <summary>The GIC INTID INTx pin <paramref name="pin"/> (1 = INTA#) of PCI device <paramref name="device"/> drives (QEMU's swizzle).</summary>
    public static int PcieIntxIntId(int device, int pin) => PcieFirstIntxIntId + ((device + pin - 1) & 3);

    /// <summary>RAM starts here.</summary>
    public const ulong RamBase = 0x4000_0000;

    /// <summary>The most RAM below the second redistributor region (255 GiB, QEMU's LEGACY_RAMLIMIT).</summary>
    public const ulong RamMaxSize = GicRedistributor2Base - RamBase;

    /// <summary>The secure physical timer PPI (INTID 29).</summary>
    public const int TimerSecureIntId = 29;

    /// <summary>The non-secure physical timer PPI (INTID 30).</summary>
    public const int TimerNonSecureIntId = 30;

    /// <summary>The virtual timer PPI (INTID 27).</summary>
    public const int TimerVirtualIntId = 27;

    /// <summary>The hypervisor (EL2) physical timer PPI (INTID 26).</summary>
    public const int TimerHypervisorIntId = 26;

    /// <summary>The most vCPUs a GICv2 can target.</summary>
    public const int GicV2MaxCpus = 8;

    /// <summary>The most vCPUs the GICv3 machine takes (123 + the second region's 389 used ones).</summary>
    public const int GicV3MaxCpus = 512;

    /// <summary>The APB clock of the PrimeCells (24 MHz fixed clock).</summary>
    public const uint ApbClockHz = 24_000_000;

    /// <summary>The guest-physical address of virtio-mmio transport <paramref name="index"/>.</summary>
    public static ulong VirtioMmioAddress(int index) => VirtioMmioBase + ((ulong)index * VirtioMmioStride);

    /// <summary>The INTID of virtio-mmio transport <paramref name="index"/>.</summary>
    public static int VirtioMmioIntId(int index) => VirtioMmioFirstIntId + index;

    /// <summary>The most vCPUs for a GIC model.</summary>
    public static int MaxCpus(GicVersion gic) => gic == GicVersion.V2 ? GicV2MaxCpus : GicV3MaxCpus;

    /// <summary>
    /// The redistributor regions a GICv3 machine with <paramref name="cpus"/> vCPUs uses: the first region
    /// (123 redistributors), and the second one when there are more vCPUs. Sizes are the regions' full
    /// capacity, as QEMU describes them.
    /// </summary>
    public static IReadOnlyList<(ulong Base, ulong Size, int Count)> RedistributorRegions(int cpus)
    {
        if (cpus <= GicRedistributorsInFirstRegion)
        {
            return [(GicRedistributorBase, GicRedistributorSize, cpus)];
        }

        return
        [
            (GicRedistributorBase, GicRedistributorSize, GicRedistributorsInFirstRegion),
            (GicRedistributor2Base, GicRedistributor2Size, cpus - GicRedistributorsInFirstRegion),
        ];
    }

    /// <summary>The guest-physical address of vCPU <paramref name="vcpuIndex"/>'s redistributor.</summary>
    public static ulong RedistributorAddress(int vcpuIndex) => vcpuIndex < GicRedistributorsInFirstRegion
        ? GicRedistributorBase + ((ulong)vcpuIndex * GicRedistributorStride)
        : GicRedistributor2Base + ((ulong)(vcpuIndex - GicRedistributorsInFirstRegion) * GicRedistributorStride);
}
