using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.X86.Irqchip;

/// <summary>
/// The in-kernel local APIC of one vCPU (KVM's <c>lapic.c</c>; Intel SDM Vol. 3 chapter 11): the xAPIC
/// register page (an in-kernel MMIO device at the vCPU's APIC base, tried before the MMIO bus) and the
/// x2APIC MSRs 0x800-0x8FF; TPR/PPR/ISR/IRR/TMR, EOI (with the IOAPIC EOI broadcast for level-triggered
/// vectors), the timer in one-shot, periodic and TSC-deadline modes (a 1 GHz APIC bus clock, like KVM's),
/// and IPIs through the ICR (fixed, lowest priority, NMI, INIT, start-up; shorthands; physical and
/// logical destinations). IRR bits are set atomically from any thread; everything else belongs to the
/// owning vCPU's thread.
/// </summary>
public sealed partial class LocalApic : IIoDevice
{
    /// <summary>The default xAPIC base address.</summary>
    public const ulong DefaultBase = 0xFEE0_0000;

    /// <summary>The version register: version 0x14, six LVT entries (max LVT index 5), as KVM.</summary>
    public const uint VersionValue = 0x0005_0014;

    // Register offsets (SDM Vol. 3 table 11-1).
    internal const int RegId = 0x20, RegVersion = 0x30, RegTpr = 0x80, RegApr = 0x90, RegPpr = 0xA0, RegEoi = 0xB0,
        RegRrd = 0xC0, RegLdr = 0xD0, RegDfr = 0xE0, RegSvr = 0xF0, RegIsr = 0x100, RegTmr = 0x180, RegIrr = 0x200,
        RegEsr = 0x280, RegLvtCmci = 0x2F0, RegIcrLow = 0x300, RegIcrHigh = 0x310, RegLvtTimer = 0x320,
        RegLvtThermal = 0x330, RegLvtPerf = 0x340, RegLvtLint0 = 0x350, RegLvtLint1 = 0x360, RegLvtError = 0x370,
        RegTimerInitial = 0x380, RegTimerCurrent = 0x390, RegTimerDivide = 0x3E0, RegSelfIpi = 0x3F0;

    private const uint LvtMasked = 1u << 16;
    /// <summary>The APIC bus (timer) clock: 1 GHz, as KVM's (<c>APIC_BUS_CYCLE_NS</c> = 1); CPUID leaf 0x15 gives it as the crystal.</summary>
    public const long BusHz = 1_000_000_000;

    private readonly IApicHost _vcpu;
    private readonly X86Irqchip _chip;
    private readonly int[] _irr = new int[8];
    private readonly int[] _tmr = new int[8];
    private readonly uint[] _isr = new uint[8];
    private uint _tpr;
    private uint _ldr;
    private uint _dfr = 0xFFFF_FFFF;
    private uint _svr = 0xFF;
    private uint _esr;
    private uint _icrLow;
    private uint _icrHigh;
    private readonly uint[] _lvt = new uint[7]; // CMCI, timer, thermal, perf, LINT0, LINT1, error
    private uint _timerInitial;
    private uint _timerDivide;
    private long _timerStart;
    private long _timerDeadline = long.MaxValue;
    private ulong _tscDeadline;
    private int _pendingNmi;
    private int _pendingInit;
    private int _pendingSipi = -1;

    internal LocalApic(IApicHost vcpu, X86Irqchip chip)
    {
        _vcpu = vcpu;
        _chip = chip;
        Reset();
    }

    /// <summary>The APIC id: the vCPU id, as KVM assigns it.</summary>
    public int Id => _vcpu.Id;

    /// <summary>The IA32_APIC_BASE value of the owning vCPU.</summary>
    public ulong BaseMsr => _vcpu.ApicBaseMsr;

    /// <summary>Globally enabled (IA32_APIC_BASE bit 11).</summary>
    public bool HardwareEnabled => (BaseMsr & (1UL << 11)) != 0;

    /// <summary>In x2APIC mode (IA32_APIC_BASE bits 11 and 10).</summary>
    public bool X2Apic => (BaseMsr & 0xC00) == 0xC00;

    /// <summary>Software enabled (SVR bit 8).</summary>
    public bool SoftwareEnabled => (_svr & 0x100) != 0;

    /// <summary>The task-priority register.</summary>
    public uint Tpr => _tpr;

    /// <summary>The processor-priority register (SDM 11.8.3.1).</summary>
    public uint Ppr
    {
        get
        {
            int isrv = HighestBit(_isr);
            uint isrClass = isrv < 0 ? 0 : (uint)isrv & 0xF0;
            return (_tpr & 0xF0) >= isrClass ? _tpr & 0xFF : isrClass;
        }
    }

    /// <summary>A MOV to CR8 by the guest: TPR[7:4] = CR8[3:0].</summary>
    internal void SetTprFromCr8(ulong cr8) => _tpr = (uint)(cr8 & 0xF) << 4;

    /// <summary>Whether vector <paramref name="vector"/> is requested (IRR).</summary>
    public bool IsRequested(int vector) => (Volatile.Read(ref _irr[vector >> 5]) & (1 << (vector & 31))) != 0;

    /// <summary>Whether vector <paramref name="vector"/> is in service (ISR).</summary>
    public bool IsInService(int vector) => (_isr[vector >> 5] & (1u << (vector & 31))) != 0;

    /// <summary>The guest-clock time (a <see cref="Stopwatch"/> timestamp, see <see cref="X86Irqchip.Clock"/>) the timer fires next, or long.MaxValue.</summary>
    public long TimerDeadline => Volatile.Read(ref _timerDeadline);

    private int TimerMode => (int)((_lvt[1] >> 17) & 3);

    /// <summary>Tells the owning vCPU that its interrupt state changed (see <see cref="IApicHost.NotifyEvent"/>).</summary>
    internal void NotifyVcpu(bool kick) => _vcpu.NotifyEvent(kick);

    /// <summary>Resets the register state (power-on and INIT).</summary>
    internal void Reset()
    {
        Array.Clear(_irr);
        Array.Clear(_tmr);
        Array.Clear(_isr);
        _tpr = 0;
        _ldr = 0;
        _dfr = 0xFFFF_FFFF;
        _svr = 0xFF;
        _esr = 0;
        _icrLow = _icrHigh = 0;
        for (int i = 0; i < _lvt.Length; i++)
        {
            _lvt[i] = LvtMasked;
        }

        _timerInitial = 0;
        _timerDivide = 0;
        _tscDeadline = 0;
        Volatile.Write(ref _timerDeadline, long.MaxValue);
    }

    // ---- xAPIC MMIO ----

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (X2Apic)
        {
            return; // the xAPIC page is not decoded in x2APIC mode: reads as 0
        }

        uint value = ReadRegister((int)(offset & 0xFF0));
        int shift = (int)(offset & 3) * 8;
        ulong v = (ulong)value >> shift;
        for (int i = 0; i < data.Length && i < 8; i++)
        {
            data[i] = (byte)(v >> (8 * i));
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (X2Apic || (offset & 0xF) != 0 || data.Length < 4)
        {
            return; // SDM 11.4.1: only aligned 32-bit accesses are defined; others are ignored, as in KVM
        }

        WriteRegister((int)offset, BinaryPrimitives.ReadUInt32LittleEndian(data));
    }

    // ---- x2APIC MSRs ----

    /// <summary>Whether <paramref name="msr"/> is an x2APIC MSR (0x800-0x8FF).</summary>
    public static bool IsX2ApicMsr(uint msr) => msr is >= 0x800 and <= 0x8FF;

    /// <summary>RDMSR of an x2APIC register; false (#GP) when not in x2APIC mode or for a write-only/reserved register.</summary>
    internal bool TryReadMsr(uint msr, out ulong value)
    {
        value = 0;
        int reg = (int)(msr - 0x800) << 4;
        if (!X2Apic || reg is RegEoi or RegSelfIpi or RegDfr or RegApr or RegRrd || reg == RegIcrHigh)
        {
            return false;
        }

        if (reg == RegIcrLow)
        {
            value = _icrLow | ((ulong)_icrHigh << 32);
            return true;
        }

        if (!IsDefined(reg))
        {
            return false;
        }

        value = ReadRegister(reg);
        return true;
    }

    /// <summary>WRMSR of an x2APIC register; false (#GP) when not in x2APIC mode or read-only/reserved.</summary>
    internal bool TryWriteMsr(uint msr, ulong value)
    {
        int reg = (int)(msr - 0x800) << 4;
        if (!X2Apic || reg is RegId or RegVersion or RegPpr or RegLdr or RegDfr or RegApr or RegRrd or RegTimerCurrent or RegIcrHigh
            || (reg >= RegIsr && reg < RegEsr) || !IsDefined(reg))
        {
            return false;
        }

        if (reg == RegIcrLow)
        {
            _icrHigh = (uint)(value >> 32);
            _icrLow = (uint)value & ~(1u << 12);
            SendIpi();
            return true;
        }

        if (reg == RegSelfIpi)
        {
            Accept(new ApicMessage((uint)Id, false, ApicDeliveryMode.Fixed, (int)(value & 0xFF)));
            return true;
        }

        if ((value >> 32) != 0)
        {
            return false;
        }

        WriteRegister(reg, (uint)value);
        return true;
    }

    private static bool IsDefined(int reg) => reg is RegId or RegVersion or RegTpr or RegPpr or RegEoi or RegLdr or RegSvr or RegEsr
        or RegLvtCmci or RegIcrLow or RegIcrHigh or RegLvtTimer or RegLvtThermal or RegLvtPerf or RegLvtLint0 or RegLvtLint1
        or RegLvtError or RegTimerInitial or RegTimerCurrent or RegTimerDivide or RegSelfIpi or RegDfr or RegApr or RegRrd
        || (reg >= RegIsr && reg < RegEsr);

    /// <summary>IA32_TSC_DEADLINE (MSR 0x6E0).</summary>
    internal ulong TscDeadline => _tscDeadline;

    /// <summary>WRMSR IA32_TSC_DEADLINE: arms the timer in TSC-deadline mode (ignored in other modes, as on hardware); 0 disarms.</summary>
    internal void WriteTscDeadline(ulong value)
    {
        if (TimerMode != 2)
        {
            return;
        }

        _tscDeadline = value;
        ArmTscDeadline();
    }

    private void ArmTscDeadline()
    {
        if (_tscDeadline == 0 || TimerMode != 2)
        {
            Volatile.Write(ref _timerDeadline, long.MaxValue);
            return;
        }

        ulong now = _vcpu.ReadTsc();
        long nowHost = _chip.Clock.Timestamp(); // the guest clock: the host's, or virtual
        if (_tscDeadline <= now)
        {
            Volatile.Write(ref _timerDeadline, nowHost);
            return;
        }

        double delta = (double)(_tscDeadline - now) * Stopwatch.Frequency / _vcpu.TscFrequency;
        Volatile.Write(ref _timerDeadline, delta > long.MaxValue / 2 ? long.MaxValue : nowHost + (long)Math.Ceiling(delta));
    }

    // ---- registers ----

    private uint ReadRegister(int reg)
    {
        switch (reg)
        {
            case RegId: return X2Apic ? (uint)Id : (uint)Id << 24;
            case RegVersion: return VersionValue;
            case RegTpr: return _tpr;
            case RegApr: return 0;
            case RegPpr: return Ppr;
            case RegLdr: return X2Apic ? X2ApicLdr : _ldr;
            case RegDfr: return _dfr;
            case RegSvr: return _svr;
            case RegEsr: return _esr;
            case RegIcrLow: return _icrLow;
            case RegIcrHigh: return _icrHigh;
            case RegLvtCmci: return _lvt[0];
            case RegLvtTimer: return _lvt[1];
            case RegLvtThermal: return _lvt[2];
            case RegLvtPerf: return _lvt[3];
            case RegLvtLint0: return _lvt[4];
            case RegLvtLint1: return _lvt[5];
            case RegLvtError: return _lvt[6];
            case RegTimerInitial: return _timerInitial;
            case RegTimerCurrent: return CurrentCount();
            case RegTimerDivide: return _timerDivide;
        }

        if (reg >= RegIsr && reg < RegTmr)
        {
            return _isr[(reg - RegIsr) >> 4];
        }

        if (reg >= RegTmr && reg < RegIrr)
        {
            return (uint)Volatile.Read(ref _tmr[(reg - RegTmr) >> 4]);
        }

        if (reg >= RegIrr && reg < RegEsr)
        {
            return (uint)Volatile.Read(ref _irr[(reg - RegIrr) >> 4]);
        }

        return 0;
    }

    private uint X2ApicLdr => ((uint)(Id >> 4) << 16) | (1u << (Id & 15));

    private void WriteRegister(int reg, uint value)
    {
        switch (reg)
        {
            case RegId:
                return; // read-only in SoftKvm: the id is the vCPU id
            case RegTpr:
                _tpr = value & 0xFF;
                _vcpu.NotifyEvent(false);
                return;
            case RegEoi:
                Eoi();
                return;
            case RegLdr:
                _ldr = value & 0xFF00_0000;
                return;
            case RegDfr:
                _dfr = value | 0x0FFF_FFFF;
                return;
            case RegSvr:
                _svr = value & 0x13FF;
                if (!SoftwareEnabled)
                {
                    for (int i = 0; i < _lvt.Length; i++)
                    {
                        _lvt[i] |= LvtMasked;
                    }
                }

                _vcpu.NotifyEvent(false); // enabled again, it delivers what its IRR kept (an event request, as the TPR's)
                return;
            case RegEsr:
                _esr = 0;
                return;
            case RegIcrLow:
                _icrLow = value & ~(1u << 12);
                SendIpi();
                return;
            case RegIcrHigh:
                _icrHigh = value & 0xFF00_0000;
                return;
            case RegLvtCmci: _lvt[0] = MaskLvt(value, 0x117FF); return;
            case RegLvtTimer:
            {
                int oldMode = TimerMode;
                _lvt[1] = MaskLvt(value, 0x700FF);
                if (TimerMode != oldMode)
                {
                    _timerInitial = 0;
                    _tscDeadline = 0;
                    Volatile.Write(ref _timerDeadline, long.MaxValue);
                }

                return;
            }

            case RegLvtThermal: _lvt[2] = MaskLvt(value, 0x117FF); return;
            case RegLvtPerf: _lvt[3] = MaskLvt(value, 0x117FF); return;
            case RegLvtLint0: _lvt[4] = MaskLvt(value, 0x1F7FF); _vcpu.NotifyEvent(false); return;
            case RegLvtLint1: _lvt[5] = MaskLvt(value, 0x1F7FF); return;
            case RegLvtError: _lvt[6] = MaskLvt(value, 0x100FF); return;
            case RegTimerInitial:
                if (TimerMode == 2)
                {
                    return; // ignored in TSC-deadline mode
                }

                _timerInitial = value;
                _timerStart = _chip.Clock.Timestamp();
                Volatile.Write(ref _timerDeadline, value == 0 ? long.MaxValue : _timerStart + TicksFor(value));
                return;
            case RegTimerDivide:
                _timerDivide = value & 0xB;
                return;
        }
    }

    private uint MaskLvt(uint value, uint writable)
    {
        value &= writable;
        return SoftwareEnabled ? value : value | LvtMasked;
    }

    private int Divisor
    {
        get
        {
            uint v = (_timerDivide & 3) | ((_timerDivide & 8) >> 1);
            return 1 << (int)((v + 1) & 7);
        }
    }

    private long TicksFor(uint count) => (long)((double)count * Divisor * Stopwatch.Frequency / BusHz);

    private uint CurrentCount()
    {
        if (_timerInitial == 0 || TimerMode == 2)
        {
            return 0;
        }

        long elapsedBus = (long)((double)(_chip.Clock.Timestamp() - _timerStart) * BusHz / Stopwatch.Frequency) / Divisor;
        if (TimerMode == 1)
        {
            return _timerInitial - (uint)(elapsedBus % _timerInitial);
        }

        return elapsedBus >= _timerInitial ? 0 : _timerInitial - (uint)elapsedBus;
    }

    /// <summary>Fires the timer when its deadline has passed (vCPU thread); re-arms a periodic timer.</summary>
    internal void PollTimer(long now)
    {
        long deadline = _timerDeadline;
        if (deadline == long.MaxValue || now < deadline)
        {
            return;
        }

        switch (TimerMode)
        {
            case 1:
            {
                long period = Math.Max(1, TicksFor(_timerInitial));
                long periods = (now - _timerStart) / period;
                _timerStart += periods * period;
                Volatile.Write(ref _timerDeadline, _timerStart + period);
                break;
            }

            case 2:
                _tscDeadline = 0;
                Volatile.Write(ref _timerDeadline, long.MaxValue);
                break;
            default:
                Volatile.Write(ref _timerDeadline, long.MaxValue);
                break;
        }

        uint lvt = _lvt[1];
        if ((lvt & LvtMasked) == 0)
        {
            SetIrr((int)(lvt & 0xFF), false);
        }
    }

    // ---- interrupt acceptance and delivery ----

    /// <summary>Accepts a message addressed to this APIC (any thread). Wakes or kicks the vCPU.</summary>
    internal void Accept(in ApicMessage m)
    {
        switch (m.Mode)
        {
            case ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority:
                if (!SoftwareEnabled || m.Vector < 16)
                {
                    return; // dropped while software-disabled, as KVM does; vectors 0-15 are illegal
                }

                SetIrr(m.Vector, m.Level);
                break;
            case ApicDeliveryMode.Nmi:
                Volatile.Write(ref _pendingNmi, 1);
                _vcpu.NotifyEvent(true);
                break;
            case ApicDeliveryMode.Init:
                Volatile.Write(ref _pendingInit, 1);
                _vcpu.NotifyEvent(true);
                break;
            case ApicDeliveryMode.StartUp:
                Volatile.Write(ref _pendingSipi, m.Vector & 0xFF);
                _vcpu.NotifyEvent(true);
                break;
            case ApicDeliveryMode.ExtInt:
                _vcpu.NotifyEvent(true);
                break;
            default:
                _chip.CountDropped();
                break;
        }
    }

    private void SetIrr(int vector, bool level)
    {
        int bit = 1 << (vector & 31);
        if (level)
        {
            Interlocked.Or(ref _tmr[vector >> 5], bit);
        }
        else
        {
            Interlocked.And(ref _tmr[vector >> 5], ~bit);
        }

        Interlocked.Or(ref _irr[vector >> 5], bit);
        _vcpu.NotifyEvent(true);
    }

    /// <summary>The highest requested vector whose priority class is above the PPR, or -1 (vCPU thread).</summary>
    internal int HighestDeliverable()
    {
        if (!HardwareEnabled || !SoftwareEnabled)
        {
            return -1;
        }

        int v = HighestBit(_irr);
        if (v < 0 || (v & 0xF0) <= (Ppr & 0xF0))
        {
            return -1;
        }

        return v;
    }

    /// <summary>The CPU takes <paramref name="vector"/>: IRR to ISR (the interrupt acknowledge).</summary>
    internal void Acknowledge(int vector)
    {
        Interlocked.And(ref _irr[vector >> 5], ~(1 << (vector & 31)));
        _isr[vector >> 5] |= 1u << (vector & 31);
    }

    // The Take* calls run at every entry: a plain read first, the locked exchange only when something is pending.
    internal bool TakeNmi() => Volatile.Read(ref _pendingNmi) != 0 && Interlocked.Exchange(ref _pendingNmi, 0) != 0;

    internal bool HasPendingNmi => Volatile.Read(ref _pendingNmi) != 0;

    internal bool TakeInit() => Volatile.Read(ref _pendingInit) != 0 && Interlocked.Exchange(ref _pendingInit, 0) != 0;

    internal bool HasPendingInit => Volatile.Read(ref _pendingInit) != 0;

    internal int TakeSipi() => Volatile.Read(ref _pendingSipi) < 0 ? -1 : Interlocked.Exchange(ref _pendingSipi, -1);

    internal bool HasPendingSipi => Volatile.Read(ref _pendingSipi) >= 0;

    /// <summary>Whether this APIC passes the PIC's INTR to the CPU (LINT0 unmasked in ExtINT mode, or the APIC globally disabled).</summary>
    internal bool AcceptsPicInterrupts
    {
        get
        {
            if (!HardwareEnabled)
            {
                return true;
            }

            uint lint0 = _lvt[4];
            return (lint0 & LvtMasked) == 0 && ((lint0 >> 8) & 7) == 7;
        }
    }

    private void Eoi()
    {
        int v = HighestBit(_isr);
        if (v < 0)
        {
            return;
        }

        _isr[v >> 5] &= ~(1u << (v & 31));
        if ((Volatile.Read(ref _tmr[v >> 5]) & (1 << (v & 31))) != 0)
        {
            _chip.IoApic.EndOfInterrupt(v);
        }

        _vcpu.NotifyEvent(false);
    }

    private void SendIpi()
    {
        int mode = (int)(_icrLow >> 8) & 7;
        bool logical = (_icrLow & (1u << 11)) != 0;
        bool assert = (_icrLow & (1u << 14)) != 0;
        bool level = (_icrLow & (1u << 15)) != 0;
        int shorthand = (int)(_icrLow >> 18) & 3;
        uint dest = X2Apic ? _icrHigh : _icrHigh >> 24;
        var deliveryMode = (ApicDeliveryMode)mode;
        if (deliveryMode == ApicDeliveryMode.Init && level && !assert)
        {
            return; // INIT level de-assert: no effect on modern processors
        }

        _chip.Deliver(new ApicMessage(dest, logical, deliveryMode, (int)(_icrLow & 0xFF), level && deliveryMode == ApicDeliveryMode.Fixed, shorthand), this);
    }

    /// <summary>Whether this APIC is a destination of (<paramref name="dest"/>, <paramref name="logical"/>) in the sender's mode.</summary>
    internal bool MatchesDestination(uint dest, bool logical, bool x2ApicSender)
    {
        if (!HardwareEnabled)
        {
            return false;
        }

        if (x2ApicSender || X2Apic)
        {
            if (dest == 0xFFFF_FFFF)
            {
                return true;
            }

            if (!logical)
            {
                return dest == (uint)Id;
            }

            uint ldr = X2ApicLdr;
            return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xFFFF) != 0;
        }

        dest &= 0xFF;
        if (dest == 0xFF)
        {
            return true;
        }

        if (!logical)
        {
            return dest == (uint)(Id & 0xFF);
        }

        uint logicalId = _ldr >> 24;
        if ((_dfr >> 28) == 0xF)
        {
            return (logicalId & dest) != 0;
        }

        return (logicalId >> 4) == (dest >> 4) && (logicalId & dest & 0xF) != 0;
    }

    private static int HighestBit(int[] words)
    {
        for (int i = words.Length - 1; i >= 0; i--)
        {
            uint w = (uint)Volatile.Read(ref words[i]);
            if (w != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(w);
            }
        }

        return -1;
    }

    private static int HighestBit(uint[] words)
    {
        for (int i = words.Length - 1; i >= 0; i--)
        {
            if (words[i] != 0)
            {
                return (i << 5) + 31 - BitOperations.LeadingZeroCount(words[i]);
            }
        }

        return -1;
    }
}
