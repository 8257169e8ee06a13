using System.Numerics;
using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu;

namespace SoftKvm.Arm64.Pmu;

/// <summary>
/// One vCPU's PMUv3 (PMUv3p5), as KVM's in-kernel PMU gives a guest (docs/kvm-semantics.md#arm64-pmu):
/// <see cref="EventCounters"/> event counters and the cycle counter, counting from the CPU model's retired
/// instructions by exception level (<see cref="Arm64Cpu.RetiredAt"/>). A cycle is one retired instruction
/// (CPU_CYCLES, the cycle counter), and INST_RETIRED and INST_SPEC count the same instructions; BR_RETIRED
/// and MEM_ACCESS count the CPU model's branches and data accesses by exception level
/// (<see cref="Arm64Cpu.BranchesAt"/>, <see cref="Arm64Cpu.MemoryAccessesAt"/>); SW_INCR counts PMSWINC_EL0
/// writes; CHAIN makes an odd counter count the overflows of the even one below it
/// (with PMCR_EL0.LP 0, as KVM). Filtering: PMEVTYPERn/PMCCFILTR P excludes EL1, U excludes EL0. An
/// overflow sets PMOVSSET_EL0 and drives PPI 23 while PMCR_EL0.E, the counter's enable and its interrupt
/// enable are set. Counters are brought up to date lazily, whenever a PMU register is read and after
/// every run of the CPU; while any counter counts instructions, branches or accesses the CPU runs
/// everything through its interpreter (<see cref="Arm64Cpu.PmuCounting"/>), and runs end at the next overflow.
/// </summary>
internal sealed partial class VcpuPmu(Arm64Cpu cpu, Action<bool> setInterruptLine)
{
    /// <summary>Event counters (PMCR_EL0.N), as KVM gives a guest on most hosts.</summary>
    public const int EventCounters = 6;

    /// <summary>The overflow interrupt's INTID (PPI 7), where QEMU's virt and KVM put it.</summary>
    public const int OverflowIntId = 23;

    /// <summary>The events 0x00-0x1F counted (PMCEID0_EL0 bit n = event n).</summary>
    public const ulong Pmceid0 = (1UL << SwIncr) | (1UL << InstRetired) | (1UL << CpuCycles) | (1UL << MemAccess) | (1UL << InstSpec) | (1UL << Chain);

    /// <summary>The events 0x20-0x3F counted (PMCEID1_EL0 bit n = event 0x20 + n).</summary>
    public const ulong Pmceid1 = 1UL << (BrRetired - 0x20);

    internal const int SwIncr = 0x00, InstRetired = 0x08, CpuCycles = 0x11, MemAccess = 0x13, InstSpec = 0x1B, Chain = 0x1E, BrRetired = 0x21;

    private const int CycleIndex = 31;
    private const int Instructions = 0, Branches = 1, MemoryAccesses = 2;
    private const uint CounterMask = (1u << EventCounters) - 1 | (1u << CycleIndex);
    private const ulong PmcrE = 1, PmcrP = 1 << 1, PmcrC = 1 << 2, PmcrX = 1 << 4, PmcrDp = 1 << 5, PmcrLc = 1 << 6, PmcrLp = 1 << 7;
    private const ulong PmcrWritable = PmcrE | PmcrX | PmcrDp | PmcrLp;
    private const ulong PmcrReadOnly = (0x41UL << 24) | ((ulong)EventCounters << 11) | PmcrLc; // IMP Arm, N; LC RES1 (AArch64 only)
    private const ulong FilterP = 1UL << 31, FilterU = 1UL << 30;
    private const ulong EvtyperMask = 0xF800_FFFFUL, CcfiltrMask = 0xF800_0000UL;
    private const ulong UserEn = 1, UserSw = 1 << 1, UserCr = 1 << 2, UserEr = 1 << 3;

    private readonly ulong[] _counter = new ulong[32];
    private readonly ulong[] _evtyper = new ulong[32];   // [31] is PMCCFILTR_EL0
    private ulong _pmcr;
    private uint _cntEnable, _intEnable, _overflow;
    private ulong _selr, _userenr;
    // What the CPU had counted at the last look, by [source * 2 + el].
    private readonly long[] _seen =
        [cpu.RetiredAt(0), cpu.RetiredAt(1), cpu.BranchesAt(0), cpu.BranchesAt(1), cpu.MemoryAccessesAt(0), cpu.MemoryAccessesAt(1)];
    private (PmuRegister Register, int Index, ulong Value)? _pendingWrite;
    private bool _line;

    /// <summary>
    /// An MRS or MSR (docs: <see cref="ICpuHost.AccessPmuRegister"/>): false for an UNDEFINED access (no such
    /// register or counter, a write to a read-only one or a read of PMSWINC_EL0, EL0 without PMUSERENR_EL0's
    /// permission, as KVM's sys_regs.c decides). A write is applied by the next <see cref="Sync"/>.
    /// </summary>
    public bool Access(SysRegKey key, bool write, bool el0, ref ulong value)
    {
        var (register, index) = Decode(key.Value);
        if (register == PmuRegister.None || (el0 && !El0Allowed(register, write)))
        {
            return false;
        }

        if (register is PmuRegister.Xevtyper or PmuRegister.Xevcntr)
        {
            index = (int)(_selr & 31);
            if (index >= EventCounters && index != CycleIndex)
            {
                return false;
            }

            register = register == PmuRegister.Xevtyper ? PmuRegister.Evtyper : index == CycleIndex ? PmuRegister.Ccntr : PmuRegister.Evcntr;
        }

        if (write)
        {
            if (register is PmuRegister.Ceid0 or PmuRegister.Ceid1)
            {
                return false;
            }

            _pendingWrite = (register, index, value);
            return true;
        }

        if (register == PmuRegister.Swinc)
        {
            return false;
        }

        Accumulate();
        value = register switch
        {
            PmuRegister.Cr => (_pmcr & PmcrWritable) | PmcrReadOnly,
            PmuRegister.CntenSet or PmuRegister.CntenClr => _cntEnable,
            PmuRegister.IntenSet or PmuRegister.IntenClr => _intEnable,
            PmuRegister.OvsSet or PmuRegister.OvsClr => _overflow,
            PmuRegister.Selr => _selr,
            PmuRegister.Ceid0 => Pmceid0,
            PmuRegister.Ceid1 => Pmceid1,
            PmuRegister.Ccntr => _counter[CycleIndex],
            PmuRegister.Evcntr => _counter[index],
            PmuRegister.Evtyper => _evtyper[index],
            PmuRegister.Userenr => _userenr,
            _ => 0,
        };
        return true;
    }

    /// <summary>
    /// After every run of the CPU (and a VMM write): counts what retired, applies the write the last run ended
    /// with, tells the CPU whether to count, and updates the overflow interrupt line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // after every run: the test inline, the work in SyncCounters
    public void Sync()
    {
        // Nothing can count (PMCR_EL0.E or every enable clear; the case of a guest that does not use the PMU) and
        // no write waits: no counter moves, the line is low and stays so. Only the baselines of what the CPU counted
        // would move, and they need not: the next Sync with a write catches them up (Accumulate under the old
        // configuration, which counts nothing) before the write can start a counter, as a register read does.
        if (_pendingWrite is not null || Enabled || _line || cpu.PmuCounting)
        {
            SyncCounters();
        }
    }

    private void SyncCounters()
    {
        Accumulate();
        if (_pendingWrite is { } w)
        {
            _pendingWrite = null;
            Apply(w.Register, w.Index, w.Value);
        }

        cpu.PmuCounting = Counting() != 0;
        bool line = (_pmcr & PmcrE) != 0 && (_overflow & _cntEnable & _intEnable) != 0;
        if (line != _line)
        {
            _line = line;
            setInterruptLine(line);
        }
    }

    /// <summary>
    /// The budget of the next run: at most the instructions until the first counter can overflow (an
    /// instruction retires once, is at most one branch, and makes at most
    /// <see cref="Arm64Cpu.MaxMemoryAccessesPerInstruction"/> accesses), so a run ends with the instruction
    /// that overflows a counter.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // before every run: the test inline, the work in CountingBudget
    public long Budget(long budget) => Enabled ? CountingBudget(budget) : budget;

    private long CountingBudget(long budget)
    {
        uint counting = Counting();
        while (counting != 0)
        {
            int i = BitOperations.TrailingZeroCount(counting);
            counting &= counting - 1;
            ulong left = Wraps64(i) ? 0 - _counter[i] : (1UL << 32) - (uint)_counter[i];
            if (Source(i) == MemoryAccesses && left != 0)
            {
                left = ((left - 1) / Arm64Cpu.MaxMemoryAccessesPerInstruction) + 1;
            }

            if (left != 0 && left < (ulong)budget)
            {
                budget = (long)left;
            }
        }

        return budget;
    }

    // What counter i counts: retired instructions (the cycle counter, INST_RETIRED, CPU_CYCLES, INST_SPEC),
    // branches (BR_RETIRED), data accesses (MEM_ACCESS), or none of these (-1).
    private int Source(int i) => i == CycleIndex ? Instructions : (int)(_evtyper[i] & 0xFFFF) switch
    {
        InstRetired or CpuCycles or InstSpec => Instructions,
        BrRetired => Branches,
        MemAccess => MemoryAccesses,
        _ => -1,
    };

    // Whether any counter may count: PMCR_EL0.E and an enable set (Counting is 0 otherwise, and the line low).
    private bool Enabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (_pmcr & PmcrE) != 0 && _cntEnable != 0;
    }

    // The enabled counters that count instructions, branches or accesses now.
    private uint Counting()
    {
        if (!Enabled)
        {
            return 0;
        }

        uint counting = 0, enabled = _cntEnable;
        while (enabled != 0)
        {
            int i = BitOperations.TrailingZeroCount(enabled);
            enabled &= enabled - 1;
            if (Source(i) >= 0)
            {
                counting |= 1u << i;
            }
        }

        return counting;
    }

    private bool Wraps64(int i) => i == CycleIndex || (_pmcr & PmcrLp) != 0;

    // Adds the instructions, branches and accesses since the last look to the counters that count them.
    private void Accumulate()
    {
        Span<ulong> delta = stackalloc ulong[6];
        ulong any = 0;
        for (int el = 0; el < 2; el++)
        {
            any |= delta[(Instructions * 2) + el] = Advance((Instructions * 2) + el, cpu.RetiredAt(el));
            any |= delta[(Branches * 2) + el] = Advance((Branches * 2) + el, cpu.BranchesAt(el));
            any |= delta[(MemoryAccesses * 2) + el] = Advance((MemoryAccesses * 2) + el, cpu.MemoryAccessesAt(el));
        }

        if (any == 0)
        {
            return;
        }

        uint counting = Counting();
        while (counting != 0)
        {
            int i = BitOperations.TrailingZeroCount(counting);
            counting &= counting - 1;
            ulong filter = _evtyper[i];
            int source = Source(i) * 2;
            ulong n = ((filter & FilterU) == 0 ? delta[source] : 0) + ((filter & FilterP) == 0 ? delta[source + 1] : 0);
            if (n != 0)
            {
                Add(i, n);
            }
        }
    }

    // The events of slot (source * 2 + el) since the last look.
    private ulong Advance(int slot, long now)
    {
        ulong d = (ulong)(now - _seen[slot]);
        _seen[slot] = now;
        return d;
    }

    // Counter i advances by n: overflow status, and the CHAIN counter above an even one counts its overflows.
    private void Add(int i, ulong n)
    {
        ulong old = _counter[i];
        ulong overflows;
        if (Wraps64(i))
        {
            _counter[i] = old + n;
            overflows = _counter[i] < old ? 1UL : 0;
        }
        else
        {
            ulong low = (old & 0xFFFF_FFFF) + n;
            overflows = low >> 32;
            _counter[i] = i == CycleIndex ? old + n : low & 0xFFFF_FFFF;
        }

        if (overflows == 0)
        {
            return;
        }

        _overflow |= 1u << i;
        int odd = i + 1;
        if ((i & 1) == 0 && odd < EventCounters && (_pmcr & (PmcrE | PmcrLp)) == PmcrE &&
            (_cntEnable >> odd & 1) != 0 && (_evtyper[odd] & 0xFFFF) == Chain)
        {
            Add(odd, overflows);
        }
    }

    private void Apply(PmuRegister register, int index, ulong value)
    {
        uint bits = (uint)value & CounterMask;
        switch (register)
        {
            case PmuRegister.Cr:
                _pmcr = value & PmcrWritable;
                if ((value & PmcrP) != 0)
                {
                    Array.Clear(_counter, 0, EventCounters);
                }

                if ((value & PmcrC) != 0)
                {
                    _counter[CycleIndex] = 0;
                }

                if ((_pmcr & PmcrLp) == 0)
                {
                    for (int i = 0; i < EventCounters; i++)
                    {
                        _counter[i] &= 0xFFFF_FFFF;
                    }
                }

                break;
            case PmuRegister.CntenSet: _cntEnable |= bits; break;
            case PmuRegister.CntenClr: _cntEnable &= ~bits; break;
            case PmuRegister.IntenSet: _intEnable |= bits; break;
            case PmuRegister.IntenClr: _intEnable &= ~bits; break;
            case PmuRegister.OvsSet: _overflow |= bits; break;
            case PmuRegister.OvsClr: _overflow &= ~bits; break;
            case PmuRegister.Selr: _selr = value & 31; break;
            case PmuRegister.Userenr: _userenr = value & (UserEn | UserSw | UserCr | UserEr); break;
            case PmuRegister.Ccntr: _counter[CycleIndex] = value; break;
            case PmuRegister.Evcntr: _counter[index] = (_pmcr & PmcrLp) != 0 ? value : value & 0xFFFF_FFFF; break;
            case PmuRegister.Evtyper: _evtyper[index] = value & (index == CycleIndex ? CcfiltrMask : EvtyperMask); break;
            case PmuRegister.Swinc:
                if ((_pmcr & PmcrE) != 0)
                {
                    uint increments = bits & _cntEnable & ((1u << EventCounters) - 1);
                    while (increments != 0)
                    {
                        int i = BitOperations.TrailingZeroCount(increments);
                        increments &= increments - 1;
                        if ((_evtyper[i] & 0xFFFF) == SwIncr)
                        {
                            Add(i, 1);
                        }
                    }
                }

                break;
        }
    }

    // PMUSERENR_EL0 (KVM's pmu_*_el0_disabled): EN allows everything but writing PMUSERENR_EL0 itself; SW
    // allows PMSWINC writes, CR cycle counter reads, ER event counter reads and PMSELR_EL0.
    private bool El0Allowed(PmuRegister register, bool write)
    {
        ulong u = _userenr;
        return register switch
        {
            PmuRegister.Userenr => !write,
            PmuRegister.IntenSet or PmuRegister.IntenClr => false,
            PmuRegister.Swinc => (u & (UserEn | UserSw)) != 0,
            PmuRegister.Ccntr => (u & UserEn) != 0 || (!write && (u & UserCr) != 0),
            PmuRegister.Evcntr or PmuRegister.Xevcntr => (u & UserEn) != 0 || (!write && (u & UserEr) != 0),
            PmuRegister.Selr => (u & (UserEn | UserEr)) != 0,
            _ => (u & UserEn) != 0,
        };
    }

    private static (PmuRegister, int) Decode(uint key)
    {
        uint op1 = (key >> 11) & 7, crn = (key >> 7) & 15, crm = (key >> 3) & 15, op2 = key & 7;
        if (crn == 14)
        {
            int n = (int)(((crm & 3) << 3) | op2);
            bool type = crm >= 12;
            return n == CycleIndex ? (type ? (PmuRegister.Evtyper, CycleIndex) : (PmuRegister.None, 0))
                : n >= EventCounters ? (PmuRegister.None, 0)
                : (type ? PmuRegister.Evtyper : PmuRegister.Evcntr, n);
        }

        PmuRegister r = (op1, crm, op2) switch
        {
            (3, 12, 0) => PmuRegister.Cr,
            (3, 12, 1) => PmuRegister.CntenSet,
            (3, 12, 2) => PmuRegister.CntenClr,
            (3, 12, 3) => PmuRegister.OvsClr,
            (3, 12, 4) => PmuRegister.Swinc,
            (3, 12, 5) => PmuRegister.Selr,
            (3, 12, 6) => PmuRegister.Ceid0,
            (3, 12, 7) => PmuRegister.Ceid1,
            (3, 13, 0) => PmuRegister.Ccntr,
            (3, 13, 1) => PmuRegister.Xevtyper,
            (3, 13, 2) => PmuRegister.Xevcntr,
            (3, 14, 0) => PmuRegister.Userenr,
            (3, 14, 3) => PmuRegister.OvsSet,
            (0, 14, 1) => PmuRegister.IntenSet,
            (0, 14, 2) => PmuRegister.IntenClr,
            _ => PmuRegister.None,
        };
        return (r, 0);
    }

    private enum PmuRegister
    {
        None,
        Cr,
        CntenSet,
        CntenClr,
        IntenSet,
        IntenClr,
        OvsSet,
        OvsClr,
        Swinc,
        Selr,
        Ceid0,
        Ceid1,
        Ccntr,
        Xevtyper,
        Xevcntr,
        Userenr,
        Evcntr,
        Evtyper,
    }
}
