using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// Generates random sequences of user-mode integer instructions (64-bit mode) with Iced's assembler.
/// Memory operands address the data page through R15; RSP points into the same page; RSP and R15
/// are never written. Flags the SDM leaves undefined (Iced's RflagsUndefined) are tracked through
/// the sequence: an instruction that would read one is re-drawn, and they are masked at the end.
///
/// Do-not-test list (why):
///  - LZCNT: the host has no ABM/LZCNT, so the bytes execute as BSR there.
///  - TZCNT, ANDN and other BMI: not advertised by the model's CPUID.
///  - SHLD/SHRD with 16-bit operands: the result is undefined for counts above 16.
///  - BSWAP r16: undefined.
///  - POPF/STD/CLD: they change TF/AC/DF, which affect the harness itself.
///  - Branches, string instructions, stack pivots: flow and addressing are covered by the unit tests
///    and guests; here every sequence runs straight through.
///  - BT* with a register bit offset on memory: the offset can address far outside the data page.
///  - System and privileged instructions, LOCK prefixes (no atomicity to compare); x87/SSE have their own
///    generator (SseDiffGenerator, run by SseDifferentialTests with the harness's -s mode).
/// </summary>
internal static class DiffGenerator
{
    private static readonly AssemblerRegister64[] R64 = [rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14];
    private static readonly AssemblerRegister32[] R32 = [eax, ecx, edx, ebx, ebp, esi, edi, r8d, r9d, r10d, r11d, r12d, r13d, r14d];
    private static readonly AssemblerRegister16[] R16 = [ax, cx, dx, bx, bp, si, di, r8w, r9w, r10w, r11w, r12w, r13w, r14w];
    private static readonly AssemblerRegister8[] R8 = [al, cl, dl, bl, bpl, sil, dil, r8b, r9b, r10b, r11b, r12b, r13b, r14b];
    private static readonly AssemblerRegister8[] R8Legacy = [al, cl, dl, bl, ah, ch, dh, bh];

    private const int Templates = 40;

    public static byte[] Generate(int index, out (ulong Offset, ulong Mask)[] masks)
    {
        var rng = new Random(index);
        int count = 1 + rng.Next(12);
        var code = new List<byte>();
        var boundaries = new List<(ulong, ulong)>();
        ulong undefined = 0;
        for (int n = 0; n < count; n++)
        {
            for (int attempt = 0; attempt < 50; attempt++)
            {
                byte[]? bytes = TryEmit(rng);
                if (bytes is null)
                {
                    continue;
                }

                var d = Decoder.Create(64, new ByteArrayCodeReader(bytes));
                d.IP = DiffCase.CodeAddress;
                d.Decode(out var insn);
                if (insn.IsInvalid || insn.Length != bytes.Length)
                {
                    continue;
                }

                ulong read = (ulong)ToRflags(insn.RflagsRead);
                if ((read & undefined) != 0)
                {
                    continue;
                }

                ulong modified = (ulong)ToRflags(insn.RflagsModified);
                ulong undef = (ulong)ToRflags(insn.RflagsUndefined);
                bool countMayBeZero = insn.Mnemonic is Mnemonic.Shl or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror
                    or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd
                    && (insn.GetOpKind(insn.OpCount - 1) == OpKind.Register);
                boundaries.Add(((ulong)code.Count, 0x8D5UL & ~undefined));
                undefined = countMayBeZero ? undefined | undef | modified : (undefined & ~modified) | undef;
                code.AddRange(bytes);
                break;
            }
        }

        boundaries.Add(((ulong)code.Count, 0x8D5UL & ~undefined));
        masks = [.. boundaries];
        return [.. code];
    }

    private static ulong ToRflags(RflagsBits b)
    {
        ulong r = 0;
        if ((b & RflagsBits.OF) != 0) r |= 0x800;
        if ((b & RflagsBits.SF) != 0) r |= 0x80;
        if ((b & RflagsBits.ZF) != 0) r |= 0x40;
        if ((b & RflagsBits.AF) != 0) r |= 0x10;
        if ((b & RflagsBits.CF) != 0) r |= 0x1;
        if ((b & RflagsBits.PF) != 0) r |= 0x4;
        if ((b & RflagsBits.DF) != 0) r |= 0x400;
        if ((b & RflagsBits.IF) != 0) r |= 0x200;
        if ((b & RflagsBits.AC) != 0) r |= 0x40000;
        return r;
    }

    private static T Pick<T>(Random r, T[] a) => a[r.Next(a.Length)];

    private static AssemblerMemoryOperand Mem(Random r, int size)
    {
        int d = r.Next(-64, 64);
        var m = r15 + d;
        return size switch
        {
            1 => __byte_ptr[m],
            2 => __word_ptr[m],
            4 => __dword_ptr[m],
            _ => __qword_ptr[m],
        };
    }

    private static byte[]? TryEmit(Random r)
    {
        var a = new Assembler(64);
        int size = r.Next(4) switch { 0 => 1, 1 => 2, 2 => 4, _ => 8 };
        int t = r.Next(Templates);
        try
        {
            Emit(a, r, t, size);
            var ms = new MemoryStream();
            a.Assemble(new StreamCodeWriter(ms), DiffCase.CodeAddress);
            return ms.ToArray();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EncoderException)
        {
            return null;
        }
    }

    private static int Imm(Random r, int size) => size == 1 ? r.Next(-128, 128) : r.Next(4) == 0 ? r.Next(-128, 128) : r.Next();

    private static void Alu(Assembler a, int op, Random r, int size, int form)
    {
        // form 0: r,r  1: r,imm  2: r,m  3: m,r  4: m,imm
        var mem = Mem(r, size);
        int imm = Imm(r, size);
        switch (size)
        {
            case 1:
            {
                bool legacy = r.Next(4) == 0;
                var x = legacy ? Pick(r, R8Legacy) : Pick(r, R8);
                var y = legacy ? Pick(r, R8Legacy) : Pick(r, R8);
                switch ((op, form))
                {
                    case (_, 0): Alu8(a, op, x, y); break;
                    case (_, 1): Alu8i(a, op, x, imm); break;
                    case (_, 2): Alu8m(a, op, x, mem); break;
                    case (_, 3): Alu8mr(a, op, mem, x); break;
                    default: Alu8mi(a, op, mem, imm); break;
                }

                break;
            }

            case 2:
            {
                var x = Pick(r, R16);
                var y = Pick(r, R16);
                imm = (short)imm;
                switch (form)
                {
                    case 0: Alu16(a, op, x, y); break;
                    case 1: Alu16i(a, op, x, imm); break;
                    case 2: Alu16m(a, op, x, mem); break;
                    case 3: Alu16mr(a, op, mem, x); break;
                    default: Alu16mi(a, op, mem, imm); break;
                }

                break;
            }

            case 4:
            {
                var x = Pick(r, R32);
                var y = Pick(r, R32);
                switch (form)
                {
                    case 0: Alu32(a, op, x, y); break;
                    case 1: Alu32i(a, op, x, imm); break;
                    case 2: Alu32m(a, op, x, mem); break;
                    case 3: Alu32mr(a, op, mem, x); break;
                    default: Alu32mi(a, op, mem, imm); break;
                }

                break;
            }

            default:
            {
                var x = Pick(r, R64);
                var y = Pick(r, R64);
                switch (form)
                {
                    case 0: Alu64(a, op, x, y); break;
                    case 1: Alu64i(a, op, x, imm); break;
                    case 2: Alu64m(a, op, x, mem); break;
                    case 3: Alu64mr(a, op, mem, x); break;
                    default: Alu64mi(a, op, mem, imm); break;
                }

                break;
            }
        }
    }

    // op: 0 add 1 or 2 adc 3 sbb 4 and 5 sub 6 xor 7 cmp 8 test
    private static void Alu8(Assembler a, int op, AssemblerRegister8 x, AssemblerRegister8 y)
    {
        switch (op) { case 0: a.add(x, y); break; case 1: a.or(x, y); break; case 2: a.adc(x, y); break; case 3: a.sbb(x, y); break; case 4: a.and(x, y); break; case 5: a.sub(x, y); break; case 6: a.xor(x, y); break; case 7: a.cmp(x, y); break; default: a.test(x, y); break; }
    }

    private static void Alu8i(Assembler a, int op, AssemblerRegister8 x, int i)
    {
        switch (op) { case 0: a.add(x, (sbyte)i); break; case 1: a.or(x, (sbyte)i); break; case 2: a.adc(x, (sbyte)i); break; case 3: a.sbb(x, (sbyte)i); break; case 4: a.and(x, (sbyte)i); break; case 5: a.sub(x, (sbyte)i); break; case 6: a.xor(x, (sbyte)i); break; case 7: a.cmp(x, (sbyte)i); break; default: a.test(x, (sbyte)i); break; }
    }

    private static void Alu8m(Assembler a, int op, AssemblerRegister8 x, AssemblerMemoryOperand m)
    {
        switch (op) { case 0: a.add(x, m); break; case 1: a.or(x, m); break; case 2: a.adc(x, m); break; case 3: a.sbb(x, m); break; case 4: a.and(x, m); break; case 5: a.sub(x, m); break; case 6: a.xor(x, m); break; case 7: a.cmp(x, m); break; default: a.test(m, x); break; }
    }

    private static void Alu8mr(Assembler a, int op, AssemblerMemoryOperand m, AssemblerRegister8 x)
    {
        switch (op) { case 0: a.add(m, x); break; case 1: a.or(m, x); break; case 2: a.adc(m, x); break; case 3: a.sbb(m, x); break; case 4: a.and(m, x); break; case 5: a.sub(m, x); break; case 6: a.xor(m, x); break; case 7: a.cmp(m, x); break; default: a.test(m, x); break; }
    }

    private static void Alu8mi(Assembler a, int op, AssemblerMemoryOperand m, int i)
    {
        switch (op) { case 0: a.add(m, i); break; case 1: a.or(m, i); break; case 2: a.adc(m, i); break; case 3: a.sbb(m, i); break; case 4: a.and(m, i); break; case 5: a.sub(m, i); break; case 6: a.xor(m, i); break; case 7: a.cmp(m, i); break; default: a.test(m, i); break; }
    }

    private static void Alu16(Assembler a, int op, AssemblerRegister16 x, AssemblerRegister16 y)
    {
        switch (op) { case 0: a.add(x, y); break; case 1: a.or(x, y); break; case 2: a.adc(x, y); break; case 3: a.sbb(x, y); break; case 4: a.and(x, y); break; case 5: a.sub(x, y); break; case 6: a.xor(x, y); break; case 7: a.cmp(x, y); break; default: a.test(x, y); break; }
    }

    private static void Alu16i(Assembler a, int op, AssemblerRegister16 x, int i)
    {
        switch (op) { case 0: a.add(x, (short)i); break; case 1: a.or(x, (short)i); break; case 2: a.adc(x, (short)i); break; case 3: a.sbb(x, (short)i); break; case 4: a.and(x, (short)i); break; case 5: a.sub(x, (short)i); break; case 6: a.xor(x, (short)i); break; case 7: a.cmp(x, (short)i); break; default: a.test(x, (short)i); break; }
    }

    private static void Alu16m(Assembler a, int op, AssemblerRegister16 x, AssemblerMemoryOperand m)
    {
        switch (op) { case 0: a.add(x, m); break; case 1: a.or(x, m); break; case 2: a.adc(x, m); break; case 3: a.sbb(x, m); break; case 4: a.and(x, m); break; case 5: a.sub(x, m); break; case 6: a.xor(x, m); break; case 7: a.cmp(x, m); break; default: a.test(m, x); break; }
    }

    private static void Alu16mr(Assembler a, int op, AssemblerMemoryOperand m, AssemblerRegister16 x)
    {
        switch (op) { case 0: a.add(m, x); break; case 1: a.or(m, x); break; case 2: a.adc(m, x); break; case 3: a.sbb(m, x); break; case 4: a.and(m, x); break; case 5: a.sub(m, x); break; case 6: a.xor(m, x); break; case 7: a.cmp(m, x); break; default: a.test(m, x); break; }
    }

    private static void Alu16mi(Assembler a, int op, AssemblerMemoryOperand m, int i)
    {
        switch (op) { case 0: a.add(m, i); break; case 1: a.or(m, i); break; case 2: a.adc(m, i); break; case 3: a.sbb(m, i); break; case 4: a.and(m, i); break; case 5: a.sub(m, i); break; case 6: a.xor(m, i); break; case 7: a.cmp(m, i); break; default: a.test(m, i); break; }
    }

    private static void Alu32(Assembler a, int op, AssemblerRegister32 x, AssemblerRegister32 y)
    {
        switch (op) { case 0: a.add(x, y); break; case 1: a.or(x, y); break; case 2: a.adc(x, y); break; case 3: a.sbb(x, y); break; case 4: a.and(x, y); break; case 5: a.sub(x, y); break; case 6: a.xor(x, y); break; case 7: a.cmp(x, y); break; default: a.test(x, y); break; }
    }

    private static void Alu32i(Assembler a, int op, AssemblerRegister32 x, int i)
    {
        switch (op) { case 0: a.add(x, i); break; case 1: a.or(x, i); break; case 2: a.adc(x, i); break; case 3: a.sbb(x, i); break; case 4: a.and(x, i); break; case 5: a.sub(x, i); break; case 6: a.xor(x, i); break; case 7: a.cmp(x, i); break; default: a.test(x, i); break; }
    }

    private static void Alu32m(Assembler a, int op, AssemblerRegister32 x, AssemblerMemoryOperand m)
    {
        switch (op) { case 0: a.add(x, m); break; case 1: a.or(x, m); break; case 2: a.adc(x, m); break; case 3: a.sbb(x, m); break; case 4: a.and(x, m); break; case 5: a.sub(x, m); break; case 6: a.xor(x, m); break; case 7: a.cmp(x, m); break; default: a.test(m, x); break; }
    }

    private static void Alu32mr(Assembler a, int op, AssemblerMemoryOperand m, AssemblerRegister32 x)
    {
        switch (op) { case 0: a.add(m, x); break; case 1: a.or(m, x); break; case 2: a.adc(m, x); break; case 3: a.sbb(m, x); break; case 4: a.and(m, x); break; case 5: a.sub(m, x); break; case 6: a.xor(m, x); break; case 7: a.cmp(m, x); break; default: a.test(m, x); break; }
    }

    private static void Alu32mi(Assembler a, int op, AssemblerMemoryOperand m, int i)
    {
        switch (op) { case 0: a.add(m, i); break; case 1: a.or(m, i); break; case 2: a.adc(m, i); break; case 3: a.sbb(m, i); break; case 4: a.and(m, i); break; case 5: a.sub(m, i); break; case 6: a.xor(m, i); break; case 7: a.cmp(m, i); break; default: a.test(m, i); break; }
    }

    private static void Alu64(Assembler a, int op, AssemblerRegister64 x, AssemblerRegister64 y)
    {
        switch (op) { case 0: a.add(x, y); break; case 1: a.or(x, y); break; case 2: a.adc(x, y); break; case 3: a.sbb(x, y); break; case 4: a.and(x, y); break; case 5: a.sub(x, y); break; case 6: a.xor(x, y); break; case 7: a.cmp(x, y); break; default: a.test(x, y); break; }
    }

    private static void Alu64i(Assembler a, int op, AssemblerRegister64 x, int i)
    {
        switch (op) { case 0: a.add(x, i); break; case 1: a.or(x, i); break; case 2: a.adc(x, i); break; case 3: a.sbb(x, i); break; case 4: a.and(x, i); break; case 5: a.sub(x, i); break; case 6: a.xor(x, i); break; case 7: a.cmp(x, i); break; default: a.test(x, i); break; }
    }

    private static void Alu64m(Assembler a, int op, AssemblerRegister64 x, AssemblerMemoryOperand m)
    {
        switch (op) { case 0: a.add(x, m); break; case 1: a.or(x, m); break; case 2: a.adc(x, m); break; case 3: a.sbb(x, m); break; case 4: a.and(x, m); break; case 5: a.sub(x, m); break; case 6: a.xor(x, m); break; case 7: a.cmp(x, m); break; default: a.test(m, x); break; }
    }

    private static void Alu64mr(Assembler a, int op, AssemblerMemoryOperand m, AssemblerRegister64 x)
    {
        switch (op) { case 0: a.add(m, x); break; case 1: a.or(m, x); break; case 2: a.adc(m, x); break; case 3: a.sbb(m, x); break; case 4: a.and(m, x); break; case 5: a.sub(m, x); break; case 6: a.xor(m, x); break; case 7: a.cmp(m, x); break; default: a.test(m, x); break; }
    }

    private static void Alu64mi(Assembler a, int op, AssemblerMemoryOperand m, int i)
    {
        switch (op) { case 0: a.add(m, i); break; case 1: a.or(m, i); break; case 2: a.adc(m, i); break; case 3: a.sbb(m, i); break; case 4: a.and(m, i); break; case 5: a.sub(m, i); break; case 6: a.xor(m, i); break; case 7: a.cmp(m, i); break; default: a.test(m, i); break; }
    }

    private static void Unary(Assembler a, Random r, int size, int op, bool memory)
    {
        // op: 0 inc 1 dec 2 neg 3 not 4 mul 5 imul 6 div 7 idiv
        if (memory)
        {
            var m = Mem(r, size);
            switch (op) { case 0: a.inc(m); break; case 1: a.dec(m); break; case 2: a.neg(m); break; case 3: a.not(m); break; case 4: a.mul(m); break; case 5: a.imul(m); break; case 6: a.div(m); break; default: a.idiv(m); break; }
            return;
        }

        switch (size)
        {
            case 1: { var x = Pick(r, R8Legacy); switch (op) { case 0: a.inc(x); break; case 1: a.dec(x); break; case 2: a.neg(x); break; case 3: a.not(x); break; case 4: a.mul(x); break; case 5: a.imul(x); break; case 6: a.div(x); break; default: a.idiv(x); break; } break; }
            case 2: { var x = Pick(r, R16); switch (op) { case 0: a.inc(x); break; case 1: a.dec(x); break; case 2: a.neg(x); break; case 3: a.not(x); break; case 4: a.mul(x); break; case 5: a.imul(x); break; case 6: a.div(x); break; default: a.idiv(x); break; } break; }
            case 4: { var x = Pick(r, R32); switch (op) { case 0: a.inc(x); break; case 1: a.dec(x); break; case 2: a.neg(x); break; case 3: a.not(x); break; case 4: a.mul(x); break; case 5: a.imul(x); break; case 6: a.div(x); break; default: a.idiv(x); break; } break; }
            default: { var x = Pick(r, R64); switch (op) { case 0: a.inc(x); break; case 1: a.dec(x); break; case 2: a.neg(x); break; case 3: a.not(x); break; case 4: a.mul(x); break; case 5: a.imul(x); break; case 6: a.div(x); break; default: a.idiv(x); break; } break; }
        }
    }

    private static void Shift(Assembler a, Random r, int size, int op, int form)
    {
        // op: 0 shl 1 shr 2 sar 3 rol 4 ror 5 rcl 6 rcr; form: 0 by 1, 1 by imm8, 2 by cl, 3 memory by imm8
        int max = size == 8 ? 63 : 31;
        int imm = form == 0 ? 1 : 1 + r.Next(max);
        if (form == 3)
        {
            var m = Mem(r, size);
            switch (op) { case 0: a.shl(m, (byte)imm); break; case 1: a.shr(m, (byte)imm); break; case 2: a.sar(m, (byte)imm); break; case 3: a.rol(m, (byte)imm); break; case 4: a.ror(m, (byte)imm); break; case 5: a.rcl(m, (byte)imm); break; default: a.rcr(m, (byte)imm); break; }
            return;
        }

        switch (size)
        {
            case 1:
            {
                var x = Pick(r, R8);
                if (form == 2) { switch (op) { case 0: a.shl(x, cl); break; case 1: a.shr(x, cl); break; case 2: a.sar(x, cl); break; case 3: a.rol(x, cl); break; case 4: a.ror(x, cl); break; case 5: a.rcl(x, cl); break; default: a.rcr(x, cl); break; } }
                else { switch (op) { case 0: a.shl(x, (byte)imm); break; case 1: a.shr(x, (byte)imm); break; case 2: a.sar(x, (byte)imm); break; case 3: a.rol(x, (byte)imm); break; case 4: a.ror(x, (byte)imm); break; case 5: a.rcl(x, (byte)imm); break; default: a.rcr(x, (byte)imm); break; } }
                break;
            }

            case 2:
            {
                var x = Pick(r, R16);
                if (form == 2) { switch (op) { case 0: a.shl(x, cl); break; case 1: a.shr(x, cl); break; case 2: a.sar(x, cl); break; case 3: a.rol(x, cl); break; case 4: a.ror(x, cl); break; case 5: a.rcl(x, cl); break; default: a.rcr(x, cl); break; } }
                else { switch (op) { case 0: a.shl(x, (byte)imm); break; case 1: a.shr(x, (byte)imm); break; case 2: a.sar(x, (byte)imm); break; case 3: a.rol(x, (byte)imm); break; case 4: a.ror(x, (byte)imm); break; case 5: a.rcl(x, (byte)imm); break; default: a.rcr(x, (byte)imm); break; } }
                break;
            }

            case 4:
            {
                var x = Pick(r, R32);
                if (form == 2) { switch (op) { case 0: a.shl(x, cl); break; case 1: a.shr(x, cl); break; case 2: a.sar(x, cl); break; case 3: a.rol(x, cl); break; case 4: a.ror(x, cl); break; case 5: a.rcl(x, cl); break; default: a.rcr(x, cl); break; } }
                else { switch (op) { case 0: a.shl(x, (byte)imm); break; case 1: a.shr(x, (byte)imm); break; case 2: a.sar(x, (byte)imm); break; case 3: a.rol(x, (byte)imm); break; case 4: a.ror(x, (byte)imm); break; case 5: a.rcl(x, (byte)imm); break; default: a.rcr(x, (byte)imm); break; } }
                break;
            }

            default:
            {
                var x = Pick(r, R64);
                if (form == 2) { switch (op) { case 0: a.shl(x, cl); break; case 1: a.shr(x, cl); break; case 2: a.sar(x, cl); break; case 3: a.rol(x, cl); break; case 4: a.ror(x, cl); break; case 5: a.rcl(x, cl); break; default: a.rcr(x, cl); break; } }
                else { switch (op) { case 0: a.shl(x, (byte)imm); break; case 1: a.shr(x, (byte)imm); break; case 2: a.sar(x, (byte)imm); break; case 3: a.rol(x, (byte)imm); break; case 4: a.ror(x, (byte)imm); break; case 5: a.rcl(x, (byte)imm); break; default: a.rcr(x, (byte)imm); break; } }
                break;
            }
        }
    }

    private static void Emit(Assembler a, Random r, int t, int size)
    {
        switch (t)
        {
            case < 12:
                Alu(a, r.Next(9), r, size, r.Next(5));
                break;
            case < 15:
                Unary(a, r, size, r.Next(4), r.Next(3) == 0);
                break;
            case < 18:
                Unary(a, r, size, 4 + r.Next(4), r.Next(4) == 0);
                break;
            case < 23:
                Shift(a, r, size, r.Next(7), r.Next(4));
                break;
            case 23:
            {
                bool left = r.Next(2) == 0;
                bool byCl = r.Next(2) == 0;
                int imm = 1 + r.Next(size == 8 ? 63 : 31);
                if (size == 8)
                {
                    var x = Pick(r, R64); var y = Pick(r, R64);
                    if (left) { if (byCl) a.shld(x, y, cl); else a.shld(x, y, (byte)imm); } else { if (byCl) a.shrd(x, y, cl); else a.shrd(x, y, (byte)imm); }
                }
                else
                {
                    var x = Pick(r, R32); var y = Pick(r, R32);
                    if (left) { if (byCl) a.shld(x, y, cl); else a.shld(x, y, (byte)imm); } else { if (byCl) a.shrd(x, y, cl); else a.shrd(x, y, (byte)imm); }
                }

                break;
            }

            case 24:
            {
                // two- and three-operand IMUL
                int imm = Imm(r, 4);
                switch (size)
                {
                    case 8: { var x = Pick(r, R64); if (r.Next(2) == 0) a.imul(x, Pick(r, R64)); else a.imul(x, Pick(r, R64), imm); break; }
                    case 4: { var x = Pick(r, R32); if (r.Next(2) == 0) a.imul(x, Mem(r, 4)); else a.imul(x, Pick(r, R32), imm); break; }
                    default: { var x = Pick(r, R16); if (r.Next(2) == 0) a.imul(x, Pick(r, R16)); else a.imul(x, Pick(r, R16), (short)imm); break; }
                }

                break;
            }

            case 25:
            {
                // MOV in all forms
                switch (size)
                {
                    case 1: if (r.Next(2) == 0) a.mov(Pick(r, R8), Mem(r, 1)); else a.mov(Mem(r, 1), Pick(r, R8)); break;
                    case 2: if (r.Next(2) == 0) a.mov(Pick(r, R16), Pick(r, R16)); else a.mov(Mem(r, 2), (short)Imm(r, 2)); break;
                    case 4: if (r.Next(2) == 0) a.mov(Pick(r, R32), Imm(r, 4)); else a.mov(Pick(r, R32), Mem(r, 4)); break;
                    default: if (r.Next(2) == 0) a.mov(Pick(r, R64), r.NextInt64(long.MinValue, long.MaxValue)); else a.mov(Mem(r, 8), Pick(r, R64)); break;
                }

                break;
            }

            case 26:
            {
                var src8 = Pick(r, R8);
                var src16 = Pick(r, R16);
                switch (r.Next(6))
                {
                    case 0: a.movzx(Pick(r, R32), src8); break;
                    case 1: a.movsx(Pick(r, R64), src16); break;
                    case 2: a.movsx(Pick(r, R16), Mem(r, 1)); break;
                    case 3: a.movsxd(Pick(r, R64), Pick(r, R32)); break;
                    case 4: a.movzx(Pick(r, R64), Mem(r, 2)); break;
                    default: a.movsx(Pick(r, R32), src8); break;
                }

                break;
            }

            case 27:
            {
                var b = Pick(r, R64);
                var x = Pick(r, R64);
                int d = r.Next(-1000, 1000);
                int scale = 1 << r.Next(4);
                if (r.Next(2) == 0) a.lea(Pick(r, R64), __[b + x * scale + d]); else a.lea(Pick(r, R32), __[b + x * scale + d]);
                break;
            }

            case 28:
            {
                switch (size)
                {
                    case 8: if (r.Next(2) == 0) a.xchg(Pick(r, R64), Pick(r, R64)); else a.xchg(Mem(r, 8), Pick(r, R64)); break;
                    case 4: if (r.Next(2) == 0) a.xadd(Pick(r, R32), Pick(r, R32)); else a.xadd(Mem(r, 4), Pick(r, R32)); break;
                    case 2: if (r.Next(2) == 0) a.cmpxchg(Pick(r, R16), Pick(r, R16)); else a.cmpxchg(Mem(r, 2), Pick(r, R16)); break;
                    default: if (r.Next(2) == 0) a.cmpxchg(Pick(r, R8), Pick(r, R8)); else a.xadd(Mem(r, 1), Pick(r, R8)); break;
                }

                break;
            }

            case 29:
            {
                int cc = r.Next(16);
                if (r.Next(2) == 0)
                {
                    if (size == 8) Cmov64(a, cc, Pick(r, R64), Pick(r, R64));
                    else Cmov32(a, cc, Pick(r, R32), Mem(r, 4));
                }
                else
                {
                    Setcc(a, cc, Pick(r, R8));
                }

                break;
            }

            case 30:
            {
                switch (r.Next(4))
                {
                    case 0: a.bswap(Pick(r, R32)); break;
                    case 1: a.bswap(Pick(r, R64)); break;
                    case 2: a.movbe(Pick(r, R32), Mem(r, 4)); break;
                    default: a.movbe(Mem(r, 8), Pick(r, R64)); break;
                }

                break;
            }

            case 31:
            {
                int op = r.Next(4);
                int bit = r.Next(64);
                switch (r.Next(3))
                {
                    case 0: { var x = Pick(r, R64); var y = Pick(r, R64); switch (op) { case 0: a.bt(x, y); break; case 1: a.bts(x, y); break; case 2: a.btr(x, y); break; default: a.btc(x, y); break; } break; }
                    case 1: { var x = Pick(r, R32); switch (op) { case 0: a.bt(x, (byte)bit); break; case 1: a.bts(x, (byte)bit); break; case 2: a.btr(x, (byte)bit); break; default: a.btc(x, (byte)bit); break; } break; }
                    default: { var m = Mem(r, 2); switch (op) { case 0: a.bt(m, (byte)bit); break; case 1: a.bts(m, (byte)bit); break; case 2: a.btr(m, (byte)bit); break; default: a.btc(m, (byte)bit); break; } break; }
                }

                break;
            }

            case 32:
            {
                switch (r.Next(5))
                {
                    case 0: a.bsf(Pick(r, R64), Pick(r, R64)); break;
                    case 1: a.bsr(Pick(r, R32), Pick(r, R32)); break;
                    case 2: a.bsf(Pick(r, R16), Mem(r, 2)); break;
                    case 3: a.popcnt(Pick(r, R64), Pick(r, R64)); break;
                    default: a.popcnt(Pick(r, R32), Mem(r, 4)); break;
                }

                break;
            }

            case 33:
            {
                switch (r.Next(10))
                {
                    case 0: a.cbw(); break;
                    case 1: a.cwde(); break;
                    case 2: a.cdqe(); break;
                    case 3: a.cwd(); break;
                    case 4: a.cdq(); break;
                    case 5: a.cqo(); break;
                    case 6: a.clc(); break;
                    case 7: a.stc(); break;
                    case 8: a.cmc(); break;
                    default: if (r.Next(2) == 0) a.lahf(); else a.sahf(); break;
                }

                break;
            }

            case 34:
            {
                switch (r.Next(4))
                {
                    case 0: a.push(Pick(r, R64)); break;
                    case 1: a.pop(Pick(r, R64)); break;
                    case 2: a.pushfq(); break;
                    default: a.push(Mem(r, 8)); break;
                }

                break;
            }

            case 35:
            {
                if (r.Next(2) == 0)
                {
                    a.cmpxchg8b(__qword_ptr[r15 + r.Next(-8, 8) * 8]);
                }
                else
                {
                    a.cmpxchg16b(__xmmword_ptr[r15 + r.Next(-4, 4) * 16]);
                }

                break;
            }

            default:
                Alu(a, r.Next(9), r, size, r.Next(5));
                break;
        }
    }

    private static void Cmov64(Assembler a, int cc, AssemblerRegister64 x, AssemblerRegister64 y)
    {
        switch (cc)
        {
            case 0: a.cmovo(x, y); break; case 1: a.cmovno(x, y); break; case 2: a.cmovb(x, y); break; case 3: a.cmovae(x, y); break;
            case 4: a.cmove(x, y); break; case 5: a.cmovne(x, y); break; case 6: a.cmovbe(x, y); break; case 7: a.cmova(x, y); break;
            case 8: a.cmovs(x, y); break; case 9: a.cmovns(x, y); break; case 10: a.cmovp(x, y); break; case 11: a.cmovnp(x, y); break;
            case 12: a.cmovl(x, y); break; case 13: a.cmovge(x, y); break; case 14: a.cmovle(x, y); break; default: a.cmovg(x, y); break;
        }
    }

    private static void Cmov32(Assembler a, int cc, AssemblerRegister32 x, AssemblerMemoryOperand y)
    {
        switch (cc)
        {
            case 0: a.cmovo(x, y); break; case 1: a.cmovno(x, y); break; case 2: a.cmovb(x, y); break; case 3: a.cmovae(x, y); break;
            case 4: a.cmove(x, y); break; case 5: a.cmovne(x, y); break; case 6: a.cmovbe(x, y); break; case 7: a.cmova(x, y); break;
            case 8: a.cmovs(x, y); break; case 9: a.cmovns(x, y); break; case 10: a.cmovp(x, y); break; case 11: a.cmovnp(x, y); break;
            case 12: a.cmovl(x, y); break; case 13: a.cmovge(x, y); break; case 14: a.cmovle(x, y); break; default: a.cmovg(x, y); break;
        }
    }

    private static void Setcc(Assembler a, int cc, AssemblerRegister8 x)
    {
        switch (cc)
        {
            case 0: a.seto(x); break; case 1: a.setno(x); break; case 2: a.setb(x); break; case 3: a.setae(x); break;
            case 4: a.sete(x); break; case 5: a.setne(x); break; case 6: a.setbe(x); break; case 7: a.seta(x); break;
            case 8: a.sets(x); break; case 9: a.setns(x); break; case 10: a.setp(x); break; case 11: a.setnp(x); break;
            case 12: a.setl(x); break; case 13: a.setge(x); break; case 14: a.setle(x); break; default: a.setg(x); break;
        }
    }
}
