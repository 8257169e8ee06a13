using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Virtio;
using SoftKvm.Devices.X86;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// A created PC: an <see cref="X86Vm"/> with the in-kernel irqchip (local APICs, IOAPIC, PIC pair, PIT),
/// RAM in slot 0 from 0 (and slot 1 from 4 GiB), the Multiboot kernel, modules, information structure and
/// MP table in memory, vCPU 0 in the Multiboot entry state (32-bit flat protected mode, paging off,
/// interrupts off, EAX = 0x2BADB002, EBX = the information structure) and the other vCPUs waiting for
/// INIT/SIPI. Userspace devices on the PIO bus: 16550A at 0x3F8 (IRQ 4), CMOS RTC at 0x70, isa-debug-exit
/// at 0xF4 (raises <see cref="DeviceExit"/>); on the MMIO bus, virtio-mmio transports as microvm places
/// them (<see cref="PcMemoryMap.VirtioMmioAddress"/>): the disks (virtio-blk), then a virtio-console. A
/// device with a single virtqueue (virtio-blk) gets its QueueNotify register as a fast-MMIO doorbell: a
/// zero-length ioeventfd (KVM_IOEVENTFD with len 0) whose signal serves the queue on the notifying vCPU's
/// thread, so a notify never leaves the hypervisor layer.
/// </summary>
internal sealed class PcMachine : IMachine
{
    /// <summary>The COM1 base port.</summary>
    public const ushort Com1Port = 0x3F8;

    /// <summary>COM1's ISA IRQ.</summary>
    public const int Com1Irq = 4;

    /// <summary>The CMOS RTC's index port.</summary>
    public const ushort RtcPort = 0x70;

    /// <summary>The flat 32-bit code segment descriptor the entry state uses (base 0, limit 4 GiB, execute/read).</summary>
    public const ulong FlatCode32 = 0x00CF_9B00_0000_FFFF;

    /// <summary>The flat 32-bit data segment descriptor (base 0, limit 4 GiB, read/write).</summary>
    public const ulong FlatData32 = 0x00CF_9300_0000_FFFF;

    /// <summary>The virtio-mmio QueueNotify register's offset (virtio 1.2 section 4.2.2).</summary>
    public const ulong VirtioQueueNotify = 0x50;

    // A QueueNotify value of 0 (queue 0), written to the transport when the fast-MMIO doorbell rings.
    private static readonly byte[] NotifyQueue0 = new byte[4];

    private readonly X86Vm _vm;
    private readonly X86Vcpu[] _vcpus = [];
    private readonly Uart16550 _uart;
    private readonly List<IDisposable> _owned = [];

    public PcMachine(MachineConfig config, MultibootImage kernel, IReadOnlyList<(ulong Address, byte[] Data)> blobs, byte ioApicId, MachineIo io)
    {
        _vm = new X86Vm { ForceEmulationPrefix = config.OptionsOf<PcOptions>().ForceEmulationPrefix };
        try
        {
            _vm.SetMemoryRegion(0, 0, PcMemoryMap.LowRamSize(config.MemorySize));
            if (PcMemoryMap.HighRamSize(config.MemorySize) is ulong high and > 0)
            {
                _vm.SetMemoryRegion(1, PcMemoryMap.HighRamBase, high);
            }

            foreach (var s in kernel.Segments)
            {
                GuestImageWriter.Put(_vm.Memory, s.Address, kernel.Data.AsSpan(s.FileOffset, s.FileSize), $"kernel '{kernel.Name}'");
                GuestImageWriter.Zero(_vm.Memory, s.Address + (ulong)s.FileSize, s.MemorySize - (ulong)s.FileSize, $"kernel '{kernel.Name}'");
            }

            foreach (var (address, data) in blobs)
            {
                GuestImageWriter.Put(_vm.Memory, address, data, "boot data");
            }

            Irqchip = _vm.CreateIrqchip();
            SetIoApicId(Irqchip.IoApic, ioApicId);
            bool withhold = config.OptionsOf<PcOptions>().WithholdInstructionLength;
            _vcpus = new X86Vcpu[config.Cpus];
            for (int i = 0; i < _vcpus.Length; i++)
            {
                _vcpus[i] = _vm.CreateVcpu(i);
                _vcpus[i].WithholdEptInstructionLength = withhold;
            }

            SetMultibootEntryState(_vcpus[0], kernel.Entry, (uint)PcMemoryMap.BootDataStart);

            Vcpus = _vcpus;

            _uart = new Uart16550(io.Console, Irqchip.GetLine(Com1Irq));
            PioBus.Register(Com1Port, Uart16550.PortCount, _uart);
            PioBus.Register(RtcPort, CmosRtc.PortCount, new CmosRtc(unsupported: io.Log.WriteLine));
            PioBus.Register(IsaDebugExit.DefaultPort, IsaDebugExit.PortCount, new IsaDebugExit(code =>
                DeviceExit?.Invoke(code, $"isa-debug-exit: the guest wrote 0x{(uint)code >> 1:x}, exit code {code}")));
            int n = 0;
            foreach (var disk in config.Disks)
            {
                var blk = new VirtioBlock(disk.Path, disk.ReadOnly);
                _owned.Add(blk);
                var transport = AddVirtio(blk, n, io);
                AddFastMmioDoorbell(transport, PcMemoryMap.VirtioMmioAddress(n) + VirtioQueueNotify);
                n++;
            }

            AddVirtio(new VirtioConsole(io.Console), n, io);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public event Action<int, string>? DeviceExit;

    public Vm Vm => _vm;

    /// <summary>The in-kernel irqchip.</summary>
    public X86Irqchip Irqchip { get; }

    public IReadOnlyList<Vcpu> Vcpus { get; } = [];

    public IoBus MmioBus { get; } = new(IoBusKind.Mmio, "user-mmio");

    public IoBus PioBus { get; } = new(IoBusKind.Pio, "user-pio");

    public byte[]? DeviceTree => null;

    /// <summary>
    /// Puts <paramref name="vcpu"/> in the Multiboot v1 entry state (§3.2 "Machine state"): CR0 = PE|ET
    /// (paging off), CS a flat 32-bit execute/read segment, DS/ES/FS/GS/SS flat 32-bit read/write segments,
    /// EFLAGS = 2 (IF and VM clear), EAX = 0x2BADB002, EBX = <paramref name="info"/>, EIP = <paramref name="entry"/>.
    /// A20 is always on in this machine (no gate is modelled).
    /// </summary>
    public static void SetMultibootEntryState(X86Vcpu vcpu, uint entry, uint info)
    {
        vcpu.SetRegister(X86Register.Cr0, 0x11);
        vcpu.SetRegister(X86Register.Cr4, 0);
        vcpu.SetRegister(X86Register.Efer, 0);
        foreach (var s in Enum.GetValues<X86Segment>())
        {
            if (s == X86Segment.Cs)
            {
                vcpu.SetSegment(s, 0x10, FlatCode32);
            }
            else
            {
                vcpu.SetSegment(s, 0x18, FlatData32);
            }
        }

        vcpu.SetRegister(X86Register.Rip, entry);
        vcpu.SetRegister(X86Register.Rflags, 2);
        vcpu.SetRegister(X86Register.Rax, MultibootHeader.BootloaderMagic);
        vcpu.SetRegister(X86Register.Rbx, info);
    }

    public int SendInput(ReadOnlySpan<byte> data) => _uart.Receive(data);

    public string DescribeInterruptController()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"x86 in-kernel irqchip: {Vcpus.Count} local APIC(s), IOAPIC at 0x{IoApic.DefaultBase:x}, PIC master mask 0x{Irqchip.Pic.MasterMask:x2}, dropped messages {Irqchip.DroppedMessages}");
        foreach (var x in _vcpus)
        {
            var apic = x.Apic!;
            sb.AppendLine($"  vCPU {x.Id}: mp_state {x.MpState}, APIC id {apic.Id}, {(apic.HardwareEnabled ? "enabled" : "disabled")}{(apic.X2Apic ? " x2APIC" : string.Empty)}, software {(apic.SoftwareEnabled ? "enabled" : "disabled")}, TPR 0x{apic.Tpr:x2}, PPR 0x{apic.Ppr:x2}");
        }

        for (int pin = 0; pin < IoApic.Pins; pin++)
        {
            ulong entry = Irqchip.IoApic.GetRedirection(pin);
            if ((entry & (1UL << 16)) == 0)
            {
                sb.AppendLine($"  IOAPIC pin {pin}: vector {entry & 0xFF}, redirection 0x{entry:x16}");
            }
        }

        return sb.ToString();
    }

    public void Dispose()
    {
        _vm.Dispose();
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        _owned.Clear();
    }

    private VirtioMmioTransport AddVirtio(VirtioDevice device, int index, MachineIo io)
    {
        var transport = new VirtioMmioTransport(device, _vm.Memory, Irqchip.GetLine(PcMemoryMap.VirtioIrq(index)), io.Log.WriteLine);
        MmioBus.Register(PcMemoryMap.VirtioMmioAddress(index), PcMemoryMap.VirtioMmioStride, transport);
        return transport;
    }

    // KVM_IOEVENTFD with len 0 on the FAST_MMIO bus: any write to the doorbell signals without emulation;
    // the VMM's handler (here: on the signalling thread, like an ioeventfd handler) serves queue 0.
    private void AddFastMmioDoorbell(VirtioMmioTransport transport, ulong address)
    {
        var signal = new EventFd();
        _owned.Add(signal);
        signal.Signaled += fd =>
        {
            fd.Drain();
            transport.Write(null, VirtioQueueNotify, NotifyQueue0);
        };
        _vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(address, 0, signal));
    }

    private static void SetIoApicId(IoApic ioApic, byte id)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, 0); // IOREGSEL = IOAPICID
        ioApic.Write(null, 0x00, word);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)id << 24);
        ioApic.Write(null, 0x10, word);
    }
}
