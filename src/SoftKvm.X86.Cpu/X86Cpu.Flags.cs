using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>RFLAGS helpers and condition-code evaluation.</summary>
public sealed unsafe partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetStatus(ulong flags) => _regs.Rflags = (_regs.Rflags & ~Rflags.Status) | flags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetFlags(ulong mask, ulong flags) => _regs.Rflags = (_regs.Rflags & ~mask) | (flags & mask);

    /// <summary>
    /// The flags of an unordered compare (COMIS, UCOMIS, FCOMI, FUCOMI) from the ordering -1, 0, 1 or
    /// 2 (unordered): ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF and AF cleared.
    /// </summary>
    internal void SetCompareFlags(int order) => SetFlags(Rflags.ZF | Rflags.PF | Rflags.CF | Rflags.OF | Rflags.SF | Rflags.AF, order switch
    {
        2 => Rflags.ZF | Rflags.PF | Rflags.CF,
        -1 => Rflags.CF,
        0 => Rflags.ZF,
        _ => 0,
    });

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Condition(ConditionCode cc) => ConditionOf(_regs.Rflags, cc);

    /// <summary>Whether condition <paramref name="cc"/> holds for the flags <paramref name="f"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool ConditionOf(ulong f, ConditionCode cc)
    {
        bool cf = (f & Rflags.CF) != 0, zf = (f & Rflags.ZF) != 0, sf = (f & Rflags.SF) != 0;
        bool of = (f & Rflags.OF) != 0, pf = (f & Rflags.PF) != 0;
        return cc switch
        {
            ConditionCode.o => of,
            ConditionCode.no => !of,
            ConditionCode.b => cf,
            ConditionCode.ae => !cf,
            ConditionCode.e => zf,
            ConditionCode.ne => !zf,
            ConditionCode.be => cf || zf,
            ConditionCode.a => !cf && !zf,
            ConditionCode.s => sf,
            ConditionCode.ns => !sf,
            ConditionCode.p => pf,
            ConditionCode.np => !pf,
            ConditionCode.l => sf != of,
            ConditionCode.ge => sf == of,
            ConditionCode.le => zf || sf != of,
            ConditionCode.g => !zf && sf == of,
            _ => true,
        };
    }

    /// <summary>Writes RFLAGS from POPF/IRET/SYSRET with the privilege rules for IOPL, IF, VM, RF, VIF/VIP.</summary>
    internal void WriteFlagsChecked(ulong value, int size, bool fromIret)
    {
        ulong changeable = Rflags.Status | Rflags.TF | Rflags.DF | Rflags.NT | Rflags.AC | Rflags.ID;
        if (_cpl == 0)
        {
            changeable |= Rflags.IOPL;
            if (fromIret)
            {
                changeable |= Rflags.VIF | Rflags.VIP;
            }
        }

        if ((ulong)_cpl <= ((_regs.Rflags >> 12) & 3) || (_regs.Cr0 & 1) == 0)
        {
            changeable |= Rflags.IF;
        }

        if (fromIret)
        {
            changeable |= Rflags.RF;
        }

        if ((_regs.Cr0 & 1) == 0)
        {
            changeable |= Rflags.IOPL;
        }

        if (size == 2)
        {
            changeable &= 0xFFFF;
        }

        _regs.Rflags = (_regs.Rflags & ~changeable) | (value & changeable) | Rflags.Fixed1;
        if (fromIret && (value & Rflags.RF) != 0)
        {
            _keepRf = true;
        }
    }
}
