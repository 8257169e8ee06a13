using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Irqchip;

/// <summary>
/// The cascaded 8259A PIC pair of a PC (KVM's <c>i8259.c</c>): master at ports 0x20-0x21, slave at
/// 0xA0-0xA1 cascaded on master IRQ 2, edge/level control (ELCR) at 0x4D0-0x4D1. ICW1-ICW4, OCW1-OCW3
/// (masks, specific and non-specific EOI, rotation, IRR/ISR read-back, poll), auto-EOI, special fully
/// nested mode. Its INTR output goes to vCPU 0 through LINT0 (ExtINT). Thread-safe.
/// </summary>
public sealed partial class Pic8259
{
    private readonly object _lock = new();
    private readonly Chip _master = new(true);
    private readonly Chip _slave = new(false);
    private readonly X86Irqchip _chip;
    private bool _output;

    internal Pic8259(X86Irqchip chip)
    {
        _chip = chip;
        MasterPorts = new PortDevice(this, _master);
        SlavePorts = new PortDevice(this, _slave);
        ElcrPorts = new ElcrDevice(this);
    }

    /// <summary>The device for ports 0x20-0x21.</summary>
    public IIoDevice MasterPorts { get; }

    /// <summary>The device for ports 0xA0-0xA1.</summary>
    public IIoDevice SlavePorts { get; }

    /// <summary>The device for ports 0x4D0-0x4D1 (ELCR).</summary>
    public IIoDevice ElcrPorts { get; }

    /// <summary>
    /// Whether the INTR output is asserted. Read at every entry of vCPU 0: one bool, written under the lock, read
    /// without it (a read that races a change sees either value, as one under the lock taken a moment earlier or
    /// later would; the change's own notification follows it).
    /// </summary>
    public bool Output => Volatile.Read(ref _output);

    /// <summary>The master's interrupt mask register.</summary>
    public byte MasterMask
    {
        get
        {
            lock (_lock)
            {
                return _master.Imr;
            }
        }
    }

    /// <summary>
    /// Publishes the 1-byte reads of the mask registers at <paramref name="masterMask"/> and <paramref name="slaveMask"/> in
    /// <paramref name="reads"/> (issue 19): the IMR while no poll command waits, retracted under the lock before a command
    /// changes it (or a poll waits) and published again after; a native block's IN of it then leaves no native code.
    /// </summary>
    internal void PublishMasks(PublishedReads reads, ushort masterMask, ushort slaveMask)
    {
        lock (_lock)
        {
            _master.MaskRead = reads.ClaimPort(masterMask, 1);
            _slave.MaskRead = reads.ClaimPort(slaveMask, 1);
            _master.PublishMaskLocked();
            _slave.PublishMaskLocked();
        }
    }

    /// <summary>Sets the level of ISA IRQ <paramref name="irq"/> (0-15).</summary>
    public void SetIrq(int irq, bool level)
    {
        if ((uint)irq >= 16)
        {
            return;
        }

        bool changed;
        lock (_lock)
        {
            (irq < 8 ? _master : _slave).SetIrq(irq & 7, level);
            changed = UpdateLocked();
        }

        if (changed)
        {
            _chip.PicOutputChanged();
        }
    }

    /// <summary>The interrupt acknowledge cycle: returns the vector and updates ISR/IRR (spurious IRQ 7 when nothing is pending).</summary>
    public int Acknowledge()
    {
        int vector;
        lock (_lock)
        {
            int irq = _master.GetIrq();
            if (irq >= 0)
            {
                _master.Ack(irq);
                if (irq == 2)
                {
                    int irq2 = _slave.GetIrq();
                    if (irq2 >= 0)
                    {
                        _slave.Ack(irq2);
                    }
                    else
                    {
                        irq2 = 7;
                    }

                    vector = _slave.IrqBase + irq2;
                }
                else
                {
                    vector = _master.IrqBase + irq;
                }
            }
            else
            {
                vector = _master.IrqBase + 7;
            }

            UpdateLocked();
        }

        return vector;
    }

    private bool UpdateLocked()
    {
        int irq2 = _slave.GetIrq();
        _master.SetIrq(2, irq2 >= 0);
        bool output = _master.GetIrq() >= 0;
        bool changed = output != _output;
        Volatile.Write(ref _output, output);
        return changed || output;
    }

    private void PortWrite(Chip c, ulong offset, byte value)
    {
        lock (_lock)
        {
            c.MaskRead?.Retract();
            c.Write(offset, value);
            UpdateLocked();
            c.PublishMaskLocked();
        }

        _chip.PicOutputChanged();
    }

    private byte PortRead(Chip c, ulong offset)
    {
        if (offset == 1 && !Volatile.Read(ref c.Poll))
        {
            // The mask register, without the lock (a read is an exit path): one byte, written whole under it; a
            // poll command written meanwhile is ordered after this read, as under the lock.
            return Volatile.Read(ref c.Imr);
        }

        byte v;
        lock (_lock)
        {
            if (c.Poll)
            {
                c.Poll = false;
                int irq = c.GetIrq();
                if (irq >= 0)
                {
                    c.Ack(irq);
                    v = (byte)(irq | 0x80);
                }
                else
                {
                    v = 0;
                }

                UpdateLocked();
                c.PublishMaskLocked();
            }
            else
            {
                v = offset == 0 ? (c.ReadIsr ? c.Isr : c.Irr) : c.Imr;
            }
        }

        return v;
    }

    private sealed class PortDevice(Pic8259 pic, Chip chip) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            data.Clear();
            data[0] = pic.PortRead(chip, offset & 1);
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => pic.PortWrite(chip, offset & 1, data[0]);
    }

    private sealed class ElcrDevice(Pic8259 pic) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            data.Clear();
            lock (pic._lock)
            {
                data[0] = (offset & 1) == 0 ? pic._master.Elcr : pic._slave.Elcr;
                if (data.Length > 1 && offset == 0)
                {
                    data[1] = pic._slave.Elcr;
                }
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            lock (pic._lock)
            {
                for (int i = 0; i < data.Length && offset + (ulong)i < 2; i++)
                {
                    var c = offset + (ulong)i == 0 ? pic._master : pic._slave;
                    c.Elcr = (byte)(data[i] & c.ElcrMask);
                }
            }
        }
    }

    /// <summary>One 8259A.</summary>
    private sealed partial class Chip(bool master)
    {
        public byte Irr, Imr, Isr, Elcr, LastIrr;
        public int IrqBase;
        public bool Poll, ReadIsr;

        /// <summary>The mask register's read, published for native blocks (<see cref="PublishMasks"/>), or null.</summary>
        public PublishedRead? MaskRead;

        /// <summary>Under the lock, after a change: the IMR published, or nothing while a poll command waits (the read polls).</summary>
        public void PublishMaskLocked()
        {
            if (MaskRead is { } r)
            {
                if (Poll)
                {
                    r.Retract();
                }
                else
                {
                    r.Publish(Imr);
                }
            }
        }
        private int _priorityAdd;
        private int _initState;
        private bool _init4, _singleMode, _autoEoi, _rotateOnAutoEoi, _specialFullyNested;

        public byte ElcrMask => master ? (byte)0xF8 : (byte)0xDE;

        public void SetIrq(int irq, bool level)
        {
            byte mask = (byte)(1 << irq);
            if ((Elcr & mask) != 0)
            {
                if (level)
                {
                    Irr |= mask;
                    LastIrr |= mask;
                }
                else
                {
                    Irr &= (byte)~mask;
                    LastIrr &= (byte)~mask;
                }
            }
            else if (level)
            {
                if ((LastIrr & mask) == 0)
                {
                    Irr |= mask;
                }

                LastIrr |= mask;
            }
            else
            {
                LastIrr &= (byte)~mask;
            }
        }

        private int Priority(int mask)
        {
            if (mask == 0)
            {
                return 8;
            }

            int p = 0;
            while ((mask & (1 << ((p + _priorityAdd) & 7))) == 0)
            {
                p++;
            }

            return p;
        }

        public int GetIrq()
        {
            int p = Priority(Irr & ~Imr);
            if (p == 8)
            {
                return -1;
            }

            int isr = Isr;
            if (_specialFullyNested && master)
            {
                isr &= ~(1 << 2);
            }

            return p < Priority(isr) ? (p + _priorityAdd) & 7 : -1;
        }

        public void Ack(int irq)
        {
            if (_autoEoi)
            {
                if (_rotateOnAutoEoi)
                {
                    _priorityAdd = (irq + 1) & 7;
                }
            }
            else
            {
                Isr |= (byte)(1 << irq);
            }

            if ((Elcr & (1 << irq)) == 0)
            {
                Irr &= (byte)~(1 << irq);
            }
        }

        public void Write(ulong offset, byte v)
        {
            if (offset == 0)
            {
                if ((v & 0x10) != 0)
                {
                    // ICW1: reset everything but the ELCR.
                    LastIrr = Irr = Imr = Isr = 0;
                    _priorityAdd = 0;
                    IrqBase = 0;
                    ReadIsr = Poll = false;
                    _autoEoi = _rotateOnAutoEoi = _specialFullyNested = false;
                    _initState = 1;
                    _init4 = (v & 1) != 0;
                    _singleMode = (v & 2) != 0;
                }
                else if ((v & 0x08) != 0)
                {
                    // OCW3.
                    if ((v & 4) != 0)
                    {
                        Poll = true;
                    }

                    if ((v & 2) != 0)
                    {
                        ReadIsr = (v & 1) != 0;
                    }
                }
                else
                {
                    // OCW2.
                    int cmd = v >> 5;
                    switch (cmd)
                    {
                        case 0 or 4:
                            _rotateOnAutoEoi = cmd == 4;
                            break;
                        case 1 or 5:
                        {
                            int p = Priority(Isr);
                            if (p != 8)
                            {
                                int irq = (p + _priorityAdd) & 7;
                                Isr &= (byte)~(1 << irq);
                                if (cmd == 5)
                                {
                                    _priorityAdd = (irq + 1) & 7;
                                }
                            }

                            break;
                        }

                        case 3:
                            Isr &= (byte)~(1 << (v & 7));
                            break;
                        case 6:
                            _priorityAdd = ((v & 7) + 1) & 7;
                            break;
                        case 7:
                            Isr &= (byte)~(1 << (v & 7));
                            _priorityAdd = ((v & 7) + 1) & 7;
                            break;
                    }
                }

                return;
            }

            switch (_initState)
            {
                case 0:
                    Imr = v;
                    break;
                case 1:
                    IrqBase = v & 0xF8;
                    _initState = _singleMode ? (_init4 ? 3 : 0) : 2;
                    break;
                case 2:
                    _initState = _init4 ? 3 : 0;
                    break;
                default:
                    _specialFullyNested = ((v >> 4) & 1) != 0;
                    _autoEoi = ((v >> 1) & 1) != 0;
                    _initState = 0;
                    break;
            }
        }
    }
}
