using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The software AArch64 PE ("hardware" in docs/architecture.md): it executes A64 code at EL0/EL1 with its own
/// stage-1 MMU and software TLB, takes exceptions inside the guest, and traps to the hypervisor layer
/// (<see cref="Run"/> returns) for what a CPU with virtualization extensions would trap to EL2:
/// stage-2 data aborts outside RAM, HVC, SMC, WFI, WFE. It knows nothing about devices.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>The architectural state, in the native context (memory that does not move, which generated code addresses).</summary>
    public ref CpuState State => ref _context->State;

    /// <summary>The pinned block that holds <see cref="_context"/> (owned here, freed with the CPU).</summary>
    private readonly byte[] _contextMemory = GC.AllocateArray<byte>(sizeof(NativeContext) + 64, pinned: true);

    /// <summary>The state generated code reads and writes (<see cref="NativeContext"/>), 64-byte aligned in <see cref="_contextMemory"/>.</summary>
    private readonly NativeContext* _context;

    /// <summary>The syndrome of the last <see cref="CpuExit.DataAbort"/>.</summary>
    public TrapInfo Trap;

    private readonly GuestMemory _memory;
    private readonly CpuShared _shared;
    private readonly ICpuHost _host;
    private readonly ulong _mpidr;
    private CpuExit _pendingExit;
    private bool _eventRegister;
    private bool _lastWasLoadExclusive;

    private readonly CpuModel _model;

    /// <summary>
    /// A PE over <paramref name="memory"/> (the guest-physical address space it is given), sharing
    /// <paramref name="shared"/> with the other PEs of its VM, reaching the outside through
    /// <paramref name="host"/>, with MPIDR_EL1 = <paramref name="mpidr"/>, implementing
    /// <paramref name="model"/> (default <see cref="CpuModel.CortexA57"/>), in the reset state (<see cref="Reset"/>).
    /// </summary>
    public Arm64Cpu(GuestMemory memory, CpuShared shared, ICpuHost host, ulong mpidr, CpuModel? model = null)
    {
        _memory = memory;
        _shared = shared;
        _host = host;
        _mpidr = mpidr;
        _model = model ?? CpuModel.CortexA57;
        _features = _model.Features;
        _pstateFlagsMask = (Has(CpuFeatures.Ssbs) ? Psr.Ssbs : 0) | (Has(CpuFeatures.Dit) ? Psr.Dit : 0)
            | (Has(CpuFeatures.Pan) ? Psr.Pan : 0) | (Has(CpuFeatures.Uao) ? Psr.Uao : 0) | (Has(CpuFeatures.Bti) ? Psr.Btype : 0)
            | (Has(CpuFeatures.Mte) ? Psr.Tco : 0);
        _context = (NativeContext*)(((nint)Unsafe.AsPointer(ref _contextMemory[0]) + 63) & ~(nint)63);
        InitializeNative();
        shared.Register(this);
        Reset();
    }

    /// <summary>The CPU model this PE implements; fixed at creation.</summary>
    public CpuModel Model => _model;

    private readonly CpuFeatures _features;

    /// <summary>The PSTATE bits of <see cref="CpuState.PstateFlags"/> the model implements (the others are RES0).</summary>
    private readonly uint _pstateFlagsMask;

    /// <summary>Whether the model implements <paramref name="feature"/> (a handler of an optional instruction is UNDEFINED without it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Has(CpuFeatures feature) => (_features & feature) != 0;

    private bool _irqLine;
    private bool _fiqLine;

    /// <summary>
    /// Whether something rare must be checked before the next instruction: an interrupt line, software
    /// step, or PSTATE.IL. Kept up to date by every writer of those, so the loop tests one field.
    /// </summary>
    private bool _attention;

    /// <summary>The hypervisor's view of the IRQ input (the VGIC's CPU interface output).</summary>
    public bool IrqLine
    {
        get => _irqLine;
        set
        {
            // Set at every entry and after every CPU-interface access: only a change has anything to update.
            if (_irqLine != value)
            {
                _irqLine = value;
                UpdateAttention();
            }
        }
    }

    /// <summary>The FIQ input.</summary>
    public bool FiqLine
    {
        get => _fiqLine;
        set
        {
            // Set at every entry and after every CPU-interface access: only a change has anything to update.
            if (_fiqLine != value)
            {
                _fiqLine = value;
                UpdateAttention();
            }
        }
    }

    /// <summary>
    /// Whether something other than an interrupt line must be checked before every instruction (software step,
    /// PSTATE.IL, instruction hooks): no translated code may run while it is set.
    /// </summary>
    private bool _attentionEveryInstruction;

    private void UpdateAttention()
    {
        _attentionEveryInstruction = State.IllegalState || (State.MdscrEl1 & MdscrSs) != 0 || _hooks is { EveryInstruction: true };
        _attention = _irqLine || _fiqLine || _attentionEveryInstruction;
        // The lines as DAIF bits, for native code that unmasks (Arm64Cpu.MaskedInterrupts.cs); none while the host's debugger blocks them.
        _context->PendingInterrupts = _hostBlocksInterrupts ? 0 : (_irqLine ? Psr.I : 0) | (_fiqLine ? Psr.F : 0);
    }

    /// <summary>
    /// The rare checks before an instruction, then the instruction and block hooks; true when the loop must
    /// start over (an exception was taken instead, or a hook moved PC or made a request).
    /// </summary>
    private bool TakeAttentionEvent(ref int requests, bool blockEntry)
    {
        if (State.IllegalState)
        {
            // PSTATE.IL after an illegal exception return: the next instruction takes EC 0x0E.
            TakeSyncException(Esr.Make(Esr.EcIllegalState, 0), 0, false);
            return true;
        }

        if ((State.MdscrEl1 & MdscrSs) != 0 && DebugExceptionsEnabled() && !State.SoftwareStep && !_hostSingleStep)
        {
            TakeSoftwareStep();
            return true;
        }

        // While the host's debugger blocks interrupts they stay pending (Arm64Cpu.HostDebug.cs).
        if (_irqLine && (State.Daif & Psr.I) == 0 && !_hostBlocksInterrupts)
        {
            TakeInterrupt(VectorIrq);
            return true;
        }

        if (_fiqLine && (State.Daif & Psr.F) == 0 && !_hostBlocksInterrupts)
        {
            TakeInterrupt(VectorFiq);
            return true;
        }

        return _hooks is { EveryInstruction: true } hooks && CallInstructionHooks(hooks, ref requests, blockEntry);
    }

    /// <summary>UNDEFINED exceptions taken because an encoding is unallocated or not implemented.</summary>
    public long UndefinedCount { get; private set; }

    /// <summary>Instructions retired (at the end of a translated block; see <see cref="RetiredNow"/>).</summary>
    public long Retired { get; private set; }

    /// <summary>
    /// Instructions retired, exact also while native code calls out to run one instruction (a counter read in the
    /// middle of a block): the virtual clock's measure (docs/snapshots.md#deterministic-execution).
    /// </summary>
    public long RetiredNow => Retired + _retiredInFlight;

    /// <summary>The exit the last trap asked for.</summary>
    public CpuExit PendingExit => _pendingExit;

    /// <summary>The MPIDR_EL1 value.</summary>
    public ulong Mpidr => _mpidr;

    /// <summary>Sets the event register (SEV from another PE, or a monitor clear).</summary>
    public void SignalEvent() => Volatile.Write(ref _eventRegister, true);

    /// <summary>The reset state KVM gives a vCPU: EL1h, D/A/I/F masked, everything else zero.</summary>
    public void Reset()
    {
        State = default;
        State.TrySetPstate(Psr.ResetEl1h);
        State.SctlrEl1 = SctlrReset;
        State.OslsrEl1 = 0x8; // OSLM[1]=1 (OS lock implemented), OSLK=0
        UpdateAlignment();
        FlushTlb();
        ClearExclusive();
        _eventRegister = false;
        ResetRetiredByLevel();
        UpdateTagEl();
        UpdateAttention();
    }

    /// <summary>
    /// Runs guest instructions until a trap, an exception that needs the hypervisor, a non-zero request
    /// word, or <paramref name="budget"/> instructions: as native code (Translation/Native) where the host
    /// allows it and <see cref="TranslationEnabled"/>, else interpreted.
    /// </summary>
    public CpuExit Run(ref int requests, long budget) =>
        TranslationEnabled && NativeSupported ? RunNative(ref requests, budget) : RunInterpreter(ref requests, budget);

    /// <summary>
    /// The interpreter: fetch through the execute TLB, decode through the decode cache, dispatch. While the
    /// PMU counts, its loop also counts each retired instruction's branch and accesses (PmuEvents); the
    /// counting and the plain loop are two instantiations of one method, so the plain one has no PMU check
    /// at all (<see cref="PmuCounting"/> changes only between runs: a PMU write ends the run).
    /// </summary>
    private CpuExit RunInterpreter(ref int requests, long budget) =>
        _pmuCounting ? RunInterpreter<CountPmuEventsMode>(ref requests, budget) : RunInterpreter<NoPmuEventsMode>(ref requests, budget);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // one steady code shape, not tiered on a profile
    private CpuExit RunInterpreter<TPmu>(ref int requests, long budget)
        where TPmu : struct, IPmuEventsMode
    {
        if (_memoryGeneration != _memory.Generation)
        {
            FlushTlb();
        }

        // The hypervisor may have changed the exception level between runs (an injected exception, PSTATE).
        NoteExceptionLevel();

        // At a branch target, after an exception, or at the start of a run (the block hooks' "flow arrived").
        bool blockEntry = true;
        while (true)
        {
            if (Volatile.Read(ref requests) != 0)
            {
                return CpuExit.Request;
            }

            if (--budget < 0)
            {
                return CpuExit.Budget;
            }

            if (_tlbEpoch != _shared.TlbEpoch)
            {
                ReplayBroadcastTlbi();
            }

            if (_attention && TakeAttentionEvent(ref requests, blockEntry))
            {
                NoteExceptionLevel();
                blockEntry = true;
                continue;
            }

            ulong pc = State.Pc;
            uint* host = FetchHost(pc);
            if (host == null)
            {
                NoteExceptionLevel(); // an instruction abort was taken

                if (_hostDebugPending)
                {
                    _hostDebugPending = false;
                    return CpuExit.Debug;
                }

                blockEntry = true;
                continue;
            }

            blockEntry = false;
            uint insn = *host;
            if ((State.PstateFlags & Psr.Btype) != 0 && !BranchTargetCheck(pc, insn))
            {
                NoteExceptionLevel();
                blockEntry = true;
                continue;
            }

            A64Op op = DecodeCached(host, insn);
            switch (OpDispatch.Handlers[(int)op](this, insn))
            {
                case Flow.Next:
                    State.Pc = pc + 4;
                    break;
                case Flow.Jump:
                    blockEntry = true;
                    break;
                case Flow.Exception:
                    NoteExceptionLevel();
                    blockEntry = true;
                    continue;
                default:
                    return _pendingExit;
            }

            Retired++;
            if (TPmu.Counts)
            {
                CountPmuEvents(op, insn);
            }

            if (blockEntry)
            {
                NoteExceptionLevel(); // an exception return counts at the level it left
            }

            if (State.SoftwareStep && (State.MdscrEl1 & MdscrSs) != 0)
            {
                State.SoftwareStep = false;
            }

            if (_reevaluate)
            {
                _reevaluate = false;
                return CpuExit.Reevaluate;
            }
        }
    }

    /// <summary>
    /// Retires the instruction the last trap stopped at, as KVM's <c>kvm_incr_pc</c>: PC += 4, and an
    /// active software step completes (PSTATE.SS = 0) exactly as if the instruction had executed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every exit completed in place; NativeAOT does not inline it on its own
    public void RetireTrappedInstruction()
    {
        State.Pc += 4;
        Retired++;
        if (_pmuCounting && _pendingExit == CpuExit.DataAbort)
        {
            _memoryAccessesAtEl[State.El]++; // an MMIO load or store (one register: it had a syndrome)
        }

        if (State.SoftwareStep && (State.MdscrEl1 & MdscrSs) != 0)
        {
            State.SoftwareStep = false;
        }
    }

    /// <summary>Consumes the event register (WFE); true when it was set.</summary>
    public bool ConsumeEvent() => Interlocked.Exchange(ref _eventRegister, false);

    /// <summary>NOP, YIELD, ISB and the hints SoftKvm gives no effect: nothing to do.</summary>
    [A64Handler(A64Op.Nop, A64Op.Hint, A64Op.Yield, A64Op.Isb)]
    private Flow Hint() => Flow.Next;

    // ---- register access (XZR/SP resolution) ----

    /// <summary>Xn, with n = 31 reading XZR (0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong X(int n) => n == 31 ? 0 : State.X[n];

    /// <summary>Writes Xn; n = 31 (XZR) discards the value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetX(int n, ulong value)
    {
        if (n != 31)
        {
            State.X[n] = value;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetW(int n, ulong value)
    {
        if (n != 31)
        {
            State.X[n] = (uint)value;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetReg(int n, ulong value, bool sf)
    {
        if (n != 31)
        {
            State.X[n] = sf ? value : (uint)value;
        }
    }

    /// <summary>Register n where 31 means SP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong XOrSp(int n) => n == 31 ? Sp : State.X[n];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetXOrSp(int n, ulong value)
    {
        if (n == 31)
        {
            Sp = value;
        }
        else
        {
            State.X[n] = value;
        }
    }

    /// <summary>The current stack pointer (SP_EL0 or SP_EL1 per PSTATE.EL and PSTATE.SP).</summary>
    public ulong Sp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => State.El != 0 && State.SpSel ? State.SpEl1 : State.SpEl0;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set
        {
            if (State.El != 0 && State.SpSel)
            {
                State.SpEl1 = value;
            }
            else
            {
                State.SpEl0 = value;
            }
        }
    }

    // ---- flags ----

    private const uint FlagN = 1u << 31;
    private const uint FlagZ = 1u << 30;
    private const uint FlagC = 1u << 29;
    private const uint FlagV = 1u << 28;

    /// <summary>
    /// For each condition code, a 16-bit mask (little-endian byte pairs): bit k set when the condition
    /// holds for NZCV == k, so a check is one load and a shift, with no data-dependent branches;
    /// <see cref="ConditionTableIsExact"/> checks it against <see cref="EvaluateCondition"/> (the Arm ARM's
    /// ConditionHolds). Bytes rather than <c>ushort</c>: a constant span of any other element type is
    /// created through its field handle in unoptimized (Debug) code, which allocates on every check.
    /// </summary>
    private static ReadOnlySpan<byte> ConditionTable =>
    [
        0xF0, 0xF0, 0x0F, 0x0F, 0xCC, 0xCC, 0x33, 0x33, 0x00, 0xFF, 0xFF, 0x00, 0xAA, 0xAA, 0x55, 0x55,
        0x0C, 0x0C, 0xF3, 0xF3, 0x55, 0xAA, 0xAA, 0x55, 0x05, 0x0A, 0xFA, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF,
    ];

    /// <summary>The mask of condition <paramref name="cond"/> (0..15) in <see cref="ConditionTable"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ConditionMask(int cond) =>
        Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(ConditionTable), (cond & 15) * 2));

    /// <summary>Whether <see cref="ConditionTable"/> agrees with the Arm ARM's ConditionHolds for every condition and NZCV.</summary>
    internal static bool ConditionTableIsExact()
    {
        for (int cond = 0; cond < 16; cond++)
        {
            for (uint nzcv = 0; nzcv < 16; nzcv++)
            {
                if (EvaluateCondition(cond, nzcv << 28) != (((ConditionMask(cond) >> (int)nzcv) & 1) != 0))
                {
                    return false;
                }
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ConditionHolds(int cond) =>
        ((ConditionMask(cond) >> (int)(State.Nzcv >> 28)) & 1) != 0;

    private static bool EvaluateCondition(int cond, uint f)
    {
        bool n = (f & FlagN) != 0, z = (f & FlagZ) != 0, c = (f & FlagC) != 0, v = (f & FlagV) != 0;
        bool result = (cond >> 1) switch
        {
            0 => z,
            1 => c,
            2 => n,
            3 => v,
            4 => c && !z,
            5 => n == v,
            6 => n == v && !z,
            _ => true,
        };
        return (cond & 1) != 0 && cond != 15 ? !result : result;
    }

    // The flags are assembled without branches (a compare gives 0 or 1): the interpreter runs them with
    // data it cannot predict, and translated code gets straight-line flag arithmetic.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Bit(bool value) => Unsafe.BitCast<bool, byte>(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AddWithCarry(ulong x, ulong y, ulong carryIn, bool sf, out uint nzcv)
    {
        if (sf)
        {
            ulong r = x + y + carryIn;
            uint c = carryIn != 0 ? Bit(r <= x) : Bit(r < x); // one compare when carryIn is a constant
            uint v = (uint)(((x ^ r) & (y ^ r)) >> 63);
            nzcv = ((uint)(r >> 63) << 31) | (Bit(r == 0) << 30) | (c << 29) | (v << 28);
            return r;
        }
        else
        {
            uint x32 = (uint)x, y32 = (uint)y;
            ulong wide = (ulong)x32 + y32 + carryIn;
            uint r = (uint)wide;
            uint c = (uint)(wide >> 32);
            uint v = ((x32 ^ r) & (y32 ^ r)) >> 31;
            nzcv = ((r >> 31) << 31) | (Bit(r == 0) << 30) | (c << 29) | (v << 28);
            return r;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint LogicFlags(ulong r, bool sf)
    {
        uint n = sf ? (uint)(r >> 63) : (uint)(r >> 31) & 1;
        uint z = sf ? Bit(r == 0) : Bit((uint)r == 0);
        return (n << 31) | (z << 30);
    }
}
