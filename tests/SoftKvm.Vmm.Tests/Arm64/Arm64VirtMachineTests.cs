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
        Assert.Equal(4, machine.MmioBus.Count); // UART, RTC, two transports
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
