using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Irqchip;

/// <summary>
/// The in-kernel interrupt controller of an x86 VM (<c>KVM_CREATE_IRQCHIP</c>): the 8259 pair, the
/// IOAPIC, the 8254 PIT and one <see cref="LocalApic"/> per vCPU, with KVM's default GSI routing
/// (GSI n to PIC IRQ n for n &lt; 16 and to IOAPIC pin n, except GSI 0 which is IOAPIC pin 2).
/// Registers the PIC (0x20, 0xA0, 0x4D0), the PIT (0x40-0x43, 0x61) on the PIO bus and the IOAPIC at
/// 0xFEC0_0000 on the MMIO bus. Devices raise interrupts through <see cref="GetLine"/> or <see cref="SetIrq"/>.
/// </summary>
public sealed class X86Irqchip
{
    private readonly Lock _apicLock = new();
    private LocalApic[] _apics = [];
    private long _dropped;

    internal X86Irqchip(Vm vm)
    {
        Clock = vm.Clock;
        Pic = new Pic8259(this);
        IoApic = new IoApic(this);
        Pit = new Pit8254(this);
        vm.PioBus.Register(0x20, 2, Pic.MasterPorts);
        vm.PioBus.Register(0xA0, 2, Pic.SlavePorts);
        vm.PioBus.Register(0x4D0, 2, Pic.ElcrPorts);
        vm.PioBus.Register(0x40, 4, Pit);
        vm.PioBus.Register(0x61, 1, Pit.SpeakerPort);
        vm.MmioBus.Register(Irqchip.IoApic.DefaultBase, Irqchip.IoApic.Size, IoApic);
        Pic.PublishMasks(PublishedReads, 0x21, 0xA1);
        IoApic.PublishWindow(PublishedReads, Irqchip.IoApic.DefaultBase + 0x10);
    }

    /// <summary>The device reads native blocks complete without leaving native code (issue 19): the PIC's mask registers,
    /// the IOAPIC's IOWIN; each vCPU's CPU reads them (X86Cpu.UsePublishedReads).</summary>
    internal PublishedReads PublishedReads { get; } = new();

    /// <summary>The guest time the PIT and the local APIC timers count (docs/snapshots.md#deterministic-execution).</summary>
    internal Core.Time.GuestClock Clock { get; }

    /// <summary>The 8259 pair.</summary>
    public Pic8259 Pic { get; }

    /// <summary>The IOAPIC.</summary>
    public IoApic IoApic { get; }

    /// <summary>The 8254 PIT.</summary>
    public Pit8254 Pit { get; }

    /// <summary>APIC messages dropped because their delivery mode is not modelled (SMI, reserved modes).</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    /// <summary>Sets the level of global system interrupt <paramref name="gsi"/> (<c>KVM_IRQ_LINE</c>).</summary>
    public void SetIrq(int gsi, bool level)
    {
        if (gsi < 16)
        {
            Pic.SetIrq(gsi, level);
        }

        IoApic.SetPin(gsi == 0 ? 2 : gsi, level);
    }

    /// <summary>A one-method line for a device wired to <paramref name="gsi"/> (for example the 16550A on GSI 4).</summary>
    public IIrqLine GetLine(int gsi)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gsi);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(gsi, Irqchip.IoApic.Pins);
        return new Line(this, gsi);
    }

    /// <summary>Delivers an MSI (<c>KVM_SIGNAL_MSI</c>): address 0xFEExxxxx and data in the Intel format.</summary>
    public void SignalMsi(ulong address, uint data)
    {
        var m = new ApicMessage((uint)(address >> 12) & 0xFF, (address & 4) != 0, (ApicDeliveryMode)((data >> 8) & 7), (int)(data & 0xFF), (data & (1u << 15)) != 0);
        Deliver(m, null);
    }

    /// <summary>
    /// Creates the local APIC of the vCPU <paramref name="vcpu"/> (KVM's <c>kvm_create_lapic</c>, when the
    /// vCPU is created); APIC messages reach the APICs in the order they were created.
    /// </summary>
    internal LocalApic CreateLocalApic(IApicHost vcpu)
    {
        var apic = new LocalApic(vcpu, this);
        lock (_apicLock)
        {
            Volatile.Write(ref _apics, [.. _apics, apic]);
        }

        return apic;
    }

    /// <summary>Sends an APIC bus message to every matching local APIC; <paramref name="source"/> is the sending APIC for IPIs.</summary>
    internal void Deliver(in ApicMessage m, LocalApic? source)
    {
        bool x2 = source?.X2Apic ?? false;
        foreach (var apic in Volatile.Read(ref _apics))
        {
            bool match = m.Shorthand switch
            {
                1 => apic == source,
                2 => true,
                3 => apic != source,
                _ => apic.MatchesDestination(m.Destination, m.Logical, x2),
            };
            if (!match)
            {
                continue;
            }

            apic.Accept(m);
            if (m.Mode == ApicDeliveryMode.LowestPriority && m.Shorthand == 0)
            {
                return; // one destination: the first match
            }
        }
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>The PIC output changed: wake vCPU 0, which takes ExtINT interrupts.</summary>
    internal void PicOutputChanged()
    {
        foreach (var apic in Volatile.Read(ref _apics))
        {
            if (apic.Id == 0)
            {
                apic.NotifyVcpu(true);
                return;
            }
        }
    }

    /// <summary>Fires the platform timers that are due; returns the next deadline (host timestamp).</summary>
    internal long PollTimers(long now) => Pit.Poll(now);

    private sealed class Line(X86Irqchip chip, int gsi) : IIrqLine
    {
        public void Set(bool level) => chip.SetIrq(gsi, level);
    }
}
