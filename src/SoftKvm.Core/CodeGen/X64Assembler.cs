using System.Runtime.CompilerServices;

namespace SoftKvm.Core.CodeGen;

/// <summary>
/// An x86-64 encoder for exactly the instruction forms the native code generator emits, one method per
/// form, writing bytes straight into a reused buffer: a block is encoded in a few microseconds, where a
/// general assembler (Iced's, which the tests use as this encoder's oracle) spends most of a block's
/// translation time building and encoding instruction objects. <c>w64</c> selects the 64-bit operand
/// size, else 32-bit (which zero-extends the destination register, as A64's W forms do). Jumps to a
/// label already bound use rel8 when it reaches, others rel32; jumps to absolute addresses and
/// RIP-relative operands are resolved when the code is placed (<see cref="Assemble"/>).
/// </summary>
internal sealed unsafe class X64Assembler
{
    /// <summary>The longest instruction (or data word) one emitting method writes: room checked once per instruction.</summary>
    private const int MaxInstructionBytes = 16;

    private byte[] _code = GC.AllocateArray<byte>(32768, pinned: true);
    private byte* _bytes;
    private int _limit;
    private int _pos;
    private readonly List<int> _labels = [];
    private readonly List<(int At, int Label)> _labelFixups = [];
    private readonly List<(int At, ulong Target)> _absoluteFixups = [];
    private ulong _placedAt;

    /// <summary>Instructions added since <see cref="Reset"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes encoded since <see cref="Reset"/>.</summary>
    public int Length => _pos;

    public X64Assembler()
    {
        _bytes = (byte*)Unsafe.AsPointer(ref _code[0]);
        _limit = _code.Length - MaxInstructionBytes;
    }

    /// <summary>Forgets the code and labels of the previous block.</summary>
    public void Reset()
    {
        _pos = 0;
        Count = 0;
        _labels.Clear();
        _labelFixups.Clear();
        _absoluteFixups.Clear();
    }

    /// <summary>A new, unbound label.</summary>
    public AsmLabel NewLabel()
    {
        _labels.Add(-1);
        return new AsmLabel(_labels.Count - 1);
    }

    /// <summary>Binds <paramref name="label"/> to the next instruction.</summary>
    public void Bind(AsmLabel label) => _labels[label.Id] = _pos;

    /// <summary>
    /// Copies the code to <paramref name="writable"/> (at most <paramref name="capacity"/> bytes) for
    /// address <paramref name="executable"/>, resolving every jump; the size, or -1 when it does not fit.
    /// </summary>
    public int Assemble(byte* writable, ulong executable, int capacity)
    {
        if (_pos > capacity)
        {
            return -1;
        }

        foreach (var (at, label) in _labelFixups)
        {
            int target = _labels[label];
            if (target < 0)
            {
                throw new InvalidOperationException($"label {label} used but never bound");
            }

            Unsafe.WriteUnaligned(ref _code[at], target - (at + 4));
        }

        foreach (var (at, target) in _absoluteFixups)
        {
            long rel = (long)target - (long)(executable + (ulong)at + 4);
            if (rel != (int)rel)
            {
                throw new InvalidOperationException("a jump target is more than 2 GiB from the code");
            }

            Unsafe.WriteUnaligned(ref _code[at], (int)rel);
        }

        _code.AsSpan(0, _pos).CopyTo(new Span<byte>(writable, _pos));
        _placedAt = executable;
        return _pos;
    }

    /// <summary>The address <paramref name="label"/> was bound to by the last <see cref="Assemble"/>.</summary>
    public ulong AddressOf(AsmLabel label) => _placedAt + (ulong)_labels[label.Id];

    // ---- the encoding ----

    /// <summary>Counts an instruction and makes sure it fits (the buffer grows between instructions only).</summary>
    private void Begin()
    {
        Count++;
        if (_pos > _limit)
        {
            byte[] bigger = GC.AllocateArray<byte>(_code.Length * 2, pinned: true);
            _code.AsSpan(0, _pos).CopyTo(bigger);
            _code = bigger;
            _bytes = (byte*)Unsafe.AsPointer(ref _code[0]);
            _limit = _code.Length - MaxInstructionBytes;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Byte(int b) => _bytes[_pos++] = (byte)b;

    private void Int32(int v)
    {
        Byte(v);
        Byte(v >> 8);
        Byte(v >> 16);
        Byte(v >> 24);
    }

    private void Int64(ulong v)
    {
        Int32((int)v);
        Int32((int)(v >> 32));
    }

    private static int Low(Reg r) => (int)r & 7;

    private static int High(Reg r) => ((int)r >> 3) & 1;

    /// <summary>REX when needed: W, the high bits of reg/index/base, or a byte register spl..dil.</summary>
    private void Rex(bool w, Reg reg, Reg index, Reg rm, bool byteRegs = false)
    {
        int rex = (w ? 8 : 0)
            | (reg != Reg.None ? High(reg) << 2 : 0)
            | (index != Reg.None ? High(index) << 1 : 0)
            | (rm != Reg.None ? High(rm) : 0);
        bool needed = rex != 0
            || (byteRegs && ((reg is >= Reg.Rsp and <= Reg.Rdi) || (rm is >= Reg.Rsp and <= Reg.Rdi)));
        if (needed)
        {
            Byte(0x40 | rex);
        }
    }

    /// <summary>The ModRM (and SIB, displacement) of a memory operand, with <paramref name="reg"/> in the reg field.</summary>
    private void ModRmMemory(int reg, Mem m)
    {
        int r = reg & 7;
        int disp = m.Disp;
        int mod = disp == 0 && Low(m.Base) != 5 ? 0 : disp == (sbyte)disp ? 1 : 2;
        if (m.Index == Reg.None && Low(m.Base) != 4)
        {
            Byte((mod << 6) | (r << 3) | Low(m.Base));
        }
        else
        {
            int scale = m.Scale switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 };
            int index = m.Index == Reg.None ? 4 : Low(m.Index);
            Byte((mod << 6) | (r << 3) | 4);
            Byte((scale << 6) | (index << 3) | Low(m.Base));
        }

        if (mod == 1)
        {
            Byte(disp);
        }
        else if (mod == 2)
        {
            Int32(disp);
        }
    }

    private void ModRmRegister(int reg, Reg rm) => Byte(0xC0 | ((reg & 7) << 3) | Low(rm));

    /// <summary>[prefix] REX opcode ModRM for a register operand and a register in the r/m field.</summary>
    private void RegReg(bool w, int opcode, Reg reg, Reg rm, int prefix = 0, bool byteRegs = false, int opcode2 = -1)
    {
        Begin();
        if (prefix != 0)
        {
            Byte(prefix);
        }

        Rex(w, reg, Reg.None, rm, byteRegs);
        Opcode(opcode, opcode2);
        ModRmRegister((int)reg, rm);
    }

    /// <summary>[prefix] REX opcode ModRM for an opcode extension (/digit) and a register in the r/m field.</summary>
    private void DigitReg(bool w, int opcode, int digit, Reg rm, int prefix = 0, bool byteRegs = false, int opcode2 = -1)
    {
        Begin();
        if (prefix != 0)
        {
            Byte(prefix);
        }

        Rex(w, Reg.None, Reg.None, rm, byteRegs);
        Opcode(opcode, opcode2);
        ModRmRegister(digit, rm);
    }

    /// <summary>[prefix] REX opcode ModRM for a register (or /digit, with reg None) and a memory operand.</summary>
    private void RegMem(bool w, int opcode, int reg, Mem m, int prefix = 0, bool byteReg = false, int opcode2 = -1, bool locked = false)
    {
        Begin();
        if (locked)
        {
            Byte(0xF0);
        }

        if (prefix != 0)
        {
            Byte(prefix);
        }

        Reg r = reg >= 0 && reg < 16 ? (Reg)reg : Reg.None;
        int rex = (w ? 8 : 0) | (r != Reg.None ? High(r) << 2 : 0)
            | (m.Index != Reg.None ? High(m.Index) << 1 : 0) | High(m.Base);
        if (rex != 0 || (byteReg && r is >= Reg.Rsp and <= Reg.Rdi))
        {
            Byte(0x40 | rex);
        }

        Opcode(opcode, opcode2);
        ModRmMemory(reg, m);
    }

    private void Opcode(int opcode, int opcode2)
    {
        if (opcode > 0xFF)
        {
            Byte(opcode >> 8);
        }

        Byte(opcode & 0xFF);
        if (opcode2 >= 0)
        {
            Byte(opcode2);
        }
    }

    /// <summary>A memory operand whose digit field is an opcode extension.</summary>
    private static int Digit(int digit) => digit | 0x100; // marks "not a register" for RegMem's REX.R

    // ---- moves ----

    public void Mov(Reg d, Reg s, bool w64 = true) => RegReg(w64, 0x89, s, d);

    /// <summary>d = value, in the shortest form that leaves the flags alone.</summary>
    public void MovImm(Reg d, ulong value)
    {
        Begin();
        if (value <= uint.MaxValue)
        {
            Rex(false, Reg.None, Reg.None, d);
            Byte(0xB8 + Low(d));
            Int32((int)value);
        }
        else if ((long)value >= int.MinValue && (long)value < 0)
        {
            Rex(true, Reg.None, Reg.None, d);
            Byte(0xC7);
            ModRmRegister(0, d);
            Int32((int)(long)value);
        }
        else
        {
            Rex(true, Reg.None, Reg.None, d);
            Byte(0xB8 + Low(d));
            Int64(value);
        }
    }

    /// <summary>d = [m] of <paramref name="size"/> bytes, zero-extended (1, 2, 4) or whole (8).</summary>
    public void Load(Reg d, Mem m, int size)
    {
        switch (size)
        {
            case 1: RegMem(false, 0x0FB6, (int)d, m); break;
            case 2: RegMem(false, 0x0FB7, (int)d, m); break;
            case 4: RegMem(false, 0x8B, (int)d, m); break;
            default: RegMem(true, 0x8B, (int)d, m); break;
        }
    }

    /// <summary>d = [m] of <paramref name="size"/> bytes (1, 2, 4), sign-extended to 32 or 64 bits.</summary>
    public void LoadSigned(Reg d, Mem m, int size, bool w64)
    {
        switch (size)
        {
            case 1: RegMem(w64, 0x0FBE, (int)d, m); break;
            case 2: RegMem(w64, 0x0FBF, (int)d, m); break;
            case 4 when w64: RegMem(true, 0x63, (int)d, m); break;
            default: RegMem(false, 0x8B, (int)d, m); break;
        }
    }

    /// <summary>[m] = the low <paramref name="size"/> bytes of s.</summary>
    public void Store(Mem m, Reg s, int size)
    {
        switch (size)
        {
            case 1: RegMem(false, 0x88, (int)s, m, byteReg: true); break;
            case 2: RegMem(false, 0x89, (int)s, m, prefix: 0x66); break;
            case 4: RegMem(false, 0x89, (int)s, m); break;
            default: RegMem(true, 0x89, (int)s, m); break;
        }
    }

    /// <summary>[m] = imm (sign-extended to 8 bytes for size 8).</summary>
    public void StoreImm(Mem m, int imm, int size)
    {
        switch (size)
        {
            case 1:
                RegMem(false, 0xC6, Digit(0), m);
                Byte(imm);
                break;
            case 2:
                RegMem(false, 0xC7, Digit(0), m, prefix: 0x66);
                Byte(imm);
                Byte(imm >> 8);
                break;
            default:
                RegMem(size == 8, 0xC7, Digit(0), m);
                Int32(imm);
                break;
        }
    }

    public void Lea(Reg d, Mem m, bool w64 = true) => RegMem(w64, 0x8D, (int)d, m);

    /// <summary>d = zero-extended low <paramref name="fromSize"/> bytes (1, 2, 4) of s.</summary>
    public void Movzx(Reg d, Reg s, int fromSize)
    {
        switch (fromSize)
        {
            case 1: RegReg(false, 0x0FB6, d, s, byteRegs: true); break;
            case 2: RegReg(false, 0x0FB7, d, s); break;
            default: Mov(d, s, false); break;
        }
    }

    /// <summary>d = sign-extended low <paramref name="fromSize"/> bytes (1, 2, 4) of s, to 32 or 64 bits.</summary>
    public void Movsx(Reg d, Reg s, int fromSize, bool w64)
    {
        switch (fromSize)
        {
            case 1: RegReg(w64, 0x0FBE, d, s, byteRegs: true); break;
            case 2: RegReg(w64, 0x0FBF, d, s); break;
            default:
                if (w64)
                {
                    RegReg(true, 0x63, d, s);
                }
                else
                {
                    Mov(d, s, false);
                }

                break;
        }
    }

    // ---- arithmetic ----

    public void Alu(Alu op, Reg d, Reg s, bool w64) => RegReg(w64, ((int)op << 3) | 1, s, d);

    /// <summary>d = d op [m] (the operand size's bytes of m).</summary>
    public void AluMem(Alu op, Reg d, Mem m, bool w64) => RegMem(w64, ((int)op << 3) | 3, (int)d, m);

    /// <summary>d = d op imm (sign-extended to 64 bits in the 64-bit form).</summary>
    public void AluImm(Alu op, Reg d, int imm, bool w64)
    {
        if (imm == (sbyte)imm)
        {
            DigitReg(w64, 0x83, (int)op, d);
            Byte(imm);
        }
        else
        {
            DigitReg(w64, 0x81, (int)op, d);
            Int32(imm);
        }
    }

    /// <summary>[m] op= imm, on <paramref name="size"/> bytes (1, 4, 8; imm sign-extended for 8).</summary>
    public void AluMemImm(Alu op, Mem m, int imm, int size)
    {
        if (size == 1)
        {
            RegMem(false, 0x80, Digit((int)op), m);
            Byte(imm);
        }
        else if (imm == (sbyte)imm)
        {
            RegMem(size == 8, 0x83, Digit((int)op), m);
            Byte(imm);
        }
        else
        {
            RegMem(size == 8, 0x81, Digit((int)op), m);
            Int32(imm);
        }
    }

    /// <summary>cmp [m], s (the operand size's bytes).</summary>
    public void CmpMemReg(Mem m, Reg s, bool w64) => RegMem(w64, 0x39, (int)s, m);

    /// <summary>
    /// lock cmpxchg [m], s of <paramref name="size"/> bytes (1, 2, 4, 8): when [m] equals the accumulator's
    /// low <paramref name="size"/> bytes, [m] = s and ZF set; else the accumulator = [m] and ZF clear. A full barrier.
    /// </summary>
    public void LockCmpxchg(Mem m, Reg s, int size) =>
        RegMem(size == 8, size == 1 ? 0x0FB0 : 0x0FB1, (int)s, m, prefix: size == 2 ? 0x66 : 0, byteReg: size == 1, locked: true);

    public void Test(Reg a, Reg b, bool w64) => RegReg(w64, 0x85, b, a);

    /// <summary>test a, imm (sign-extended to 64 bits in the 64-bit form).</summary>
    public void TestImm(Reg a, int imm, bool w64)
    {
        DigitReg(w64, 0xF7, 0, a);
        Int32(imm);
    }

    /// <summary>test [m], imm on <paramref name="size"/> bytes (4 or 8; imm sign-extended for 8).</summary>
    public void TestMemImm(Mem m, int imm, int size)
    {
        RegMem(size == 8, 0xF7, Digit(0), m);
        Int32(imm);
    }

    public void ShiftImm(Shift op, Reg d, int count, bool w64)
    {
        DigitReg(w64, 0xC1, (int)op, d);
        Byte(count);
    }

    /// <summary>d = d shifted by cl (the count masked to 5 or 6 bits by the processor, as A64 masks it).</summary>
    public void ShiftCl(Shift op, Reg d, bool w64) => DigitReg(w64, 0xD3, (int)op, d);

    /// <summary>d = d * s (low half).</summary>
    public void Imul(Reg d, Reg s, bool w64) => RegReg(w64, 0x0FAF, d, s);

    /// <summary>rdx:rax = rax * s, unsigned (<paramref name="signed"/>: signed).</summary>
    public void MulWide(Reg s, bool signed, bool w64) => DigitReg(w64, 0xF7, signed ? 5 : 4, s);

    /// <summary>rax = rdx:rax / s, rdx = remainder (<paramref name="signed"/>: idiv).</summary>
    public void Div(Reg s, bool signed, bool w64) => DigitReg(w64, 0xF7, signed ? 7 : 6, s);

    /// <summary>rdx = sign of rax (cqo, or cdq for 32 bits).</summary>
    public void SignExtendRax(bool w64)
    {
        Begin();
        if (w64)
        {
            Byte(0x48);
        }

        Byte(0x99);
    }

    public void Neg(Reg d, bool w64) => DigitReg(w64, 0xF7, 3, d);

    public void Not(Reg d, bool w64) => DigitReg(w64, 0xF7, 2, d);

    public void Bswap(Reg d, bool w64)
    {
        Begin();
        Rex(w64, Reg.None, Reg.None, d);
        Byte(0x0F);
        Byte(0xC8 + Low(d));
    }

    public void Lzcnt(Reg d, Reg s, bool w64) => RegReg(w64, 0x0FBD, d, s, prefix: 0xF3);

    /// <summary>
    /// crc32 d, s (SSE4.2, the CRC-32C polynomial): d's low 32 bits accumulate the low <paramref name="size"/>
    /// bytes (1, 2, 4, 8) of s; the result is zero-extended to 64 bits.
    /// </summary>
    public void Crc32(Reg d, Reg s, int size)
    {
        Begin();
        if (size == 2)
        {
            Byte(0x66);
        }

        Byte(0xF2);
        Rex(size == 8, d, Reg.None, s, byteRegs: size == 1);
        Opcode(0x0F38, size == 1 ? 0xF0 : 0xF1);
        ModRmRegister((int)d, s);
    }

    public void Bsr(Reg d, Reg s, bool w64) => RegReg(w64, 0x0FBD, d, s);

    /// <summary>CF = bit <paramref name="bit"/> of r.</summary>
    public void Bt(Reg r, int bit, bool w64)
    {
        DigitReg(w64, 0x0FBA, 4, r);
        Byte(bit);
    }

    /// <summary>btc r, imm8: inverts bit <paramref name="bit"/> of the 64-bit register (CF = its old value).</summary>
    public void BtcImm(Reg r, int bit)
    {
        DigitReg(true, 0x0FBA, 7, r);
        Byte(bit);
    }

    /// <summary>lock xadd [m], s: [m] += s, s = the old [m] (<paramref name="size"/> bytes).</summary>
    public void LockXadd(Mem m, Reg s, int size) => SizedRegMem(size, 0x0FC1, s, m, locked: true);

    /// <summary>xchg [m], s: exchanges [m] and s (<paramref name="size"/> bytes; locked by the processor).</summary>
    public void Xchg(Mem m, Reg s, int size) => SizedRegMem(size, 0x87, s, m, locked: false);

    /// <summary>An instruction whose byte form is <paramref name="opcode"/> - 1 and whose word form takes the 0x66 prefix.</summary>
    private void SizedRegMem(int size, int opcode, Reg s, Mem m, bool locked) =>
        RegMem(size == 8, size == 1 ? opcode - 1 : opcode, (int)s, m, prefix: size == 2 ? 0x66 : 0, byteReg: size == 1, locked: locked);

    /// <summary>CF = bit (b mod 32) of a.</summary>
    public void BtReg(Reg a, Reg b) => RegReg(false, 0x0FA3, b, a);

    /// <summary>A full fence for store-then-load ordering (lock or dword [rsp], 0: cheaper than mfence).</summary>
    public void MemoryFence()
    {
        Begin();
        Byte(0xF0);
        Byte(0x83);
        Byte(0x0C);
        Byte(0x24);
        Byte(0x00);
    }

    /// <summary>CF = NOT CF.</summary>
    public void Cmc()
    {
        Begin();
        Byte(0xF5);
    }

    /// <summary>AH = SF:ZF:0:AF:0:PF:1:CF.</summary>
    public void Lahf()
    {
        Begin();
        Byte(0x9F);
    }

    /// <summary>SF, ZF, AF, PF, CF = AH.</summary>
    public void Sahf()
    {
        Begin();
        Byte(0x9E);
    }

    /// <summary>op on the low byte of a register with an 8-bit immediate (add al, 0x7f restores OF from AL).</summary>
    public void Alu8Imm(Alu op, Reg d, byte imm)
    {
        DigitReg(false, 0x80, (int)op, d, byteRegs: true);
        Byte(imm);
    }

    public void Setcc(Cc cc, Reg d) => DigitReg(false, 0x0F90 + (int)cc, 0, d, byteRegs: true);

    public void Cmov(Cc cc, Reg d, Reg s, bool w64) => RegReg(w64, 0x0F40 + (int)cc, d, s);

    // ---- control flow ----

    public void Jcc(Cc cc, AsmLabel target)
    {
        Begin();
        int bound = _labels[target.Id];
        if (bound >= 0 && bound - (_pos + 2) == (sbyte)(bound - (_pos + 2)))
        {
            Byte(0x70 + (int)cc);
            Byte(bound - _pos - 1);
            return;
        }

        Byte(0x0F);
        Byte(0x80 + (int)cc);
        JumpField(target, bound);
    }

    public void Jmp(AsmLabel target)
    {
        Begin();
        int bound = _labels[target.Id];
        if (bound >= 0 && bound - (_pos + 2) == (sbyte)(bound - (_pos + 2)))
        {
            Byte(0xEB);
            Byte(bound - _pos - 1);
            return;
        }

        Byte(0xE9);
        JumpField(target, bound);
    }

    private void JumpField(AsmLabel target, int bound)
    {
        if (bound >= 0)
        {
            Int32(bound - (_pos + 4));
        }
        else
        {
            _labelFixups.Add((_pos, target.Id));
            Int32(0);
        }
    }

    /// <summary>jmp to an absolute address (rel32: within 2 GiB of the code).</summary>
    public void JmpAbsolute(ulong target)
    {
        Begin();
        Byte(0xE9);
        _absoluteFixups.Add((_pos, target));
        Int32(0);
    }

    /// <summary>call to an absolute address (rel32: within 2 GiB of the code).</summary>
    public void CallAbsolute(ulong target)
    {
        Begin();
        Byte(0xE8);
        _absoluteFixups.Add((_pos, target));
        Int32(0);
    }

    /// <summary>jmp qword [slot], the slot addressed RIP-relative (within 2 GiB of the code).</summary>
    public void JmpThroughSlot(ulong slot)
    {
        Begin();
        Byte(0xFF);
        Byte(0x25);
        _absoluteFixups.Add((_pos, slot));
        Int32(0);
    }

    /// <summary>A near call of a label of this code (rel32).</summary>
    public void Call(AsmLabel target)
    {
        Begin();
        Byte(0xE8);
        JumpField(target, _labels[target.Id]);
    }

    public void JmpMem(Mem m) => RegMem(false, 0xFF, Digit(4), m);

    public void JmpReg(Reg r) => DigitReg(false, 0xFF, 4, r);

    public void CallMem(Mem m) => RegMem(false, 0xFF, Digit(2), m);

    public void Push(Reg r)
    {
        Begin();
        Rex(false, Reg.None, Reg.None, r);
        Byte(0x50 + Low(r));
    }

    public void Pop(Reg r)
    {
        Begin();
        Rex(false, Reg.None, Reg.None, r);
        Byte(0x58 + Low(r));
    }

    public void Ret()
    {
        Begin();
        Byte(0xC3);
    }

    public void Int3()
    {
        Begin();
        Byte(0xCC);
    }

    /// <summary>An 8-byte data word.</summary>
    public void DataQword(ulong value)
    {
        Begin();
        Int64(value);
    }

    /// <summary>
    /// One instruction encoded elsewhere (at most 15 bytes, with no operand relative to its own address: it is
    /// copied as it is). The x86 guests' translator re-encodes guest instructions with host registers this way.
    /// </summary>
    public void Encoded(ReadOnlySpan<byte> instruction)
    {
        if (instruction.Length > 15)
        {
            throw new ArgumentException("an x86 instruction has at most 15 bytes", nameof(instruction));
        }

        Begin();
        instruction.CopyTo(new Span<byte>(_bytes + _pos, instruction.Length));
        _pos += instruction.Length;
    }
}
