using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Virtio;
using SoftKvm.Vmm.Arm64.Semihosting;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Runner;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// A created arm64 <c>virt</c> machine: RAM in slot 0 at 0x4000_0000 with the images loaded, the vCPUs in
/// their boot state (vCPU 0 at the entry point with x0 = DTB, the others off until PSCI CPU_ON), and the
/// userspace devices: PL011 (INTID 33), PL031 (INTID 34), the PCIe host bridge (ECAM, I/O and 32-bit memory
/// windows at QEMU's addresses) with its root function at 00.0 and QEMU's pci-testdev at 00.1, and the disks
/// and the optional virtio-console behind virtio-mmio transports (INTID 48 + n) or, with
/// <see cref="Arm64VirtOptions.VirtioPci"/>, as virtio-pci functions at 00.2 on (MSI-X through the ITS, or INTx).
/// </summary>
internal sealed partial class Arm64VirtMachine : IMachine
{
    private readonly IArm64VirtBackend _backend;
    private readonly List<IDisposable> _owned = [];
    private readonly Pl011 _uart;
    private readonly Pl031 _rtc = null!;
    private readonly List<VirtioMmioTransport> _transports = [];
    private readonly ArmSemihosting? _semihosting;

    // Without a plan (a machine for a snapshot to restore into) no image is loaded and the boot state is a placeholder.
    public Arm64VirtMachine(MachineConfig config, KernelImage? kernel, byte[] initrd, Arm64BootPlan? plan, byte[]? deviceTree, IArm64VirtBackend backend, MachineIo io)
    {
        _backend = backend;
        Config = config;
        DeviceTree = deviceTree;
        var options = config.OptionsOf<Arm64VirtOptions>();
        Vm = backend.CreateVm(config.Cpus, options.Gic, options.Cpu);
        try
        {
            Vm.SetMemoryRegion(0, RamBase, config.MemorySize);
            if (plan is not null)
            {
                GuestImageWriter.Write(Vm.Memory, plan, kernel!, initrd, deviceTree!);
            }

            var vcpus = new Vcpu[config.Cpus];
            for (int i = 0; i < vcpus.Length; i++)
            {
                vcpus[i] = Vm.CreateVcpu(i);
                backend.SetBootState(vcpus[i], new Arm64BootState(i == 0 ? plan?.Entry ?? 0 : 0, i == 0 ? plan?.DtbAddress ?? 0 : 0, PoweredOn: i == 0) { Semihosting = options.Semihosting });
            }

            Vcpus = vcpus;
            backend.CompleteSetup(Vm);
            _uart = new Pl011(io.Console, backend.GetSpiLine(Vm, UartIntId));
            MmioBus.Register(UartBase, UartSize, _uart);
            _rtc = new Pl031(backend.GetSpiLine(Vm, RtcIntId));
            _owned.Add(_rtc);
            MmioBus.Register(RtcBase, RtcSize, _rtc);
            var pci = AddPcie(io);
            var devices = new List<VirtioDevice>();
            foreach (var disk in config.Disks)
            {
                var blk = new VirtioBlock(disk.Path, disk.ReadOnly);
                _owned.Add(blk);
                devices.Add(blk);
            }

            if (config.VirtioConsole)
            {
                devices.Add(new VirtioConsole(io.Console));
            }

            for (int n = 0; n < devices.Count; n++)
            {
                if (options.VirtioPci)
                {
                    pci.Attach(FirstVirtioPciSlot + n, 0, new VirtioPciTransport(devices[n], Vm.Memory, io.Log.WriteLine));
                }
                else
                {
                    AddVirtio(devices[n], n, io);
                }
            }

            // A machine for a snapshot (no plan) takes SYS_HEAPINFO's layout and the open files from the snapshot (LoadDevices).
            if (options.Semihosting)
            {
                _semihosting = CreateSemihosting(config, options, plan is null ? default : HeapLayout(config, plan, deviceTree!), io);
                _owned.Add(_semihosting);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    // virt has no exit device (PSCI SYSTEM_OFF ends the run), so nothing ever raises this event.
    public event Action<int, string>? DeviceExit
    {
        add { }
        remove { }
    }

    public Vm Vm { get; }

    public MachineConfig Config { get; }

    public IReadOnlyList<Vcpu> Vcpus { get; } = [];

    public IoBus MmioBus { get; } = new(IoBusKind.Mmio, "user-mmio");

    public IoBus PioBus { get; } = new(IoBusKind.Pio, "user-pio");

    /// <summary>The PCIe root bus (bus 0 behind the ECAM window).</summary>
    public PciBus? PciBus { get; private set; }

    /// <summary>The slot of QEMU's pci-testdev on the root bus (function 0).</summary>
    public const int PciTestDeviceSlot = 1;

    /// <summary>The slot of the first virtio-pci function (<see cref="Arm64VirtOptions.VirtioPci"/>); the others follow.</summary>
    public const int FirstVirtioPciSlot = 2;

    /// <summary>How many virtio-pci functions the root bus takes.</summary>
    public const int VirtioPciSlots = 32 - FirstVirtioPciSlot;

    public byte[]? DeviceTree { get; }

    public IHypercallHandler? Hypercalls => _semihosting;

    // With semihosting the console input is the semihosting console's (SYS_READC, SYS_READ of ":tt").
    public int SendInput(ReadOnlySpan<byte> data) => _semihosting?.Console.Offer(data) ?? _uart.Receive(data);

    public string DescribeInterruptController() => _backend.DescribeInterruptController(Vm);

    public void Dispose()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        _owned.Clear();
        Vm.Dispose();
    }

    // SYS_GET_CMDLINE is QEMU's: the kernel's path, then the --append text.
    private static ArmSemihosting CreateSemihosting(MachineConfig config, Arm64VirtOptions options, SemihostingLayout layout, MachineIo io)
    {
        string commandLine = string.IsNullOrEmpty(config.Append) ? config.Kernel ?? "" : $"{config.Kernel} {config.Append}";
        return new ArmSemihosting(options.SemihostingRoot, commandLine, layout, new SemihostingConsole(io.Console, io.Log), io.Log);
    }

    // SYS_HEAPINFO is QEMU's layout: RAM's largest gap no loaded image occupies.
    private static SemihostingLayout HeapLayout(MachineConfig config, Arm64BootPlan plan, byte[] deviceTree)
    {
        var used = new List<(ulong, ulong)> { (plan.KernelStart, plan.KernelEnd), (plan.DtbAddress, plan.DtbAddress + (ulong)deviceTree.Length) };
        if (plan.InitrdStart is { } initrd)
        {
            used.Add((initrd, initrd + plan.InitrdSize));
        }

        return SemihostingLayout.LargestGap(RamBase, config.MemorySize, used);
    }

    // The PCI I/O space is this machine's port bus, reached only through the I/O window.
    private PciBus AddPcie(MachineIo io)
    {
        var bus = new PciBus(new VirtPciHost(Vm, _backend, MmioBus, PioBus, io.Log.WriteLine));
        bus.Attach(0, 0, new GpexHostBridge());
        var testDevice = new PciTestDevice();
        _owned.Add(testDevice);
        bus.Attach(PciTestDeviceSlot, 0, testDevice);
        MmioBus.Register(PcieEcamBase, PcieEcamSize, new VirtPciEcam(bus));
        MmioBus.Register(PciePioBase, PciePioSize, new VirtPciIoWindow(PioBus));
        PciBus = bus;
        return bus;
    }

    private void AddVirtio(VirtioDevice device, int index, MachineIo io)
    {
        var transport = new VirtioMmioTransport(device, Vm.Memory, _backend.GetSpiLine(Vm, VirtioMmioIntId(index)), io.Log.WriteLine);
        MmioBus.Register(VirtioMmioAddress(index), VirtioMmioStride, transport);
        _transports.Add(transport);
    }
}
