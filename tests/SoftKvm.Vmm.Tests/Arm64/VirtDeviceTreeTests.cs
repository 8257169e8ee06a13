using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Arm64;

public class VirtDeviceTreeTests
{
    private static ulong Mpidr(int id) => (1UL << 31) | (ulong)(id & 0xf) | ((ulong)((id >> 4) & 0xff) << 8);

    private static VirtDeviceTreeOptions Options(int cpus, GicVersion gic, int virtio = 0) => new()
    {
        CpuMpidrs = Enumerable.Range(0, cpus).Select(Mpidr).ToArray(),
        MemorySize = 512UL << 20,
        Gic = gic,
        VirtioTransports = virtio,
        BootArgs = "console=ttyAMA0 earlycon",
        Initrd = (0x4800_0000, 0x4810_0000),
    };

    [Fact]
    public void RootMemoryChosenAndPsci()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(2, GicVersion.V3)));
        Assert.Equal(["linux,dummy-virt"], r.Strings("/", "compatible"));
        Assert.Equal([0u, 0x4000_0000u, 0u, 0x2000_0000u], r.Cells("/memory@40000000", "reg"));
        Assert.Equal(["memory"], r.Strings("/memory@40000000", "device_type"));
        Assert.Equal(["console=ttyAMA0 earlycon"], r.Strings("/chosen", "bootargs"));
        Assert.Equal(["/pl011@9000000"], r.Strings("/chosen", "stdout-path"));
        Assert.Equal([0u, 0x4800_0000u], r.Cells("/chosen", "linux,initrd-start"));
        Assert.Equal([0u, 0x4810_0000u], r.Cells("/chosen", "linux,initrd-end"));
        Assert.Equal(["arm,psci-1.0", "arm,psci-0.2"], r.Strings("/psci", "compatible"));
        Assert.Equal(["hvc"], r.Strings("/psci", "method"));
    }

    [Fact]
    public void CpusUseMpidrAffinityAndPsci()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(20, GicVersion.V3)));
        Assert.Equal([1u], r.Cells("/cpus", "#address-cells"));
        Assert.Equal([0x0u], r.Cells("/cpus/cpu@0", "reg"));
        Assert.Equal([0x100u], r.Cells("/cpus/cpu@100", "reg")); // vCPU 16: Aff1 = 1
        Assert.Equal([0x103u], r.Cells("/cpus/cpu@103", "reg"));
        Assert.Equal(["psci"], r.Strings("/cpus/cpu@103", "enable-method"));
        Assert.Equal(20, r.NodeOrder.Count(n => n.StartsWith("/cpus/cpu@", StringComparison.Ordinal)));
    }

    [Fact]
    public void TimerHasAllFourPpis()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(1, GicVersion.V3)));
        Assert.Equal([1u, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4], r.Cells("/timer", "interrupts"));
        Assert.Contains("arm,armv8-timer", r.Strings("/timer", "compatible"));
    }

    [Fact]
    public void GicV2PpisCarryTheCpuMask()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(4, GicVersion.V2)));
        Assert.Equal(0xF04u, r.Cells("/timer", "interrupts")[2]);
        Assert.Equal(["arm,cortex-a15-gic"], r.Strings("/intc@8000000", "compatible"));
        Assert.Equal([0u, 0x0800_0000u, 0u, 0x1_0000u, 0u, 0x0801_0000u, 0u, 0x1_0000u], r.Cells("/intc@8000000", "reg"));
    }

    [Fact]
    public void GicV3WithOneRedistributorRegion()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(8, GicVersion.V3)));
        Assert.Equal(["arm,gic-v3"], r.Strings("/intc@8000000", "compatible"));
        Assert.Equal([1u], r.Cells("/intc@8000000", "#redistributor-regions"));
        Assert.Equal([0u, 0x0800_0000u, 0u, 0x1_0000u, 0u, 0x080A_0000u, 0u, 0xF6_0000u], r.Cells("/intc@8000000", "reg"));
        Assert.Equal([3u], r.Cells("/intc@8000000", "#interrupt-cells"));
    }

    [Fact]
    public void GicV3HasAnItsAsAnMsiController()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(4, GicVersion.V3)));
        Assert.Equal(["arm,gic-v3-its"], r.Strings("/intc@8000000/its@8080000", "compatible"));
        Assert.Equal([0u, 0x0808_0000u, 0u, 0x2_0000u], r.Cells("/intc@8000000/its@8080000", "reg"));
        Assert.Equal([1u], r.Cells("/intc@8000000/its@8080000", "#msi-cells"));
        Assert.Empty(r.Cells("/intc@8000000/its@8080000", "msi-controller"));
        Assert.NotEqual(r.Cells("/intc@8000000", "phandle"), r.Cells("/intc@8000000/its@8080000", "phandle"));
        var v2 = new FdtReader(VirtDeviceTree.Build(Options(4, GicVersion.V2)));
        Assert.DoesNotContain("/intc@8000000/its@8080000", v2.NodeOrder);
    }

    [Fact]
    public void ThePmuNodeUsesPpi7()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(4, GicVersion.V3) with { Pmu = true }));
        Assert.Equal(["arm,armv8-pmuv3"], r.Strings("/pmu", "compatible"));
        Assert.Equal([1u, 7u, 4u], r.Cells("/pmu", "interrupts"));       // PPI 7 = INTID 23, level high
        Assert.DoesNotContain("/pmu", new FdtReader(VirtDeviceTree.Build(Options(4, GicVersion.V3))).NodeOrder);
    }

    [Fact]
    public void GicV3BeyondOneHundredTwentyThreeCpusUsesTheSecondRegion()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(512, GicVersion.V3)));
        Assert.Equal([2u], r.Cells("/intc@8000000", "#redistributor-regions"));
        var reg = r.Cells("/intc@8000000", "reg");
        Assert.Equal(12, reg.Length);
        Assert.Equal(0x40u, reg[8]);
        Assert.Equal(0u, reg[9]);
        Assert.Equal(0x400_0000u, reg[11]);
        Assert.Equal(512, r.NodeOrder.Count(n => n.StartsWith("/cpus/cpu@", StringComparison.Ordinal)));
    }

    [Fact]
    public void UartRtcAndVirtioNodes()
    {
        var r = new FdtReader(VirtDeviceTree.Build(Options(1, GicVersion.V3, virtio: 2)));
        Assert.Equal([0u, 1, 4], r.Cells("/pl011@9000000", "interrupts"));
        Assert.Equal(["uartclk", "apb_pclk"], r.Strings("/pl011@9000000", "clock-names"));
        uint clock = r.Cells("/apb-pclk", "phandle")[0];
        Assert.Equal([clock, clock], r.Cells("/pl011@9000000", "clocks"));
        Assert.Equal([24_000_000u], r.Cells("/apb-pclk", "clock-frequency"));
        Assert.Equal([0u, 2, 4], r.Cells("/pl031@9010000", "interrupts"));
        Assert.Equal([0u, 16, 1], r.Cells("/virtio_mmio@a000000", "interrupts"));
        Assert.Equal([0u, 17, 1], r.Cells("/virtio_mmio@a000200", "interrupts"));
        Assert.Equal([0u, 0x0A00_0200u, 0u, 0x200u], r.Cells("/virtio_mmio@a000200", "reg"));
        Assert.Equal(r.Cells("/intc@8000000", "phandle"), r.Cells("/", "interrupt-parent"));
    }

    [Theory]
    [InlineData(0, GicVersion.V3)]
    [InlineData(9, GicVersion.V2)]
    [InlineData(513, GicVersion.V3)]
    public void CpuCountOutsideTheGicLimitIsRejected(int cpus, GicVersion gic)
    {
        Assert.Throws<ConfigurationException>(() => VirtDeviceTree.Build(Options(cpus, gic)));
    }

    [DtcTheory]
    [InlineData(1, GicVersion.V2, 0)]
    [InlineData(8, GicVersion.V2, 1)]
    [InlineData(1, GicVersion.V3, 2)]
    [InlineData(200, GicVersion.V3, 32)]
    public void DtcDecompilesWithoutWarnings(int cpus, GicVersion gic, int virtio)
    {
        var (code, dts, errors) = Dtc.Decompile(VirtDeviceTree.Build(Options(cpus, gic, virtio)));
        Assert.Equal(0, code);
        Assert.True(errors.Trim().Length == 0, $"dtc said: {errors}");
        Assert.Contains("enable-method = \"psci\";", dts);
    }

    [Fact]
    public void MemoryMapConstantsMatchQemuVirt()
    {
        Assert.Equal(0x0800_0000UL, VirtMemoryMap.GicDistributorBase);
        Assert.Equal(0x0801_0000UL, VirtMemoryMap.GicCpuInterfaceBase);
        Assert.Equal(0x080A_0000UL, VirtMemoryMap.GicRedistributorBase);
        Assert.Equal(0x0900_0000UL, VirtMemoryMap.GicRedistributorBase + VirtMemoryMap.GicRedistributorSize);
        Assert.Equal(0x40_0000_0000UL, VirtMemoryMap.GicRedistributor2Base);
        Assert.Equal(0x0900_0000UL, VirtMemoryMap.UartBase);
        Assert.Equal(33, VirtMemoryMap.UartIntId);
        Assert.Equal(0x0901_0000UL, VirtMemoryMap.RtcBase);
        Assert.Equal(34, VirtMemoryMap.RtcIntId);
        Assert.Equal(0x0A00_0600UL, VirtMemoryMap.VirtioMmioAddress(3));
        Assert.Equal(51, VirtMemoryMap.VirtioMmioIntId(3));
        Assert.Equal(0x4000_0000UL, VirtMemoryMap.RamBase);
        Assert.Equal(0x080A_0000UL + (122 * 0x20000UL), VirtMemoryMap.RedistributorAddress(122));
        Assert.Equal(0x40_0000_0000UL + 0x20000UL, VirtMemoryMap.RedistributorAddress(124));
    }
}
