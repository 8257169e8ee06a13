using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

using SoftKvm.Core.CodeGen;
using AluOp = SoftKvm.Core.CodeGen.Alu;
using ShiftOp = SoftKvm.Core.CodeGen.Shift;

namespace SoftKvm.Core.Tests.CodeGen;

/// <summary>
/// The oracle of <see cref="X64Assembler"/>: the same methods, encoded by Iced's assembler
/// (<see cref="Assembler"/>). <see cref="X64AssemblerTests"/> calls both with the same arguments and
/// compares what Iced's decoder reads back from each.
/// </summary>
internal sealed unsafe class IcedX64Assembler
{
    private static readonly AssemblerRegister64[] R64 = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];
    private static readonly AssemblerRegister32[] R32 = [eax, ecx, edx, ebx, esp, ebp, esi, edi, r8d, r9d, r10d, r11d, r12d, r13d, r14d, r15d];
    private static readonly AssemblerRegister16[] R16 = [ax, cx, dx, bx, sp, bp, si, di, r8w, r9w, r10w, r11w, r12w, r13w, r14w, r15w];
    private static readonly AssemblerRegister8[] R8 = [al, cl, dl, bl, spl, bpl, sil, dil, r8b, r9b, r10b, r11b, r12b, r13b, r14b, r15b];

    private readonly Assembler _a = new(64);
    private readonly List<Label> _labels = [];
    private AssemblerResult _result;

    /// <summary>Instructions added since <see cref="Reset"/>.</summary>
    public int Count => _a.Instructions.Count;

    private int _countAtBind = -1;

    /// <summary>Forgets the code and labels of the previous block.</summary>
    public void Reset()
    {
        _a.Reset();
        _labels.Clear();
        _countAtBind = -1;
    }

    /// <summary>A new, unbound label.</summary>
    public AsmLabel NewLabel()
    {
        _labels.Add(_a.CreateLabel());
        return new AsmLabel(_labels.Count - 1);
    }

    /// <summary>Binds <paramref name="label"/> to the next instruction.</summary>
    public void Bind(AsmLabel label)
    {
        if (_a.Instructions.Count == _countAtBind)
        {
            _a.nop(); // Iced binds one label per instruction
        }

        _countAtBind = _a.Instructions.Count;
        Label l = _labels[label.Id];
        _a.Label(ref l);
        _labels[label.Id] = l;
    }

    /// <summary>
    /// Encodes the code for address <paramref name="executable"/>, writing it to <paramref name="writable"/>
    /// (at most <paramref name="capacity"/> bytes); the size, or -1 when it does not fit.
    /// </summary>
    public int Assemble(byte* writable, ulong executable, int capacity)
    {
        var writer = new BufferWriter(writable, capacity);
        _result = _a.Assemble(writer, executable, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return writer.Overflowed ? -1 : writer.Length;
    }

    /// <summary>The address <paramref name="label"/> was bound to by the last <see cref="Assemble"/>.</summary>
    public ulong AddressOf(AsmLabel label)
    {
        Label l = _labels[label.Id];
        return _result.GetLabelRIP(in l);
    }

    private static AssemblerMemoryOperand Address(Mem m)
    {
        AssemblerMemoryOperand operand = m.Index == Reg.None
            ? R64[(int)m.Base] + m.Disp
            : R64[(int)m.Base] + (R64[(int)m.Index] * m.Scale) + m.Disp;
        return operand;
    }

    private static AssemblerMemoryOperand Sized(Mem m, int size) => size switch
    {
        1 => __byte_ptr[Address(m)],
        2 => __word_ptr[Address(m)],
        4 => __dword_ptr[Address(m)],
        _ => __qword_ptr[Address(m)],
    };

    // ---- moves ----

    public void Mov(Reg d, Reg s, bool w64 = true)
    {
        if (w64)
        {
            _a.mov(R64[(int)d], R64[(int)s]);
        }
        else
        {
            _a.mov(R32[(int)d], R32[(int)s]);
        }
    }

    /// <summary>d = value, in the shortest form that leaves the flags alone.</summary>
    public void MovImm(Reg d, ulong value)
    {
        if (value <= uint.MaxValue)
        {
            _a.mov(R32[(int)d], (uint)value);
        }
        else if ((long)value >= int.MinValue && (long)value < 0)
        {
            _a.AddInstruction(Instruction.Create(Code.Mov_rm64_imm32, R64[(int)d].Value, (int)(long)value));
        }
        else
        {
            _a.mov(R64[(int)d], (long)value);
        }
    }

    /// <summary>d = [m] of <paramref name="size"/> bytes, zero-extended (1, 2, 4) or whole (8).</summary>
    public void Load(Reg d, Mem m, int size)
    {
        switch (size)
        {
            case 1: _a.movzx(R32[(int)d], __byte_ptr[Address(m)]); break;
            case 2: _a.movzx(R32[(int)d], __word_ptr[Address(m)]); break;
            case 4: _a.mov(R32[(int)d], __dword_ptr[Address(m)]); break;
            default: _a.mov(R64[(int)d], __qword_ptr[Address(m)]); break;
        }
    }

    /// <summary>d = [m] of <paramref name="size"/> bytes (1, 2, 4), sign-extended to 32 or 64 bits.</summary>
    public void LoadSigned(Reg d, Mem m, int size, bool w64)
    {
        switch (size, w64)
        {
            case (1, false): _a.movsx(R32[(int)d], __byte_ptr[Address(m)]); break;
            case (1, true): _a.movsx(R64[(int)d], __byte_ptr[Address(m)]); break;
            case (2, false): _a.movsx(R32[(int)d], __word_ptr[Address(m)]); break;
            case (2, true): _a.movsx(R64[(int)d], __word_ptr[Address(m)]); break;
            case (4, true): _a.movsxd(R64[(int)d], __dword_ptr[Address(m)]); break;
            default: _a.mov(R32[(int)d], __dword_ptr[Address(m)]); break;
        }
    }

    /// <summary>[m] = the low <paramref name="size"/> bytes of s.</summary>
    public void Store(Mem m, Reg s, int size)
    {
        switch (size)
        {
            case 1: _a.mov(__byte_ptr[Address(m)], R8[(int)s]); break;
            case 2: _a.mov(__word_ptr[Address(m)], R16[(int)s]); break;
            case 4: _a.mov(__dword_ptr[Address(m)], R32[(int)s]); break;
            default: _a.mov(__qword_ptr[Address(m)], R64[(int)s]); break;
        }
    }

    public void LockXadd(Mem m, Reg s, int size)
    {
        switch (size)
        {
            case 1: _a.@lock.xadd(__byte_ptr[Address(m)], R8[(int)s]); break;
            case 2: _a.@lock.xadd(__word_ptr[Address(m)], R16[(int)s]); break;
            case 4: _a.@lock.xadd(__dword_ptr[Address(m)], R32[(int)s]); break;
            default: _a.@lock.xadd(__qword_ptr[Address(m)], R64[(int)s]); break;
        }
    }

    public void Xchg(Mem m, Reg s, int size)
    {
        switch (size)
        {
            case 1: _a.xchg(__byte_ptr[Address(m)], R8[(int)s]); break;
            case 2: _a.xchg(__word_ptr[Address(m)], R16[(int)s]); break;
            case 4: _a.xchg(__dword_ptr[Address(m)], R32[(int)s]); break;
            default: _a.xchg(__qword_ptr[Address(m)], R64[(int)s]); break;
        }
    }

    /// <summary>[m] = imm (sign-extended to 8 bytes for size 8).</summary>
    public void StoreImm(Mem m, int imm, int size)
    {
        switch (size)
        {
            case 1: _a.mov(__byte_ptr[Address(m)], (byte)imm); break;
            case 2: _a.mov(__word_ptr[Address(m)], (ushort)imm); break;
            case 4: _a.mov(__dword_ptr[Address(m)], imm); break;
            default: _a.mov(__qword_ptr[Address(m)], imm); break;
        }
    }

    public void Lea(Reg d, Mem m, bool w64 = true)
    {
        if (w64)
        {
            _a.lea(R64[(int)d], __[Address(m)]);
        }
        else
        {
            _a.lea(R32[(int)d], __[Address(m)]);
        }
    }

    /// <summary>d = zero-extended low <paramref name="fromSize"/> bytes (1, 2, 4) of s.</summary>
    public void Movzx(Reg d, Reg s, int fromSize)
    {
        switch (fromSize)
        {
            case 1: _a.movzx(R32[(int)d], R8[(int)s]); break;
            case 2: _a.movzx(R32[(int)d], R16[(int)s]); break;
            default: _a.mov(R32[(int)d], R32[(int)s]); break;
        }
    }

    /// <summary>d = sign-extended low <paramref name="fromSize"/> bytes (1, 2, 4) of s, to 32 or 64 bits.</summary>
    public void Movsx(Reg d, Reg s, int fromSize, bool w64)
    {
        switch (fromSize, w64)
        {
            case (1, false): _a.movsx(R32[(int)d], R8[(int)s]); break;
            case (1, true): _a.movsx(R64[(int)d], R8[(int)s]); break;
            case (2, false): _a.movsx(R32[(int)d], R16[(int)s]); break;
            case (2, true): _a.movsx(R64[(int)d], R16[(int)s]); break;
            case (4, true): _a.movsxd(R64[(int)d], R32[(int)s]); break;
            default: _a.mov(R32[(int)d], R32[(int)s]); break;
        }
    }

    // ---- arithmetic ----

    public void Alu(Alu op, Reg d, Reg s, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d], y = R64[(int)s];
            switch (op)
            {
                case AluOp.Add: _a.add(x, y); break;
                case AluOp.Or: _a.or(x, y); break;
                case AluOp.Adc: _a.adc(x, y); break;
                case AluOp.Sbb: _a.sbb(x, y); break;
                case AluOp.And: _a.and(x, y); break;
                case AluOp.Sub: _a.sub(x, y); break;
                case AluOp.Xor: _a.xor(x, y); break;
                default: _a.cmp(x, y); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d], y = R32[(int)s];
            switch (op)
            {
                case AluOp.Add: _a.add(x, y); break;
                case AluOp.Or: _a.or(x, y); break;
                case AluOp.Adc: _a.adc(x, y); break;
                case AluOp.Sbb: _a.sbb(x, y); break;
                case AluOp.And: _a.and(x, y); break;
                case AluOp.Sub: _a.sub(x, y); break;
                case AluOp.Xor: _a.xor(x, y); break;
                default: _a.cmp(x, y); break;
            }
        }
    }

    /// <summary>d = d op [m] (the operand size's bytes of m).</summary>
    public void AluMem(Alu op, Reg d, Mem m, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d];
            AssemblerMemoryOperand y = __qword_ptr[Address(m)];
            switch (op)
            {
                case AluOp.Add: _a.add(x, y); break;
                case AluOp.Or: _a.or(x, y); break;
                case AluOp.Adc: _a.adc(x, y); break;
                case AluOp.Sbb: _a.sbb(x, y); break;
                case AluOp.And: _a.and(x, y); break;
                case AluOp.Sub: _a.sub(x, y); break;
                case AluOp.Xor: _a.xor(x, y); break;
                default: _a.cmp(x, y); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d];
            AssemblerMemoryOperand y = __dword_ptr[Address(m)];
            switch (op)
            {
                case AluOp.Add: _a.add(x, y); break;
                case AluOp.Or: _a.or(x, y); break;
                case AluOp.Adc: _a.adc(x, y); break;
                case AluOp.Sbb: _a.sbb(x, y); break;
                case AluOp.And: _a.and(x, y); break;
                case AluOp.Sub: _a.sub(x, y); break;
                case AluOp.Xor: _a.xor(x, y); break;
                default: _a.cmp(x, y); break;
            }
        }
    }

    /// <summary>d = d op imm (sign-extended to 64 bits in the 64-bit form).</summary>
    public void AluImm(Alu op, Reg d, int imm, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d];
            switch (op)
            {
                case AluOp.Add: _a.add(x, imm); break;
                case AluOp.Or: _a.or(x, imm); break;
                case AluOp.Adc: _a.adc(x, imm); break;
                case AluOp.Sbb: _a.sbb(x, imm); break;
                case AluOp.And: _a.and(x, imm); break;
                case AluOp.Sub: _a.sub(x, imm); break;
                case AluOp.Xor: _a.xor(x, imm); break;
                default: _a.cmp(x, imm); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d];
            switch (op)
            {
                case AluOp.Add: _a.add(x, imm); break;
                case AluOp.Or: _a.or(x, imm); break;
                case AluOp.Adc: _a.adc(x, imm); break;
                case AluOp.Sbb: _a.sbb(x, imm); break;
                case AluOp.And: _a.and(x, imm); break;
                case AluOp.Sub: _a.sub(x, imm); break;
                case AluOp.Xor: _a.xor(x, imm); break;
                default: _a.cmp(x, imm); break;
            }
        }
    }

    /// <summary>[m] op= imm, on <paramref name="size"/> bytes (1, 4, 8; imm sign-extended for 8).</summary>
    public void AluMemImm(Alu op, Mem m, int imm, int size)
    {
        AssemblerMemoryOperand x = Sized(m, size);
        if (size == 1)
        {
            imm = (byte)imm;
        }

        switch (op)
        {
            case AluOp.Add: _a.add(x, imm); break;
            case AluOp.Or: _a.or(x, imm); break;
            case AluOp.Adc: _a.adc(x, imm); break;
            case AluOp.Sbb: _a.sbb(x, imm); break;
            case AluOp.And: _a.and(x, imm); break;
            case AluOp.Sub: _a.sub(x, imm); break;
            case AluOp.Xor: _a.xor(x, imm); break;
            default: _a.cmp(x, imm); break;
        }
    }

    /// <summary>lock cmpxchg [m], s of <paramref name="size"/> bytes.</summary>
    public void LockCmpxchg(Mem m, Reg s, int size)
    {
        switch (size)
        {
            case 1: _a.@lock.cmpxchg(__byte_ptr[Address(m)], R8[(int)s]); break;
            case 2: _a.@lock.cmpxchg(__word_ptr[Address(m)], R16[(int)s]); break;
            case 4: _a.@lock.cmpxchg(__dword_ptr[Address(m)], R32[(int)s]); break;
            default: _a.@lock.cmpxchg(__qword_ptr[Address(m)], R64[(int)s]); break;
        }
    }

    /// <summary>cmp [m], s (the operand size's bytes).</summary>
    public void CmpMemReg(Mem m, Reg s, bool w64)
    {
        if (w64)
        {
            _a.cmp(__qword_ptr[Address(m)], R64[(int)s]);
        }
        else
        {
            _a.cmp(__dword_ptr[Address(m)], R32[(int)s]);
        }
    }

    public void Test(Reg a, Reg b, bool w64)
    {
        if (w64)
        {
            _a.test(R64[(int)a], R64[(int)b]);
        }
        else
        {
            _a.test(R32[(int)a], R32[(int)b]);
        }
    }

    /// <summary>test a, imm (sign-extended to 64 bits in the 64-bit form).</summary>
    public void TestImm(Reg a, int imm, bool w64)
    {
        if (w64)
        {
            _a.test(R64[(int)a], imm);
        }
        else
        {
            _a.test(R32[(int)a], imm);
        }
    }

    public void ShiftImm(Shift op, Reg d, int count, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d];
            switch (op)
            {
                case ShiftOp.Rol: _a.rol(x, (byte)count); break;
                case ShiftOp.Ror: _a.ror(x, (byte)count); break;
                case ShiftOp.Shl: _a.shl(x, (byte)count); break;
                case ShiftOp.Shr: _a.shr(x, (byte)count); break;
                default: _a.sar(x, (byte)count); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d];
            switch (op)
            {
                case ShiftOp.Rol: _a.rol(x, (byte)count); break;
                case ShiftOp.Ror: _a.ror(x, (byte)count); break;
                case ShiftOp.Shl: _a.shl(x, (byte)count); break;
                case ShiftOp.Shr: _a.shr(x, (byte)count); break;
                default: _a.sar(x, (byte)count); break;
            }
        }
    }

    /// <summary>d = d shifted by cl (the count masked to 5 or 6 bits by the processor, as A64 masks it).</summary>
    public void ShiftCl(Shift op, Reg d, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d];
            switch (op)
            {
                case ShiftOp.Rol: _a.rol(x, cl); break;
                case ShiftOp.Ror: _a.ror(x, cl); break;
                case ShiftOp.Shl: _a.shl(x, cl); break;
                case ShiftOp.Shr: _a.shr(x, cl); break;
                default: _a.sar(x, cl); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d];
            switch (op)
            {
                case ShiftOp.Rol: _a.rol(x, cl); break;
                case ShiftOp.Ror: _a.ror(x, cl); break;
                case ShiftOp.Shl: _a.shl(x, cl); break;
                case ShiftOp.Shr: _a.shr(x, cl); break;
                default: _a.sar(x, cl); break;
            }
        }
    }

    /// <summary>d = d * s (low half).</summary>
    public void Imul(Reg d, Reg s, bool w64)
    {
        if (w64)
        {
            _a.imul(R64[(int)d], R64[(int)s]);
        }
        else
        {
            _a.imul(R32[(int)d], R32[(int)s]);
        }
    }

    /// <summary>rdx:rax = rax * s, unsigned (<paramref name="signed"/>: signed).</summary>
    public void MulWide(Reg s, bool signed, bool w64)
    {
        if (w64)
        {
            if (signed)
            {
                _a.imul(R64[(int)s]);
            }
            else
            {
                _a.mul(R64[(int)s]);
            }
        }
        else if (signed)
        {
            _a.imul(R32[(int)s]);
        }
        else
        {
            _a.mul(R32[(int)s]);
        }
    }

    /// <summary>rax = rdx:rax / s, rdx = remainder (<paramref name="signed"/>: idiv).</summary>
    public void Div(Reg s, bool signed, bool w64)
    {
        if (w64)
        {
            if (signed)
            {
                _a.idiv(R64[(int)s]);
            }
            else
            {
                _a.div(R64[(int)s]);
            }
        }
        else if (signed)
        {
            _a.idiv(R32[(int)s]);
        }
        else
        {
            _a.div(R32[(int)s]);
        }
    }

    /// <summary>rdx = sign of rax (cqo, or cdq for 32 bits).</summary>
    public void SignExtendRax(bool w64)
    {
        if (w64)
        {
            _a.cqo();
        }
        else
        {
            _a.cdq();
        }
    }

    public void Neg(Reg d, bool w64)
    {
        if (w64)
        {
            _a.neg(R64[(int)d]);
        }
        else
        {
            _a.neg(R32[(int)d]);
        }
    }

    public void Not(Reg d, bool w64)
    {
        if (w64)
        {
            _a.not(R64[(int)d]);
        }
        else
        {
            _a.not(R32[(int)d]);
        }
    }

    public void Bswap(Reg d, bool w64)
    {
        if (w64)
        {
            _a.bswap(R64[(int)d]);
        }
        else
        {
            _a.bswap(R32[(int)d]);
        }
    }

    public void Crc32(Reg d, Reg s, int size)
    {
        switch (size)
        {
            case 1: _a.crc32(R32[(int)d], R8[(int)s]); break;
            case 2: _a.crc32(R32[(int)d], R16[(int)s]); break;
            case 4: _a.crc32(R32[(int)d], R32[(int)s]); break;
            default: _a.crc32(R64[(int)d], R64[(int)s]); break;
        }
    }

    public void Lzcnt(Reg d, Reg s, bool w64)
    {
        if (w64)
        {
            _a.lzcnt(R64[(int)d], R64[(int)s]);
        }
        else
        {
            _a.lzcnt(R32[(int)d], R32[(int)s]);
        }
    }

    public void Bsr(Reg d, Reg s, bool w64)
    {
        if (w64)
        {
            _a.bsr(R64[(int)d], R64[(int)s]);
        }
        else
        {
            _a.bsr(R32[(int)d], R32[(int)s]);
        }
    }

    /// <summary>CF = bit <paramref name="bit"/> of r.</summary>
    public void Bt(Reg r, int bit, bool w64)
    {
        if (w64)
        {
            _a.bt(R64[(int)r], (byte)bit);
        }
        else
        {
            _a.bt(R32[(int)r], (byte)bit);
        }
    }

    /// <summary>btc r64, imm8.</summary>
    public void BtcImm(Reg r, int bit) => _a.btc(R64[(int)r], (byte)bit);

    /// <summary>CF = bit (b mod 32) of a.</summary>
    public void BtReg(Reg a, Reg b) => _a.bt(R32[(int)a], R32[(int)b]);

    public void MemoryFence() => _a.@lock.or(__dword_ptr[rsp], 0);

    public void Call(AsmLabel target) => throw new NotSupportedException();

    /// <summary>CF = NOT CF.</summary>
    public void Cmc() => _a.cmc();

    /// <summary>AH = SF:ZF:0:AF:0:PF:1:CF.</summary>
    public void Lahf() => _a.lahf();

    /// <summary>SF, ZF, AF, PF, CF = AH.</summary>
    public void Sahf() => _a.sahf();

    /// <summary>op on the low byte of a register with an 8-bit immediate (add al, 0x7f restores OF from AL).</summary>
    public void Alu8Imm(Alu op, Reg d, byte imm)
    {
        AssemblerRegister8 x = R8[(int)d];
        switch (op)
        {
            case AluOp.Add: _a.add(x, imm); break;
            case AluOp.Adc: _a.adc(x, imm); break;
            case AluOp.Sbb: _a.sbb(x, imm); break;
            case AluOp.And: _a.and(x, imm); break;
            case AluOp.Or: _a.or(x, imm); break;
            case AluOp.Xor: _a.xor(x, imm); break;
            case AluOp.Sub: _a.sub(x, imm); break;
            default: _a.cmp(x, imm); break;
        }
    }

    /// <summary>test [m], imm on <paramref name="size"/> bytes (4 or 8; imm sign-extended for 8).</summary>
    public void TestMemImm(Mem m, int imm, int size)
    {
        if (size == 8)
        {
            _a.test(__qword_ptr[Address(m)], imm);
        }
        else
        {
            _a.test(__dword_ptr[Address(m)], imm);
        }
    }

    public void Setcc(Cc cc, Reg d)
    {
        AssemblerRegister8 r = R8[(int)d];
        switch (cc)
        {
            case Cc.O: _a.seto(r); break;
            case Cc.NO: _a.setno(r); break;
            case Cc.B: _a.setb(r); break;
            case Cc.AE: _a.setae(r); break;
            case Cc.E: _a.sete(r); break;
            case Cc.NE: _a.setne(r); break;
            case Cc.BE: _a.setbe(r); break;
            case Cc.A: _a.seta(r); break;
            case Cc.S: _a.sets(r); break;
            case Cc.NS: _a.setns(r); break;
            case Cc.P: _a.setp(r); break;
            case Cc.NP: _a.setnp(r); break;
            case Cc.L: _a.setl(r); break;
            case Cc.GE: _a.setge(r); break;
            case Cc.LE: _a.setle(r); break;
            default: _a.setg(r); break;
        }
    }

    public void Cmov(Cc cc, Reg d, Reg s, bool w64)
    {
        if (w64)
        {
            AssemblerRegister64 x = R64[(int)d], y = R64[(int)s];
            switch (cc)
            {
                case Cc.O: _a.cmovo(x, y); break;
                case Cc.NO: _a.cmovno(x, y); break;
                case Cc.B: _a.cmovb(x, y); break;
                case Cc.AE: _a.cmovae(x, y); break;
                case Cc.E: _a.cmove(x, y); break;
                case Cc.NE: _a.cmovne(x, y); break;
                case Cc.BE: _a.cmovbe(x, y); break;
                case Cc.A: _a.cmova(x, y); break;
                case Cc.S: _a.cmovs(x, y); break;
                case Cc.NS: _a.cmovns(x, y); break;
                case Cc.P: _a.cmovp(x, y); break;
                case Cc.NP: _a.cmovnp(x, y); break;
                case Cc.L: _a.cmovl(x, y); break;
                case Cc.GE: _a.cmovge(x, y); break;
                case Cc.LE: _a.cmovle(x, y); break;
                default: _a.cmovg(x, y); break;
            }
        }
        else
        {
            AssemblerRegister32 x = R32[(int)d], y = R32[(int)s];
            switch (cc)
            {
                case Cc.O: _a.cmovo(x, y); break;
                case Cc.NO: _a.cmovno(x, y); break;
                case Cc.B: _a.cmovb(x, y); break;
                case Cc.AE: _a.cmovae(x, y); break;
                case Cc.E: _a.cmove(x, y); break;
                case Cc.NE: _a.cmovne(x, y); break;
                case Cc.BE: _a.cmovbe(x, y); break;
                case Cc.A: _a.cmova(x, y); break;
                case Cc.S: _a.cmovs(x, y); break;
                case Cc.NS: _a.cmovns(x, y); break;
                case Cc.P: _a.cmovp(x, y); break;
                case Cc.NP: _a.cmovnp(x, y); break;
                case Cc.L: _a.cmovl(x, y); break;
                case Cc.GE: _a.cmovge(x, y); break;
                case Cc.LE: _a.cmovle(x, y); break;
                default: _a.cmovg(x, y); break;
            }
        }
    }

    // ---- control flow ----

    public void Jcc(Cc cc, AsmLabel target)
    {
        Label l = _labels[target.Id];
        switch (cc)
        {
            case Cc.O: _a.jo(l); break;
            case Cc.NO: _a.jno(l); break;
            case Cc.B: _a.jb(l); break;
            case Cc.AE: _a.jae(l); break;
            case Cc.E: _a.je(l); break;
            case Cc.NE: _a.jne(l); break;
            case Cc.BE: _a.jbe(l); break;
            case Cc.A: _a.ja(l); break;
            case Cc.S: _a.js(l); break;
            case Cc.NS: _a.jns(l); break;
            case Cc.P: _a.jp(l); break;
            case Cc.NP: _a.jnp(l); break;
            case Cc.L: _a.jl(l); break;
            case Cc.GE: _a.jge(l); break;
            case Cc.LE: _a.jle(l); break;
            default: _a.jg(l); break;
        }
    }

    public void Jmp(AsmLabel target) => _a.jmp(_labels[target.Id]);

    /// <summary>jmp to an absolute address (rel32: within 2 GiB of the code).</summary>
    public void JmpAbsolute(ulong target) => _a.jmp(target);

    /// <summary>jmp qword [slot], the slot addressed RIP-relative (within 2 GiB of the code).</summary>
    public void JmpThroughSlot(ulong slot) =>
        _a.AddInstruction(Instruction.Create(Code.Jmp_rm64, new MemoryOperand(Register.RIP, (long)slot)));

    public void JmpMem(Mem m) => _a.jmp(__qword_ptr[Address(m)]);

    public void JmpReg(Reg r) => _a.jmp(R64[(int)r]);

    public void CallMem(Mem m) => _a.call(__qword_ptr[Address(m)]);

    public void Push(Reg r) => _a.push(R64[(int)r]);

    public void Pop(Reg r) => _a.pop(R64[(int)r]);

    public void Ret() => _a.ret();

    public void Int3() => _a.int3();

    /// <summary>An 8-byte data word (a link slot's first value, for example).</summary>
    public void DataQword(ulong value) => _a.dq(value);

    /// <summary>Collects the encoded bytes in a fixed buffer, noting when they would not fit.</summary>
    private sealed class BufferWriter(byte* buffer, int capacity) : CodeWriter
    {
        public int Length { get; private set; }

        public bool Overflowed { get; private set; }

        public override void WriteByte(byte value)
        {
            if (Length < capacity)
            {
                buffer[Length] = value;
            }
            else
            {
                Overflowed = true;
            }

            Length++;
        }
    }
}
