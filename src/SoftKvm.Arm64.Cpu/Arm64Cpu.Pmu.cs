using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// What the CPU model gives the PMU of the hypervisor layer (docs/kvm-semantics.md#arm64-pmu): the PMU
/// system registers, handed to <see cref="ICpuHost.AccessPmuRegister"/>, and the instruction counts by
/// exception level its counters are made of.
/// </summary>
/// <remarks>
/// <para><b>What a translated engine must honour</b> (the IL blocks do; the native code generator must):
/// while <see cref="PmuCounting"/> is set, no translated code runs — <see cref="MayRunTranslated"/> is
/// false and every instruction goes through the interpreter, where <see cref="Retired"/> is exact before
/// each instruction, so a counter read by MRS and the instant an exception level changes are exact. While
/// it is clear, translated code may run, and then it must only keep <see cref="Retired"/> exact when it
/// returns to the run loop, with at most one change of exception level per return, at its end (a block
/// ends at an exception-generating instruction, an exception return, or a fault), since the run loop
/// attributes the instructions retired since the last look to the exception level it saw then.</para>
/// <para>An instruction is counted once it retires (the run loop's <see cref="Retired"/>): SVC, ERET and
/// an instruction that faults (the ones that change the exception level) are not counted; an instruction
/// the hypervisor completes (HVC, WFI, MMIO) is counted when it retires it.</para>
/// </remarks>
public sealed partial class Arm64Cpu
{
    private readonly long[] _retiredAtEl = new long[2];
    private long _elMark;
    private int _countedEl = 1;
    private bool _pmuCounting;

    /// <summary>
    /// Set by the PMU while any counter counts instructions, branches or accesses: every instruction runs
    /// through the interpreter (see the type's remarks), which counts the branches and accesses. The PMU
    /// sets it between runs (a PMU write ends the run it retires in); a change takes effect at the next run.
    /// </summary>
    public bool PmuCounting
    {
        get => _pmuCounting;
        set => _pmuCounting = value;
    }

    /// <summary>
    /// Whether translated code (a block of any engine) may run now: translation is on, nothing needs a look
    /// before each instruction (software step, PSTATE.IL, an interrupt pending that PSTATE.DAIF does not mask,
    /// instruction hooks), the PMU is not counting, and no breakpoint or host single-step needs every instruction
    /// (<see cref="DebugInterpretOnly"/>, which covers every armed hardware breakpoint). The one condition
    /// every translated engine checks. An interrupt pending but masked lets native code run: every instruction
    /// that can unmask it leaves native code right after itself when it does (Translation/Native/Arm64Cpu.MaskedInterrupts.cs).
    /// </summary>
    public bool MayRunTranslated
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // an exit path's check; NativeAOT does not inline it on its own
        get => TranslationEnabled && (!_attention || !InterruptOrCheckDue) && !_pmuCounting && !DebugInterpretOnly;
    }

    /// <summary>Instructions retired at exception level <paramref name="el"/> (0 or 1) since reset.</summary>
    public long RetiredAt(int el) => _retiredAtEl[el] + (el == _countedEl ? Retired - _elMark : 0);

    // Called by the run loop wherever the exception level may have changed, before any instruction
    // retires at the new one: the instructions since the last call ran at _countedEl.
    private void NoteExceptionLevel()
    {
        int el = State.El;
        if (el != _countedEl)
        {
            _retiredAtEl[_countedEl] += Retired - _elMark;
            _elMark = Retired;
            _countedEl = el;
        }
    }

    private void ResetRetiredByLevel()
    {
        _retiredAtEl[0] = 0;
        _retiredAtEl[1] = 0;
        Array.Clear(_branchesAtEl);
        Array.Clear(_memoryAccessesAtEl);
        _elMark = Retired;
        _countedEl = State.El;
    }

    /// <summary>
    /// The PMU registers (Arm ARM D13.4): op0 3, op1 3, CRn 9, CRm 12..14 (PMCR_EL0 .. PMOVSSET_EL0), op1 0,
    /// CRn 9, CRm 14, op2 1..2 (PMINTENSET_EL1, PMINTENCLR_EL1), and op1 3, CRn 14, CRm 8..15
    /// (PMEVCNTRn_EL0, PMEVTYPERn_EL0, PMCCFILTR_EL0).
    /// </summary>
    internal static bool IsPmuRegister(uint key)
    {
        uint op0op1 = key >> 11, crn = (key >> 7) & 15, crm = (key >> 3) & 15, op2 = key & 7;
        return (op0op1 == ((3 << 3) | 3) && crn == 9 && crm is >= 12 and <= 14)
            || (op0op1 == ((3 << 3) | 0) && crn == 9 && crm == 14 && op2 is 1 or 2)
            || (op0op1 == ((3 << 3) | 3) && crn == 14 && crm >= 8);
    }

    // MRS/MSR of a PMU register: the host decides (UNDEFINED without a PMU or when PMUSERENR_EL0 denies EL0).
    private Flow PmuAccess(uint insn, uint key, bool read)
    {
        ulong value = read ? 0 : X((int)insn & 31);
        if (!_host.AccessPmuRegister(new SysRegKey(key), !read, State.El == 0, ref value))
        {
            return Undefined();
        }

        if (read)
        {
            SetX((int)insn & 31, value);
        }
        else
        {
            _reevaluate = true; // a write takes effect once this instruction has retired
        }

        return Flow.Next;
    }
}
