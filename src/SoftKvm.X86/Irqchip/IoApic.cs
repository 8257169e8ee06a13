using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Irqchip;

/// <summary>
/// The in-kernel I/O APIC (82093AA, as KVM's <c>ioapic.c</c>): 24 pins, IOREGSEL at offset 0x00 and
/// IOWIN at 0x10 of its MMIO window (0xFEC0_0000), redirection entries with vector, delivery mode,
/// destination mode, polarity, remote IRR, trigger mode, mask and destination. Edge pins send a message
/// on a rising edge; level pins while asserted and not waiting for an EOI (remote IRR).
/// Thread-safe: pins change from device threads, EOIs come from vCPU threads.
/// </summary>
public sealed partial class IoApic : IIoDevice
{
    /// <summary>The default base address.</summary>
    public const ulong DefaultBase = 0xFEC0_0000;

    /// <summary>The size of the MMIO window KVM registers.</summary>
    public const ulong Size = 0x100;

    /// <summary>The number of pins.</summary>
    public const int Pins = 24;

    private const ulong Masked = 1UL << 16, RemoteIrr = 1UL << 14, LevelTrigger = 1UL << 15, DeliveryStatus = 1UL << 12;

    private readonly object _lock = new();
    private readonly X86Irqchip _chip;
    private readonly ulong[] _redirection = new ulong[Pins];
    private readonly bool[] _level = new bool[Pins];
    private uint _select;

    /// <summary>IOREGSEL's sequence (a seqlock's): odd while a write of it is under way, bumped twice by each under the lock.</summary>
    private int _selectSequence;
    private uint _id;

    /// <summary>IOWIN's 32-bit read, published for native blocks (<see cref="PublishedReads"/>), or null.</summary>
    private PublishedRead? _windowRead;

    internal IoApic(X86Irqchip chip)
    {
        _chip = chip;
        for (int i = 0; i < Pins; i++)
        {
            _redirection[i] = Masked;
        }
    }

    /// <summary>
    /// Publishes IOWIN's 32-bit read at <paramref name="windowGpa"/> in <paramref name="reads"/> (issue 19): the register IOREGSEL
    /// selects, retracted under the lock before anything it depends on changes (IOREGSEL, the id, a redirection entry, its
    /// remote IRR) and published again after; a native block's read of it then leaves no native code.
    /// </summary>
    internal void PublishWindow(PublishedReads reads, ulong windowGpa)
    {
        lock (_lock)
        {
            _windowRead = reads.ClaimMmio(windowGpa, 4);
            PublishWindowLocked();
        }
    }

    /// <summary>Under the lock, before a change of what IOWIN reads: its published value taken back.</summary>
    private void RetractWindowLocked() => _windowRead?.Retract();

    /// <summary>Under the lock, after a change: IOWIN's value published again.</summary>
    private void PublishWindowLocked() => _windowRead?.Publish(ReadIndirect(_select));

    /// <summary>The redirection entry of <paramref name="pin"/>.</summary>
    public ulong GetRedirection(int pin)
    {
        lock (_lock)
        {
            return _redirection[pin];
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Without the lock, as a seqlock's reader (a read is an exit path, docs/performance.md#x86-exit-paths-issue-19):
    /// IOREGSEL, the id and every redirection entry are single words, each written whole under the lock, so a read
    /// sees one of them as a write left it; IOWIN's read is taken only when no write of IOREGSEL began or ended
    /// between the read of IOREGSEL and that of the register it selects (else under the lock), so it returns the
    /// register IOREGSEL selected when it was read, as under the lock.
    /// </remarks>
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        data.Clear();
        uint value = 0;
        switch (offset & 0xF0)
        {
            case 0x00:
                value = Volatile.Read(ref _select);
                break;
            case 0x10:
                int sequence = Volatile.Read(ref _selectSequence);
                value = ReadIndirect(Volatile.Read(ref _select));
                if ((sequence & 1) != 0 || Volatile.Read(ref _selectSequence) != sequence)
                {
                    lock (_lock)
                    {
                        value = ReadIndirect(_select);
                    }
                }

                break;
        }

        ulong v = (ulong)value >> (int)((offset & 3) * 8);
        for (int i = 0; i < data.Length && i < 8; i++)
        {
            data[i] = (byte)(v >> (8 * i));
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 || (offset & 3) != 0)
        {
            return; // only 32-bit accesses are defined
        }

        uint value = BinaryPrimitives.ReadUInt32LittleEndian(data);
        switch (offset & 0xF0)
        {
            case 0x00:
                lock (_lock)
                {
                    SetSelect(value & 0xFF);
                }

                break;
            case 0x10:
                WriteIndirect(value);
                break;
            case 0x40:
                EndOfInterrupt((int)(value & 0xFF)); // the version 0x20 EOI register
                break;
        }
    }

    /// <summary>IOREGSEL, under the lock: the sequence odd around the write, for the reads without it (<see cref="Read"/>).</summary>
    private void SetSelect(uint value)
    {
        RetractWindowLocked();
        Volatile.Write(ref _selectSequence, _selectSequence + 1);
        Volatile.Write(ref _select, value);
        Volatile.Write(ref _selectSequence, _selectSequence + 1);
        PublishWindowLocked();
    }

    /// <summary>The register <paramref name="index"/> selects (with or without the lock: each is one word read once).</summary>
    private uint ReadIndirect(uint index)
    {
        switch (index)
        {
            case 0: return Volatile.Read(ref _id) << 24;
            case 1: return 0x11 | ((uint)(Pins - 1) << 16); // version 0x11, max redirection entry 23
            case 2: return Volatile.Read(ref _id) << 24;
        }

        if (index >= 0x10 && index < 0x10 + 2 * Pins)
        {
            ulong e = Volatile.Read(ref _redirection[(index - 0x10) >> 1]);
            return (index & 1) == 0 ? (uint)e : (uint)(e >> 32);
        }

        return 0xFFFF_FFFF;
    }

    private void WriteIndirect(uint value)
    {
        int pin = -1;
        lock (_lock)
        {
            uint index = _select;
            if (index == 0)
            {
                RetractWindowLocked();
                _id = (value >> 24) & 0xF;
                PublishWindowLocked();
                return;
            }

            if (index < 0x10 || index >= 0x10 + 2 * Pins)
            {
                return;
            }

            RetractWindowLocked();

            int p = (int)((index - 0x10) >> 1);
            ulong e = _redirection[p];
            const ulong readOnly = RemoteIrr | DeliveryStatus;
            if ((index & 1) == 0)
            {
                e = (e & (0xFFFF_FFFF_0000_0000UL | readOnly)) | (value & ~(uint)readOnly);
            }
            else
            {
                e = (e & 0xFFFF_FFFFUL) | ((ulong)value << 32);
            }

            if ((e & LevelTrigger) == 0)
            {
                e &= ~RemoteIrr;
            }

            _redirection[p] = e;
            PublishWindowLocked();
            if ((e & Masked) == 0 && (e & LevelTrigger) != 0 && _level[p] && (e & RemoteIrr) == 0)
            {
                pin = p;
            }
        }

        if (pin >= 0)
        {
            Service(pin);
        }
    }

    /// <summary>Sets the level of <paramref name="pin"/> (active high after polarity).</summary>
    public void SetPin(int pin, bool level)
    {
        if ((uint)pin >= Pins)
        {
            return;
        }

        bool fire;
        lock (_lock)
        {
            bool old = _level[pin];
            _level[pin] = level;
            ulong e = _redirection[pin];
            bool isLevel = (e & LevelTrigger) != 0;
            fire = level && (e & Masked) == 0 && (isLevel ? (e & RemoteIrr) == 0 : !old);
        }

        if (fire)
        {
            Service(pin);
        }
    }

    private void Service(int pin)
    {
        ApicMessage m;
        lock (_lock)
        {
            ulong e = _redirection[pin];
            bool isLevel = (e & LevelTrigger) != 0;
            if (isLevel)
            {
                RetractWindowLocked();
                _redirection[pin] = e | RemoteIrr;
                PublishWindowLocked();
            }

            m = new ApicMessage((uint)(e >> 56), (e & (1UL << 11)) != 0, (ApicDeliveryMode)((e >> 8) & 7), (int)(e & 0xFF), isLevel);
        }

        _chip.Deliver(m, null);
    }

    /// <summary>A local APIC's EOI of a level-triggered <paramref name="vector"/>: clears remote IRR and re-fires a still-asserted pin.</summary>
    public void EndOfInterrupt(int vector)
    {
        Span<int> refire = stackalloc int[Pins];
        int n = 0;
        lock (_lock)
        {
            for (int p = 0; p < Pins; p++)
            {
                ulong e = _redirection[p];
                if ((int)(e & 0xFF) == vector && (e & RemoteIrr) != 0)
                {
                    RetractWindowLocked();
                    _redirection[p] = e & ~RemoteIrr;
                    PublishWindowLocked();
                    if (_level[p] && (e & Masked) == 0)
                    {
                        refire[n++] = p;
                    }
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            Service(refire[i]);
        }
    }
}
