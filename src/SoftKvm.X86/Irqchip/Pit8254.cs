using System.Diagnostics;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.X86.Irqchip;

/// <summary>
/// The in-kernel 8254 PIT (KVM's <c>i8254.c</c>): three counters at ports 0x40-0x42, the control word
/// at 0x43 (counter latch, read-back, LSB/MSB/word access, modes 0-5, BCD), clocked at 1.193182 MHz
/// from the host monotonic clock; counter 0 drives GSI 0 (IOAPIC pin 2, PIC IRQ 0), counter 2 is gated
/// and read back through port 0x61 (<see cref="SpeakerPort"/>). Interrupts are raised lazily: the
/// vCPU threads call <see cref="Poll"/> (through the irqchip) before entering the guest and sleep no
/// longer than <see cref="NextDeadline"/>. Missed periods are coalesced into one edge. Thread-safe.
/// </summary>
public sealed partial class Pit8254 : IIoDevice
{
    /// <summary>The PIT input clock (Hz).</summary>
    public const long Frequency = 1_193_182;

    private readonly object _lock = new();
    private readonly Channel[] _channels = [new(), new(), new()];
    private readonly X86Irqchip _chip;
    private long _nextFire = long.MaxValue;
    private bool _speakerData;

    internal Pit8254(X86Irqchip chip)
    {
        _chip = chip;
        _channels[0].Gate = true;
        _channels[1].Gate = true;
        SpeakerPort = new Speaker(this);
    }

    /// <summary>The device for port 0x61 (counter 2 gate and output, speaker data).</summary>
    public IIoDevice SpeakerPort { get; }

    /// <summary>The guest-clock time (<see cref="Stopwatch"/> timestamp, see <see cref="X86Irqchip.Clock"/>) of the next counter-0 interrupt, or long.MaxValue.</summary>
    public long NextDeadline => Volatile.Read(ref _nextFire);

    /// <summary>Raises IRQ 0 when counter 0's output rose since the last poll; returns <see cref="NextDeadline"/>.</summary>
    public long Poll(long now)
    {
        if (now < Volatile.Read(ref _nextFire))
        {
            return _nextFire; // the common case: nothing due, no lock
        }

        bool fire = false;
        lock (_lock)
        {
            long next = _nextFire;
            if (next != long.MaxValue && now >= next)
            {
                fire = true;
                var c = _channels[0];
                long period = PeriodTicks(c);
                if (period > 0)
                {
                    long missed = (now - next) / period;
                    next += (missed + 1) * period;
                }
                else
                {
                    next = long.MaxValue;
                }

                Volatile.Write(ref _nextFire, next);
            }
        }

        if (fire)
        {
            _chip.SetIrq(0, true);
            _chip.SetIrq(0, false);
        }

        return NextDeadline;
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= 3)
        {
            return; // the control word register is write-only
        }

        lock (_lock)
        {
            data[0] = ReadChannel(_channels[offset], _chip.Clock.Timestamp());
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = data[0];
        long now = _chip.Clock.Timestamp();
        lock (_lock)
        {
            if (offset == 3)
            {
                WriteControl(v, now);
            }
            else
            {
                WriteChannel((int)offset, v, now);
            }
        }
    }

    private void WriteControl(byte v, long now)
    {
        int sel = v >> 6;
        if (sel == 3)
        {
            // Read-back command: bit 5 = 0 latches counts, bit 4 = 0 latches status.
            for (int i = 0; i < 3; i++)
            {
                if ((v & (2 << i)) == 0)
                {
                    continue;
                }

                var c = _channels[i];
                if ((v & 0x20) == 0 && !c.CountLatched)
                {
                    Latch(c, now);
                }

                if ((v & 0x10) == 0 && !c.StatusLatched)
                {
                    c.Status = (byte)((Output(c, now) ? 0x80 : 0) | (c.RwMode << 4) | (c.Mode << 1) | (c.Bcd ? 1 : 0));
                    c.StatusLatched = true;
                }
            }

            return;
        }

        var ch = _channels[sel];
        int access = (v >> 4) & 3;
        if (access == 0)
        {
            if (!ch.CountLatched)
            {
                Latch(ch, now);
            }

            return;
        }

        ch.RwMode = access;
        ch.ReadState = access;
        ch.WriteState = access;
        ch.Mode = (v >> 1) & 7;
        if (ch.Mode > 5)
        {
            ch.Mode -= 4; // modes 6 and 7 alias 2 and 3
        }

        ch.Bcd = (v & 1) != 0;
        if (sel == 0)
        {
            Volatile.Write(ref _nextFire, long.MaxValue);
        }
    }

    private void Latch(Channel c, long now)
    {
        c.Latched = Counter(c, now);
        c.CountLatched = true;
        c.LatchState = c.RwMode;
    }

    private void WriteChannel(int index, byte v, long now)
    {
        var c = _channels[index];
        switch (c.WriteState)
        {
            case 1:
                Load(index, v, now);
                break;
            case 2:
                Load(index, v << 8, now);
                break;
            case 3:
                c.WriteLatch = v;
                c.WriteState = 4;
                break;
            default:
                Load(index, c.WriteLatch | (v << 8), now);
                c.WriteState = 3;
                break;
        }
    }

    private void Load(int index, int value, long now)
    {
        var c = _channels[index];
        if (c.Bcd)
        {
            value = FromBcd(value);
        }

        c.Count = value == 0 ? (c.Bcd ? 10000 : 0x10000) : value;
        c.LoadTime = now;
        if (index == 0)
        {
            Volatile.Write(ref _nextFire, c.Mode is 0 or 2 or 3 or 4 ? now + PeriodTicks(c) : long.MaxValue);
        }
    }

    private static long PeriodTicks(Channel c) =>
        c.Mode is 2 or 3 or 0 or 4 ? Math.Max(1, (long)((double)c.Count * Stopwatch.Frequency / Frequency)) : 0;

    private byte ReadChannel(Channel c, long now)
    {
        if (c.StatusLatched)
        {
            c.StatusLatched = false;
            return c.Status;
        }

        int value;
        int state;
        if (c.CountLatched)
        {
            value = c.Latched;
            state = c.LatchState;
            switch (state)
            {
                case 1 or 2:
                    c.CountLatched = false;
                    break;
                case 3:
                    c.LatchState = 4;
                    break;
                default:
                    c.CountLatched = false;
                    break;
            }
        }
        else
        {
            value = Counter(c, now);
            state = c.ReadState;
            if (state == 3)
            {
                c.ReadState = 4;
            }
            else if (state == 4)
            {
                c.ReadState = 3;
            }
        }

        if (c.Bcd)
        {
            value = ToBcd(value);
        }

        return state switch
        {
            1 or 3 => (byte)value,
            _ => (byte)(value >> 8),
        };
    }

    private static long Elapsed(Channel c, long now) => (long)((double)(now - c.LoadTime) * Frequency / Stopwatch.Frequency);

    private static int Counter(Channel c, long now)
    {
        if (c.Count == 0 || !c.Gate)
        {
            return c.Count & 0xFFFF;
        }

        long d = Elapsed(c, now);
        int count = c.Count;
        return c.Mode switch
        {
            2 => (int)(count - (d % count)) & 0xFFFF,
            3 => (int)(count - ((2 * d) % count)) & 0xFFFE,
            _ => (int)((count - d) & 0xFFFF),
        };
    }

    private static bool Output(Channel c, long now)
    {
        if (c.Count == 0)
        {
            return false;
        }

        long d = Elapsed(c, now);
        return c.Mode switch
        {
            0 or 1 => d >= c.Count,
            2 => (d % c.Count) != c.Count - 1,
            3 => (d % c.Count) < (c.Count + 1) / 2,
            _ => d != c.Count,
        };
    }

    private static int FromBcd(int v) =>
        (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;

    private static int ToBcd(int v)
    {
        v %= 10000;
        return (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000) << 12);
    }

    private sealed class Channel
    {
        public int Count, Latched, LatchState, ReadState, WriteState, WriteLatch, RwMode, Mode;
        public byte Status;
        public bool Bcd, Gate, CountLatched, StatusLatched;
        public long LoadTime;
    }

    private sealed class Speaker(Pit8254 pit) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            data.Clear();
            long now = pit._chip.Clock.Timestamp();
            lock (pit._lock)
            {
                var c = pit._channels[2];
                bool refresh = ((now * 15_085_000 / Stopwatch.Frequency / 1000) & 1) != 0; // DRAM refresh toggles every ~15 us
                data[0] = (byte)((c.Gate ? 1 : 0) | (pit._speakerData ? 2 : 0) | (refresh ? 0x10 : 0) | (Output(c, now) ? 0x20 : 0));
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            lock (pit._lock)
            {
                var c = pit._channels[2];
                bool gate = (data[0] & 1) != 0;
                if (gate && !c.Gate && c.Mode is 1 or 2 or 3 or 5)
                {
                    c.LoadTime = pit._chip.Clock.Timestamp();
                }

                c.Gate = gate;
                pit._speakerData = (data[0] & 2) != 0;
            }
        }
    }
}
