using System.Buffers.Binary;
using System.Diagnostics;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.X86;

/// <summary>
/// The ACPI fixed hardware registers of QEMU's <c>pc</c> (the PIIX4 power management function's I/O block
/// at 0x600; ACPI 6.5 sections 4.8.3 and 4.8.3.3), which the FADT points at:
/// <list type="bullet">
/// <item>offset 0, PM1a_STS (16 bits, write 1 to clear): TMR_STS (bit 0) is set when bit 23 of the PM
/// timer changes; the other status bits have no source here (no power or sleep button) and read 0;</item>
/// <item>offset 2, PM1a_EN (16 bits): the enable bits, stored (TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN);</item>
/// <item>offset 4, PM1a_CNT (16 bits): SCI_EN (bit 0) reads 1 (the FADT has no SMI_CMD port, so the
/// machine is always in ACPI mode); SLP_TYP (bits 12:10) is stored; writing SLP_EN (bit 13, reads 0)
/// with SLP_TYP 0, the \_S5 value of the DSDT, powers the machine off; other sleep types are not
/// supported and reported;</item>
/// <item>offset 8, PM_TMR (32 bits, read only): a 24-bit counter at 3.579545 MHz of host time.</item>
/// </list>
/// No SCI is raised: the timer's overflow status is for polling, as Linux's acpi_pm clocksource uses it.
/// </summary>
public sealed class AcpiPm : IIoDevice
{
    /// <summary>The base port (QEMU's PIIX4 PM base as SeaBIOS programs it).</summary>
    public const ushort DefaultPort = 0x600;

    /// <summary>The ports to register (PM1a event block, PM1a control block, PM timer).</summary>
    public const ulong PortCount = 12;

    /// <summary>The PM1a event block's offset (PM1a_STS, PM1a_EN) and length.</summary>
    public const int EventBlock = 0, EventBlockLength = 4;

    /// <summary>The PM1a control block's offset and length.</summary>
    public const int ControlBlock = 4, ControlBlockLength = 2;

    /// <summary>The PM timer's offset and length.</summary>
    public const int TimerBlock = 8, TimerBlockLength = 4;

    /// <summary>The PM timer's frequency in Hz (ACPI 6.5 section 4.8.3.3).</summary>
    public const long TimerFrequency = 3_579_545;

    /// <summary>PM1_STS.TMR_STS.</summary>
    public const ushort TimerStatus = 1 << 0;

    /// <summary>PM1_CNT.SCI_EN.</summary>
    public const ushort SciEnable = 1 << 0;

    /// <summary>PM1_CNT.SLP_EN.</summary>
    public const ushort SleepEnable = 1 << 13;

    /// <summary>The SLP_TYP value of the DSDT's \_S5 object (soft off), as QEMU's.</summary>
    public const int SoftOffType = 0;

    private const ushort EnableMask = 0x0721; // TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN
    private const ushort SleepTypeMask = 7 << 10;

    private readonly object _lock = new();
    private readonly Action _powerOff;
    private readonly Action<string> _unsupported;
    private readonly TimeProvider _time;
    private readonly long _start;
    private ushort _enable;
    private ushort _control = SciEnable;
    private long _timerEpoch;

    /// <summary>
    /// Creates the registers: <paramref name="powerOff"/> runs when the guest enters S5;
    /// <paramref name="unsupported"/> hears about sleep states the machine does not have; the PM timer counts
    /// <paramref name="time"/>'s timestamps (the guest's clock; default the host's).
    /// </summary>
    public AcpiPm(Action powerOff, Action<string> unsupported, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(powerOff);
        ArgumentNullException.ThrowIfNull(unsupported);
        _powerOff = powerOff;
        _unsupported = unsupported;
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
    }

    /// <summary>A copy of the register state (the timer runs on host time and is not part of it).</summary>
    public AcpiPmState SaveState()
    {
        lock (_lock)
        {
            return new AcpiPmState(_enable, _control);
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>.</summary>
    public void RestoreState(AcpiPmState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _enable = (ushort)(state.Enable & EnableMask);
            _control = (ushort)(SciEnable | (state.Control & SleepTypeMask));
        }
    }

    /// <summary>The PM timer's count now (24 bits).</summary>
    public uint Timer => (uint)(Ticks() & 0xFF_FFFF);

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        Span<byte> block = stackalloc byte[4];
        block.Clear();
        int start;
        lock (_lock)
        {
            if (offset < ControlBlock)
            {
                start = EventBlock;
                BinaryPrimitives.WriteUInt16LittleEndian(block, Status());
                BinaryPrimitives.WriteUInt16LittleEndian(block[2..], _enable);
            }
            else if (offset < TimerBlock)
            {
                start = ControlBlock;
                BinaryPrimitives.WriteUInt16LittleEndian(block, _control);
            }
            else
            {
                start = TimerBlock;
                BinaryPrimitives.WriteUInt32LittleEndian(block, Timer);
            }
        }

        data.Clear();
        var from = block[(int)Math.Min(offset - (ulong)start, 4)..];
        from[..Math.Min(from.Length, data.Length)].CopyTo(data);
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        bool powerOff = false;
        string? refused = null;
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong at = offset + (ulong)i;
                byte b = data[i];
                switch (at)
                {
                    case 0 when (b & TimerStatus) != 0:
                        _timerEpoch = Ticks() >> 23;
                        break;
                    case 2 or 3:
                        int shift = (int)(at - 2) * 8;
                        _enable = (ushort)(((_enable & ~(0xFF << shift)) | (b << shift)) & EnableMask);
                        break;
                    case 4 or 5:
                        int s = (int)(at - 4) * 8;
                        ushort value = (ushort)((_control & ~(0xFF << s)) | (b << s));
                        _control = (ushort)(SciEnable | (value & SleepTypeMask));
                        if (at == 5 && (value & SleepEnable) != 0)
                        {
                            int type = (value & SleepTypeMask) >> 10;
                            if (type == SoftOffType)
                            {
                                powerOff = true;
                            }
                            else
                            {
                                refused = $"ACPI: sleep type {type} is not supported (the DSDT declares only \\_S5, type {SoftOffType}); ignored";
                            }
                        }

                        break;
                }
            }
        }

        if (powerOff)
        {
            _powerOff();
        }
        else if (refused is not null)
        {
            _unsupported(refused);
        }
    }

    private long Ticks() => (long)((_time.GetTimestamp() - _start) * ((double)TimerFrequency / _time.TimestampFrequency));

    private ushort Status() => (Ticks() >> 23) != _timerEpoch ? TimerStatus : (ushort)0;
}
