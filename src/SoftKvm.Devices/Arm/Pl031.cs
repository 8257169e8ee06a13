using SoftKvm.Core;
using SoftKvm.Core.Io;
using static SoftKvm.Devices.Arm.Pl031Registers;

namespace SoftKvm.Devices.Arm;

/// <summary>
/// The Arm PrimeCell RTC PL031 (ARM DDI 0224) as QEMU's <c>virt</c> has it at 0x0901_0000: a 32-bit
/// seconds counter that follows the host's UTC clock (plus the offset a write to RTCLR sets), a match
/// register whose interrupt fires when the counter reaches it, and the ID registers. The match is timed
/// with <see cref="TimeProvider"/>, so tests can drive the clock.
/// </summary>
public sealed class Pl031 : IIoDevice, IDisposable
{
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(1);

    private readonly object _lock = new();
    private readonly IIrqLine _irq;
    private readonly TimeProvider _time;
    private ITimer? _matchTimer;
    private long _offsetSeconds;
    private uint _match;
    private uint _load;
    private uint _imsc;
    private uint _ris;
    private bool _irqLevel;

    /// <summary>Creates the RTC on <paramref name="irq"/>; <paramref name="time"/> defaults to the system clock.</summary>
    public Pl031(IIrqLine irq, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(irq);
        _irq = irq;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The size of the MMIO window to register (4 KiB).</summary>
    public static ulong Size => WindowSize;

    /// <summary>The counter now: seconds since 1970-01-01 UTC, plus the loaded offset, modulo 2^32.</summary>
    public uint Counter
    {
        get
        {
            lock (_lock)
            {
                return CounterNow();
            }
        }
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            if (RegisterAccess.IsSplit(offset, data.Length))
            {
                uint low = ReadRegister(offset);
                RegisterAccess.StoreSplitRead(low, ReadRegister(offset + 4), data);
            }
            else
            {
                RegisterAccess.StoreRead(offset, ReadRegister(offset & ~3UL), data);
            }
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        uint value = RegisterAccess.LoadWrite(offset, data);
        lock (_lock)
        {
            WriteRegister(offset & ~3UL, value);
            if (RegisterAccess.IsSplit(offset, data.Length))
            {
                WriteRegister(offset + 4, RegisterAccess.LoadSplitHigh(data));
            }

            UpdateIrq();
        }
    }

    /// <summary>A copy of the device state.</summary>
    public Pl031State SaveState()
    {
        lock (_lock)
        {
            return new Pl031State { OffsetSeconds = _offsetSeconds, Match = _match, Load = _load, Imsc = _imsc, Ris = _ris };
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>.</summary>
    public void RestoreState(Pl031State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _offsetSeconds = state.OffsetSeconds;
            _match = state.Match;
            _load = state.Load;
            _imsc = state.Imsc & RTCINTR;
            _ris = state.Ris & RTCINTR;
            ArmMatch();
            _irqLevel = (_ris & _imsc) != 0;
            _irq.Set(_irqLevel);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _matchTimer?.Dispose();
            _matchTimer = null;
        }
    }

    private uint ReadRegister(ulong reg) => reg switch
    {
        RTCDR => CounterNow(),
        RTCMR => _match,
        RTCLR => _load,
        RTCCR => 1, // RTCStart: the counter always runs once started, and it starts at reset on virt
        RTCIMSC => _imsc,
        RTCRIS => _ris,
        RTCMIS => _ris & _imsc,
        >= RTCPeriphID0 and <= RTCPCellID3 => Id[(int)((reg - RTCPeriphID0) >> 2)],
        _ => 0,
    };

    private void WriteRegister(ulong reg, uint value)
    {
        switch (reg)
        {
            case RTCMR:
                _match = value;
                ArmMatch();
                break;
            case RTCLR:
                _load = value;
                _offsetSeconds = value - HostSeconds();
                ArmMatch();
                break;
            case RTCIMSC:
                _imsc = value & RTCINTR;
                break;
            case RTCICR:
                _ris &= ~(value & RTCINTR);
                break;
            default:
                break; // RTCCR (start is sticky), read-only and reserved registers ignore writes
        }
    }

    private long HostSeconds() => _time.GetUtcNow().ToUnixTimeSeconds();

    private uint CounterNow() => (uint)(HostSeconds() + _offsetSeconds);

    // Fires the match interrupt when the counter equals RTCMR: at once if it does now, else by a timer.
    private void ArmMatch()
    {
        _matchTimer?.Dispose();
        _matchTimer = null;
        uint now = CounterNow();
        uint delta = _match - now;
        if (delta == 0)
        {
            _ris |= RTCINTR;
            return;
        }

        var due = _time.GetUtcNow();
        var next = DateTimeOffset.FromUnixTimeSeconds(due.ToUnixTimeSeconds() + 1);
        var wait = next - due + TimeSpan.FromSeconds(delta - 1);
        if (wait > MaxTimerWait)
        {
            wait = MaxTimerWait; // re-evaluated then: timers cannot wait 2^32 seconds
        }

        _matchTimer = _time.CreateTimer(_ => OnMatchTimer(), null, wait, Timeout.InfiniteTimeSpan);
    }

    private void OnMatchTimer()
    {
        lock (_lock)
        {
            // A timer may run late: a counter at or just past the match still fires it.
            if (CounterNow() - _match < 2)
            {
                _ris |= RTCINTR;
                UpdateIrq();
            }
            else
            {
                ArmMatch();
                UpdateIrq();
            }
        }
    }

    private void UpdateIrq()
    {
        bool level = (_ris & _imsc) != 0;
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq.Set(level);
        }
    }
}
