using SoftKvm.Core;
using SoftKvm.Core.Io;
using static SoftKvm.Devices.X86.CmosRtcRegisters;

namespace SoftKvm.Devices.X86;

/// <summary>
/// The PC's CMOS RTC (MC146818A) at ports 0x70/0x71: the clock follows the host's UTC time (plus the
/// offset the guest sets by writing the time registers), BCD or binary and 12- or 24-hour formats per
/// register B, the century byte, register C's update-ended and alarm flags for polling guests, and 128
/// bytes of CMOS RAM the machine fills (<see cref="SetRam"/>). Register it on the PIO bus at 0x70,
/// length <see cref="PortCount"/>. Its interrupt (IRQ 8) is not delivered: setting PIE, AIE or UIE is
/// reported once through the <c>unsupported</c> callback, the enable bits read back, and the flags in
/// register C still work for polling.
/// </summary>
public sealed class CmosRtc : IIoDevice
{
    private readonly object _lock = new();
    private readonly TimeProvider _time;
    private readonly Action<string>? _unsupported;
    private readonly byte[] _ram = new byte[RamSize];
    private TimeSpan _offset;
    private byte _index;
    private bool _nmiDisabled;
    private bool _reportedInterrupts;
    private DateTimeOffset _lastFlagsRead;

    /// <summary>Creates the RTC; <paramref name="unsupported"/> hears once about interrupt enables it cannot deliver.</summary>
    public CmosRtc(TimeProvider? time = null, Action<string>? unsupported = null)
    {
        _time = time ?? TimeProvider.System;
        _unsupported = unsupported;
        _ram[RegisterA] = A_Reset;
        _ram[RegisterB] = B_Reset;
        _ram[RegisterD] = D_VRT;
        _lastFlagsRead = _time.GetUtcNow();
    }

    /// <summary>The number of ports to register (2: 0x70 and 0x71).</summary>
    public static ulong PortCount => CmosRtcRegisters.PortCount;

    /// <summary>Whether the guest has disabled NMIs through port 0x70 bit 7.</summary>
    public bool NmiDisabled
    {
        get
        {
            lock (_lock)
            {
                return _nmiDisabled;
            }
        }
    }

    /// <summary>Sets a CMOS RAM byte (the machine: memory sizes, equipment byte); clock registers are refused.</summary>
    /// <exception cref="ArgumentOutOfRangeException">index outside 0x0E..0x7F.</exception>
    public void SetRam(int index, byte value)
    {
        if (index < 0x0E || index >= RamSize)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "CMOS RAM bytes are 0x0E..0x7F; 0x00..0x0D are the clock");
        }

        lock (_lock)
        {
            _ram[index] = value;
        }
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        byte value;
        lock (_lock)
        {
            value = offset == 0 ? (byte)0xFF : ReadData(_index); // the index port is write-only
        }

        RegisterAccess.StoreByte(value, data);
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        byte value = RegisterAccess.LoadByte(data);
        lock (_lock)
        {
            if (offset == 0)
            {
                _index = (byte)(value & 0x7F);
                _nmiDisabled = (value & 0x80) != 0;
            }
            else if (offset == 1)
            {
                WriteData(_index, value);
            }
        }
    }

    /// <summary>A copy of the device state.</summary>
    public CmosRtcState SaveState()
    {
        lock (_lock)
        {
            return new CmosRtcState { Offset = _offset, Index = _index, NmiDisabled = _nmiDisabled, Ram = (byte[])_ram.Clone(), LastFlagsRead = _lastFlagsRead };
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>.</summary>
    public void RestoreState(CmosRtcState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _offset = state.Offset;
            _index = (byte)(state.Index & 0x7F);
            _nmiDisabled = state.NmiDisabled;
            state.Ram.AsSpan(0, Math.Min(state.Ram.Length, RamSize)).CopyTo(_ram);
            _lastFlagsRead = state.LastFlagsRead;
        }
    }

    private DateTime GuestNow() => (_time.GetUtcNow() + _offset).UtcDateTime;

    private bool Binary => (_ram[RegisterB] & B_DM) != 0;

    private byte Encode(int value) => Binary ? (byte)value : (byte)(((value / 10) << 4) | (value % 10));

    private int Decode(byte value) => Binary ? value : ((value >> 4) * 10) + (value & 0x0F);

    private byte EncodeHour(int hour)
    {
        if ((_ram[RegisterB] & B_24H) != 0)
        {
            return Encode(hour);
        }

        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(Encode(h12) | (hour >= 12 ? Pm : 0));
    }

    private int DecodeHour(byte value)
    {
        if ((_ram[RegisterB] & B_24H) != 0)
        {
            return Decode(value);
        }

        int h12 = Decode((byte)(value & 0x7F)) % 12;
        return (value & Pm) != 0 ? h12 + 12 : h12;
    }

    private byte ReadData(int index)
    {
        var now = GuestNow();
        switch (index)
        {
            case Seconds: return Encode(now.Second);
            case Minutes: return Encode(now.Minute);
            case Hours: return EncodeHour(now.Hour);
            case CmosRtcRegisters.DayOfWeek: return Encode((int)now.DayOfWeek + 1);
            case DayOfMonth: return Encode(now.Day);
            case Month: return Encode(now.Month);
            case Year: return Encode(now.Year % 100);
            case Century: return Encode(now.Year / 100);
            case RegisterC: return ReadAndClearFlags(now);
            default: return _ram[index];
        }
    }

    // Register C: UF when a second boundary passed since the last read, AF when the alarm time passed; read clears.
    private byte ReadAndClearFlags(DateTime guestNow)
    {
        var host = _time.GetUtcNow();
        byte flags = 0;
        if (host.ToUnixTimeSeconds() != _lastFlagsRead.ToUnixTimeSeconds())
        {
            flags |= C_UF;
            if (AlarmMatches(guestNow))
            {
                flags |= C_AF;
            }
        }

        _lastFlagsRead = host;
        byte enabled = (byte)(_ram[RegisterB] & (B_AIE | B_UIE));
        if (((flags & C_UF) != 0 && (enabled & B_UIE) != 0) || ((flags & C_AF) != 0 && (enabled & B_AIE) != 0))
        {
            flags |= C_IRQF;
        }

        return flags;
    }

    // An alarm byte with its two top bits set (0xC0..0xFF) is "don't care".
    private bool AlarmMatches(DateTime now) =>
        AlarmField(_ram[SecondsAlarm], now.Second, false) &&
        AlarmField(_ram[MinutesAlarm], now.Minute, false) &&
        AlarmField(_ram[HoursAlarm], now.Hour, true);

    private bool AlarmField(byte alarm, int value, bool hour) =>
        (alarm & 0xC0) == 0xC0 || (hour ? DecodeHour(alarm) : Decode(alarm)) == value;

    private void WriteData(int index, byte value)
    {
        switch (index)
        {
            case Seconds or Minutes or Hours or DayOfMonth or Month or Year or Century:
                SetClockField(index, value);
                break;
            case CmosRtcRegisters.DayOfWeek:
                break; // derived from the date
            case RegisterA:
                _ram[RegisterA] = (byte)(value & 0x7F); // UIP is read-only
                break;
            case RegisterB:
                _ram[RegisterB] = value;
                if ((value & (B_PIE | B_AIE | B_UIE)) != 0 && !_reportedInterrupts)
                {
                    _reportedInterrupts = true;
                    _unsupported?.Invoke("CMOS RTC: periodic, alarm and update interrupts (IRQ 8) are not delivered; register C can be polled");
                }

                break;
            case RegisterC or RegisterD:
                break; // read-only
            default:
                _ram[index] = value;
                break;
        }
    }

    // The guest sets the clock: rebuild its date with the new field and keep the difference to the host.
    private void SetClockField(int index, byte value)
    {
        var now = GuestNow();
        int second = now.Second, minute = now.Minute, hour = now.Hour, day = now.Day, month = now.Month, year = now.Year;
        switch (index)
        {
            case Seconds: second = Decode(value); break;
            case Minutes: minute = Decode(value); break;
            case Hours: hour = DecodeHour(value); break;
            case DayOfMonth: day = Decode(value); break;
            case Month: month = Decode(value); break;
            case Year: year = (year / 100 * 100) + Decode(value); break;
            case Century: year = (Decode(value) * 100) + (year % 100); break;
        }

        if (second is < 0 or > 59 || minute is < 0 or > 59 || hour is < 0 or > 23 || month is < 1 or > 12 ||
            year is < 1 or > 9999 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return; // an invalid date (for example mid-way through setting day and month) leaves the clock as it is
        }

        var target = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc);
        _offset = new DateTimeOffset(target) - _time.GetUtcNow() + TimeSpan.FromTicks(_time.GetUtcNow().Ticks % TimeSpan.TicksPerSecond);
    }
}
