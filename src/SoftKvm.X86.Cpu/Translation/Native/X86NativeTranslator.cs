using System.Runtime.InteropServices;
using Iced.Intel;
using SoftKvm.Core.CodeGen;
using AsmLabel = SoftKvm.Core.CodeGen.AsmLabel;
using Cc = SoftKvm.Core.CodeGen.Cc;
using Mem = SoftKvm.Core.CodeGen.Mem;
using Reg = SoftKvm.Core.CodeGen.Reg;
using Shift = SoftKvm.Core.CodeGen.Shift;
using X64Alu = SoftKvm.Core.CodeGen.Alu;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// Translates 64-bit guest code (long mode, CS.L=1, flat but for FS/GS) to x86-64 host code at its first
/// execution. Guest and host are the same ISA, so a guest instruction of the common integer subset runs as
/// itself: its guest registers are loaded into host registers, its memory operand becomes the host address
/// the software TLB gives, it is re-encoded with those (Iced's encoder) and executed, and the registers it
/// writes are stored back. The guest's status flags are the host's RFLAGS between instructions (the glue
/// code is flag-free: LEA, MOV, BMI2 shifts, JRCXZ), loaded from the guest's RFLAGS once at entry and
/// written back only where the block is left. Everything else ends the block (the interpreter runs it).
/// See README.md beside this file.
/// </summary>
internal sealed unsafe partial class X86NativeTranslator
{
    /// <summary>The most instructions in one block.</summary>
    public const int MaxInstructions = 64;

    /// <summary>The status flags (CF, PF, AF, ZF, SF, OF).</summary>
    private const int StatusFlags = 0x8D5;

    /// <summary>Whether the host can run the generated code (x86-64 with BMI2's SHRX/SHLX).</summary>
    public static bool HostSupported => System.Runtime.Intrinsics.X86.Bmi2.X64.IsSupported;

    private static readonly int s_ripOffset = RegisterOffset(0);
    private static readonly int s_rflagsOffset = RegisterOffset(1);

    // Host registers: rbx = the guest registers (X86Registers), rbp = the frame, r11 = the retired count's base,
    // r12/r13 = the address's base and index, r14 = the linear then host address, r15/rcx/rdx = the TLB check's.
    private static readonly Reg[] s_pool = [Reg.Rsi, Reg.Rdi, Reg.R8, Reg.R9, Reg.R10];

    private static readonly byte[] s_shrxR15R15Rcx = Encode(Instruction.Create(Code.VEX_Shrx_r64_rm64_r64, Register.R15, Register.R15, Register.RCX));
    private static readonly byte[] s_shlxR15R15Rcx = Encode(Instruction.Create(Code.VEX_Shlx_r64_rm64_r64, Register.R15, Register.R15, Register.RCX));
    private static readonly byte[] s_shrxRcxR14Rcx = Encode(Instruction.Create(Code.VEX_Shrx_r64_rm64_r64, Register.RCX, Register.R14, Register.RCX));
    private static readonly byte[] s_shrxRcxRcxRdx = Encode(Instruction.Create(Code.VEX_Shrx_r64_rm64_r64, Register.RCX, Register.RCX, Register.RDX));
    private static readonly byte[] s_movzxEcxAh = [0x0F, 0xB6, 0xCC];
    private static readonly byte[] s_jrcxzOverJmp = [0xE3, 0x05];
    private static readonly byte[] s_jrcxzOverShortJmp = [0xE3, 0x02];
    private static readonly byte[] s_jmpShortOverJmp = [0xEB, 0x05];

    private readonly X64Assembler _asm = new();
    private readonly byte[] _code = GC.AllocateArray<byte>(0x1000 + 16, pinned: true);
    private readonly BufferReader _reader;
    private readonly Decoder _decoder;
    private readonly BufferWriter _writer = new();
    private readonly Encoder _encoder;
    private readonly List<Instruction> _insns = new(MaxInstructions);
    private readonly List<ExitStub> _exits = [];
    private readonly List<EdgeStub> _edges = [];
    private readonly List<(ulong Target, AsmLabel Jump, AsmLabel Slow, AsmLabel Addend)> _linkLabels = [];
    private readonly AsmLabel[] _labels = new AsmLabel[MaxInstructions];
    private readonly bool[] _isTarget = new bool[MaxInstructions];
    private readonly Reg[] _hostOf = new Reg[16];
    private AsmLabel _epilogue;
    private AsmLabel _bodyStart;
    private AsmLabel _bodyEnd;
    private AsmLabel _tailStart;
    private AsmLabel _chain;
    private bool _chainUsed;
    private int _key;
    private ulong _codePage;
    private int _tagLow;
    private ulong _blockRip;

    /// <summary>A way out of the block: count the retired instructions, on to the next block (<paramref name="Chain"/>: the
    /// flags as an image in r13; through a link the run loop patches, else the jump cache) or set RIP, save the flags
    /// (<paramref name="Flags"/>: where they are) and back to the run loop.</summary>
    private readonly record struct ExitStub(AsmLabel Label, ulong Rip, int Retired, bool Middle, FlagsAt Flags, bool Chain);

    /// <summary>Where the guest's status flags are at a point of the block.</summary>
    private enum FlagsAt
    {
        /// <summary>In host RFLAGS (inside the block).</summary>
        Host,

        /// <summary>In r13 as a LAHF/SETO image (AH: SF ZF AF PF CF, AL: OF), as between chained blocks.</summary>
        Image,
    }

    /// <summary>A branch to an instruction of the block: the retired count adjusted, checks on a backward one.</summary>
    private readonly record struct EdgeStub(AsmLabel Label, int From, int To);

    public X86NativeTranslator()
    {
        _reader = new BufferReader(_code);
        _decoder = Decoder.Create(64, _reader);
        _encoder = Encoder.Create(64, _writer);
    }

    /// <summary>The last reason a block could not be encoded (diagnostics).</summary>
    public string? LastFailure { get; private set; }

    /// <summary>
    /// The direct exits of the last block translated: the target RIP, the address of the rel32 field of the exit's JMP
    /// (after its budget and exit-request checks) and where that JMP goes while the target has no block (the jump cache's
    /// way). The run loop points the JMP at the target block's chained entry (<see cref="X86NativeCodeMemory.Patch"/>), and
    /// back when that block is dropped. A target in another page is reached only while the fetch TLB maps its page with
    /// the addend (host - linear) in the 8-byte immediate at <c>Addend</c> (0 for a target in the block's own page, whose
    /// mapping is the block's).
    /// </summary>
    public List<(ulong Target, nint Field, nint Slow, nint Addend)> Links { get; } = [];

    /// <summary>
    /// Translates the block at <paramref name="rip"/> (its code at <paramref name="host"/>, up to the end of the
    /// page) for privilege <paramref name="user"/> into <paramref name="memory"/>: its entry from the run loop, its
    /// entry from another block (<paramref name="chained"/>) and number of instructions, or false when its first
    /// instruction is not one a block runs. <paramref name="nextPage"/> gives the host address of the code page after
    /// the entry's (0: none), asked only when an instruction crosses into it (X86NativeTranslator.PageCrossing.cs).
    /// </summary>
    public bool Translate(byte* host, ulong rip, bool user, X86NativeCodeMemory memory, out nint entry, out nint chained, out int count,
        Func<ulong, nint>? nextPage = null)
    {
        entry = 0;
        chained = 0;
        count = 0;
        LastFailure = null;
        int available = 0x1000 - (int)(rip & 0xFFF);
        new ReadOnlySpan<byte>(host, available).CopyTo(_code);
        _user = user;
        DiscoverAcrossPages(rip, available, nextPage);
        if (_insns.Count == 0)
        {
            return false;
        }

        int length = (int)(_insns[^1].NextIP - rip);
        _codePage = (ulong)host >> 12;
        _tagLow = 1 | (user ? 2 : 0);
        _key = user ? 2 : 1;
        AsmLabel chainedEntry;
        try
        {
            chainedEntry = Lower(host, rip, length);
        }
        catch (InvalidOperationException e)
        {
            LastFailure = e.Message;
            return false;
        }

        entry = memory.Place(_asm);
        chained = (nint)_asm.AddressOf(chainedEntry);
        count = _insns.Count;
        Links.Clear();
        foreach (var (target, jump, slow, addend) in _linkLabels)
        {
            nint addendField = target >> 12 == rip >> 12 ? 0 : (nint)_asm.AddressOf(addend) - 8;
            Links.Add((target, (nint)_asm.AddressOf(jump) - 4, (nint)_asm.AddressOf(slow), addendField));
        }

        if (X86NativeCodeMemory.PerfMap is { } map)
        {
            long start = memory.OffsetOf(entry), body = start + (long)(_asm.AddressOf(_bodyStart) - (ulong)entry);
            long exits = start + (long)(_asm.AddressOf(_bodyEnd) - (ulong)entry);
            long tail = start + (long)(_asm.AddressOf(_tailStart) - (ulong)entry);
            map.Write($"{start:x} {body - start:x} x86_enter_{rip:x}\n{body:x} {exits - body:x} x86_body_{rip:x}\n{exits:x} {tail - exits:x} x86_exits_{rip:x}\n{tail:x} {start + _asm.Length - tail:x} x86_tail_{rip:x}\n");
        }

        return true;
    }

    // ---- discovery ----

    /// <summary>The block's instructions from <paramref name="rip"/>, those of its page (<paramref name="available"/> bytes) and
    /// at most one crossing its end (when <paramref name="readable"/> gives the next page's first bytes too).</summary>
    private void Discover(ulong rip, int available, int readable)
    {
        _insns.Clear();
        _reader.Reset(readable);
        _decoder.IP = rip;
        _truncatedAtPageEnd = false;
        while (_insns.Count < MaxInstructions)
        {
            _decoder.Decode(out Instruction insn);
            if (insn.IsInvalid || !(Supported(ref insn) || SupportedThroughHelper(ref insn)))
            {
                _truncatedAtPageEnd = insn.IsInvalid && _decoder.LastError == DecoderError.NoMoreBytes && insn.IP < rip + (ulong)available;
                break;
            }

            _insns.Add(insn);
            if (insn.Mnemonic is Mnemonic.Jmp or Mnemonic.Ret or Mnemonic.Call || insn.NextIP > rip + (ulong)available)
            {
                break;
            }
        }
    }

    /// <summary>Whether a block runs <paramref name="i"/> (else it ends before it).</summary>
    private static bool Supported(ref Instruction i)
    {
        if (i.Code.Encoding() != EncodingKind.Legacy || i.HasRepPrefix || i.HasRepnePrefix)
        {
            return false;
        }

        if (i.HasLockPrefix)
        {
            // Kept in the re-encoded instruction: the host's locked operation on the guest's memory is as atomic for
            // the other vCPUs as the interpreter's (the TLB check keeps it inside one page).
            return i.Op0Kind == OpKind.Memory && i.Mnemonic is Mnemonic.Add or Mnemonic.Or or Mnemonic.Adc or Mnemonic.Sbb
                or Mnemonic.And or Mnemonic.Sub or Mnemonic.Xor or Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Neg or Mnemonic.Not
                or Mnemonic.Xadd or Mnemonic.Cmpxchg or Mnemonic.Xchg
                or (Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc) && i.Op1Kind != OpKind.Register
                && OperandsPlain(ref i);
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Endbr64 or Mnemonic.Endbr32:
                return true; // a hint NOP here (no CET)
            case Mnemonic.Clc or Mnemonic.Stc or Mnemonic.Cmc or Mnemonic.Lahf or Mnemonic.Sahf:
                return true; // the flags are the host's
            case Mnemonic.Leave:
                return i.Code == Code.Leaveq;
            case Mnemonic.Popcnt or Mnemonic.Lzcnt or Mnemonic.Tzcnt:
                return System.Runtime.Intrinsics.X86.Lzcnt.X64.IsSupported && System.Runtime.Intrinsics.X86.Bmi1.X64.IsSupported
                    && System.Runtime.Intrinsics.X86.Popcnt.X64.IsSupported && OperandsPlain(ref i);
            case Mnemonic.Xadd or Mnemonic.Cmpxchg or Mnemonic.Bsf or Mnemonic.Bsr:
                return OperandsPlain(ref i);
            case Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jbe
                or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp or Mnemonic.Jl or Mnemonic.Jge
                or Mnemonic.Jle or Mnemonic.Jg:
                return i.Op0Kind == OpKind.NearBranch64 && X86Cpu.IsCanonical(i.NearBranchTarget);
            case Mnemonic.Jmp:
                return i.Code is Code.Jmp_rel8_64 or Code.Jmp_rel32_64 && X86Cpu.IsCanonical(i.NearBranchTarget);
            case Mnemonic.Call:
                return i.Code == Code.Call_rel32_64 && X86Cpu.IsCanonical(i.NearBranchTarget);
            case Mnemonic.Ret:
                return i.Code == Code.Retnq;
            case Mnemonic.Push:
                return i.Code is Code.Push_r64 or Code.Pushq_imm32 or Code.Pushq_imm8;
            case Mnemonic.Pop:
                return i.Code == Code.Pop_r64;
            case Mnemonic.Nop:
                return true;
            case Mnemonic.Lfence or Mnemonic.Mfence or Mnemonic.Sfence:
                return true; // the host's own
            case Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchnta or Mnemonic.Prefetchw:
                return true; // a hint, which never faults: a NOP here
            case Mnemonic.Pushfq:
                return i.Code == Code.Pushfq; // X86NativeTranslator.Pushf.cs
            case Mnemonic.Lea:
                return OperandsPlain(ref i);
            case Mnemonic.Mov:
                return !IsMoffs(i.Code) && OperandsPlain(ref i);
            case Mnemonic.Xchg or Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc:
                // (XCHG with memory is locked, as on the host; a bit offset in a register may address beyond the operand.)
                return OperandsPlain(ref i) && (i.Op0Kind == OpKind.Register || i.Mnemonic == Mnemonic.Xchg || i.Op1Kind != OpKind.Register);
            case Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Movsxd
                or Mnemonic.Add or Mnemonic.Or or Mnemonic.Adc or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Sub or Mnemonic.Xor
                or Mnemonic.Cmp or Mnemonic.Test or Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Neg or Mnemonic.Not
                or Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror
                or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Imul or Mnemonic.Mul
                or Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe or Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo or Mnemonic.Bswap
                or Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete or Mnemonic.Setne
                or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp
                or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg
                or Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove or Mnemonic.Cmovne
                or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovp or Mnemonic.Cmovnp
                or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg:
                return OperandsPlain(ref i);
            default:
                return false;
        }
    }

    private static bool IsMoffs(Code c) => c is Code.Mov_AL_moffs8 or Code.Mov_AX_moffs16 or Code.Mov_EAX_moffs32 or Code.Mov_RAX_moffs64
        or Code.Mov_moffs8_AL or Code.Mov_moffs16_AX or Code.Mov_moffs32_EAX or Code.Mov_moffs64_RAX;

    /// <summary>General-purpose registers (not AH..BH), immediates, and memory addressed with 64-bit registers or RIP.</summary>
    private static bool OperandsPlain(ref Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            switch (i.GetOpKind(op))
            {
                case OpKind.Register:
                    if (!PlainRegister(i.GetOpRegister(op)))
                    {
                        return false;
                    }

                    break;
                case OpKind.Memory:
                    Register b = i.MemoryBase, x = i.MemoryIndex;
                    if (!(b == Register.None || b == Register.RIP || b.IsGPR64()) || !(x == Register.None || x.IsGPR64()))
                    {
                        return false;
                    }

                    if (i.Mnemonic != Mnemonic.Lea && i.MemorySize.GetSize() is not (1 or 2 or 4 or 8))
                    {
                        return false;
                    }

                    break;
                case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
                    or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    private static bool PlainRegister(Register r) => r.IsGPR() && r is not (Register.AH or Register.CH or Register.DH or Register.BH);

    // ---- lowering ----

    /// <summary>Assembles the block; returns the label of its entry from other blocks (r11 = the instructions they retired,
    /// RIP stored, the flags in the guest's RFLAGS).</summary>
    private AsmLabel Lower(byte* host, ulong rip, int length)
    {
        var a = _asm;
        a.Reset();
        _exits.Clear();
        _edges.Clear();
        _linkLabels.Clear();
        _deviceStubs.Clear();
        _deviceAfter = null;
        _blockRip = rip;
        int n = _insns.Count;
        for (int k = 0; k < n; k++)
        {
            _isTarget[k] = false;
        }

        for (int k = 0; k < n; k++)
        {
            if (IsBranch(k) && IndexOf(_insns[k].NearBranchTarget) is int j and >= 0)
            {
                _isTarget[j] = true;
            }
        }

        for (int k = 0; k < n; k++)
        {
            _labels[k] = a.NewLabel();
        }

        _epilogue = a.NewLabel();
        _chain = a.NewLabel();
        _chainUsed = false;
        AsmLabel stale = a.NewLabel();
        AsmLabel notNow = a.NewLabel();
        AsmLabel chained = a.NewLabel();

        // Prologue (System V: rdi = frame, rsi = registers), then the check that the code is still what was translated.
        a.Push(Reg.Rbx);
        a.Push(Reg.Rbp);
        a.Push(Reg.R12);
        a.Push(Reg.R13);
        a.Push(Reg.R14);
        a.Push(Reg.R15);
        a.Mov(Reg.Rbp, Reg.Rdi);
        a.Mov(Reg.Rbx, Reg.Rsi);
        a.MovImm(Reg.R11, 0);
        ImageFromRflags();

        // The entry from other blocks (the flags' image in r13): the check that the code is still what was translated.
        a.Bind(chained);
        EmitStaleCheck(host, FirstPageLength(length), stale);
        CheckNextPageCode(stale, notNow);
        RestoreImage();
        _bodyStart = a.NewLabel();
        a.Bind(_bodyStart);
        for (int k = 0; k < n; k++)
        {
            if (_isTarget[k])
            {
                a.Bind(_labels[k]);
            }

            LowerInstruction(k);
        }

        var last = _insns[^1];
        if (last.Mnemonic is not (Mnemonic.Jmp or Mnemonic.Ret or Mnemonic.Call))
        {
            a.Jmp(Exit(last.NextIP, n, middle: false, chain: true));
        }

        _bodyEnd = a.NewLabel();
        a.Bind(_bodyEnd);
        EmitDeviceStubs();

        for (int e = 0; e < _edges.Count; e++)
        {
            EmitEdge(_edges[e]);
        }

        for (int e = 0; e < _exits.Count; e++)
        {
            var x = _exits[e];
            a.Bind(x.Label);
            if (x.Chain)
            {
                SaveImage();
                a.Lea(Reg.R11, new Mem(Reg.R11, x.Retired));
                // A direct exit: a JMP the run loop points at the target block, once the budget covers a block more and no
                // exit is requested; into another page only while the fetch TLB maps it as when it was linked (the addend
                // an immediate the run loop sets; into this page the mapping is this block's).
                var slow = a.NewLabel();
                var jump = a.NewLabel();
                var addend = a.NewLabel();
                EmitChainChecks(slow);
                if (x.Rip >> 12 != _blockRip >> 12)
                {
                    int set = (int)((x.Rip >> 12) & 0xFF) * 16;
                    a.Load(Reg.Rdx, new Mem(Reg.Rbp, X86NativeFrame.FetchTlbOffset), 8);
                    a.MovImm(Reg.Rcx, (x.Rip & ~0xFFFUL) | (uint)_tagLow);
                    a.CmpMemReg(new Mem(Reg.Rdx, set), Reg.Rcx, true);
                    a.Jcc(Cc.NE, slow);
                    a.Load(Reg.Rcx, new Mem(Reg.Rdx, set + 8), 8);
                    a.MovImm(Reg.Rdx, long.MaxValue); // (its 10-byte form: the run loop writes the addend there)
                    a.Bind(addend);
                    a.Alu(X64Alu.Cmp, Reg.Rcx, Reg.Rdx, true);
                    a.Jcc(Cc.NE, slow);
                }

                a.Jmp(slow);
                a.Bind(jump);
                _linkLabels.Add((x.Rip, jump, slow, addend));
                a.Bind(slow);

                a.MovImm(Reg.Rax, x.Rip);
                a.Jmp(_chain);
                _chainUsed = true;
                continue;
            }

            if (x.Flags == FlagsAt.Image)
            {
                RestoreImage();
            }

            SaveFlags();

            a.MovImm(Reg.Rax, x.Rip);
            a.Store(new Mem(Reg.Rbx, s_ripOffset), Reg.Rax, 8);
            Return(x.Retired, x.Middle);
        }

        _tailStart = a.NewLabel();
        a.Bind(_tailStart);
        if (_chainUsed)
        {
            EmitChain();
        }

        // The code changed (entered from the run loop or another block, the flags' image in r13): RIP is its first instruction.
        // notNow: the next page of a page-crossing block is not mapped as translated; the block leaves with nothing done.
        a.Bind(stale);
        a.StoreImm(new Mem(Reg.Rbp, X86NativeFrame.StaleOffset), 1, 4);
        a.Bind(notNow);
        RestoreImage();
        SaveFlags();
        a.MovImm(Reg.Rax, rip);
        a.Store(new Mem(Reg.Rbx, s_ripOffset), Reg.Rax, 8);
        Return(0, middle: false);
        a.Bind(_epilogue);
        a.Pop(Reg.R15);
        a.Pop(Reg.R14);
        a.Pop(Reg.R13);
        a.Pop(Reg.R12);
        a.Pop(Reg.Rbp);
        a.Pop(Reg.Rbx);
        a.Ret();
        return chained;
    }

    /// <summary>
    /// Compares the <paramref name="length"/> bytes of guest code at <paramref name="host"/> with those translated (the
    /// flags are in r13): 8 bytes at a time, the last chunk overlapping; to <paramref name="stale"/> at the first difference.
    /// </summary>
    private void EmitStaleCheck(byte* host, int length, AsmLabel stale)
    {
        var a = _asm;
        int chunk = length >= 8 ? 8 : length >= 4 ? 4 : length >= 2 ? 2 : 1;
        a.MovImm(Reg.Rcx, (ulong)host);
        for (int off = 0; off < length; off += chunk)
        {
            int at = Math.Min(off, length - chunk);
            if (chunk == 8)
            {
                a.MovImm(Reg.Rax, MemoryMarshal.Read<ulong>(_code.AsSpan(at)));
                a.CmpMemReg(new Mem(Reg.Rcx, at), Reg.Rax, true);
            }
            else
            {
                int expected = chunk switch
                {
                    4 => MemoryMarshal.Read<int>(_code.AsSpan(at)),
                    2 => MemoryMarshal.Read<short>(_code.AsSpan(at)),
                    _ => (sbyte)_code[at],
                };
                a.AluMemImm(X64Alu.Cmp, new Mem(Reg.Rcx, at), expected, chunk);
            }

            a.Jcc(Cc.NE, stale);
        }
    }

    /// <summary>To <paramref name="back"/> unless the budget covers a block more (instructions retired r11 at most the
    /// frame's limit) and no exit is requested (rcx; the flags are in r13).</summary>
    private void EmitChainChecks(AsmLabel back)
    {
        var a = _asm;
        a.AluMem(X64Alu.Cmp, Reg.R11, new Mem(Reg.Rbp, X86NativeFrame.LimitOffset), true);
        a.Jcc(Cc.G, back);
        a.Load(Reg.Rcx, new Mem(Reg.Rbp, X86NativeFrame.ExitRequestedOffset), 8);
        a.AluMemImm(X64Alu.Cmp, new Mem(Reg.Rcx, 0), 0, 4);
        a.Jcc(Cc.NE, back);
    }

    /// <summary>
    /// The block's way to the next one (rax = its RIP, r11 = instructions retired, the flags' image in r13): while the
    /// budget covers a block more and no exit is requested, the jump cache's entry of RIP for this privilege, if the fetch
    /// TLB maps RIP's page to the host code the entry was translated from; else RIP stored, flags saved and back to the
    /// run loop.
    /// </summary>
    private void EmitChain()
    {
        var a = _asm;
        var back = a.NewLabel();
        a.Bind(_chain);
        EmitChainChecks(back);

        // rcx = the jump cache's entry: index (rip + (rip >> 12)) mod Size, 32 bytes each (X86NativeJumpCache.Index),
        // its tag rip * 4 + key (X86NativeJumpCache.Tag).
        a.Mov(Reg.Rcx, Reg.Rax);
        a.ShiftImm(Shift.Shr, Reg.Rcx, 12, true);
        a.Alu(X64Alu.Add, Reg.Rcx, Reg.Rax, true);
        a.AluImm(X64Alu.And, Reg.Rcx, X86NativeJumpCache.Size - 1, false);
        a.ShiftImm(Shift.Shl, Reg.Rcx, 5, false);
        a.AluMem(X64Alu.Add, Reg.Rcx, new Mem(Reg.Rbp, X86NativeFrame.JumpCacheOffset), true);
        a.Lea(Reg.Rdx, new Mem(Reg.Rax, 0, Reg.Rax, 1));
        a.Lea(Reg.Rdx, new Mem(Reg.Rdx, _key, Reg.Rdx, 1));
        a.CmpMemReg(new Mem(Reg.Rcx, X86NativeJumpCache.TagOffset), Reg.Rdx, true);
        a.Jcc(Cc.NE, back);

        // The fetch TLB's entry of RIP's page must map it (tag: the page | 1 | user << 1) to the host code the block was
        // translated from.
        a.Mov(Reg.Rdx, Reg.Rax);
        a.ShiftImm(Shift.Shr, Reg.Rdx, 12, true);
        a.Movzx(Reg.Rdx, Reg.Rdx, 1);
        a.ShiftImm(Shift.Shl, Reg.Rdx, 4, false);
        a.AluMem(X64Alu.Add, Reg.Rdx, new Mem(Reg.Rbp, X86NativeFrame.FetchTlbOffset), true);
        a.Mov(Reg.R15, Reg.Rax);
        a.AluImm(X64Alu.And, Reg.R15, ~0xFFF, true);
        a.AluImm(X64Alu.Or, Reg.R15, _tagLow, true);
        a.CmpMemReg(new Mem(Reg.Rdx, 0), Reg.R15, true);
        a.Jcc(Cc.NE, back);
        a.Load(Reg.R15, new Mem(Reg.Rdx, 8), 8);
        a.Alu(X64Alu.Add, Reg.R15, Reg.Rax, true);
        a.CmpMemReg(new Mem(Reg.Rcx, X86NativeJumpCache.HostOffset), Reg.R15, true);
        a.Jcc(Cc.NE, back);
        a.JmpMem(new Mem(Reg.Rcx, X86NativeJumpCache.ChainedOffset));

        a.Bind(back);
        a.Store(new Mem(Reg.Rbx, s_ripOffset), Reg.Rax, 8);
        RestoreImage();
        SaveFlags();
        Return(0, middle: false);
    }

    private bool IsBranch(int k) => _insns[k].Mnemonic is not (Mnemonic.Ret or Mnemonic.Push or Mnemonic.Pop)
        && _insns[k].Op0Kind == OpKind.NearBranch64;

    /// <summary>The index of the block's instruction at <paramref name="rip"/>, or -1.</summary>
    private int IndexOf(ulong rip)
    {
        for (int k = 0; k < _insns.Count; k++)
        {
            if (_insns[k].IP == rip)
            {
                return k;
            }
        }

        return -1;
    }

    /// <summary>rax = (r11 + retired) * 2 + middle; to the epilogue.</summary>
    private void Return(int retired, bool middle)
    {
        _asm.Lea(Reg.Rax, new Mem(Reg.R11, (2 * retired) + (middle ? 1 : 0), Reg.R11, 1));
        _asm.Jmp(_epilogue);
    }

    private AsmLabel Exit(ulong rip, int retired, bool middle, FlagsAt flags = FlagsAt.Host, bool chain = false)
    {
        var label = _asm.NewLabel();
        _exits.Add(new ExitStub(label, rip, retired, middle, flags, chain));
        return label;
    }

    /// <summary>Leaves before instruction <paramref name="k"/> with nothing of it done: the interpreter runs it.</summary>
    private AsmLabel LeaveBefore(int k) => Exit(_insns[k].IP, k, middle: true);

    /// <summary>Control goes from instruction <paramref name="k"/> (done) to <paramref name="target"/>: inside the block or out.</summary>
    private AsmLabel BranchTo(int k, ulong target)
    {
        int j = IndexOf(target);
        if (j < 0)
        {
            return Exit(target, k + 1, middle: false, chain: true);
        }

        var label = _asm.NewLabel();
        _edges.Add(new EdgeStub(label, k, j));
        return label;
    }

    private void EmitEdge(EdgeStub edge)
    {
        var a = _asm;
        a.Bind(edge.Label);
        int delta = edge.From + 1 - edge.To;
        if (delta != 0)
        {
            a.Lea(Reg.R11, new Mem(Reg.R11, delta));
        }

        if (edge.To <= edge.From)
        {
            // Round again only while the budget covers another pass and no exit is requested (flag-free checks).
            var leave = Exit(_insns[edge.To].IP, edge.To, middle: false);
            a.Lea(Reg.Rcx, new Mem(Reg.R11, edge.To));
            a.Not(Reg.Rcx, true);
            a.Load(Reg.Rdx, new Mem(Reg.Rbp, X86NativeFrame.LimitOffset), 8);
            a.Lea(Reg.Rcx, new Mem(Reg.Rcx, 1, Reg.Rdx, 1)); // Limit - (r11 + to)
            a.MovImm(Reg.Rdx, 63);
            a.Encoded(s_shrxRcxRcxRdx);                       // its sign
            JumpIfRcxNonZero(leave);
            a.Load(Reg.Rcx, new Mem(Reg.Rbp, X86NativeFrame.ExitRequestedOffset), 8);
            a.Load(Reg.Rcx, new Mem(Reg.Rcx, 0), 4);
            JumpIfRcxNonZero(leave);
        }

        a.Jmp(_labels[edge.To]);
    }

    /// <summary>To <paramref name="target"/> unless rcx is 0 (flag-free: JRCXZ over a jump).</summary>
    private void JumpIfRcxNonZero(AsmLabel target)
    {
        _asm.Encoded(s_jrcxzOverJmp);
        JmpRel32(target);
    }

    /// <summary>To <paramref name="target"/> if rcx is 0 (flag-free: JRCXZ to a jump, a short jump over it).</summary>
    private void JumpIfRcxZero(AsmLabel target)
    {
        _asm.Encoded(s_jrcxzOverShortJmp);
        _asm.Encoded(s_jmpShortOverJmp);
        JmpRel32(target);
    }

    /// <summary>A jump the JRCXZ before it skips: 5 bytes (its label is bound later: out-of-line code).</summary>
    private void JmpRel32(AsmLabel target)
    {
        int before = _asm.Length;
        _asm.Jmp(target);
        if (_asm.Length - before != 5)
        {
            throw new InvalidOperationException("JRCXZ must skip a 5-byte jump");
        }
    }

    private void LowerInstruction(int k)
    {
        ref readonly Instruction i = ref CollectionsMarshal.AsSpan(_insns)[k];
        var a = _asm;
        switch (i.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Endbr32
                or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchnta or Mnemonic.Prefetchw:
                return;
            case Mnemonic.Pushfq:
                LowerPushf(k);
                return;
            case Mnemonic.Leave:
                PopFrom(k, Register.RBP, Register.RBP); // mov rsp, rbp; pop rbp
                return;
            case Mnemonic.Jmp:
                a.Jmp(BranchTo(k, i.NearBranchTarget));
                return;
            case Mnemonic.Call:
                PushValue(k, Register.None, i.NextIP);
                a.Jmp(BranchTo(k, i.NearBranchTarget));
                return;
            case Mnemonic.Ret:
                LowerRet(k);
                return;
            case Mnemonic.Push:
                PushValue(k, i.Op0Kind == OpKind.Register ? i.Op0Register : Register.None, i.Op0Kind == OpKind.Register ? 0 : i.GetImmediate(0));
                return;

            case Mnemonic.Pop:
                PopFrom(k, Register.RSP, i.Op0Register);
                return;
            case Mnemonic.Lea:
                LowerLea(in i);
                return;
            case Mnemonic.In or Mnemonic.Out or Mnemonic.Wrmsr or Mnemonic.Vmcall or Mnemonic.Rdtsc or Mnemonic.Rdtscp:
                LowerThroughHelper(k);
                return;
            default:
                if (i.Op0Kind == OpKind.NearBranch64)
                {
                    a.Jcc((Cc)((int)i.ConditionCode - 1), BranchTo(k, i.NearBranchTarget));
                    return;
                }

                LowerRewritten(k, in i);
                return;
        }
    }

    /// <summary>PUSH of guest register <paramref name="register"/>, or of <paramref name="value"/> (an immediate, CALL's return address).</summary>
    private void PushValue(int k, Register register, ulong value)
    {
        var a = _asm;
        a.Load(Reg.R12, GuestRegister(Register.RSP), 8);
        a.Lea(Reg.R14, new Mem(Reg.R12, -8));
        Translate(8, write: true, LeaveBefore(k));
        if (register != Register.None)
        {
            a.Load(Reg.Rax, GuestRegister(register), 8);
        }
        else
        {
            a.MovImm(Reg.Rax, value);
        }

        a.Store(new Mem(Reg.R14, 0), Reg.Rax, 8);
        a.Lea(Reg.R12, new Mem(Reg.R12, -8));
        a.Store(GuestRegister(Register.RSP), Reg.R12, 8);
        CheckCodeStore(k);
    }

    /// <summary>
    /// Pops 8 bytes from the stack whose top is guest register <paramref name="top"/> into <paramref name="destination"/>,
    /// RSP set past them (POP: the top is RSP; LEAVE: RBP). Leaves before instruction <paramref name="k"/> on a TLB miss.
    /// </summary>
    private void PopFrom(int k, Register top, Register destination)
    {
        var a = _asm;
        a.Load(Reg.R12, GuestRegister(top), 8);
        a.Mov(Reg.R14, Reg.R12);
        Translate(8, write: false, LeaveBefore(k));
        a.Load(Reg.Rax, new Mem(Reg.R14, 0), 8);
        a.Lea(Reg.R12, new Mem(Reg.R12, 8));
        a.Store(GuestRegister(Register.RSP), Reg.R12, 8);
        a.Store(GuestRegister(destination), Reg.Rax, 8);
    }

    private void LowerRet(int k)
    {
        var a = _asm;
        a.Load(Reg.R12, GuestRegister(Register.RSP), 8);
        a.Mov(Reg.R14, Reg.R12);
        Translate(8, write: false, LeaveBefore(k));
        a.Load(Reg.R15, new Mem(Reg.R14, 0), 8);

        SaveImage();

        // A non-canonical return address faults at the RET: the interpreter's.
        a.Mov(Reg.Rax, Reg.R15);
        a.ShiftImm(Shift.Shl, Reg.Rax, 16, true);
        a.ShiftImm(Shift.Sar, Reg.Rax, 16, true);
        a.Alu(X64Alu.Cmp, Reg.Rax, Reg.R15, true);
        a.Jcc(Cc.NE, Exit(_insns[k].IP, k, middle: true, FlagsAt.Image));
        a.Lea(Reg.R12, new Mem(Reg.R12, 8));
        a.Store(GuestRegister(Register.RSP), Reg.R12, 8);
        a.Mov(Reg.Rax, Reg.R15);
        a.Lea(Reg.R11, new Mem(Reg.R11, k + 1));
        a.Jmp(_chain);
        _chainUsed = true;
    }

    private void LowerLea(in Instruction i)
    {
        var a = _asm;
        Instruction x = i;
        if (i.MemoryBase == Register.RIP)
        {
            a.MovImm(Reg.R12, i.IPRelativeMemoryAddress);
            x.MemoryBase = Register.R12;
            x.MemoryDisplacement64 = 0;
            x.MemoryDisplSize = 0;
        }
        else
        {
            if (i.MemoryBase != Register.None)
            {
                a.Load(Reg.R12, GuestRegister(i.MemoryBase), 8);
                x.MemoryBase = Register.R12;
            }

            if (i.MemoryIndex != Register.None)
            {
                a.Load(Reg.R13, GuestRegister(i.MemoryIndex), 8);
                x.MemoryIndex = Register.R13;
            }
        }

        x.SegmentPrefix = Register.None;
        Reg d = s_pool[0];
        a.Load(d, GuestRegister(i.Op0Register), 8);
        x.Op0Register = HostRegister(i.Op0Register, d);
        Emit(in x);
        a.Store(GuestRegister(i.Op0Register), d, 8);
    }

    /// <summary>The common case: the instruction itself, on host registers and the host address of its memory operand.</summary>
    private void LowerRewritten(int k, in Instruction i)
    {
        var a = _asm;
        int memoryOp = -1;
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) == OpKind.Memory)
            {
                memoryOp = op;
            }
        }

        bool write = memoryOp == 0 && i.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test or Mnemonic.Bt);
        if (memoryOp >= 0)
        {
            LinearAddress(in i);
            Translate(i.MemorySize.GetSize(), write, DeviceMov(k) ? DeviceMiss(k) : LeaveBefore(k));
        }

        // Guest registers to host registers: RAX, RCX, RDX as themselves (implicit operands, CL counts), others from the pool.
        Array.Fill(_hostOf, Reg.None);
        int pool = 0;
        Instruction x = i;
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) == OpKind.Register)
            {
                Register r = i.GetOpRegister(op);
                x.SetOpRegister(op, HostRegister(r, Map(r, ref pool)));
            }
        }

        int implicitRegs = ImplicitRegisters(in i);
        if ((implicitRegs & 1) != 0)
        {
            Map(Register.RAX, ref pool);
        }

        if ((implicitRegs & 4) != 0)
        {
            Map(Register.RDX, ref pool);
        }

        for (int g = 0; g < 16; g++)
        {
            if (_hostOf[g] != Reg.None)
            {
                a.Load(_hostOf[g], new Mem(Reg.Rbx, 8 * g), 8);
            }
        }

        if (memoryOp >= 0)
        {
            x.MemoryBase = Register.R14;
            x.MemoryIndex = Register.None;
            x.MemoryIndexScale = 1;
            x.MemoryDisplacement64 = 0;
            x.MemoryDisplSize = 0;
            x.SegmentPrefix = Register.None;
        }

        Emit(in x);

        // Store back what it may write: the destination register, both of XCHG's, the implicit ones.
        bool writesOp0 = i.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test or Mnemonic.Bt);
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) == OpKind.Register && ((op == 0 && writesOp0) || i.Mnemonic is Mnemonic.Xchg or Mnemonic.Xadd))
            {
                int g = GuestNumber(i.GetOpRegister(op));
                a.Store(new Mem(Reg.Rbx, 8 * g), _hostOf[g], 8);
            }
        }

        if ((implicitRegs & 1) != 0)
        {
            a.Store(new Mem(Reg.Rbx, 0), Reg.Rax, 8);
        }

        if ((implicitRegs & 4) != 0)
        {
            a.Store(new Mem(Reg.Rbx, 16), Reg.Rdx, 8);
        }

        if (write)
        {
            CheckCodeStore(k);
        }

        BindDeviceAfter();
    }

    /// <summary>Implicit register operands: bit 0 RAX, bit 2 RDX.</summary>
    private static int ImplicitRegisters(in Instruction i) => i.Mnemonic switch
    {
        Mnemonic.Mul => 5,
        Mnemonic.Imul when i.OpCount == 1 => 5,
        Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe => 1,
        Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo => 5,
        Mnemonic.Cmpxchg or Mnemonic.Lahf or Mnemonic.Sahf => 1,
        _ => 0,
    };

    private Reg Map(Register guest, ref int pool)
    {
        int g = GuestNumber(guest);
        if (_hostOf[g] == Reg.None)
        {
            _hostOf[g] = g <= 2 ? (Reg)g : s_pool[pool++];
        }

        return _hostOf[g];
    }

    private static int GuestNumber(Register r) => r.GetFullRegister() - Register.RAX;

    private static Mem GuestRegister(Register r) => new(Reg.Rbx, 8 * GuestNumber(r));

    /// <summary>The host register <paramref name="host"/> in the size of guest register <paramref name="guest"/>.</summary>
    private static Register HostRegister(Register guest, Reg host)
    {
        int h = (int)host;
        return guest.GetSize() switch
        {
            8 => Register.RAX + h,
            4 => Register.EAX + h,
            2 => Register.AX + h,
            _ => h < 4 ? Register.AL + h : h < 8 ? Register.SPL + (h - 4) : Register.R8L + (h - 8),
        };
    }

    /// <summary>r14 = the linear address of the memory operand (64-bit addressing; FS/GS add their base).</summary>
    private void LinearAddress(in Instruction i)
    {
        var a = _asm;
        Register b = i.MemoryBase, x = i.MemoryIndex;
        int disp = (int)(long)i.MemoryDisplacement64;
        if (b == Register.RIP)
        {
            a.MovImm(Reg.R14, i.IPRelativeMemoryAddress);
        }
        else if (b == Register.None && x == Register.None)
        {
            a.MovImm(Reg.R14, i.MemoryDisplacement64);
        }
        else
        {
            if (b != Register.None)
            {
                a.Load(Reg.R12, GuestRegister(b), 8);
            }
            else
            {
                a.MovImm(Reg.R12, 0);
            }

            if (x != Register.None)
            {
                a.Load(Reg.R13, GuestRegister(x), 8);
                a.Lea(Reg.R14, new Mem(Reg.R12, disp, Reg.R13, (byte)i.MemoryIndexScale));
            }
            else
            {
                a.Lea(Reg.R14, new Mem(Reg.R12, disp));
            }
        }

        if (i.MemorySegment is Register.FS or Register.GS)
        {
            a.Load(Reg.R15, new Mem(Reg.Rbp, i.MemorySegment == Register.FS ? X86NativeFrame.FsBaseOffset : X86NativeFrame.GsBaseOffset), 8);
            a.Lea(Reg.R14, new Mem(Reg.R14, 0, Reg.R15, 1));
        }
    }

    /// <summary>
    /// r14 = the host address of the access of <paramref name="size"/> bytes at linear r14, through the software TLB
    /// (X86Cpu.Memory.cs: entry of the first byte's page, tag = page | 1 | user &lt;&lt; 1, compared with the last
    /// byte's page so a crossing misses), without touching the flags; a miss goes to <paramref name="miss"/>.
    /// </summary>
    private void Translate(int size, bool write, AsmLabel miss)
    {
        var a = _asm;
        a.Lea(Reg.R15, new Mem(Reg.R14, size - 1));
        a.MovImm(Reg.Rcx, 12);
        a.Encoded(s_shrxR15R15Rcx);
        a.Encoded(s_shlxR15R15Rcx);
        a.Lea(Reg.R15, new Mem(Reg.R15, _tagLow));
        a.Encoded(s_shrxRcxR14Rcx);
        a.Movzx(Reg.Rcx, Reg.Rcx, 1);
        a.Lea(Reg.Rcx, new Mem(Reg.Rcx, 0, Reg.Rcx, 1));
        a.Load(Reg.Rdx, new Mem(Reg.Rbp, write ? X86NativeFrame.WriteTlbOffset : X86NativeFrame.ReadTlbOffset), 8);
        a.Lea(Reg.Rdx, new Mem(Reg.Rdx, 0, Reg.Rcx, 8));
        a.Load(Reg.Rcx, new Mem(Reg.Rdx, 0), 8);
        a.Not(Reg.R15, true);
        a.Lea(Reg.Rcx, new Mem(Reg.Rcx, 1, Reg.R15, 1)); // tag - expected
        JumpIfRcxNonZero(miss);
        a.Load(Reg.Rcx, new Mem(Reg.Rdx, 8), 8);
        a.Lea(Reg.R14, new Mem(Reg.R14, 0, Reg.Rcx, 1));
    }

    /// <summary>After a store through host address r14: a store into the block's own page leaves after the
    /// instruction (the next entry compares the code; the interpreter sees the new bytes).</summary>
    private void CheckCodeStore(int k)
    {
        var a = _asm;
        a.MovImm(Reg.Rcx, 12);
        a.Encoded(s_shrxRcxR14Rcx);
        a.MovImm(Reg.Rdx, unchecked(0UL - _codePage));
        a.Lea(Reg.Rcx, new Mem(Reg.Rcx, 0, Reg.Rdx, 1));
        JumpIfRcxZero(Exit(_insns[k].NextIP, k + 1, middle: true));
        CheckNextPageStore(k);
    }

    /// <summary>The guest's status flags from host RFLAGS into its RFLAGS (rax, rcx; the flags are lost).</summary>
    private void SaveFlags()
    {
        var a = _asm;
        a.Lahf();
        a.Setcc(Cc.O, Reg.Rax);
        a.Encoded(s_movzxEcxAh);
        a.AluImm(X64Alu.And, Reg.Rcx, 0xD5, false);
        a.Movzx(Reg.Rax, Reg.Rax, 1);
        a.ShiftImm(Shift.Shl, Reg.Rax, 11, false);
        a.Alu(X64Alu.Or, Reg.Rcx, Reg.Rax, false);
        a.Load(Reg.Rax, new Mem(Reg.Rbx, s_rflagsOffset), 8);
        a.AluImm(X64Alu.And, Reg.Rax, ~StatusFlags, true);
        a.Alu(X64Alu.Or, Reg.Rax, Reg.Rcx, true);
        a.Store(new Mem(Reg.Rbx, s_rflagsOffset), Reg.Rax, 8);
    }

    /// <summary>r13 = the image of the guest's status flags (AH: its RFLAGS' low byte, AL: OF) from its RFLAGS (rax, rcx):
    /// what <see cref="SaveImage"/> makes of host RFLAGS.</summary>
    private void ImageFromRflags()
    {
        ImageFromRflagsInRax();
        _asm.Mov(Reg.R13, Reg.Rax, false);
    }

    /// <summary>rax = the image of the guest's status flags from its RFLAGS (rcx).</summary>
    private void ImageFromRflagsInRax()
    {
        var a = _asm;
        a.Load(Reg.Rax, new Mem(Reg.Rbx, s_rflagsOffset), 4);
        a.Mov(Reg.Rcx, Reg.Rax, false);
        a.ShiftImm(Shift.Shr, Reg.Rcx, 11, false);
        a.AluImm(X64Alu.And, Reg.Rcx, 1, false);
        a.ShiftImm(Shift.Shl, Reg.Rax, 8, false);
        a.Alu(X64Alu.Or, Reg.Rax, Reg.Rcx, false);
    }

    /// <summary>r13 = the image of host RFLAGS' status flags (LAHF, SETO; rax): how the flags go from block to block.</summary>
    private void SaveImage()
    {
        var a = _asm;
        a.Lahf();
        a.Setcc(Cc.O, Reg.Rax);
        a.Mov(Reg.R13, Reg.Rax, false);
    }

    /// <summary>Host RFLAGS' status flags from their image in r13 (rax).</summary>
    private void RestoreImage()
    {
        var a = _asm;
        a.Mov(Reg.Rax, Reg.R13, false);
        a.Alu8Imm(X64Alu.Add, Reg.Rax, 0x7F); // OF
        a.Sahf();                            // SF, ZF, AF, PF, CF
    }

    /// <summary>Host RFLAGS' status flags from the guest's RFLAGS in the context (rax, rcx; r13 untouched).</summary>
    private void RestoreFlags()
    {
        var a = _asm;
        ImageFromRflagsInRax();
        a.Alu8Imm(X64Alu.Add, Reg.Rax, 0x7F); // OF
        a.Sahf();                            // SF, ZF, AF, PF, CF
    }

    private void Emit(in Instruction x)
    {
        _writer.Length = 0;
        if (!_encoder.TryEncode(x, 0, out _, out string? error))
        {
            throw new InvalidOperationException($"cannot encode {x}: {error}");
        }

        _asm.Encoded(_writer.Bytes.AsSpan(0, _writer.Length));
    }

    private static byte[] Encode(Instruction i)
    {
        var w = new BufferWriter();
        Encoder.Create(64, w).Encode(i, 0);
        return w.Bytes.AsSpan(0, w.Length).ToArray();
    }

    /// <summary>The offset in <see cref="X86Registers"/> of RIP (0) or RFLAGS (1).</summary>
    private static int RegisterOffset(int which)
    {
        X86Registers r = default;
        byte* start = (byte*)&r;
        if ((byte*)&r.Gpr != start)
        {
            throw new InvalidOperationException("X86Registers must start with the general-purpose registers");
        }

        return (int)((which == 0 ? (byte*)&r.Rip : (byte*)&r.Rflags) - start);
    }

    /// <summary>Iced's decoder input: the copy of the code from the entry to the end of its page.</summary>
    private sealed class BufferReader(byte[] code) : CodeReader
    {
        private int _position;
        private int _length;

        public void Reset(int length)
        {
            _position = 0;
            _length = length;
        }

        public override int ReadByte() => _position < _length ? code[_position++] : -1;
    }

    /// <summary>Iced's encoder output: one instruction.</summary>
    private sealed class BufferWriter : CodeWriter
    {
        public readonly byte[] Bytes = new byte[16];
        public int Length;

        public override void WriteByte(byte value) => Bytes[Length++] = value;
    }
}
