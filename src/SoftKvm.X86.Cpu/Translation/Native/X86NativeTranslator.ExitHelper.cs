using Iced.Intel;
using SoftKvm.Core.CodeGen;
using Reg = SoftKvm.Core.CodeGen.Reg;
using X64Alu = SoftKvm.Core.CodeGen.Alu;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// Device accesses, port IO, WRMSR and VMCALL inside native blocks (issue 19; the helper is X86Cpu.NativeExits.cs). A MOV
/// whose TLB look-up misses goes to a stub that tests whether the entry holds the page as a device page (the tag's
/// difference is exactly the device bit; a page crossing differs more) and calls the exit helper with its linear
/// address; IN, OUT, WRMSR in a supervisor block, VMCALL, RDTSC and RDTSCP are instructions of the block that call it always. The
/// helper's answer: go on after the instruction (the flags restored from their image), return after it (a request
/// waits), or leave before it (the run loop takes the exit the helper set, or the interpreter runs the instruction).
/// Around the call the guest's flags are an image in r13 and r11 (the retired count's base, caller-saved) is pushed,
/// which also aligns the stack (the block runs at rsp = 8 mod 16).
/// </summary>
internal sealed unsafe partial class X86NativeTranslator
{
    /// <summary>The MOVs of the block whose TLB miss goes to a device stub first: its label, the instruction, where the block goes on.</summary>
    private readonly List<(AsmLabel Stub, int K, AsmLabel After)> _deviceStubs = [];

    /// <summary>The label bound after the instruction being lowered, when its miss goes to a device stub.</summary>
    private AsmLabel? _deviceAfter;

    /// <summary>Whether the block being translated runs at CPL 3.</summary>
    private bool _user;

    /// <summary>The instructions a block runs through the exit helper: non-string IN and OUT of AL/AX/EAX, WRMSR at CPL 0, VMCALL,
    /// RDTSC and RDTSCP (the time source of the guest's exit timings and of Linux's clocks).</summary>
    private bool SupportedThroughHelper(ref Instruction i) => i.Code switch
    {
        Code.In_AL_imm8 or Code.In_AX_imm8 or Code.In_EAX_imm8 or Code.In_AL_DX or Code.In_AX_DX or Code.In_EAX_DX
            or Code.Out_imm8_AL or Code.Out_imm8_AX or Code.Out_imm8_EAX or Code.Out_DX_AL or Code.Out_DX_AX or Code.Out_DX_EAX
            or Code.Vmcall or Code.Rdtsc or Code.Rdtscp => !i.HasRepPrefix && !i.HasRepnePrefix && !i.HasLockPrefix,
        Code.Wrmsr => !_user && !i.HasLockPrefix,
        _ => false,
    };

    /// <summary>Whether instruction <paramref name="k"/> is a MOV whose TLB miss tries the device stub (a MOV between memory and
    /// a register or from an immediate: what the helper's <c>BlockDeviceLoad</c>/<c>BlockDeviceStore</c> take).</summary>
    private bool DeviceMov(int k) => _insns[k].Mnemonic == Mnemonic.Mov;

    /// <summary>The miss label of a MOV's TLB look-up: its device stub, and the label after it where the block goes on.</summary>
    private AsmLabel DeviceMiss(int k)
    {
        AsmLabel stub = _asm.NewLabel();
        AsmLabel after = _asm.NewLabel();
        _deviceStubs.Add((stub, k, after));
        _deviceAfter = after;
        return stub;
    }

    /// <summary>After a MOV whose miss goes to a device stub: where the stub goes on.</summary>
    private void BindDeviceAfter()
    {
        if (_deviceAfter is { } after)
        {
            _asm.Bind(after);
            _deviceAfter = null;
        }
    }

    /// <summary>IN, OUT, WRMSR or VMCALL (instruction <paramref name="k"/>): the flags into their image, the helper, its answer.</summary>
    private void LowerThroughHelper(int k)
    {
        var i = _insns[k];
        NativeExitKind kind = i.Mnemonic switch
        {
            Mnemonic.In or Mnemonic.Out => NativeExitKind.Port,
            Mnemonic.Wrmsr => NativeExitKind.Wrmsr,
            Mnemonic.Rdtsc or Mnemonic.Rdtscp => NativeExitKind.Rdtsc,
            _ => NativeExitKind.Vmcall,
        };

        ulong descriptor = (ulong)kind;
        int publishedIn = 0; // an IN's size: it may read a published port first
        int port = -1;
        if (kind == NativeExitKind.Port)
        {
            bool write = i.Mnemonic == Mnemonic.Out;
            OpKind portKind = write ? i.Op0Kind : i.Op1Kind;
            int size = (write ? i.Op1Register : i.Op0Register).GetSize();
            port = portKind == OpKind.Register ? -1 : i.Immediate8;
            descriptor = NativePort.Of(write, size, port, InstructionBytes(i));
            publishedIn = write ? 0 : size;
        }

        SaveImage();
        AsmLabel after = _asm.NewLabel();
        if (publishedIn != 0)
        {
            EmitPublishedIn(publishedIn, port, after);
        }

        CallHelper(k, descriptor, after);
        _asm.Bind(after);
    }

    /// <summary>Instruction <paramref name="i"/>'s bytes as translated, when it lies in the block's first page (what <see cref="_code"/> holds).</summary>
    private ReadOnlySpan<byte> InstructionBytes(Instruction i)
    {
        ulong first = _insns[0].IP;
        int at = (int)(i.IP - first);
        return i.NextIP - 1 - (first & ~0xFFFUL) < 0x1000 && i.IP >= first ? _code.AsSpan(at, i.Length) : default;
    }

    /// <summary>The helper's descriptor of MOV <paramref name="i"/> (X86Cpu.NativeExits.cs, <see cref="NativeMov"/>).</summary>
    private static ulong MovDescriptor(Instruction i)
    {
        bool store = i.Op0Kind == OpKind.Memory;
        int size = i.MemorySize.GetSize();
        OpKind other = store ? i.Op1Kind : i.Op0Kind;
        return other == OpKind.Register
            ? NativeMov.Of(store, size, GuestNumber(store ? i.Op1Register : i.Op0Register), 0)
            : NativeMov.Of(store, size, -1, (long)i.GetImmediate(1));
    }

    /// <summary>The device stubs of the block (out of line; rcx = the TLB tag's difference, rdx = the TLB entry, r14 = the linear address,
    /// the flags in host RFLAGS): a load's published value first (X86NativeTranslator.Published.cs), else the helper.</summary>
    private void EmitDeviceStubs()
    {
        var a = _asm;
        foreach (var (stub, k, after) in _deviceStubs)
        {
            a.Bind(stub);
            SaveImage();
            a.MovImm(Reg.Rax, X86Cpu.TlbDeviceBit);
            a.Alu(X64Alu.Cmp, Reg.Rcx, Reg.Rax, true);
            a.Jcc(Cc.NE, Exit(_insns[k].IP, k, middle: true, FlagsAt.Image));
            if (PublishedLoad(_insns[k]))
            {
                EmitPublishedLoad(GuestNumber(_insns[k].Op0Register), _insns[k].MemorySize.GetSize(), after);
            }

            CallHelper(k, MovDescriptor(_insns[k]), after);
        }

        _deviceStubs.Clear();
    }

    /// <summary>
    /// Calls the exit helper for instruction <paramref name="k"/>, what it is in <paramref name="descriptor"/> (the flags' image
    /// in r13, r14 = a MOV's linear address):
    /// on to <paramref name="goOn"/> with the flags restored when it completed the instruction; out after the instruction
    /// when a request waits; out before it otherwise.
    /// </summary>
    private void CallHelper(int k, ulong descriptor, AsmLabel goOn)
    {
        var a = _asm;
        var i = _insns[k];
        a.Push(Reg.R11);
        a.Mov(Reg.Rdi, Reg.Rbp);
        a.Mov(Reg.Rsi, Reg.R14);
        a.MovImm(Reg.Rdx, i.IP);
        a.MovImm(Reg.Rcx, descriptor);
        a.CallMem(new Mem(Reg.Rbp, X86NativeFrame.ExitHelperOffset));
        a.Pop(Reg.R11);
        AsmLabel notDone = a.NewLabel();
        a.AluImm(X64Alu.Cmp, Reg.Rax, X86Cpu.NativeExitGoOn, false);
        a.Jcc(Cc.NE, notDone);
        RestoreImage();
        a.Jmp(goOn);
        a.Bind(notDone);
        a.AluImm(X64Alu.Cmp, Reg.Rax, X86Cpu.NativeExitGoOnThenReturn, false);
        a.Jcc(Cc.E, Exit(i.NextIP, k + 1, middle: false, FlagsAt.Image));
        a.Jmp(Exit(i.IP, k, middle: true, FlagsAt.Image));
    }
}
