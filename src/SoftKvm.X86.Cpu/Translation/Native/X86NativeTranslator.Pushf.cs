using Mem = SoftKvm.Core.CodeGen.Mem;
using Register = Iced.Intel.Register;
using Reg = SoftKvm.Core.CodeGen.Reg;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// PUSHFQ (Linux's local_irq_save and arch_local_save_flags: 292k a boot, each a block exit before): the guest's
/// RFLAGS image pushed as the interpreter's Stack.Pushf does, with VM and RF clear (both are 0 in a block: long mode,
/// and no block runs with RF set). The status flags come from host RFLAGS into the image (SaveFlags, which loses them)
/// and go back (RestoreFlags) before the push, whose TLB check is flag-free; a miss leaves before the PUSHFQ.
/// </summary>
internal sealed unsafe partial class X86NativeTranslator
{
    private void LowerPushf(int k)
    {
        var a = _asm;
        SaveFlags();
        RestoreFlags();
        a.Load(Reg.R8, new Mem(Reg.Rbx, s_rflagsOffset), 8);
        a.Load(Reg.R12, GuestRegister(Register.RSP), 8);
        a.Lea(Reg.R14, new Mem(Reg.R12, -8));
        Translate(8, write: true, LeaveBefore(k));
        a.Store(new Mem(Reg.R14, 0), Reg.R8, 8);
        a.Lea(Reg.R12, new Mem(Reg.R12, -8));
        a.Store(GuestRegister(Register.RSP), Reg.R12, 8);
        CheckCodeStore(k);
    }
}
