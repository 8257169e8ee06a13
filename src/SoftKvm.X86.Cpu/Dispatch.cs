using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The static dispatch table: one function pointer per Iced <see cref="Code"/>, filled once from the
/// mnemonic of each code (SSE/SSE2/x87 through <see cref="SimdDispatch"/>). Codes whose mnemonic has no
/// handler (MMX, SSE3 and later, AVX, VMX, ...) raise #UD in the guest and are counted by
/// <see cref="X86Cpu.UnimplementedCount"/>.
/// </summary>
internal static unsafe class Dispatch
{
    public static readonly delegate*<X86Cpu, ref Instruction, void>[] Table = Build();

    private static void Unimplemented(X86Cpu c, ref Instruction i) => c.Unimplemented();

    private static void Invalid(X86Cpu c, ref Instruction i) => c.Fault(ExceptionVector.UD);

    private static delegate*<X86Cpu, ref Instruction, void>[] Build()
    {
        int count = Enum.GetValues<Code>().Max(x => (int)x) + 1;
        var table = new delegate*<X86Cpu, ref Instruction, void>[count];
        for (int code = 0; code < count; code++)
        {
            var c = (Code)code;
            var mnemonic = c.Mnemonic();
            table[code] = Lookup(c, mnemonic);
        }

        table[(int)Code.INVALID] = &Invalid;
        return table;
    }

    private static delegate*<X86Cpu, ref Instruction, void> Lookup(Code code, Mnemonic m)
    {
        // Only the legacy (non-VEX/EVEX) encodings are integer instructions the model executes.
        if (code.Encoding() != EncodingKind.Legacy)
        {
            return &Unimplemented;
        }

        var simd = SimdDispatch.Lookup(code, m, &Unimplemented);
        if (simd != null)
        {
            return simd;
        }

        switch (m)
        {
            case Mnemonic.Add: return &Arithmetic.Add;
            case Mnemonic.Or: return &Arithmetic.Or;
            case Mnemonic.Adc: return &Arithmetic.Adc;
            case Mnemonic.Sbb: return &Arithmetic.Sbb;
            case Mnemonic.And: return &Arithmetic.And;
            case Mnemonic.Sub: return &Arithmetic.Sub;
            case Mnemonic.Xor: return &Arithmetic.Xor;
            case Mnemonic.Cmp: return &Arithmetic.Cmp;
            case Mnemonic.Test: return &Arithmetic.Test;
            case Mnemonic.Inc: return &Arithmetic.Inc;
            case Mnemonic.Dec: return &Arithmetic.Dec;
            case Mnemonic.Neg: return &Arithmetic.Neg;
            case Mnemonic.Not: return &Arithmetic.Not;

            case Mnemonic.Shl or Mnemonic.Sal: return &ShiftRotate.Shl;
            case Mnemonic.Shr: return &ShiftRotate.Shr;
            case Mnemonic.Sar: return &ShiftRotate.Sar;
            case Mnemonic.Rol: return &ShiftRotate.Rol;
            case Mnemonic.Ror: return &ShiftRotate.Ror;
            case Mnemonic.Rcl: return &ShiftRotate.Rcl;
            case Mnemonic.Rcr: return &ShiftRotate.Rcr;
            case Mnemonic.Shld: return &ShiftRotate.Shld;
            case Mnemonic.Shrd: return &ShiftRotate.Shrd;

            case Mnemonic.Mul: return &MulDiv.Mul;
            case Mnemonic.Imul: return &MulDiv.Imul;
            case Mnemonic.Div: return &MulDiv.Div;
            case Mnemonic.Idiv: return &MulDiv.Idiv;

            case Mnemonic.Mov:
            {
                string name = code.ToString();
                bool special = name.Contains("Sreg", StringComparison.Ordinal) || name.Contains("_cr", StringComparison.Ordinal)
                    || name.Contains("_dr", StringComparison.Ordinal) || name.Contains("_tr", StringComparison.Ordinal);
                return special ? &DataTransfer.Mov : &DataTransfer.MovPlain;
            }
            case Mnemonic.Movzx: return &DataTransfer.Movzx;
            case Mnemonic.Movsx or Mnemonic.Movsxd: return &DataTransfer.Movsx;
            case Mnemonic.Lea: return &DataTransfer.Lea;
            case Mnemonic.Xchg: return &DataTransfer.Xchg;
            case Mnemonic.Xadd: return &DataTransfer.Xadd;
            case Mnemonic.Cmpxchg: return &DataTransfer.Cmpxchg;
            case Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b: return &DataTransfer.Cmpxchg8b;
            case Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove or Mnemonic.Cmovne
                or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovp or Mnemonic.Cmovnp
                or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg:
                return &DataTransfer.Cmovcc;
            case Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete or Mnemonic.Setne
                or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp
                or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg:
                return &DataTransfer.Setcc;
            case Mnemonic.Bswap: return &DataTransfer.Bswap;
            case Mnemonic.Movbe: return &DataTransfer.Movbe;
            case Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe or Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo:
                return &DataTransfer.SignExtendAccumulator;
            case Mnemonic.Xlatb: return &DataTransfer.Xlat;
            case Mnemonic.Lds or Mnemonic.Les or Mnemonic.Lfs or Mnemonic.Lgs or Mnemonic.Lss: return &DataTransfer.LoadFarPointer;

            case Mnemonic.Push: return &Stack.Push;
            case Mnemonic.Pop: return &Stack.Pop;
            case Mnemonic.Pusha or Mnemonic.Pushad: return &Stack.Pusha;
            case Mnemonic.Popa or Mnemonic.Popad: return &Stack.Popa;
            case Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq: return &Stack.Pushf;
            case Mnemonic.Popf or Mnemonic.Popfd or Mnemonic.Popfq: return &Stack.Popf;
            case Mnemonic.Enter: return &Stack.Enter;
            case Mnemonic.Leave: return &Stack.Leave;

            case Mnemonic.Jmp: return &ControlFlow.Jmp;
            case Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne
                or Mnemonic.Jbe or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp
                or Mnemonic.Jl or Mnemonic.Jge or Mnemonic.Jle or Mnemonic.Jg:
                return &ControlFlow.Jcc;
            case Mnemonic.Call: return &ControlFlow.Call;
            case Mnemonic.Ret: return &ControlFlow.Ret;
            case Mnemonic.Retf: return &ControlFlow.RetFar;
            case Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne: return &ControlFlow.Loop;
            case Mnemonic.Jcxz or Mnemonic.Jecxz or Mnemonic.Jrcxz: return &ControlFlow.Jcxz;
            case Mnemonic.Int: return &ControlFlow.Int;
            case Mnemonic.Int3: return &ControlFlow.Int3;
            case Mnemonic.Into: return &ControlFlow.Into;
            case Mnemonic.Int1: return &ControlFlow.Int1;
            case Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq: return &ControlFlow.Iret;

            case Mnemonic.Bt: return &BitOps.Bt;
            case Mnemonic.Bts: return &BitOps.Bts;
            case Mnemonic.Btr: return &BitOps.Btr;
            case Mnemonic.Btc: return &BitOps.Btc;
            case Mnemonic.Bsf: return &BitOps.Bsf;
            case Mnemonic.Bsr: return &BitOps.Bsr;
            case Mnemonic.Tzcnt: return &BitOps.Tzcnt;
            case Mnemonic.Lzcnt: return &BitOps.Lzcnt;
            case Mnemonic.Popcnt: return &BitOps.Popcnt;

            case Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq:
                return code.ToString().Contains("_m", StringComparison.Ordinal) ? &StringOps.Movs : &Unimplemented;
            case Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq: return &StringOps.Stos;
            case Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq: return &StringOps.Lods;
            case Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq:
                return code.ToString().Contains("_m", StringComparison.Ordinal) ? &StringOps.Cmps : &Unimplemented;
            case Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq: return &StringOps.Scas;
            case Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd: return &StringOps.Ins;
            case Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd: return &StringOps.Outs;
            case Mnemonic.In: return &PortIo.In;
            case Mnemonic.Out: return &PortIo.Out;

            case Mnemonic.Clc: return &FlagControl.Clc;
            case Mnemonic.Stc: return &FlagControl.Stc;
            case Mnemonic.Cmc: return &FlagControl.Cmc;
            case Mnemonic.Cld: return &FlagControl.Cld;
            case Mnemonic.Std: return &FlagControl.Std;
            case Mnemonic.Cli: return &FlagControl.Cli;
            case Mnemonic.Sti: return &FlagControl.Sti;
            case Mnemonic.Lahf: return &FlagControl.Lahf;
            case Mnemonic.Sahf: return &FlagControl.Sahf;
            case Mnemonic.Salc: return &FlagControl.Salc;

            case Mnemonic.Hlt: return &SystemOps.Hlt;
            case Mnemonic.Cpuid: return &SystemOps.Cpuid;
            case Mnemonic.Rdtsc or Mnemonic.Rdtscp: return &SystemOps.Rdtsc;
            case Mnemonic.Rdmsr: return &SystemOps.Rdmsr;
            case Mnemonic.Wrmsr: return &SystemOps.Wrmsr;
            case Mnemonic.Lgdt or Mnemonic.Lidt: return &SystemOps.LoadDescriptorTable;
            case Mnemonic.Sgdt or Mnemonic.Sidt: return &SystemOps.StoreDescriptorTable;
            case Mnemonic.Lldt: return &SystemOps.Lldt;
            case Mnemonic.Ltr: return &SystemOps.Ltr;
            case Mnemonic.Sldt: return &SystemOps.Sldt;
            case Mnemonic.Str: return &SystemOps.Str;
            case Mnemonic.Verr: return &SystemOps.Verr;
            case Mnemonic.Verw: return &SystemOps.Verw;
            case Mnemonic.Invlpg: return &SystemOps.Invlpg;
            case Mnemonic.Wbinvd or Mnemonic.Invd: return &SystemOps.Privileged;
            case Mnemonic.Clts: return &SystemOps.Clts;
            case Mnemonic.Lmsw: return &SystemOps.Lmsw;
            case Mnemonic.Smsw: return &SystemOps.Smsw;
            case Mnemonic.Swapgs: return &SystemOps.Swapgs;
            case Mnemonic.Syscall: return &FastSystemCall.Syscall;
            case Mnemonic.Sysret or Mnemonic.Sysretq: return &FastSystemCall.Sysret;
            case Mnemonic.Sysenter: return &FastSystemCall.Sysenter;
            case Mnemonic.Sysexit or Mnemonic.Sysexitq: return &FastSystemCall.Sysexit;
            case Mnemonic.Mfence: return &SystemOps.Mfence;
            case Mnemonic.Nop or Mnemonic.Pause or Mnemonic.Lfence or Mnemonic.Sfence
                or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2
                or Mnemonic.Prefetchw or Mnemonic.Clflush or Mnemonic.Clflushopt or Mnemonic.Endbr32 or Mnemonic.Endbr64:
                return &SystemOps.Nop;
            case Mnemonic.Ud0 or Mnemonic.Ud1 or Mnemonic.Ud2: return &SystemOps.Ud;
            case Mnemonic.Vmcall: return &SystemOps.Vmcall;
            case Mnemonic.Vmmcall: return &SystemOps.Ud; // AMD's hypercall: #UD on this Intel model (the hypervisor's #UD intercept patches it)
            case Mnemonic.Daa: return &Bcd.Daa;
            case Mnemonic.Das: return &Bcd.Das;
            case Mnemonic.Aaa: return &Bcd.Aaa;
            case Mnemonic.Aas: return &Bcd.Aas;
            case Mnemonic.Aam: return &Bcd.Aam;
            case Mnemonic.Aad: return &Bcd.Aad;
            default: return &Unimplemented;
        }
    }
}
