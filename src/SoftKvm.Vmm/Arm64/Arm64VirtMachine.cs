using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Virtio;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// A created arm64 <c>virt</c> machine: RAM in slot 0 at 0x4000_0000 with the images loaded, the vCPUs in
/// their boot state (vCPU 0 at the entry point with x0 = DTB, the others off until PSCI CPU_ON), and the
/// userspace devices: PL011 (INTID 33), PL031 (INTID 34), and virtio-mmio transports (INTID 48 + n) for the
/// disks and the optional virtio-console.
/// </summary>
internal sealed class Arm64VirtMachine : IMachine
{
    private readonly IArm64VirtBackend _backend;
    private readonly List<IDisposable> _owned = [];
    private readonly Pl011 _uart;

    public Arm64VirtMachine(MachineConfig config, KernelImage kernel, byte[] initrd, Arm64BootPlan plan, byte[] deviceTree, IArm64VirtBackend backend, MachineIo io)
    {
        _backend = backend;
        DeviceTree = deviceTree;
        Vm = backend.CreateVm(config.Cpus, config.OptionsOf<Arm64VirtOptions>().Gic);
        try
        {
            Vm.SetMemoryRegion(0, RamBase, config.MemorySize);
            GuestImageWriter.Write(Vm.Memory, plan, kernel, initrd, deviceTree);

            var vcpus = new Vcpu[config.Cpus];
            for (int i = 0; i < vcpus.Length; i++)
            {
                vcpus[i] = Vm.CreateVcpu(i);
                backend.SetBootState(vcpus[i], new Arm64BootState(i == 0 ? plan.Entry : 0, i == 0 ? plan.DtbAddress : 0, PoweredOn: i == 0));
            }

            Vcpus = vcpus;
            backend.CompleteSetup(Vm);
            _uart = new Pl011(io.Console, backend.GetSpiLine(Vm, UartIntId));
            MmioBus.Register(UartBase, UartSize, _uart);
            var rtc = new Pl031(backend.GetSpiLine(Vm, RtcIntId));
            _owned.Add(rtc);
            MmioBus.Register(RtcBase, RtcSize, rtc);
            int n = 0;
            foreach (var disk in config.Disks)
            {
                var blk = new VirtioBlock(disk.Path, disk.ReadOnly);
                _owned.Add(blk);
                AddVirtio(blk, n++, io);
            }

            if (config.VirtioConsole)
            {
                AddVirtio(new VirtioConsole(io.Console), n, io);
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

    public IReadOnlyList<Vcpu> Vcpus { get; } = [];

    public IoBus MmioBus { get; } = new(IoBusKind.Mmio, "user-mmio");

    public IoBus PioBus { get; } = new(IoBusKind.Pio, "user-pio");

    public byte[]? DeviceTree { get; }

    public int SendInput(ReadOnlySpan<byte> data) => _uart.Receive(data);

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

    private void AddVirtio(VirtioDevice device, int index, MachineIo io)
    {
        var transport = new VirtioMmioTransport(device, Vm.Memory, _backend.GetSpiLine(Vm, VirtioMmioIntId(index)), io.Log.WriteLine);
        MmioBus.Register(VirtioMmioAddress(index), VirtioMmioStride, transport);
    }
}
