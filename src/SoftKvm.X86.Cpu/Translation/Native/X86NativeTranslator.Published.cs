using Iced.Intel;
using SoftKvm.Core.CodeGen;
using Reg = SoftKvm.Core.CodeGen.Reg;
using X64Alu = SoftKvm.Core.CodeGen.Alu;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// Published device reads (issue 19, <see cref="PublishedReads"/>; X86Cpu.NativePublished.cs): before an IN's call of the
/// exit helper, and in a device MOV load's stub before its call, the block looks the register up in the table the frame
/// points at (null: none may be read now). The entry's key, its value, the key again: both keys the one wanted, the value
/// goes into the guest register as the instruction writes it, the exit is counted (<c>exits</c> and <c>io_exits</c>, or
/// <c>exits</c> and <c>insn_emulation</c>) and the block goes on after the instruction; otherwise the helper is called as
/// before. The flags are in their image (r13) meanwhile; rax, rcx and rdx are free.
/// </summary>
internal sealed unsafe partial class X86NativeTranslator
{
    /// <summary>IN of <paramref name="size"/> bytes from <paramref name="port"/> (-1: DX) from the published table: on to
    /// <paramref name="done"/> when it is there, else on to what follows (the helper's call).</summary>
    private void EmitPublishedIn(int size, int port, AsmLabel done)
    {
        var a = _asm;
        AsmLabel miss = a.NewLabel();
        a.Load(Reg.Rax, new Mem(Reg.Rbp, X86NativeFrame.PortValuesOffset), 8);
        a.Test(Reg.Rax, Reg.Rax, true);
        a.Jcc(Cc.E, miss);
        if (port >= 0)
        {
            a.Lea(Reg.Rax, new Mem(Reg.Rax, PublishedReads.PortSlot((ushort)port) * 16));
            a.MovImm(Reg.Rcx, PublishedReads.PortKey((ushort)port, size));
        }
        else
        {
            a.Load(Reg.Rcx, GuestRegister(Register.RDX), 2);
            a.Mov(Reg.Rdx, Reg.Rcx, false);
            a.ShiftImm(Shift.Shr, Reg.Rdx, 6, false);
            a.Alu(X64Alu.Xor, Reg.Rdx, Reg.Rcx, false);
            a.AluImm(X64Alu.And, Reg.Rdx, PublishedReads.Slots - 1, false);  // PublishedReads.PortSlot
            a.ShiftImm(Shift.Shl, Reg.Rdx, 4, false);
            a.Alu(X64Alu.Add, Reg.Rax, Reg.Rdx, true);
            a.ShiftImm(Shift.Shl, Reg.Rcx, 8, false);
            a.AluImm(X64Alu.Or, Reg.Rcx, (int)PublishedReads.PortKey(0, size), false);
        }

        ReadPublished(miss);
        StorePublished(GuestNumber(Register.RAX), size);
        Count(X86NativeFrame.CountIoExitsOffset);
        RestoreImage();
        a.Jmp(done);
        a.Bind(miss);
    }

    /// <summary>
    /// A device MOV load of <paramref name="size"/> bytes into guest register <paramref name="register"/> from the published
    /// table (in its stub: rdx = the TLB entry, which holds the page as a device page with its guest-physical address; r14 =
    /// the linear address, kept for the helper): on to <paramref name="done"/> when it is there, else on to the helper's call.
    /// </summary>
    private void EmitPublishedLoad(int register, int size, AsmLabel done)
    {
        var a = _asm;
        AsmLabel miss = a.NewLabel();
        a.Load(Reg.Rax, new Mem(Reg.Rbp, X86NativeFrame.MmioValuesOffset), 8);
        a.Test(Reg.Rax, Reg.Rax, true);
        a.Jcc(Cc.E, miss);
        a.Load(Reg.Rcx, new Mem(Reg.Rdx, 8), 8);          // the guest-physical page
        a.Mov(Reg.Rdx, Reg.R14, false);
        a.AluImm(X64Alu.And, Reg.Rdx, 0xFFF, false);
        a.Alu(X64Alu.Or, Reg.Rcx, Reg.Rdx, true);         // the guest-physical address
        a.ShiftImm(Shift.Shr, Reg.Rdx, 2, false);
        a.AluImm(X64Alu.And, Reg.Rdx, PublishedReads.Slots - 1, false);
        a.ShiftImm(Shift.Shl, Reg.Rdx, 4, false);
        a.Alu(X64Alu.Add, Reg.Rax, Reg.Rdx, true);        // its slot
        a.ShiftImm(Shift.Shl, Reg.Rcx, 4, true);
        a.AluImm(X64Alu.Or, Reg.Rcx, size, true);         // its key
        ReadPublished(miss);
        StorePublished(register, size);
        Count(X86NativeFrame.CountInsnEmulationOffset);
        RestoreImage();
        a.Jmp(done);
        a.Bind(miss);
    }

    /// <summary>rdx = the value of the entry at rax when its key, read before and after the value, is rcx; else to <paramref name="miss"/>.</summary>
    private void ReadPublished(AsmLabel miss)
    {
        var a = _asm;
        a.AluMem(X64Alu.Cmp, Reg.Rcx, new Mem(Reg.Rax, 0), true);
        a.Jcc(Cc.NE, miss);
        a.Load(Reg.Rdx, new Mem(Reg.Rax, 8), 8);
        a.AluMem(X64Alu.Cmp, Reg.Rcx, new Mem(Reg.Rax, 0), true);
        a.Jcc(Cc.NE, miss);
    }

    /// <summary>Guest register <paramref name="g"/> = rdx as a load of <paramref name="size"/> bytes writes it (a byte or a word
    /// merged, a dword zero-extended).</summary>
    private void StorePublished(int g, int size)
    {
        var a = _asm;
        if (size == 4)
        {
            a.Mov(Reg.Rdx, Reg.Rdx, false);
            size = 8;
        }

        a.Store(new Mem(Reg.Rbx, 8 * g), Reg.Rdx, size);
    }

    /// <summary><c>exits</c> and the counter at <paramref name="offset"/> of the frame, plus one each (rax).</summary>
    private void Count(int offset)
    {
        var a = _asm;
        a.Load(Reg.Rax, new Mem(Reg.Rbp, X86NativeFrame.CountExitsOffset), 8);
        a.AluMemImm(X64Alu.Add, new Mem(Reg.Rax, 0), 1, 8);
        a.Load(Reg.Rax, new Mem(Reg.Rbp, offset), 8);
        a.AluMemImm(X64Alu.Add, new Mem(Reg.Rax, 0), 1, 8);
    }

    /// <summary>Whether MOV <paramref name="i"/> is a load into a general register other than AH..BH (what a published read fills).</summary>
    private static bool PublishedLoad(in Instruction i) =>
        i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Memory && i.Op0Register is not (Register.AH or Register.CH or Register.DH or Register.BH)
        && i.Op0Register.IsGPR() && i.MemorySize.GetSize() is 1 or 2 or 4 or 8;
}
