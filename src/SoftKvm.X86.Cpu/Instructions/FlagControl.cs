using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>CLC, STC, CMC, CLD, STD, CLI, STI, LAHF, SAHF, SALC.</summary>
internal static class FlagControl
{
    public static void Clc(X86Cpu c, ref Instruction i) => c.Regs.Rflags &= ~Rflags.CF;

    public static void Stc(X86Cpu c, ref Instruction i) => c.Regs.Rflags |= Rflags.CF;

    public static void Cmc(X86Cpu c, ref Instruction i) => c.Regs.Rflags ^= Rflags.CF;

    public static void Cld(X86Cpu c, ref Instruction i) => c.Regs.Rflags &= ~Rflags.DF;

    public static void Std(X86Cpu c, ref Instruction i) => c.Regs.Rflags |= Rflags.DF;

    private static bool IoplAllows(X86Cpu c) => !c.ProtectedMode && (c.Regs.Rflags & Rflags.VM) == 0 || (ulong)c.Cpl <= ((c.Regs.Rflags >> 12) & 3);

    public static void Cli(X86Cpu c, ref Instruction i)
    {
        if (!IoplAllows(c))
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        c.Regs.Rflags &= ~Rflags.IF;
    }

    public static void Sti(X86Cpu c, ref Instruction i)
    {
        if (!IoplAllows(c))
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        if ((c.Regs.Rflags & Rflags.IF) == 0)
        {
            c.Shadow = InterruptShadow.Sti;
        }

        c.Regs.Rflags |= Rflags.IF;
    }

    public static void Lahf(X86Cpu c, ref Instruction i)
    {
        c.SetReg(Register.AH, (c.Regs.Rflags & 0xD5) | 2);
    }

    public static void Sahf(X86Cpu c, ref Instruction i)
    {
        c.SetFlags(0xD5, c.GetReg(Register.AH));
    }

    public static void Salc(X86Cpu c, ref Instruction i)
    {
        c.SetGpr(Gpr.Rax, 1, (c.Regs.Rflags & Rflags.CF) != 0 ? 0xFFUL : 0);
    }
}
