using SoftKvm.Devices;
using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Runner;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Arm64;

public sealed class Arm64VirtMachineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-vmm-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, byte[] data)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    [Fact]
    public void BootsTheScriptThroughTheFakeBackend()
    {
        var backend = new FakeArm64Backend();
        string kernel = Write("Image", Images.Arm64Image(0, 0x10_0000));
        string initrd = Write("initrd", new byte[1000]);
        var config = new MachineConfig { Cpus = 2, Kernel = kernel, Initrd = initrd, Append = "console=ttyAMA0", MachineOptions = [new Arm64VirtOptions { Gic = GicVersion.V2 }] };
        var prepared = new Arm64VirtMachineBuilder(backend).Prepare(config);
        var output = new MemoryStream();
        using var machine = prepared.Create(new MachineIo(new SerialOutput(output), TextWriter.Null));
        Assert.Equal(GicVersion.V2, backend.Gic);
        Assert.Equal(1, backend.SetupsCompleted);
        Assert.Equal(new Arm64BootState(0x4020_0000, 0x4820_0000, true), backend.BootStates[0]);
        Assert.False(backend.BootStates[1].PoweredOn);
        Assert.Equal(0x14000010u, machine.Vm.Memory.Read<uint>(0x4020_0000));
        Assert.Equal(0xEDFE0DD0u, machine.Vm.Memory.Read<uint>(0x4820_0000)); // FDT magic, big-endian
        var outcome = new VmRunner(machine.Vm, machine.MmioBus, machine.PioBus).Run(machine.Vcpus);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal("Hi\n", System.Text.Encoding.ASCII.GetString(output.ToArray()));
        Assert.Contains("fake GIC", machine.DescribeInterruptController());
    }

    [Fact]
    public void DisksBecomeVirtioTransports()
    {
        var backend = new FakeArm64Backend();
        var config = new MachineConfig
        {
            Kernel = Write("raw", [1, 2, 3, 4]),
            Disks = [new DiskConfig(Write("a.img", new byte[4096]), false), new DiskConfig(Write("b.img", new byte[512]), true)],
        };
        var prepared = new Arm64VirtMachineBuilder(backend).Prepare(config);
        var r = new FdtReader(prepared.DeviceTree!);
        Assert.Contains("/virtio_mmio@a000200", r.NodeOrder);
        using var machine = prepared.Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));
        Assert.True(machine.MmioBus.TryFind(VirtMemoryMap.VirtioMmioAddress(1), 4, out _, out _));
        Assert.Equal(6, machine.MmioBus.Count); // UART, RTC, PCIe ECAM and I/O window, two transports
    }

    [Fact]
    public void ThePcieHostBridgeAnswersThroughEcam()
    {
        var prepared = new Arm64VirtMachineBuilder(new FakeArm64Backend()).Prepare(new MachineConfig { Kernel = Write("raw", [1, 2, 3, 4]) });
        var r = new FdtReader(prepared.DeviceTree!);
        Assert.Equal(["pci-host-ecam-generic"], r.Strings("/pcie@10000000", "compatible"));
        Assert.Equal([0u, 0x3F00_0000u, 0u, 0x0100_0000u], r.Cells("/pcie@10000000", "reg"));
        Assert.Equal(16 * 10, r.Cells("/pcie@10000000", "interrupt-map").Length);
        Assert.Equal(r.Cells("/intc@8000000/its@8080000", "phandle")[0], r.Cells("/pcie@10000000", "msi-map")[1]);
        using var machine = (Arm64VirtMachine)prepared.Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));
        Assert.Equal(0x0008_1B36u, Config32(machine, 0, 0, 0x00));           // gpex-root
        Assert.Equal(0x0600_0000u, Config32(machine, 0, 0, 0x08) & 0xFFFF_FF00);
        Assert.Equal(0x0005_1B36u, Config32(machine, 0, 1, 0x00));           // pci-testdev
        Assert.Equal(0xFFFF_FFFFu, Config32(machine, 0, 2, 0x00));           // nothing at 00.2
        Assert.Equal(0xFFFF_FFFFu, Config32(machine, 1, 0, 0x00));           // nor on bus 1

        // BAR 0 of pci-testdev is memory: sized through ECAM like any other configuration access.
        Span<byte> data = stackalloc byte[4];
        BitConverter.TryWriteBytes(data, uint.MaxValue);
        Assert.True(machine.MmioBus.Write(null, VirtMemoryMap.PcieEcamBase + (1 << 15) + 0x10, data));
        Assert.NotEqual(0u, Config32(machine, 0, 1, 0x10) & 0xFFFF_FFF0);
    }

    [Fact]
    public void VirtioPciPutsTheDisksAndConsoleOnThePcieBusInsteadOfVirtioMmio()
    {
        var config = new MachineConfig
        {
            Kernel = Write("raw", [1, 2, 3, 4]),
            Disks = [new DiskConfig(Write("a.img", new byte[4096]), false)],
            VirtioConsole = true,
            MachineOptions = [new Arm64VirtOptions { VirtioPci = true }],
        };
        var prepared = new Arm64VirtMachineBuilder(new FakeArm64Backend()).Prepare(config);
        Assert.DoesNotContain(new FdtReader(prepared.DeviceTree!).NodeOrder, n => n.StartsWith("/virtio_mmio", StringComparison.Ordinal));
        using var machine = (Arm64VirtMachine)prepared.Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));
        Assert.Equal(0x1042_1AF4u, Config32(machine, 0, 2, 0x00)); // virtio-blk-pci, modern
        Assert.Equal(0x1043_1AF4u, Config32(machine, 0, 3, 0x00)); // virtio-console
        Assert.Equal(4, machine.MmioBus.Count); // UART, RTC, PCIe ECAM and I/O window: no virtio-mmio window
    }

    [Theory]
    [InlineData(Core.Io.MsiResult.Delivered, false)]
    [InlineData(Core.Io.MsiResult.Blocked, false)]
    [InlineData(Core.Io.MsiResult.InvalidAddress, true)]
    public void APciMsiGoesToTheItsWithTheRequesterIdAsDeviceIdElseIntoRam(Core.Io.MsiResult answer, bool dma)
    {
        var backend = new FakeArm64Backend { MsiAnswer = answer };
        var config = new MachineConfig { Kernel = Write("raw", [1, 2, 3, 4]), MachineOptions = [new Arm64VirtOptions { VirtioPci = true }] };
        using var machine = (Arm64VirtMachine)new Arm64VirtMachineBuilder(backend).Prepare(config).Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));
        machine.PciBus!.Host.DeliverMsi(new Devices.Pci.PciAddress(1, 3, 2), 0x4000_1000, 0x2A);
        Assert.Equal([(0x4000_1000UL, 0x2Au, 0x011Au)], backend.Msis); // bus 1, device 3, function 2
        Assert.Equal(dma ? 0x2Au : 0u, machine.Vm.Memory.Read<uint>(0x4000_1000));
    }

    private static uint Config32(Arm64VirtMachine machine, int bus, int device, int register)
    {
        Span<byte> data = stackalloc byte[4];
        Assert.True(machine.MmioBus.Read(null, VirtMemoryMap.PcieEcamBase + ((ulong)bus << 20) + ((ulong)device << 15) + (ulong)register, data));
        return BitConverter.ToUInt32(data);
    }

    [Fact]
    public void WithoutABackendPreparingWorksAndCreatingIsNotAvailable()
    {
        var prepared = new Arm64VirtMachineBuilder(null).Prepare(new MachineConfig { Kernel = Write("raw", [1]) });
        Assert.NotNull(prepared.DeviceTree);
        var e = Assert.Throws<MachineUnavailableException>(() => prepared.Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null)));
        Assert.Contains("not available", e.Message);
    }

    [Theory]
    [InlineData(0, GicVersion.V3)]
    [InlineData(9, GicVersion.V2)]
    [InlineData(513, GicVersion.V3)]
    public void SmpOutsideTheGicLimitIsAConfigurationError(int cpus, GicVersion gic)
    {
        var e = Assert.Throws<ConfigurationException>(() => new Arm64VirtMachineBuilder(null).Prepare(new MachineConfig { Cpus = cpus, MachineOptions = [new Arm64VirtOptions { Gic = gic }], Kernel = "x" }));
        Assert.Contains("--smp", e.Message);
    }

    [Fact]
    public void MissingDiskIsAnInputFileError()
    {
        var config = new MachineConfig { Kernel = Write("raw", [1]), Disks = [new DiskConfig("/nonexistent.img", false)] };
        Assert.Throws<InputFileException>(() => new Arm64VirtMachineBuilder(null).Prepare(config));
    }

    [Fact]
    public void CatalogNamesTheKnownArchitectures()
    {
        var catalog = new MachineCatalog(new Arm64VirtMachineBuilder(null), new UnavailableMachineBuilder("x86_64", "not wired"));
        Assert.Equal(["arm64", "x86_64"], catalog.Architectures);
        var e = Assert.Throws<ConfigurationException>(() => catalog.Get("riscv"));
        Assert.Equal("unknown --arch 'riscv' (expected arm64 or x86_64)", e.Message);
        Assert.Throws<MachineUnavailableException>(() => catalog.Get("x86_64").Prepare(new MachineConfig()));
    }
}
