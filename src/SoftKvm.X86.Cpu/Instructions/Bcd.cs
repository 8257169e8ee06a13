using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>DAA, DAS, AAA, AAS, AAM, AAD (legacy modes only; Iced decodes them as invalid in 64-bit mode).
/// Flags the SDM leaves undefined: OF cleared for DAA/DAS; SF/ZF/PF from AL for AAA/AAS; AAM/AAD clear CF/AF/OF.</summary>
internal static class Bcd
{
    public static void Daa(X86Cpu c, ref Instruction i) => DecimalAdjust(c, false);

    public static void Das(X86Cpu c, ref Instruction i) => DecimalAdjust(c, true);

    private static void DecimalAdjust(X86Cpu c, bool subtract)
    {
        ulong f = c.Regs.Rflags;
        ulong al = c.GetGpr(Gpr.Rax, 1);
        ulong oldAl = al;
        bool oldCf = (f & Rflags.CF) != 0;
        bool cf = false, af = false;
        if ((al & 0xF) > 9 || (f & Rflags.AF) != 0)
        {
            al = subtract ? al - 6 : al + 6;
            cf = oldCf || (subtract ? oldAl < 6 : al > 0xFF);
            af = true;
        }

        if (oldAl > 0x99 || oldCf)
        {
            al = subtract ? al - 0x60 : al + 0x60;
            cf = true;
        }

        al &= 0xFF;
        c.SetGpr(Gpr.Rax, 1, al);
        c.SetStatus(Alu.Szp(al, 1) | (cf ? Rflags.CF : 0) | (af ? Rflags.AF : 0));
    }

    public static void Aaa(X86Cpu c, ref Instruction i) => AsciiAdjust(c, false);

    public static void Aas(X86Cpu c, ref Instruction i) => AsciiAdjust(c, true);

    private static void AsciiAdjust(X86Cpu c, bool subtract)
    {
        ulong ax = c.GetGpr(Gpr.Rax, 2);
        bool adjust = (ax & 0xF) > 9 || (c.Regs.Rflags & Rflags.AF) != 0;
        if (adjust)
        {
            ax = subtract ? ((ax - 6) & 0xFF) | (((ax >> 8) - 1) << 8) : ((ax + 6) & 0xFF) | (((ax >> 8) + 1) << 8);
        }

        ax &= 0xFF0F;
        c.SetGpr(Gpr.Rax, 2, ax);
        c.SetStatus(Alu.Szp(ax & 0xFF, 1) | (adjust ? Rflags.CF | Rflags.AF : 0));
    }

    public static void Aam(X86Cpu c, ref Instruction i)
    {
        ulong imm = i.Immediate8;
        if (imm == 0)
        {
            c.Fault(ExceptionVector.DE);
            return;
        }

        ulong al = c.GetGpr(Gpr.Rax, 1);
        ulong r = al % imm;
        c.SetGpr(Gpr.Rax, 2, ((al / imm) << 8) | r);
        c.SetStatus(Alu.Szp(r, 1));
    }

    public static void Aad(X86Cpu c, ref Instruction i)
    {
        ulong ax = c.GetGpr(Gpr.Rax, 2);
        ulong r = ((ax & 0xFF) + ((ax >> 8) * i.Immediate8)) & 0xFF;
        c.SetGpr(Gpr.Rax, 2, r);
        c.SetStatus(Alu.Szp(r, 1));
    }
}
