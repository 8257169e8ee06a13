using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Fdt;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// Generates the device tree of the arm64 <c>virt</c> machine for a configuration, in the shape QEMU's
/// virt gives it (node names, compatibles, interrupt encodings), so that kernels and bare-metal programs
/// that parse QEMU's tree parse this one: memory, cpus with PSCI enable-method and MPIDR affinity as
/// <c>reg</c>, the PSCI 1.0 node (HVC conduit), the GICv2 or GICv3 node with its regions, the
/// architected timer with its four PPIs, the PL011 and PL031 with their APB clock, the virtio-mmio
/// transports, and /chosen.
/// </summary>
public static class VirtDeviceTree
{
    // Interrupt specifier cells of the GIC binding: type (0 SPI, 1 PPI), number, flags.
    private const uint GicSpi = 0;
    private const uint GicPpi = 1;
    private const uint IrqEdgeRising = 1;
    private const uint IrqLevelHigh = 4;

    /// <summary>The node path of the UART, as /chosen/stdout-path names it.</summary>
    public const string UartPath = "/pl011@9000000";

    /// <summary>Builds the blob.</summary>
    /// <exception cref="ConfigurationException">no vCPUs, too many for the GIC, or too many virtio transports.</exception>
    public static byte[] Build(VirtDeviceTreeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int cpus = options.CpuMpidrs.Count;
        if (cpus < 1 || cpus > MaxCpus(options.Gic))
        {
            throw new ConfigurationException($"{cpus} vCPUs do not fit GIC{options.Gic.ToString().ToLowerInvariant()} (1..{MaxCpus(options.Gic)})");
        }

        if (options.VirtioTransports is < 0 or > VirtioMmioCount)
        {
            throw new ConfigurationException($"{options.VirtioTransports} virtio-mmio transports; the virt map has room for {VirtioMmioCount}");
        }

        var fdt = new FdtBuilder();
        uint gicPhandle = fdt.AllocatePhandle();
        uint clockPhandle = fdt.AllocatePhandle();
        uint itsPhandle = options.Gic == GicVersion.V3 ? fdt.AllocatePhandle() : 0;

        fdt.BeginNode("");
        fdt.PropertyU32("interrupt-parent", gicPhandle);
        fdt.PropertyString("model", "linux,dummy-virt");
        fdt.PropertyStrings("compatible", "linux,dummy-virt");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);

        AddChosen(fdt, options);
        AddPsci(fdt);
        AddMemory(fdt, options.MemorySize);
        AddCpus(fdt, options);
        AddTimer(fdt, options.Gic, cpus);
        AddClock(fdt, clockPhandle);
        AddGic(fdt, options.Gic, cpus, gicPhandle, itsPhandle);
        AddPrimeCell(fdt, "pl011", UartBase, UartSize, UartIntId, clockPhandle, ["uartclk", "apb_pclk"]);
        AddPrimeCell(fdt, "pl031", RtcBase, RtcSize, RtcIntId, clockPhandle, ["apb_pclk"]);
        for (int i = 0; i < options.VirtioTransports; i++)
        {
            AddVirtio(fdt, i);
        }

        if (options.Pcie)
        {
            AddPcie(fdt, options.Gic, gicPhandle, itsPhandle);
        }

        if (options.Pmu)
        {
            fdt.BeginNode("pmu");
            fdt.PropertyStrings("compatible", "arm,armv8-pmuv3");
            fdt.PropertyCells("interrupts", GicPpi, 7, PpiFlags(options.Gic, cpus)); // PPI 7 = INTID 23
            fdt.EndNode();
        }

        fdt.EndNode();
        return fdt.Finish();
    }

    private static void AddChosen(FdtBuilder fdt, VirtDeviceTreeOptions options)
    {
        fdt.BeginNode("chosen");
        if (options.BootArgs is { } args)
        {
            fdt.PropertyString("bootargs", args);
        }

        fdt.PropertyString("stdout-path", UartPath);
        if (options.Initrd is { } initrd)
        {
            fdt.PropertyU64("linux,initrd-start", initrd.Start);
            fdt.PropertyU64("linux,initrd-end", initrd.End);
        }

        fdt.EndNode();
    }

    private static void AddPsci(FdtBuilder fdt)
    {
        fdt.BeginNode("psci");
        fdt.PropertyStrings("compatible", "arm,psci-1.0", "arm,psci-0.2");
        fdt.PropertyString("method", "hvc");
        fdt.EndNode();
    }

    private static void AddMemory(FdtBuilder fdt, ulong size)
    {
        fdt.BeginNode($"memory@{RamBase:x}");
        fdt.PropertyString("device_type", "memory");
        fdt.PropertyRegs("reg", (RamBase, size));
        fdt.EndNode();
    }

    private static void AddCpus(FdtBuilder fdt, VirtDeviceTreeOptions options)
    {
        // reg is MPIDR_EL1 with only the affinity fields; two cells when any CPU has Aff3.
        bool twoCells = false;
        foreach (ulong m in options.CpuMpidrs)
        {
            twoCells |= ((m >> 32) & 0xFF) != 0;
        }

        fdt.BeginNode("cpus");
        fdt.PropertyU32("#address-cells", twoCells ? 2u : 1u);
        fdt.PropertyU32("#size-cells", 0);
        foreach (ulong mpidr in options.CpuMpidrs)
        {
            ulong affinity = mpidr & 0xFF_00FF_FFFFUL;
            fdt.BeginNode($"cpu@{affinity:x}");
            fdt.PropertyString("device_type", "cpu");
            fdt.PropertyStrings("compatible", options.CpuCompatible);
            if (twoCells)
            {
                fdt.PropertyU64("reg", affinity);
            }
            else
            {
                fdt.PropertyU32("reg", (uint)affinity);
            }

            fdt.PropertyString("enable-method", "psci");
            fdt.EndNode();
        }

        fdt.EndNode();
    }

    // GICv2 PPIs carry the mask of CPUs they reach in flags bits [15:8] (the GICv2 binding).
    private static uint PpiFlags(GicVersion gic, int cpus) =>
        gic == GicVersion.V2 ? IrqLevelHigh | ((uint)((1 << Math.Min(cpus, GicV2MaxCpus)) - 1) << 8) : IrqLevelHigh;

    private static void AddTimer(FdtBuilder fdt, GicVersion gic, int cpus)
    {
        uint flags = PpiFlags(gic, cpus);
        fdt.BeginNode("timer");
        fdt.PropertyStrings("compatible", "arm,armv8-timer", "arm,armv7-timer");
        // Secure, non-secure, virtual and hypervisor physical timers, as PPI numbers (INTID - 16).
        fdt.PropertyCells(
            "interrupts",
            GicPpi, TimerSecureIntId - 16, flags,
            GicPpi, TimerNonSecureIntId - 16, flags,
            GicPpi, TimerVirtualIntId - 16, flags,
            GicPpi, TimerHypervisorIntId - 16, flags);
        fdt.PropertyEmpty("always-on");
        fdt.EndNode();
    }

    private static void AddClock(FdtBuilder fdt, uint phandle)
    {
        fdt.BeginNode("apb-pclk");
        fdt.PropertyStrings("compatible", "fixed-clock");
        fdt.PropertyU32("#clock-cells", 0);
        fdt.PropertyU32("clock-frequency", ApbClockHz);
        fdt.PropertyString("clock-output-names", "clk24mhz");
        fdt.PropertyU32("phandle", phandle);
        fdt.EndNode();
    }

    private static void AddGic(FdtBuilder fdt, GicVersion gic, int cpus, uint phandle, uint itsPhandle)
    {
        fdt.BeginNode($"intc@{GicDistributorBase:x}");
        if (gic == GicVersion.V2)
        {
            fdt.PropertyStrings("compatible", "arm,cortex-a15-gic");
            fdt.PropertyRegs("reg", (GicDistributorBase, GicDistributorSize), (GicCpuInterfaceBase, GicCpuInterfaceSize));
        }
        else
        {
            var regions = RedistributorRegions(cpus);
            var regs = new (ulong, ulong)[regions.Count + 1];
            regs[0] = (GicDistributorBase, GicDistributorSize);
            for (int i = 0; i < regions.Count; i++)
            {
                regs[i + 1] = (regions[i].Base, regions[i].Size);
            }

            fdt.PropertyStrings("compatible", "arm,gic-v3");
            fdt.PropertyRegs("reg", regs);
            fdt.PropertyU32("#redistributor-regions", (uint)regions.Count);
        }

        fdt.PropertyU32("#interrupt-cells", 3);
        fdt.PropertyEmpty("interrupt-controller");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyEmpty("ranges");
        fdt.PropertyU32("phandle", phandle);
        if (gic == GicVersion.V3)
        {
            // The ITS, as QEMU's virt describes it (a child of the GIC node), the MSI controller of PCI devices.
            fdt.BeginNode($"its@{GicItsBase:x}");
            fdt.PropertyStrings("compatible", "arm,gic-v3-its");
            fdt.PropertyEmpty("msi-controller");
            fdt.PropertyU32("#msi-cells", 1);
            fdt.PropertyRegs("reg", (GicItsBase, GicItsSize));
            fdt.PropertyU32("phandle", itsPhandle);
            fdt.EndNode();
        }

        fdt.EndNode();
    }

    // QEMU's create_pcie: ECAM, the I/O and 32-bit memory windows, INTx swizzled onto SPIs 3..6, MSIs to the
    // ITS with the requester ID as DeviceID (GICv3).
    private static void AddPcie(FdtBuilder fdt, GicVersion gic, uint gicPhandle, uint itsPhandle)
    {
        fdt.BeginNode($"pcie@{PcieMmioBase:x}");
        fdt.PropertyStrings("compatible", "pci-host-ecam-generic");
        fdt.PropertyString("device_type", "pci");
        fdt.PropertyU32("#address-cells", 3);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyU32("#interrupt-cells", 1);
        fdt.PropertyU32("linux,pci-domain", 0);
        fdt.PropertyCells("bus-range", 0, (uint)(PcieEcamSize >> 20) - 1);
        fdt.PropertyEmpty("dma-coherent");
        fdt.PropertyRegs("reg", (PcieEcamBase, PcieEcamSize));
        fdt.PropertyCells("ranges",
            0x0100_0000, 0, 0, (uint)(PciePioBase >> 32), (uint)PciePioBase, 0, (uint)PciePioSize,
            0x0200_0000, 0, (uint)PcieMmioBase, (uint)(PcieMmioBase >> 32), (uint)PcieMmioBase, 0, (uint)PcieMmioSize);
        if (gic == GicVersion.V3)
        {
            fdt.PropertyCells("msi-map", 0, itsPhandle, 0, 0x1_0000);
        }

        var map = new List<uint>();
        for (uint slot = 0; slot < 4; slot++)
        {
            for (uint pin = 1; pin <= 4; pin++)
            {
                map.AddRange([slot << 11, 0, 0, pin, gicPhandle, 0, 0, GicSpi, (uint)(PcieIntxIntId((int)slot, (int)pin) - 32), IrqLevelHigh]);
            }
        }

        fdt.PropertyCells("interrupt-map-mask", 0x1800, 0, 0, 7);
        fdt.PropertyCells("interrupt-map", [.. map]);
        fdt.EndNode();
    }

    private static void AddPrimeCell(FdtBuilder fdt, string name, ulong address, ulong size, int intId, uint clock, string[] clockNames)
    {
        fdt.BeginNode($"{name}@{address:x}");
        fdt.PropertyStrings("compatible", $"arm,{name}", "arm,primecell");
        fdt.PropertyRegs("reg", (address, size));
        fdt.PropertyCells("interrupts", GicSpi, (uint)(intId - 32), IrqLevelHigh);
        var clocks = new uint[clockNames.Length];
        Array.Fill(clocks, clock);
        fdt.PropertyCells("clocks", clocks);
        fdt.PropertyStrings("clock-names", clockNames);
        fdt.EndNode();
    }

    private static void AddVirtio(FdtBuilder fdt, int index)
    {
        ulong address = VirtioMmioAddress(index);
        fdt.BeginNode($"virtio_mmio@{address:x}");
        fdt.PropertyStrings("compatible", "virtio,mmio");
        fdt.PropertyRegs("reg", (address, VirtioMmioStride));
        fdt.PropertyCells("interrupts", GicSpi, (uint)(VirtioMmioIntId(index) - 32), IrqEdgeRising);
        fdt.PropertyEmpty("dma-coherent");
        fdt.EndNode();
    }
}
