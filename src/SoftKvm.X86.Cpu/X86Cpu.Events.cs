using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Event delivery through the guest IDT in real mode, protected mode and long mode, with privilege
/// changes, error codes, IST, the double-fault rules and triple-fault shutdown; and IRET.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>The vector the last successful <see cref="DeliverEvent"/> delivered (a fault during delivery replaces the first).</summary>
    private int _lastDeliveredVector = -1;

    /// <summary>
    /// Raises exception <paramref name="vector"/> at an instruction boundary: an exit when the exception
    /// bitmap selects it (a #DB exit carries <paramref name="dr6"/> in its qualification and leaves DR6 alone,
    /// as a VMX #DB exit does), otherwise delivery through the IDT (a #DB writes <paramref name="dr6"/>'s
    /// conditions into DR6 first). False = exit.
    /// </summary>
    private bool RaiseException(int vector, uint error, bool hasError, ulong returnRip, bool isTrap, ulong dr6 = 0)
    {
        if ((Controls.ExceptionBitmap & (1u << vector)) != 0)
        {
            _exit = default;
            SetExceptionExit(vector, error, hasError);
            if (vector == ExceptionVector.DB)
            {
                _exit.Qualification = dr6;
                _exit.DebugTrap = isTrap;
            }

            return false;
        }

        if (vector == ExceptionVector.DB)
        {
            SetDr6(dr6);
        }

        if (!isTrap && vector != ExceptionVector.DB)
        {
            // Faults push RF=1 so the handler's IRET does not re-trigger an instruction breakpoint.
            _regs.Rflags |= Rflags.RF;
        }

        return DeliverEvent(vector, error, hasError, returnRip, false, false);
    }

    /// <summary>
    /// Delivers an event through the IDT; nested faults during delivery follow the double-fault table
    /// (SDM Vol. 3 table 6-5), a fault while delivering #DF shuts the CPU down. False = exit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool DeliverEvent(int vector, uint error, bool hasError, ulong returnRip, bool external, bool software, ulong softwareFaultRip = 0)
    {
        _fastAccesses = -1; // the delivery's stack accesses are no instruction's: never a fast-path exit
        for (int attempt = 0; attempt < 4; attempt++)
        {
            _faulted = false;
            _exitPending = false;
            if (DeliverOnce(vector, error, hasError, returnRip, external, software))
            {
                EventsDelivered++;
                _lastDeliveredVector = vector;
                _lookUp = true; // the handler's entry: a place for a translated block, as a branch target is
                _lookUpCold = false;
                if (vector == ExceptionVector.DB && !software)
                {
                    // Entering the debug-exception handler clears DR7.GD so that it can use the debug
                    // registers (SDM Vol. 3 17.2.4); an INT 1 is a software interrupt, not a #DB.
                    _regs.Dr7 &= ~Dr7GeneralDetect;
                }

                if (_hooks is { HasExceptionHooks: true } hooks)
                {
                    HookException(hooks, vector, error, returnRip, external, software);
                }

                return true;
            }

            if (_exitPending)
            {
                return false;
            }

            int second = _faultVector;
            if (software)
            {
                returnRip = softwareFaultRip;
                _regs.Rflags |= Rflags.RF;
            }

            if (vector == ExceptionVector.DF)
            {
                return Shutdown();
            }

            bool firstIsException = !software && !external;
            bool firstContributory = firstIsException && ExceptionVector.IsContributory(vector);
            bool firstPf = firstIsException && vector == ExceptionVector.PF;
            bool secondContributory = ExceptionVector.IsContributory(second);
            bool secondPf = second == ExceptionVector.PF;
            bool df = (firstContributory && secondContributory) || (firstPf && (secondContributory || secondPf));
            if (secondPf)
            {
                _regs.Cr2 = _faultCr2;
            }

            if (df)
            {
                vector = ExceptionVector.DF;
                error = 0;
                hasError = true;
            }
            else
            {
                vector = second;
                error = _faultError;
                hasError = _faultHasError;
            }

            external = false;
            software = false;
        }

        return Shutdown();
    }

    private bool Shutdown()
    {
        IsShutdown = true;
        _exit = default;
        _exit.Reason = X86ExitReason.TripleFault;
        _exitPending = true;
        return false;
    }

    private bool DeliverOnce(int vector, uint error, bool hasError, ulong returnRip, bool external, bool software)
    {
        uint ext = external ? 1u : 0u;
        if ((_regs.Cr0 & 1) == 0)
        {
            return DeliverReal(vector, returnRip);
        }

        if ((_regs.Rflags & Rflags.VM) != 0)
        {
            return ExitUnsupported("virtual-8086 mode is not implemented");
        }

        if (LongModeActive)
        {
            return DeliverLong(vector, error, hasError, returnRip, software, ext);
        }

        return DeliverProtected(vector, error, hasError, returnRip, software, ext);
    }

    private bool DeliverReal(int vector, ulong returnRip)
    {
        if ((ulong)vector * 4 + 3 > _regs.Idtr.Limit)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        if (!ReadSystem(_regs.Idtr.Base + (ulong)vector * 4, 4, out ulong ivt))
        {
            return false;
        }

        ulong sp = StackPointer;
        if (!PushValue(_regs.Rflags & 0xFFFF, 2, ref sp)
            || !PushValue(_regs.Seg[SegmentIndex.Cs].Selector, 2, ref sp)
            || !PushValue(returnRip & 0xFFFF, 2, ref sp))
        {
            return false;
        }

        CommitStackPointer(sp);
        _regs.Rflags &= ~(Rflags.IF | Rflags.TF | Rflags.AC | Rflags.RF);
        CommitRealCs((ushort)(ivt >> 16));
        _regs.Rip = ivt & 0xFFFF;
        return true;
    }

    private bool ReadGate(int vector, int size, uint ext, bool software, out ulong lo, out ulong hi, out SegmentRegister target)
    {
        lo = hi = 0;
        target = default;
        uint gateError = (uint)(vector * 8 + 2) | ext;
        if ((ulong)vector * (ulong)size + (ulong)size - 1 > _regs.Idtr.Limit)
        {
            return Fault(ExceptionVector.GP, gateError, true);
        }

        ulong gateAddr = _regs.Idtr.Base + (ulong)vector * (ulong)size;
        if (!ReadSystem(gateAddr, 8, out lo) || (size == 16 && !ReadSystem(gateAddr + 8, 8, out hi)))
        {
            return false;
        }

        uint type = (uint)(lo >> 40) & 0xF;
        int dpl = (int)(lo >> 45) & 3;
        bool present = (lo & (1UL << 47)) != 0;
        if (size == 8 && type == 5)
        {
            return ExitUnsupported("task gates are not implemented");
        }

        bool valid = size == 16 ? type is 0xE or 0xF : type is 0x6 or 0x7 or 0xE or 0xF;
        if (!valid || (software && dpl < _cpl))
        {
            return Fault(ExceptionVector.GP, gateError, true);
        }

        if (!present)
        {
            return Fault(ExceptionVector.NP, gateError, true);
        }

        ushort selector = (ushort)(lo >> 16);
        if ((selector & 0xFFFC) == 0)
        {
            return Fault(ExceptionVector.GP, ext, true);
        }

        if (!ReadDescriptor(selector, out ulong d))
        {
            return false;
        }

        var cs = SegmentRegister.FromDescriptor(selector, d);
        if ((cs.Attributes & SegmentRegister.CodeOrData) == 0 || (cs.Type & 8) == 0 || cs.Dpl > _cpl)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC) | ext, true);
        }

        if ((cs.Attributes & SegmentRegister.Present) == 0)
        {
            return Fault(ExceptionVector.NP, (uint)(selector & 0xFFFC) | ext, true);
        }

        if (size == 16 && (!cs.IsLong || cs.IsBig))
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC) | ext, true);
        }

        cs.Attributes |= 1;
        target = cs;
        return true;
    }

    private bool DeliverProtected(int vector, uint error, bool hasError, ulong returnRip, bool software, uint ext)
    {
        if (!ReadGate(vector, 8, ext, software, out ulong gate, out _, out var cs))
        {
            return false;
        }

        uint type = (uint)(gate >> 40) & 0xF;
        bool gate32 = (type & 8) != 0;
        int size = gate32 ? 4 : 2;
        ulong offset = (gate & 0xFFFF) | ((gate >> 32) & 0xFFFF0000);
        int newCpl = (cs.Type & 4) != 0 ? _cpl : cs.Dpl;
        cs.Selector = (ushort)((cs.Selector & 0xFFFC) | newCpl);

        ulong oldFlags = _regs.Rflags;
        ushort oldSs = _regs.Seg[SegmentIndex.Ss].Selector;
        ulong oldSp = _regs.Gpr[Gpr.Rsp];
        SegmentRegister ss = _regs.Seg[SegmentIndex.Ss];
        ulong sp = StackPointer;
        bool switchStack = newCpl < _cpl;
        if (switchStack)
        {
            bool tss32 = (_regs.Tr.Type & 8) != 0;
            ulong tssOffset = tss32 ? 4 + (ulong)newCpl * 8 : 2 + (ulong)newCpl * 4;
            ulong needed = tssOffset + (tss32 ? 5UL : 3UL);
            if (needed > _regs.Tr.Limit)
            {
                return Fault(ExceptionVector.TS, (uint)(_regs.Tr.Selector & 0xFFFC) | ext, true);
            }

            if (!ReadSystem(_regs.Tr.Base + tssOffset, tss32 ? 4 : 2, out ulong newSp)
                || !ReadSystem(_regs.Tr.Base + tssOffset + (tss32 ? 4UL : 2UL), 2, out ulong newSsSel))
            {
                return false;
            }

            int savedCpl = _cpl;
            _cpl = newCpl;
            bool ok = CheckDataSegment(SegmentIndex.Ss, (ushort)newSsSel, out ss);
            _cpl = savedCpl;
            if (!ok)
            {
                if (_faulted && _faultVector != ExceptionVector.PF)
                {
                    _faultVector = ExceptionVector.TS;
                }

                return false;
            }

            sp = ss.IsBig ? newSp & 0xFFFFFFFF : newSp & 0xFFFF;
        }

        ulong spMask = ss.IsBig ? 0xFFFFFFFFUL : 0xFFFFUL;
        bool savedImplicit = _implicitSupervisor;
        _implicitSupervisor = newCpl < 3;
        bool pushed = true;
        void PushOne(ulong value)
        {
            if (!pushed)
            {
                return;
            }

            sp = (sp - (ulong)size) & spMask;
            pushed = WriteLinear((ss.Base + sp) & 0xFFFFFFFF, size, value);
        }

        if (switchStack)
        {
            PushOne(oldSs);
            PushOne(oldSp);
        }

        PushOne(oldFlags);
        PushOne(_regs.Seg[SegmentIndex.Cs].Selector);
        PushOne(returnRip);
        if (hasError)
        {
            PushOne(error);
        }

        _implicitSupervisor = savedImplicit;
        if (!pushed)
        {
            return false;
        }

        if (switchStack)
        {
            _regs.Seg[SegmentIndex.Ss] = ss;
        }

        _regs.Gpr[Gpr.Rsp] = (_regs.Gpr[Gpr.Rsp] & ~spMask) | sp;
        _regs.Rflags &= ~(Rflags.TF | Rflags.NT | Rflags.RF | Rflags.VM);
        if ((type & 1) == 0)
        {
            _regs.Rflags &= ~Rflags.IF;
        }

        CommitCs(cs);
        _regs.Rip = gate32 ? offset : offset & 0xFFFF;
        return true;
    }

    private bool DeliverLong(int vector, uint error, bool hasError, ulong returnRip, bool software, uint ext)
    {
        if (!ReadGate(vector, 16, ext, software, out ulong lo, out ulong hi, out var cs))
        {
            return false;
        }

        uint type = (uint)(lo >> 40) & 0xF;
        ulong offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) | (hi << 32);
        int ist = (int)(lo >> 32) & 7;
        int newCpl = (cs.Type & 4) != 0 ? _cpl : cs.Dpl;
        cs.Selector = (ushort)((cs.Selector & 0xFFFC) | newCpl);
        ulong sp = _regs.Gpr[Gpr.Rsp];
        if (ist != 0 || newCpl < _cpl)
        {
            ulong tssOffset = ist != 0 ? 0x24 + (ulong)(ist - 1) * 8 : 4 + (ulong)newCpl * 8;
            if (tssOffset + 7 > _regs.Tr.Limit)
            {
                return Fault(ExceptionVector.TS, (uint)(_regs.Tr.Selector & 0xFFFC) | ext, true);
            }

            if (!ReadSystem(_regs.Tr.Base + tssOffset, 8, out sp))
            {
                return false;
            }
        }

        if (!IsCanonical(sp))
        {
            return Fault(ExceptionVector.SS, ext, true);
        }

        sp &= ~0xFUL;
        bool savedImplicit = _implicitSupervisor;
        _implicitSupervisor = newCpl < 3;
        ulong frame = sp - (hasError ? 48UL : 40UL);
        bool ok = WriteLinear(sp - 8, 8, _regs.Seg[SegmentIndex.Ss].Selector)
            && WriteLinear(sp - 16, 8, _regs.Gpr[Gpr.Rsp])
            && WriteLinear(sp - 24, 8, _regs.Rflags)
            && WriteLinear(sp - 32, 8, _regs.Seg[SegmentIndex.Cs].Selector)
            && WriteLinear(sp - 40, 8, returnRip)
            && (!hasError || WriteLinear(sp - 48, 8, error));
        _implicitSupervisor = savedImplicit;
        if (!ok)
        {
            return false;
        }

        if (newCpl < _cpl)
        {
            _regs.Seg[SegmentIndex.Ss] = new SegmentRegister
            {
                Selector = (ushort)newCpl,
                Attributes = SegmentRegister.Unusable | 0x93 | ((uint)newCpl << 5),
            };
        }

        _regs.Gpr[Gpr.Rsp] = frame;
        _regs.Rflags &= ~(Rflags.TF | Rflags.NT | Rflags.RF | Rflags.VM);
        if ((type & 1) == 0)
        {
            _regs.Rflags &= ~Rflags.IF;
        }

        CommitCs(cs);
        _regs.Rip = offset;
        return true;
    }
}
