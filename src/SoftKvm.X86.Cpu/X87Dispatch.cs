using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The x87 part of the dispatch table (the whole x87 instruction set of a Pentium Pro / SSE3-era FPU).
/// </summary>
internal static unsafe class X87Dispatch
{
    public static delegate*<X86Cpu, ref Instruction, void> Lookup(Code code, Mnemonic m)
    {
        switch (m)
        {
            case Mnemonic.Fld or Mnemonic.Fild: return &X87LoadStore.Fld;
            case Mnemonic.Fld1 or Mnemonic.Fldz or Mnemonic.Fldpi or Mnemonic.Fldl2e or Mnemonic.Fldl2t or Mnemonic.Fldlg2
                or Mnemonic.Fldln2:
                return &X87LoadStore.LoadConstant;
            case Mnemonic.Fst or Mnemonic.Fstp or Mnemonic.Fstpnce: return &X87LoadStore.Fst;
            case Mnemonic.Fist or Mnemonic.Fistp or Mnemonic.Fisttp: return &X87LoadStore.Fist;
            case Mnemonic.Fxch: return &X87LoadStore.Fxch;
            case Mnemonic.Ffree or Mnemonic.Ffreep: return &X87LoadStore.Ffree;
            case Mnemonic.Fbld: return &X87LoadStore.Fbld;
            case Mnemonic.Fbstp: return &X87LoadStore.Fbstp;

            case Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd or Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub
                or Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr or Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul
                or Mnemonic.Fdiv or Mnemonic.Fdivp or Mnemonic.Fidiv or Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr:
                return &X87Arithmetic.Arith;
            case Mnemonic.Fsqrt or Mnemonic.Fchs or Mnemonic.Fabs or Mnemonic.Frndint: return &X87Arithmetic.Unary;
            case Mnemonic.Fcom or Mnemonic.Fcomp or Mnemonic.Fcompp or Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp
                or Mnemonic.Ficom or Mnemonic.Ficomp or Mnemonic.Fcomi or Mnemonic.Fcomip or Mnemonic.Fucomi or Mnemonic.Fucomip
                or Mnemonic.Ftst:
                return &X87Arithmetic.Compare;
            case Mnemonic.Fxam: return &X87Arithmetic.Fxam;
            case Mnemonic.Fprem or Mnemonic.Fprem1: return &X87Exact.Fprem;
            case Mnemonic.Fscale: return &X87Exact.Fscale;
            case Mnemonic.Fxtract: return &X87Exact.Fxtract;
            case Mnemonic.Fsin or Mnemonic.Fcos or Mnemonic.Fsincos or Mnemonic.Fptan: return &X87Transcendental.Trig;
            case Mnemonic.Fpatan or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1: return &X87Transcendental.Binary;
            case Mnemonic.F2xm1: return &X87Transcendental.F2xm1;
            case Mnemonic.Fcmovb or Mnemonic.Fcmove or Mnemonic.Fcmovbe or Mnemonic.Fcmovu or Mnemonic.Fcmovnb or Mnemonic.Fcmovne
                or Mnemonic.Fcmovnbe or Mnemonic.Fcmovnu:
                return &X87Arithmetic.Fcmov;

            case Mnemonic.Wait: return &X87Control.Wait;
            case Mnemonic.Fninit or Mnemonic.Finit: return &X87Control.Init;
            case Mnemonic.Fnclex or Mnemonic.Fclex: return &X87Control.Clex;
            case Mnemonic.Fnstcw or Mnemonic.Fstcw: return &X87Control.Stcw;
            case Mnemonic.Fldcw: return &X87Control.Ldcw;
            case Mnemonic.Fnstsw or Mnemonic.Fstsw: return &X87Control.Stsw;
            case Mnemonic.Fnstenv or Mnemonic.Fstenv: return &X87Control.Stenv;
            case Mnemonic.Fldenv: return &X87Control.Ldenv;
            case Mnemonic.Fnsave or Mnemonic.Fsave: return &X87Control.Save;
            case Mnemonic.Frstor: return &X87Control.Restore;
            case Mnemonic.Fnop or Mnemonic.Fneni or Mnemonic.Feni or Mnemonic.Fndisi or Mnemonic.Fdisi or Mnemonic.Fnsetpm
                or Mnemonic.Fsetpm:
                return &X87Control.Nop;
            case Mnemonic.Fincstp or Mnemonic.Fdecstp: return &X87Control.IncDecStp;
            default: return null;
        }
    }
}
