namespace SoftKvm.X86.Cpu;

/// <summary>IRET in every mode and the software-interrupt request used by INT n / INT3 / INTO / INT1.</summary>
public sealed unsafe partial class X86Cpu
{
    internal void SetCplForChecks(int cpl) => _cpl = cpl;

    /// <summary>INT n, INT3, INTO, INT1: the instruction retires, then the event is delivered with the next RIP.</summary>
    internal void RequestSoftwareInterrupt(int vector, bool icebp)
    {
        if ((_regs.Rflags & Rflags.VM) != 0 && ((_regs.Rflags >> 12) & 3) != 3)
        {
            Fault(ExceptionVector.GP, 0, true);
            return;
        }

        _softwareInterrupt = vector;
        _softwareIsIcebp = icebp;
    }

    internal void InterruptReturn(int size)
    {
        ulong sp = StackPointer;
        if (!PopValue(size, ref sp, out ulong ip) || !PopValue(size, ref sp, out ulong sel) || !PopValue(size, ref sp, out ulong flags))
        {
            return;
        }

        if ((_regs.Cr0 & 1) == 0)
        {
            CommitStackPointer(sp);
            CommitRealCs((ushort)sel);
            WriteFlagsChecked(flags, size, true);
            _nextRip = ip & SizeMask(size);
            _nmiBlocked = false;
            return;
        }

        if ((_regs.Rflags & Rflags.VM) != 0)
        {
            ExitUnsupported("virtual-8086 mode is not implemented");
            return;
        }

        if ((_regs.Rflags & Rflags.NT) != 0 && !LongModeActive)
        {
            ExitUnsupported("IRET with NT=1 (task return) is not implemented");
            return;
        }

        if (size == 4 && (flags & Rflags.VM) != 0 && _cpl == 0 && !LongModeActive)
        {
            ExitUnsupported("IRET to virtual-8086 mode is not implemented");
            return;
        }

        int rpl = (int)sel & 3;
        if (!CheckCodeSegment((ushort)sel, rpl, true, out var cs))
        {
            return;
        }

        bool toLong = LongModeActive && cs.IsLong;
        bool popStack = rpl > _cpl || _bitness == 64;
        SegmentRegister ss = default;
        ulong newSp = 0;
        if (popStack)
        {
            if (!PopValue(size, ref sp, out newSp) || !PopValue(size, ref sp, out ulong ssSel))
            {
                return;
            }

            int saved = _cpl;
            _cpl = rpl;
            bool ok = (ssSel & 0xFFFC) == 0 && toLong && rpl != 3
                ? MakeNullStack((ushort)ssSel, rpl, out ss)
                : CheckDataSegment(SegmentIndex.Ss, (ushort)ssSel, out ss);
            _cpl = saved;
            if (!ok)
            {
                return;
            }
        }

        if (toLong ? !IsCanonical(ip) : ip > cs.Limit)
        {
            Fault(ExceptionVector.GP, 0, true);
            return;
        }

        int oldCpl = _cpl;
        WriteFlagsChecked(flags, size, true);
        if (popStack)
        {
            _regs.Seg[SegmentIndex.Ss] = ss;
            CommitCs(cs);
            SetGpr(Gpr.Rsp, toLong ? 8 : ss.IsBig ? 4 : 2, newSp);
        }
        else
        {
            CommitStackPointer(sp);
            CommitCs(cs);
        }

        if (_cpl > oldCpl)
        {
            NullifyDataSegmentsForCpl();
        }

        _nextRip = toLong ? ip : ip & 0xFFFFFFFF;
        _nmiBlocked = false;
    }

    private static bool MakeNullStack(ushort selector, int rpl, out SegmentRegister ss)
    {
        ss = new SegmentRegister { Selector = selector, Attributes = SegmentRegister.Unusable | 0x93 | ((uint)rpl << 5) };
        return true;
    }
}
