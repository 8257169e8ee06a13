using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Virtio;
using SoftKvm.Devices.X86;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// A created PC: an <see cref="X86Vm"/> with the in-kernel irqchip (local APICs, IOAPIC, PIC pair, PIT),
/// RAM in slot 0 from 0 (and slot 1 from 4 GiB), what the loader placed (<see cref="PcBoot"/>: a Multiboot
/// kernel with its modules and information structure, or a Linux kernel with its initrd, zero page, command
/// line, GDT and page tables), the MP table and the ACPI tables in memory, vCPU 0 in the loader's entry state
/// (Multiboot: 32-bit flat protected mode, paging off, interrupts off, EAX = 0x2BADB002, EBX = the information
/// structure; Linux: <see cref="SetLinuxEntryState"/>) and the other vCPUs waiting for INIT/SIPI. Userspace
/// devices on the PIO bus: 16550A at 0x3F8 (IRQ 4), CMOS RTC at 0x70, isa-debug-exit
/// at 0xF4 (raises <see cref="DeviceExit"/>), and what <see cref="PcPlatform"/> adds (PCI bus 0, fw_cfg,
/// the ACPI PM registers and reset register, pc-testdev); every device line goes through
/// <see cref="PcIrqLines"/>, so devices can share one. The disks (virtio-blk), then a virtio-console, are
/// virtio-pci functions on bus 0 (<see cref="PcOptions.VirtioPci"/>, the default) or, with virtio-mmio,
/// transports on the MMIO bus as microvm places them (<see cref="PcMemoryMap.VirtioMmioAddress"/>); there a
/// device with a single virtqueue (virtio-blk) gets its QueueNotify register as a fast-MMIO doorbell: a
/// zero-length ioeventfd (KVM_IOEVENTFD with len 0) whose signal serves the queue on the notifying vCPU's
/// thread, so a notify never leaves the hypervisor layer.
/// </summary>
internal sealed partial class PcMachine : IMachine
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
    private readonly CmosRtc _rtc = null!;
    private readonly List<VirtioMmioTransport> _transports = [];
    private readonly List<IDisposable> _owned = [];
    private readonly PcIrqLines _lines = null!;
    private readonly PcPlatform _platform = null!;

    public PcMachine(MachineConfig config, PcBoot boot, byte ioApicId, MachineIo io)
    {
        Config = config;
        _vm = new X86Vm { ForceEmulationPrefix = config.OptionsOf<PcOptions>().ForceEmulationPrefix };
        try
        {
            if (config.DeterministicEpoch is { } epoch)
            {
                _vm.MakeClockVirtual(epoch);
            }

            _vm.SetMemoryRegion(0, 0, PcMemoryMap.LowRamSize(config.MemorySize));
            if (PcMemoryMap.HighRamSize(config.MemorySize) is ulong high and > 0)
            {
                _vm.SetMemoryRegion(1, PcMemoryMap.HighRamBase, high);
            }

            foreach (var piece in boot.Pieces)
            {
                GuestImageWriter.Put(_vm.Memory, piece.Address, piece.Data.Span, piece.What);
                GuestImageWriter.Zero(_vm.Memory, piece.Address + (ulong)piece.Data.Length, piece.ZeroFill, piece.What);
            }

            Irqchip = _vm.CreateIrqchip();
            SetIoApicId(Irqchip.IoApic, ioApicId);
            _lines = new PcIrqLines(Irqchip);
            bool withhold = config.OptionsOf<PcOptions>().WithholdInstructionLength;
            _vcpus = new X86Vcpu[config.Cpus];
            for (int i = 0; i < _vcpus.Length; i++)
            {
                _vcpus[i] = _vm.CreateVcpu(i);
                _vcpus[i].WithholdEptInstructionLength = withhold;
            }

            SetEntryState(_vcpus[0], boot);

            Vcpus = _vcpus;

            _uart = new Uart16550(io.Console, _lines.NewInput(Com1Irq));
            PioBus.Register(Com1Port, Uart16550.PortCount, _uart);
            _rtc = new CmosRtc(_vm.Clock.TimeProvider, io.Log.WriteLine);
            PioBus.Register(RtcPort, CmosRtc.PortCount, _rtc);
            PioBus.Register(IsaDebugExit.DefaultPort, IsaDebugExit.PortCount, new IsaDebugExit(code =>
                DeviceExit?.Invoke(code, $"isa-debug-exit: the guest wrote 0x{(uint)code >> 1:x}, exit code {code}")));
            var devices = new List<VirtioDevice>();
            foreach (var disk in config.Disks)
            {
                var blk = new VirtioBlock(disk.Path, disk.ReadOnly);
                _owned.Add(blk);
                devices.Add(blk);
            }

            devices.Add(new VirtioConsole(io.Console));
            bool virtioPci = config.OptionsOf<PcOptions>().VirtioPci;
            var pciFunctions = virtioPci ? devices.Select(d => (PciDevice)new VirtioPciTransport(d, _vm.Memory, io.Log.WriteLine)).ToList() : [];
            _platform = new PcPlatform(config, _vm, Irqchip, _lines, MmioBus, PioBus, io, (code, message) => DeviceExit?.Invoke(code, message), pciFunctions);
            _owned.Add(_platform);
            if (!virtioPci)
            {
                for (int n = 0; n < devices.Count; n++)
                {
                    var transport = AddVirtio(devices[n], n, io);
                    if (devices[n] is VirtioBlock)
                    {
                        AddFastMmioDoorbell(transport, PcMemoryMap.VirtioMmioAddress(n) + VirtioQueueNotify);
                    }
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public event Action<int, string>? DeviceExit;

    private static void SetEntryState(X86Vcpu vcpu, PcBoot boot)
    {
        switch (boot.Mode)
        {
            case PcEntryMode.Multiboot:
                SetMultibootEntryState(vcpu, (uint)boot.Entry, (uint)boot.Info);
                break;
            default:
                SetLinuxEntryState(vcpu, boot.Entry, boot.Info, boot.Mode == PcEntryMode.Linux64);
                break;
        }
    }

    public Vm Vm => _vm;

    public MachineConfig Config { get; }

    /// <summary>The in-kernel irqchip.</summary>
    public X86Irqchip Irqchip { get; }

    public IReadOnlyList<Vcpu> Vcpus { get; } = [];

    /// <summary>The PCI bus, fw_cfg, pc-testdev and the ACPI registers (<see cref="PcPlatform"/>).</summary>
    public PcPlatform Platform => _platform;

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

    /// <summary>
    /// Puts <paramref name="vcpu"/> in the entry state of Linux's 32-bit boot protocol (boot.rst): 32-bit flat
    /// protected mode with paging off, the loader's GDT in GDTR, CS = __BOOT_CS, the data segments __BOOT_DS,
    /// interrupts off, ESI = <paramref name="zeroPage"/>, EBP = EDI = EBX = 0, EIP = <paramref name="entry"/>;
    /// with <paramref name="longMode"/>, the 64-bit protocol's instead: long mode (EFER.LME/LMA, CR4.PAE,
    /// CR0.PG) over the loader's identity map, a 64-bit __BOOT_CS, RSI = <paramref name="zeroPage"/>.
    /// </summary>
    public static void SetLinuxEntryState(X86Vcpu vcpu, ulong entry, ulong zeroPage, bool longMode)
    {
        vcpu.SetRegister(X86Register.Cr0, longMode ? 0x8000_0011UL : 0x11);
        vcpu.SetRegister(X86Register.Cr3, longMode ? PcMemoryMap.LinuxPageTables : 0);
        vcpu.SetRegister(X86Register.Cr4, longMode ? 0x20UL : 0);
        vcpu.SetRegister(X86Register.Efer, longMode ? 0x500UL : 0);
        vcpu.SetDescriptorTable(X86DescriptorTable.Gdt, PcMemoryMap.LinuxGdt, 31);
        vcpu.SetDescriptorTable(X86DescriptorTable.Idt, 0, 0);
        foreach (var s in Enum.GetValues<X86Segment>())
        {
            if (s == X86Segment.Cs)
            {
                vcpu.SetSegment(s, PcLinuxLoader.BootCs, longMode ? PcLinuxLoader.FlatCode64 : FlatCode32);
            }
            else
            {
                vcpu.SetSegment(s, PcLinuxLoader.BootDs, FlatData32);
            }
        }

        vcpu.SetRegister(X86Register.Rip, entry);
        vcpu.SetRegister(X86Register.Rflags, 2);
        vcpu.SetRegister(X86Register.Rsi, zeroPage);
        vcpu.SetRegister(X86Register.Rbp, 0);
        vcpu.SetRegister(X86Register.Rdi, 0);
        vcpu.SetRegister(X86Register.Rbx, 0);
    }

    public int SendInput(ReadOnlySpan<byte> data) => _uart.Receive(data);

    public string DescribeInterruptController()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"x86 in-kernel irqchip: {Vcpus.Count} local APIC(s), IOAPIC at 0x{IoApic.DefaultBase:x}, PIC master mask 0x{Irqchip.Pic.MasterMask:x2}, dropped messages {Irqchip.DroppedMessages}");
        foreach (var x in _vcpus)
        {
            var apic = x.Apic!;
            sb.AppendLine($"  vCPU {x.Id}: mp_state {x.MpState}, RIP 0x{x.LinearRip:x}, RFLAGS 0x{x.GetRegister(X86Register.Rflags):x}, APIC id {apic.Id}, {(apic.HardwareEnabled ? "enabled" : "disabled")}{(apic.X2Apic ? " x2APIC" : string.Empty)}, software {(apic.SoftwareEnabled ? "enabled" : "disabled")}, TPR 0x{apic.Tpr:x2}, PPR 0x{apic.Ppr:x2}, IRR [{Vectors(apic.IsRequested)}], ISR [{Vectors(apic.IsInService)}]");
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

    // The vectors 16-255 for which has holds, in hex, space-separated.
    private static string Vectors(Func<int, bool> has) =>
        string.Join(' ', Enumerable.Range(16, 240).Where(has).Select(v => $"0x{v:x2}"));

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
        var transport = new VirtioMmioTransport(device, _vm.Memory, _lines.NewInput(PcMemoryMap.VirtioIrq(index)), io.Log.WriteLine);
        MmioBus.Register(PcMemoryMap.VirtioMmioAddress(index), PcMemoryMap.VirtioMmioStride, transport);
        _transports.Add(transport);
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
