using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// System instructions: MSR (immediate), SYS (DC, IC, AT, TLBI), MRS and MSR (register) of the
/// registers Linux uses. Registers the PE does not implement are UNDEFINED; EL1 registers are
/// UNDEFINED at EL0; EL0-accessible registers whose access SCTLR_EL1/CNTKCTL_EL1 disables trap to EL1
/// with EC 0x18.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private bool _reevaluate;
    private ulong _osdlr;
    private ulong _dbgclaim;
    private ulong _dbgprcr;

    /// <summary>Whether the last instruction asked the hypervisor to re-evaluate interrupt lines.</summary>
    public bool TakeReevaluate()
    {
        bool r = _reevaluate;
        _reevaluate = false;
        return r;
    }

    private Flow TrapSysReg(uint insn, bool read)
    {
        uint op0 = (insn >> 19) & 3, op1 = (insn >> 16) & 7, crn = (insn >> 12) & 15, crm = (insn >> 8) & 15, op2 = (insn >> 5) & 7;
        uint iss = (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | ((insn & 31) << 5) | (crm << 1) | (read ? 1u : 0);
        TakeSyncException(Esr.Make(Esr.EcSysReg, iss), 0, false);
        return Flow.Exception;
    }

    [A64Handler(A64Op.MsrImm)]
    private Flow MsrImmediate(uint insn)
    {
        uint op1 = (insn >> 16) & 7, op2 = (insn >> 5) & 7, crm = (insn >> 8) & 15;
        switch ((op1 << 3) | op2)
        {
            case (0 << 3) | 5: // SPSel
                if (State.El == 0)
                {
                    return Undefined();
                }

                State.SpSel = (crm & 1) != 0;
                return Flow.Next;
            case (3 << 3) | 6: // DAIFSet
            case (3 << 3) | 7: // DAIFClr
                if (State.El == 0 && (State.SctlrEl1 & SctlrUma) == 0)
                {
                    return TrapSysReg(insn, false);
                }

                if (op2 == 6)
                {
                    State.Daif |= crm << 6;
                }
                else
                {
                    State.Daif &= ~(crm << 6);
                }

                return Flow.Next;
            default:
                uint flag = PstateFlagOfMsrImmediate(op1, op2);
                if (flag == 0 || (State.El == 0 && (flag & (Psr.Pan | Psr.Uao)) != 0))
                {
                    return Undefined();
                }

                SetPstateFlag(flag, (crm & 1) != 0);
                return Flow.Next;
        }
    }

    [A64Handler(A64Op.Sys)]
    private Flow Sys(uint insn)
    {
        uint op1 = (insn >> 16) & 7, crn = (insn >> 12) & 15, crm = (insn >> 8) & 15, op2 = (insn >> 5) & 7;
        ulong value = X((int)insn & 31);
        bool el0 = State.El == 0;
        if (crn == 7)
        {
            switch ((op1 << 7) | (crm << 3) | op2)
            {
                case (0 << 7) | (1 << 3) | 0: // IC IALLUIS
                case (0 << 7) | (5 << 3) | 0: // IC IALLU
                    return el0 ? Undefined() : Flow.Next;
                case (3 << 7) | (5 << 3) | 1: // IC IVAU
                    return el0 && (State.SctlrEl1 & SctlrUci) == 0 ? TrapSysReg(insn, false) : Flow.Next;
                case (0 << 7) | (6 << 3) | 1: // DC IVAC
                    return el0 ? Undefined() : CacheMaintenanceByVa(value);
                case (0 << 7) | (6 << 3) | 2: // DC ISW
                case (0 << 7) | (10 << 3) | 2: // DC CSW
                case (0 << 7) | (14 << 3) | 2: // DC CISW
                    return el0 ? Undefined() : Flow.Next;
                case (0 << 7) | (6 << 3) | 3 when Has(CpuFeatures.Mte): // DC IGVAC
                case (0 << 7) | (6 << 3) | 5 when Has(CpuFeatures.Mte): // DC IGDVAC
                    return el0 ? Undefined() : CacheMaintenanceByVa(value);
                case (0 << 7) | (6 << 3) | 4 when Has(CpuFeatures.Mte): // DC IGSW
                case (0 << 7) | (6 << 3) | 6 when Has(CpuFeatures.Mte): // DC IGDSW
                case (0 << 7) | (10 << 3) | 4 when Has(CpuFeatures.Mte): // DC CGSW
                case (0 << 7) | (10 << 3) | 6 when Has(CpuFeatures.Mte): // DC CGDSW
                case (0 << 7) | (14 << 3) | 4 when Has(CpuFeatures.Mte): // DC CIGSW
                case (0 << 7) | (14 << 3) | 6 when Has(CpuFeatures.Mte): // DC CIGDSW
                    return el0 ? Undefined() : Flow.Next;
                case (3 << 7) | (10 << 3) | 3 when Has(CpuFeatures.Mte): // DC CGVAC
                case (3 << 7) | (10 << 3) | 5 when Has(CpuFeatures.Mte): // DC CGDVAC
                case (3 << 7) | (14 << 3) | 3 when Has(CpuFeatures.Mte): // DC CIGVAC
                case (3 << 7) | (14 << 3) | 5 when Has(CpuFeatures.Mte): // DC CIGDVAC
                case (3 << 7) | (12 << 3) | 3 when Has(CpuFeatures.Mte | CpuFeatures.Dpb): // DC CGVAP
                case (3 << 7) | (12 << 3) | 5 when Has(CpuFeatures.Mte | CpuFeatures.Dpb): // DC CGDVAP
                case (3 << 7) | (13 << 3) | 3 when Has(CpuFeatures.Mte | CpuFeatures.Dpb2): // DC CGVADP
                case (3 << 7) | (13 << 3) | 5 when Has(CpuFeatures.Mte | CpuFeatures.Dpb2): // DC CGDVADP
                    // The tags are kept with the data: cleaning or invalidating them is the data's maintenance.
                    return el0 && (State.SctlrEl1 & SctlrUci) == 0 ? TrapSysReg(insn, false) : CacheMaintenanceByVa(value);
                case (3 << 7) | (4 << 3) | 1: // DC ZVA
                    return el0 && (State.SctlrEl1 & SctlrDze) == 0 ? TrapSysReg(insn, false) : DataCacheZero(value);
                case (3 << 7) | (4 << 3) | 3 when Has(CpuFeatures.Mte): // DC GVA
                case (3 << 7) | (4 << 3) | 4 when Has(CpuFeatures.Mte): // DC GZVA
                    return el0 && (State.SctlrEl1 & SctlrDze) == 0 ? TrapSysReg(insn, false) : DataCacheSetTags(value, zero: op2 == 4);
                case (3 << 7) | (10 << 3) | 1: // DC CVAC
                case (3 << 7) | (11 << 3) | 1: // DC CVAU
                case (3 << 7) | (14 << 3) | 1: // DC CIVAC
                    return el0 && (State.SctlrEl1 & SctlrUci) == 0 ? TrapSysReg(insn, false) : CacheMaintenanceByVa(value);
                case (3 << 7) | (12 << 3) | 1 when Has(CpuFeatures.Dpb): // DC CVAP (FEAT_DPB): RAM is the point of persistence
                case (3 << 7) | (13 << 3) | 1 when Has(CpuFeatures.Dpb2): // DC CVADP (FEAT_DPB2): and of deep persistence
                    return el0 && (State.SctlrEl1 & SctlrUci) == 0 ? TrapSysReg(insn, false) : CacheMaintenanceByVa(value);
                case (0 << 7) | (8 << 3) | 0: // AT S1E1R
                case (0 << 7) | (8 << 3) | 1: // AT S1E1W
                case (0 << 7) | (8 << 3) | 2: // AT S1E0R
                case (0 << 7) | (8 << 3) | 3: // AT S1E0W
                    if (el0)
                    {
                        return Undefined();
                    }

                    AddressTranslate(value, (op2 & 1) != 0 ? AccessKind.Write : AccessKind.Read, op2 >= 2 ? 0 : 1);
                    return Flow.Next;
            }
        }
        else if (crn == 8 && op1 == 0 && !el0 && (crm == 3 || crm == 7) && op2 is 0 or 1 or 2 or 3 or 5 or 7)
        {
            // TLBI VMALLE1(IS), VAE1(IS), ASIDE1(IS), VAAE1(IS), VALE1(IS), VAALE1(IS) act on this PE as
            // their operands say; an IS form is also recorded for the other PEs, which replay it before
            // their next instruction (CpuShared). This PE has applied it already.
            bool current = _tlbEpoch == _shared.TlbEpoch;
            TlbInvalidate((int)op2, value);
            if (crm == 3)
            {
                long epoch = _shared.BroadcastTlbi((int)op2, value);
                if (current && epoch == _tlbEpoch + 1)
                {
                    _tlbEpoch = epoch;
                }
            }

            return Flow.Next;
        }

        return Undefined();
    }

    /// <summary>
    /// DC by VA: caches are not modelled (host memory is coherent); only the translation can fault. A page that translates
    /// for a load now (PAN included, so the entry means what a load's would) goes into the read TLB, as a load's slow path
    /// puts it: native code runs DC CVAC/CVAU/CIVAC as a read-TLB probe (A64IrBuilder.System.cs), and the kernel cleans a
    /// range line by line (64 lines a page: alternatives patching, flush_icache_range), so the rest of the page then stays
    /// in native code instead of one interpreter round trip and one table walk per line.
    /// </summary>
    private Flow CacheMaintenanceByVa(ulong va)
    {
        if (Translate(va, AccessKind.Read, State.El, out ulong pa, out _, pan: PanActive))
        {
            FillReadTlbAfterMaintenance(va, pa);
            return Flow.Next;
        }

        // PAN does not apply to cache maintenance: a page only PAN keeps from loads is still maintained.
        if (!Translate(va, AccessKind.Read, State.El, out _, out uint fsc))
        {
            DataAbortToGuest(va, fsc, false, cm: true);
            return Flow.Exception;
        }

        return Flow.Next;
    }

    /// <summary>The read-TLB fill of a load's slow path (Resolve) for the page of <paramref name="va"/>, when it is RAM.</summary>
    private void FillReadTlbAfterMaintenance(ulong va, ulong pa)
    {
        if (_hwWatchpointsArmed || !MayCache(va, AccessKind.Read))
        {
            return;
        }

        byte* host = _memory.TryGetHostPointer(pa, false, out _);
        if (host != null)
        {
            FillTlb(_readTlb, _readInfo, va, host, pa, _tagEl);
        }
    }

    private Flow DataCacheZero(ulong va)
    {
        if ((State.SctlrEl1 & SctlrM) == 0)
        {
            // With the MMU off the block is Device memory: DC ZVA takes an Alignment fault (Arm ARM C5.3.8).
            DataAbortToGuest(va, Esr.FscAlignment, true);
            return Flow.Exception;
        }

        ulong block = va & ~63UL;
        if (!Translate(block, AccessKind.Write, State.El, out ulong pa, out uint fsc, pan: PanActive))
        {
            DataAbortToGuest(va, fsc, true);
            return Flow.Exception;
        }

        if (_walkTagged && _tagChecksConfigured && !CheckTag(WithAddressTag(block, AddressTag(va)), pa, 64, true, false))
        {
            return Flow.Exception;
        }

        byte* host = _memory.TryGetHostPointer(pa, true, out _);
        if (host == null)
        {
            // DC ZVA to memory that is not Normal memory: alignment fault (Arm ARM C5.3.8).
            DataAbortToGuest(va, Esr.FscAlignment, true);
            return Flow.Exception;
        }

        HookAccess(AccessKind.Write, block, 64, 0);
        new Span<byte>(host, 64).Clear();
        if (!_hwWatchpointsArmed)
        {
            // The block is writable RAM: the write TLB may map its page (for the next DC ZVA or store).
            FillTlb(_writeTlb, _writeInfo, block, host, pa, _tagEl);
        }

        return Flow.Next;
    }

    /// <summary>Whether system register <paramref name="key"/> belongs to the interrupt controller's CPU interface (ICC_PMR_EL1, op0 3, op1 0, CRn 12, CRm 8-15).</summary>
    internal static bool IsControllerRegister(uint key) =>
        key == SysReg.IccPmrEl1 || ((key >> 11) == ((3 << 3) | 0) && ((key >> 7) & 15) == 12 && ((key >> 3) & 15) >= 8);

    /// <summary>EL0 access check: 0 allowed, 1 trap to EL1 (EC 0x18), 2 UNDEFINED.</summary>
    private int El0Access(uint key, bool read)
    {
        ulong k = State.CntkctlEl1;
        return key switch
        {
            SysReg.Nzcv or SysReg.Fpcr or SysReg.Fpsr or SysReg.TpidrEl0 or SysReg.DczidEl0 or SysReg.Ssbs or SysReg.Dit or SysReg.Tco => 0,
            SysReg.TpidrroEl0 => read ? 0 : 2,
            SysReg.Daif => (State.SctlrEl1 & SctlrUma) != 0 ? 0 : 1,
            SysReg.CtrEl0 => !read ? 2 : (State.SctlrEl1 & SctlrUct) != 0 ? 0 : 1,
            SysReg.CntfrqEl0 => !read ? 2 : (k & 3) != 0 ? 0 : 1,
            SysReg.CntpctEl0 => !read ? 2 : (k & 1) != 0 ? 0 : 1,
            SysReg.CntvctEl0 => !read ? 2 : (k & 2) != 0 ? 0 : 1,
            SysReg.CntpTvalEl0 or SysReg.CntpCtlEl0 or SysReg.CntpCvalEl0 => (k & (1 << 9)) != 0 ? 0 : 1,
            SysReg.CntvTvalEl0 or SysReg.CntvCtlEl0 or SysReg.CntvCvalEl0 => (k & (1 << 8)) != 0 ? 0 : 1,
            _ => 2,
        };
    }

    [A64Handler(A64Op.Mrs)]
    private Flow Mrs(uint insn)
    {
        uint key = (insn >> 5) & 0xFFFF;
        if (IsPmuRegister(key))
        {
            return PmuAccess(insn, key, true);
        }

        if (State.El == 0)
        {
            int access = El0Access(key, true);
            if (access == 1)
            {
                return TrapSysReg(insn, true);
            }

            if (access == 2)
            {
                return Undefined();
            }
        }

        if (SpEl0WhileSelected(key) || !TryReadSystemRegister(key, out ulong value))
        {
            return Undefined();
        }

        SetX((int)insn & 31, value);
        return Flow.Next;
    }

    [A64Handler(A64Op.MsrReg)]
    private Flow MsrRegister(uint insn)
    {
        uint key = (insn >> 5) & 0xFFFF;
        if (IsPmuRegister(key))
        {
            return PmuAccess(insn, key, false);
        }

        if (State.El == 0)
        {
            int access = El0Access(key, false);
            if (access == 1)
            {
                return TrapSysReg(insn, false);
            }

            if (access == 2)
            {
                return Undefined();
            }
        }

        return !SpEl0WhileSelected(key) && TryWriteSystemRegister(key, X((int)insn & 31)) ? Flow.Next : Undefined();
    }

    /// <summary>
    /// MRS/MSR of SP_EL0 while PSTATE.SP = 0 (SP_EL0 is the current stack pointer) is UNDEFINED. Only the
    /// instructions are: the hypervisor's register API reaches SP_EL0 whatever SPSel says, as KVM's does.
    /// </summary>
    private bool SpEl0WhileSelected(uint key) => key == SysReg.SpEl0 && !State.SpSel;

    /// <summary>Reads a system register as MRS at EL1 would (also the VMM's get-register path, which reaches SP_EL0 whatever PSTATE.SP says).</summary>
    public bool TryReadSystemRegister(uint key, out ulong value)
    {
        if (IsPmuRegister(key))
        {
            value = 0;
            return _host.AccessPmuRegister(new SysRegKey(key), write: false, el0: false, ref value);
        }

        if (IsControllerRegister(key))
        {
            // The hypervisor updates this PE's interrupt lines itself when the access changes them.
            return _host.TryReadControllerRegister(new SysRegKey(key), out value);
        }

        if (PstateFlagOfRegister(key) is var flag and not 0)
        {
            value = State.PstateFlags & flag;
            return true;
        }

        if (TryReadMteRegister(key, out value))
        {
            return true;
        }

        if (PacKeyRegister(key) is var pacKey and >= 0)
        {
            value = State.PacKeys[pacKey];
            return true;
        }

        switch (key)
        {
            case SysReg.MidrEl1: value = _model.Midr; return true;
            case SysReg.MpidrEl1: value = _mpidr; return true;
            case SysReg.RevidrEl1: value = 0; return true;
            case SysReg.IdAa64Pfr0El1:
                value = _model.IdAa64Pfr0 | (_host.TryReadControllerRegister(SysRegKey.Of(3, 0, 12, 12, 5), out _) ? 1UL << 24 : 0);
                return true;
            case SysReg.IdAa64Pfr1El1: value = _model.IdAa64Pfr1; return true;
            case SysReg.IdAa64Dfr0El1: value = _model.IdAa64Dfr0 | (_host.HasPmu ? SysReg.Dfr0PmuV3p5 : 0); return true;
            case SysReg.IdAa64Isar0El1: value = _model.IdAa64Isar0; return true;
            case SysReg.IdAa64Isar1El1: value = _model.IdAa64Isar1; return true;
            case SysReg.IdAa64Mmfr0El1: value = _model.IdAa64Mmfr0; return true;
            case SysReg.IdAa64Mmfr1El1: value = _model.IdAa64Mmfr1; return true;
            case SysReg.IdAa64Mmfr2El1: value = _model.IdAa64Mmfr2; return true;
            case SysReg.CcsidrEl1:
                value = State.CsselrEl1 switch { 0 => 0x701F_E00AUL, 1 => 0x201F_E012UL, 2 => 0x70FF_E07AUL, _ => 0 };
                return true;
            case SysReg.ClidrEl1: value = SysReg.ClidrValue; return true;
            case SysReg.AidrEl1: value = 0; return true;
            case SysReg.CsselrEl1: value = State.CsselrEl1; return true;
            case SysReg.CtrEl0: value = SysReg.CtrValue; return true;
            case SysReg.DczidEl0: value = 4UL | (State.El == 0 && (State.SctlrEl1 & SctlrDze) == 0 ? 1UL << 4 : 0); return true;
            case SysReg.SctlrEl1: value = State.SctlrEl1; return true;
            case SysReg.ActlrEl1: value = State.ActlrEl1; return true;
            case SysReg.CpacrEl1: value = State.CpacrEl1; return true;
            case SysReg.Ttbr0El1: value = State.Ttbr0El1; return true;
            case SysReg.Ttbr1El1: value = State.Ttbr1El1; return true;
            case SysReg.TcrEl1: value = State.TcrEl1; return true;
            case SysReg.SpsrEl1: value = State.SpsrEl1; return true;
            case SysReg.ElrEl1: value = State.ElrEl1; return true;
            case SysReg.SpEl0: value = State.SpEl0; return true;
            case SysReg.SpSel: value = State.SpSel ? 1UL : 0; return true;
            case SysReg.CurrentEl: value = (ulong)State.El << 2; return true;
            case SysReg.Nzcv: value = State.Nzcv; return true;
            case SysReg.Daif: value = State.Daif; return true;
            case SysReg.Fpcr: value = State.Fpcr; return true;
            case SysReg.Fpsr: value = State.Fpsr; return true;
            case SysReg.Afsr0El1: value = State.Afsr0El1; return true;
            case SysReg.Afsr1El1: value = State.Afsr1El1; return true;
            case SysReg.EsrEl1: value = State.EsrEl1; return true;
            case SysReg.FarEl1: value = State.FarEl1; return true;
            case SysReg.ParEl1: value = State.ParEl1; return true;
            case SysReg.MairEl1: value = State.MairEl1; return true;
            case SysReg.AmairEl1: value = State.AmairEl1; return true;
            case SysReg.VbarEl1: value = State.VbarEl1; return true;
            case SysReg.IsrEl1: value = (IrqLine ? 1UL << 7 : 0) | (FiqLine ? 1UL << 6 : 0); return true;
            case SysReg.ContextidrEl1: value = State.ContextidrEl1; return true;
            case SysReg.TpidrEl1: value = State.TpidrEl1; return true;
            case SysReg.TpidrEl0: value = State.TpidrEl0; return true;
            case SysReg.TpidrroEl0: value = State.TpidrroEl0; return true;
            case SysReg.CntkctlEl1: value = State.CntkctlEl1; return true;
            case SysReg.CntfrqEl0: value = CpuShared.CounterFrequency; return true;
            case SysReg.CntpctEl0:
            case SysReg.CntvctEl0: value = _shared.Counter(); return true;
            case SysReg.CntpCtlEl0: value = TimerControl(State.CntpCtlEl0, State.CntpCvalEl0); return true;
            case SysReg.CntpCvalEl0: value = State.CntpCvalEl0; return true;
            case SysReg.CntpTvalEl0: value = (uint)(State.CntpCvalEl0 - _shared.Counter()); return true;
            case SysReg.CntvCtlEl0: value = TimerControl(State.CntvCtlEl0, State.CntvCvalEl0); return true;
            case SysReg.CntvCvalEl0: value = State.CntvCvalEl0; return true;
            case SysReg.CntvTvalEl0: value = (uint)(State.CntvCvalEl0 - _shared.Counter()); return true;
            case SysReg.MdccintEl1: value = State.MdccintEl1; return true;
            case SysReg.MdscrEl1: value = State.MdscrEl1; return true;
            case SysReg.MdrarEl1: value = 0; return true;
            case SysReg.OslsrEl1: value = State.OslsrEl1; return true;
            case SysReg.OsdlrEl1: value = _osdlr; return true;
            case SysReg.DbgprcrEl1: value = _dbgprcr; return true;
            case SysReg.DbgclaimsetEl1: value = 0xFF; return true;
            case SysReg.DbgclaimclrEl1: value = _dbgclaim; return true;
            case SysReg.DbgauthstatusEl1: value = 0xAA; return true;
            case SysReg.MdccsrEl0: value = 0; return true;
        }

        if ((key >> 7) == ((2 << 7) | 0) && (key & 7) >= 4)
        {
            // DBGBVR<n>/DBGBCR<n>/DBGWVR<n>/DBGWCR<n>_EL1: op0=2, op1=0, CRn=0, CRm=n, op2=4..7.
            int n = (int)(key >> 3) & 15;
            int count = (key & 7) < 6 ? BreakpointCount : WatchpointCount;
            if (n < count)
            {
                value = (key & 7) switch { 4 => State.Dbgbvr[n], 5 => State.Dbgbcr[n], 6 => State.Dbgwvr[n], _ => State.Dbgwcr[n] };
                return true;
            }
        }

        if ((key >> 7) == (3 << 7) && ((key >> 3) & 15) >= 1)
        {
            // The rest of the ID register space (op0=3, op1=0, CRn=0, CRm=1..7) reads as zero.
            value = 0;
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>Writes a system register as MSR at EL1 would (also the VMM's set-register path, which reaches SP_EL0 whatever PSTATE.SP says).</summary>
    public bool TryWriteSystemRegister(uint key, ulong value)
    {
        if (IsPmuRegister(key))
        {
            _reevaluate = true;
            return _host.AccessPmuRegister(new SysRegKey(key), write: true, el0: false, ref value);
        }

        if (IsControllerRegister(key))
        {
            return _host.TryWriteControllerRegister(new SysRegKey(key), value);
        }

        if (PstateFlagOfRegister(key) is var flag and not 0)
        {
            SetPstateFlag(flag, (value & flag) != 0);
            return true;
        }

        if (TryWriteMteRegister(key, value))
        {
            return true;
        }

        if (PacKeyRegister(key) is var pacKey and >= 0)
        {
            State.PacKeys[pacKey] = value;
            return true;
        }

        switch (key)
        {
            case SysReg.CsselrEl1: State.CsselrEl1 = value & 0xF; return true;
            case SysReg.SctlrEl1:
                {
                    ulong old = State.SctlrEl1;
                    State.SctlrEl1 = (value & (SctlrWritable | SctlrExtensionBits)) | (SctlrReset & ~SctlrExtensionBits);
                    UpdateAlignment();
                    if (((old ^ State.SctlrEl1) & SctlrTlbBits) != 0)
                    {
                        FlushTlb();
                    }

                    return true;
                }

            case SysReg.ActlrEl1: State.ActlrEl1 = value; return true;
            case SysReg.CpacrEl1: State.CpacrEl1 = value & (3UL << 20); return true;
            case SysReg.Ttbr0El1: State.Ttbr0El1 = value; UpdateAsid(); return true;
            case SysReg.Ttbr1El1: State.Ttbr1El1 = value; UpdateAsid(); return true;
            case SysReg.TcrEl1: State.TcrEl1 = value; FlushTlb(); return true;
            case SysReg.SpsrEl1: State.SpsrEl1 = value & (0xF03F_03DFUL | _pstateFlagsMask); return true;
            case SysReg.ElrEl1: State.ElrEl1 = value; return true;
            case SysReg.SpEl0: State.SpEl0 = value; return true;
            case SysReg.SpSel: State.SpSel = (value & 1) != 0; return true;
            case SysReg.Nzcv: State.Nzcv = (uint)value & 0xF000_0000; return true;
            case SysReg.Daif: State.Daif = (uint)value & Psr.DaifMask; return true;
            case SysReg.Fpcr: State.Fpcr = (uint)value & 0x07FF_9F00; return true;
            case SysReg.Fpsr: State.Fpsr = (uint)value & 0xF800_009F; return true;
            case SysReg.Afsr0El1: State.Afsr0El1 = value; return true;
            case SysReg.Afsr1El1: State.Afsr1El1 = value; return true;
            case SysReg.EsrEl1: State.EsrEl1 = value & 0xFFFF_FFFF; return true;
            case SysReg.FarEl1: State.FarEl1 = value; return true;
            case SysReg.ParEl1: State.ParEl1 = value; return true;
            case SysReg.MairEl1: State.MairEl1 = value; FlushTlb(); return true;
            case SysReg.AmairEl1: State.AmairEl1 = value; return true;
            case SysReg.VbarEl1: State.VbarEl1 = value & ~0x7FFUL; return true;
            case SysReg.ContextidrEl1: State.ContextidrEl1 = value & 0xFFFF_FFFF; return true;
            case SysReg.TpidrEl1: State.TpidrEl1 = value; return true;
            case SysReg.TpidrEl0: State.TpidrEl0 = value; return true;
            case SysReg.TpidrroEl0: State.TpidrroEl0 = value; return true;
            case SysReg.CntkctlEl1: State.CntkctlEl1 = value & 0x3FF; return true;
            case SysReg.CntpCtlEl0: State.CntpCtlEl0 = value & 3; _reevaluate = true; return true;
            case SysReg.CntpCvalEl0: State.CntpCvalEl0 = value; _reevaluate = true; return true;
            case SysReg.CntpTvalEl0: State.CntpCvalEl0 = _shared.Counter() + (ulong)(long)(int)value; _reevaluate = true; return true;
            case SysReg.CntvCtlEl0: State.CntvCtlEl0 = value & 3; _reevaluate = true; return true;
            case SysReg.CntvCvalEl0: State.CntvCvalEl0 = value; _reevaluate = true; return true;
            case SysReg.CntvTvalEl0: State.CntvCvalEl0 = _shared.Counter() + (ulong)(long)(int)value; _reevaluate = true; return true;
            case SysReg.MdccintEl1: State.MdccintEl1 = value; return true;
            case SysReg.MdscrEl1:
                State.MdscrEl1 = value & 0xE000_F001UL & ~(1UL << 31);
                RecomputeDebugArming();
                UpdateAttention();
                return true;
            case SysReg.OslarEl1: State.OslsrEl1 = (State.OslsrEl1 & ~2UL) | ((value & 1) << 1); return true;
            case SysReg.OsdlrEl1: _osdlr = value & 1; return true;
            case SysReg.DbgprcrEl1: _dbgprcr = value & 1; return true;
            case SysReg.DbgclaimsetEl1: _dbgclaim |= value & 0xFF; return true;
            case SysReg.DbgclaimclrEl1: _dbgclaim &= ~(value & 0xFF); return true;
        }

        if ((key >> 7) == ((2 << 7) | 0) && (key & 7) >= 4)
        {
            int n = (int)(key >> 3) & 15;
            int count = (key & 7) < 6 ? BreakpointCount : WatchpointCount;
            if (n < count)
            {
                switch (key & 7)
                {
                    case 4: State.Dbgbvr[n] = value; break;
                    case 5: State.Dbgbcr[n] = value & 0x00F0_01E7UL; break;
                    case 6: State.Dbgwvr[n] = value & ~3UL; break;
                    default: State.Dbgwcr[n] = value & 0x1F00_1FFFUL; break;
                }

                RecomputeDebugArming();
                return true;
            }
        }

        return false;
    }

    private ulong TimerControl(ulong ctl, ulong cval)
    {
        bool fired = (ctl & 1) != 0 && _shared.Counter() >= cval;
        return ctl | (fired ? 4UL : 0);
    }

    /// <summary>Whether CNTV_CTL_EL0 or CNTP_CTL_EL0 has ENABLE set (else neither timer's output can be high).</summary>
    public bool AnyTimerEnabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ((State.CntvCtlEl0 | State.CntpCtlEl0) & 1) != 0;
    }

    /// <summary>
    /// The output of a generic timer (virtual when <paramref name="virtualTimer"/>): asserted when
    /// enabled, not masked, and the counter has reached CVAL. <paramref name="deadline"/> is the host
    /// timestamp (of <see cref="CpuShared.Now"/>) at which an enabled, unmasked timer that has not fired yet will fire (long.MaxValue if none).
    /// </summary>
    public bool TimerOutput(bool virtualTimer, out long deadline)
    {
        ulong ctl = virtualTimer ? State.CntvCtlEl0 : State.CntpCtlEl0;
        ulong cval = virtualTimer ? State.CntvCvalEl0 : State.CntpCvalEl0;
        deadline = long.MaxValue;
        if ((ctl & 3) != 1)
        {
            return false;
        }

        if (_shared.Counter() >= cval)
        {
            return true;
        }

        deadline = _shared.TimestampOf(cval);
        return false;
    }
}
