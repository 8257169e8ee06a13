namespace SoftKvm.X86.Cpu;

/// <summary>Segmentation: mode computation, descriptor-table reads and segment-register loads.</summary>
public sealed unsafe partial class X86Cpu
{
    internal bool ProtectedMode => (_regs.Cr0 & 1) != 0 && (_regs.Rflags & Rflags.VM) == 0;

    internal bool LongModeActive => (_regs.Efer & (1UL << 10)) != 0;

    internal void UpdateMode()
    {
        ref var cs = ref _regs.Seg[SegmentIndex.Cs];
        if ((_regs.Cr0 & 1) == 0)
        {
            _cpl = 0;
            _bitness = cs.IsBig ? 32 : 16;
        }
        else if ((_regs.Rflags & Rflags.VM) != 0)
        {
            _cpl = 3;
            _bitness = 16;
        }
        else
        {
            _cpl = _regs.Seg[SegmentIndex.Ss].Dpl;
            _bitness = LongModeActive && cs.IsLong ? 64 : cs.IsBig ? 32 : 16;
        }
    }

    /// <summary>Reads the 8-byte descriptor for <paramref name="selector"/> (GDT or LDT); #GP(selector) past the limit.</summary>
    internal bool ReadDescriptor(ushort selector, out ulong descriptor, int vector = ExceptionVector.GP)
    {
        descriptor = 0;
        ulong tableBase;
        uint limit;
        if ((selector & 4) != 0)
        {
            if ((_regs.Ldtr.Attributes & SegmentRegister.Unusable) != 0 || (_regs.Ldtr.Attributes & SegmentRegister.Present) == 0)
            {
                return Fault(vector, (uint)(selector & 0xFFFC), true);
            }

            tableBase = _regs.Ldtr.Base;
            limit = _regs.Ldtr.Limit;
        }
        else
        {
            tableBase = _regs.Gdtr.Base;
            limit = _regs.Gdtr.Limit;
        }

        ulong offset = (ulong)(selector & 0xFFF8);
        if (offset + 7 > limit)
        {
            return Fault(vector, (uint)(selector & 0xFFFC), true);
        }

        return ReadSystem(tableBase + offset, 8, out descriptor);
    }

    /// <summary>A supervisor read of a system structure (GDT, LDT, IDT, TSS) at a linear address.</summary>
    internal bool ReadSystem(ulong linear, int size, out ulong value)
    {
        bool saved = _implicitSupervisor;
        _implicitSupervisor = true;
        bool ok = ReadLinear(_bitness == 64 || LongModeActive ? linear : linear & 0xFFFFFFFF, size, out value);
        _implicitSupervisor = saved;
        return ok;
    }

    internal bool WriteSystem(ulong linear, int size, ulong value)
    {
        bool saved = _implicitSupervisor;
        _implicitSupervisor = true;
        bool ok = WriteLinear(linear, size, value);
        _implicitSupervisor = saved;
        return ok;
    }

    /// <summary>Sets the accessed bit of a descriptor when it is clear.</summary>
    internal bool MarkAccessed(ushort selector, ulong descriptor)
    {
        if ((descriptor & (1UL << 40)) != 0)
        {
            return true;
        }

        ulong tableBase = (selector & 4) != 0 ? _regs.Ldtr.Base : _regs.Gdtr.Base;
        return WriteSystem(tableBase + (ulong)(selector & 0xFFF8) + 5, 1, (descriptor >> 40) | 1);
    }

    /// <summary>MOV/POP/LxS to a data segment register or SS, with the protected-mode checks.</summary>
    internal bool LoadSegment(int seg, ushort selector)
    {
        if (!ProtectedMode)
        {
            ref var s = ref _regs.Seg[seg];
            s.Selector = selector;
            s.Base = (ulong)selector << 4;
            if ((_regs.Rflags & Rflags.VM) != 0)
            {
                s.Limit = 0xFFFF;
                s.Attributes = 0xF3;
            }

            if (seg == SegmentIndex.Ss || seg == SegmentIndex.Cs)
            {
                UpdateMode();
            }

            return true;
        }

        if (!CheckDataSegment(seg, selector, out var loaded))
        {
            return false;
        }

        _regs.Seg[seg] = loaded;
        if (seg == SegmentIndex.Ss)
        {
            UpdateMode();
        }

        return true;
    }

    /// <summary>Validates a data segment / SS selector and returns the hidden part to load (no state changes except the accessed bit).</summary>
    internal bool CheckDataSegment(int seg, ushort selector, out SegmentRegister loaded)
    {
        loaded = default;
        int rpl = selector & 3;
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == SegmentIndex.Ss && (_bitness != 64 || rpl != _cpl))
            {
                return Fault(ExceptionVector.GP, 0, true);
            }

            loaded = new SegmentRegister { Selector = selector, Attributes = SegmentRegister.Unusable | ((uint)rpl << 5) };
            if (_bitness == 64 && seg >= SegmentIndex.Fs)
            {
                loaded.Base = _regs.Seg[seg].Base;
            }

            return true;
        }

        if (!ReadDescriptor(selector, out ulong d))
        {
            return false;
        }

        var s = SegmentRegister.FromDescriptor(selector, d);
        uint type = s.Type;
        bool isCode = (type & 8) != 0;
        if ((s.Attributes & SegmentRegister.CodeOrData) == 0)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        if (seg == SegmentIndex.Ss)
        {
            if (isCode || (type & 2) == 0 || rpl != _cpl || s.Dpl != _cpl)
            {
                return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
            }

            if ((s.Attributes & SegmentRegister.Present) == 0)
            {
                return Fault(ExceptionVector.SS, (uint)(selector & 0xFFFC), true);
            }
        }
        else
        {
            if (isCode && (type & 2) == 0)
            {
                return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
            }

            bool conformingCode = isCode && (type & 4) != 0;
            if (!conformingCode && (rpl > s.Dpl || _cpl > s.Dpl))
            {
                return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
            }

            if ((s.Attributes & SegmentRegister.Present) == 0)
            {
                return Fault(ExceptionVector.NP, (uint)(selector & 0xFFFC), true);
            }
        }

        if (!MarkAccessed(selector, d))
        {
            return false;
        }

        s.Attributes |= 1;
        loaded = s;
        return true;
    }

    /// <summary>Validates a code segment for a far JMP/CALL/RET/IRET target at privilege <paramref name="targetCpl"/>.</summary>
    internal bool CheckCodeSegment(ushort selector, int targetCpl, bool isReturn, out SegmentRegister loaded)
    {
        loaded = default;
        if ((selector & 0xFFFC) == 0)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        if (!ReadDescriptor(selector, out ulong d))
        {
            return false;
        }

        var s = SegmentRegister.FromDescriptor(selector, d);
        if ((s.Attributes & SegmentRegister.CodeOrData) == 0)
        {
            // Call gates, task gates and TSS targets are not implemented.
            Unimplemented();
            return false;
        }

        if ((s.Type & 8) == 0)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        bool conforming = (s.Type & 4) != 0;
        int rpl = selector & 3;
        if (isReturn)
        {
            if (rpl < _cpl || (conforming ? s.Dpl > rpl : s.Dpl != rpl))
            {
                return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
            }
        }
        else if (conforming ? s.Dpl > _cpl : (rpl > _cpl || s.Dpl != _cpl))
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        if ((s.Attributes & SegmentRegister.Present) == 0)
        {
            return Fault(ExceptionVector.NP, (uint)(selector & 0xFFFC), true);
        }

        if (LongModeActive && s.IsLong && s.IsBig)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        if (!MarkAccessed(selector, d))
        {
            return false;
        }

        s.Attributes |= 1;
        s.Selector = (ushort)((selector & 0xFFFC) | targetCpl);
        loaded = s;
        return true;
    }

    /// <summary>Loads CS (already validated) and switches mode accordingly.</summary>
    internal void CommitCs(in SegmentRegister cs)
    {
        _regs.Seg[SegmentIndex.Cs] = cs;
        UpdateMode();
    }

    /// <summary>Loads CS for a real-mode / VM86 far transfer.</summary>
    internal void CommitRealCs(ushort selector)
    {
        ref var cs = ref _regs.Seg[SegmentIndex.Cs];
        cs.Selector = selector;
        cs.Base = (ulong)selector << 4;
        UpdateMode();
    }

    /// <summary>After a privilege drop, data segments whose DPL is below the new CPL become null (SDM RET/IRET).</summary>
    internal void NullifyDataSegmentsForCpl()
    {
        ReadOnlySpan<int> segs = [SegmentIndex.Es, SegmentIndex.Ds, SegmentIndex.Fs, SegmentIndex.Gs];
        foreach (int i in segs)
        {
            ref var s = ref _regs.Seg[i];
            bool conformingCode = (s.Type & 0xC) == 0xC;
            if ((s.Attributes & SegmentRegister.Unusable) == 0 && !conformingCode && s.Dpl < _cpl)
            {
                s.Selector = 0;
                s.Attributes = SegmentRegister.Unusable;
            }
        }
    }
}
