using System.Numerics;
using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>C4.1.89 Data processing -- register.</summary>
public sealed partial class Arm64Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ShiftReg(ulong value, uint type, int amount, bool sf)
    {
        if (!sf)
        {
            uint v = (uint)value;
            return type switch
            {
                0 => v << amount,
                1 => v >> amount,
                2 => (uint)((int)v >> amount),
                _ => BitOperations.RotateRight(v, amount),
            };
        }

        return type switch
        {
            0 => value << amount,
            1 => value >> amount,
            2 => (ulong)((long)value >> amount),
            _ => BitOperations.RotateRight(value, amount),
        };
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.AndShifted, A64Op.BicShifted, A64Op.OrrShifted, A64Op.OrnShifted, A64Op.EorShifted, A64Op.EonShifted, A64Op.AndsShifted, A64Op.BicsShifted)]
    private Flow LogicalShifted(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        int amount = (int)(insn >> 10) & 0x3F;
        if (!sf && amount > 31)
        {
            return Undefined();
        }

        uint opc = (insn >> 29) & 3;
        bool invert = ((insn >> 21) & 1) != 0;
        ulong y = ShiftReg(X((int)(insn >> 16) & 31), (insn >> 22) & 3, amount, sf);
        if (invert)
        {
            y = ~y;
        }

        ulong x = X((int)(insn >> 5) & 31);
        ulong result = opc switch
        {
            0 => x & y,
            1 => x | y,
            2 => x ^ y,
            _ => x & y,
        };
        if (!sf)
        {
            result = (uint)result;
        }

        if (opc == 3)
        {
            State.Nzcv = LogicFlags(result, sf);
        }

        SetX((int)insn & 31, result);
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.AddShifted, A64Op.AddsShifted, A64Op.SubShifted, A64Op.SubsShifted)]
    private Flow AddSubShifted(uint insn)
    {
        bool sf = (insn >> 31) != 0, sub = ((insn >> 30) & 1) != 0, setFlags = ((insn >> 29) & 1) != 0;
        uint type = (insn >> 22) & 3;
        int amount = (int)(insn >> 10) & 0x3F;
        if (type == 3 || (!sf && amount > 31))
        {
            return Undefined();
        }

        ulong y = ShiftReg(X((int)(insn >> 16) & 31), type, amount, sf);
        ulong result = AddWithCarry(X((int)(insn >> 5) & 31), sub ? ~y : y, sub ? 1UL : 0, sf, out uint nzcv);
        if (setFlags)
        {
            State.Nzcv = nzcv;
        }

        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ExtendReg(ulong value, uint option, int shift)
    {
        ulong v = option switch
        {
            0 => (byte)value,
            1 => (ushort)value,
            2 => (uint)value,
            3 => value,
            4 => (ulong)(sbyte)value,
            5 => (ulong)(short)value,
            6 => (ulong)(int)value,
            _ => value,
        };
        return v << shift;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.AddExt, A64Op.AddsExt, A64Op.SubExt, A64Op.SubsExt)]
    private Flow AddSubExtended(uint insn)
    {
        bool sf = (insn >> 31) != 0, sub = ((insn >> 30) & 1) != 0, setFlags = ((insn >> 29) & 1) != 0;
        int shift = (int)(insn >> 10) & 7;
        if (shift > 4 || ((insn >> 22) & 3) != 0)
        {
            return Undefined();
        }

        ulong y = ExtendReg(X((int)(insn >> 16) & 31), (insn >> 13) & 7, shift);
        ulong x = XOrSp((int)(insn >> 5) & 31);
        ulong result = AddWithCarry(x, sub ? ~y : y, sub ? 1UL : 0, sf, out uint nzcv);
        int rd = (int)insn & 31;
        if (setFlags)
        {
            State.Nzcv = nzcv;
            SetReg(rd, result, sf);
        }
        else
        {
            SetXOrSp(rd, sf ? result : (uint)result);
        }

        return Flow.Next;
    }

    [A64Handler(A64Op.Adc, A64Op.Adcs, A64Op.Sbc, A64Op.Sbcs)]
    private Flow AddSubCarry(uint insn)
    {
        bool sf = (insn >> 31) != 0, sub = ((insn >> 30) & 1) != 0, setFlags = ((insn >> 29) & 1) != 0;
        ulong y = X((int)(insn >> 16) & 31);
        ulong carry = (State.Nzcv & FlagC) != 0 ? 1UL : 0;
        ulong result = AddWithCarry(X((int)(insn >> 5) & 31), sub ? ~y : y, carry, sf, out uint nzcv);
        if (setFlags)
        {
            State.Nzcv = nzcv;
        }

        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }

    [A64Handler(A64Op.CcmnReg, A64Op.CcmpReg, A64Op.CcmnImm, A64Op.CcmpImm)]
    private Flow ConditionalCompare(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        bool sub = op is A64Op.CcmpReg or A64Op.CcmpImm;
        bool imm = op is A64Op.CcmnImm or A64Op.CcmpImm;
        if (ConditionHolds((int)(insn >> 12) & 0xF))
        {
            ulong y = imm ? (insn >> 16) & 31 : X((int)(insn >> 16) & 31);
            AddWithCarry(X((int)(insn >> 5) & 31), sub ? ~y : y, sub ? 1UL : 0, sf, out uint nzcv);
            State.Nzcv = nzcv;
        }
        else
        {
            State.Nzcv = (insn & 0xF) << 28;
        }

        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Csel, A64Op.Csinc, A64Op.Csinv, A64Op.Csneg)]
    private Flow ConditionalSelect(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        ulong result;
        if (ConditionHolds((int)(insn >> 12) & 0xF))
        {
            result = X((int)(insn >> 5) & 31);
        }
        else
        {
            ulong m = X((int)(insn >> 16) & 31);
            result = op switch
            {
                A64Op.Csel => m,
                A64Op.Csinc => m + 1,
                A64Op.Csinv => ~m,
                _ => (ulong)-(long)m,
            };
        }

        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Udiv, A64Op.Sdiv)]
    private Flow Divide(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        ulong n = X((int)(insn >> 5) & 31), m = X((int)(insn >> 16) & 31);
        ulong result;
        if (sf)
        {
            if (m == 0)
            {
                result = 0;
            }
            else if (op == A64Op.Udiv)
            {
                result = n / m;
            }
            else
            {
                long sn = (long)n, sm = (long)m;
                result = sn == long.MinValue && sm == -1 ? n : (ulong)(sn / sm);
            }
        }
        else
        {
            uint n32 = (uint)n, m32 = (uint)m;
            if (m32 == 0)
            {
                result = 0;
            }
            else if (op == A64Op.Udiv)
            {
                result = n32 / m32;
            }
            else
            {
                int sn = (int)n32, sm = (int)m32;
                result = (uint)(sn == int.MinValue && sm == -1 ? sn : sn / sm);
            }
        }

        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Lslv, A64Op.Lsrv, A64Op.Asrv, A64Op.Rorv)]
    private Flow ShiftVariable(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        int size = sf ? 64 : 32;
        int amount = (int)(X((int)(insn >> 16) & 31) % (ulong)size);
        uint type = op switch { A64Op.Lslv => 0u, A64Op.Lsrv => 1u, A64Op.Asrv => 2u, _ => 3u };
        SetReg((int)insn & 31, ShiftReg(X((int)(insn >> 5) & 31), type, amount, sf), sf);
        return Flow.Next;
    }

    /// <summary>The CRC-32 byte table (bit-reflected polynomial 0xEDB88320), which native code slices from too.</summary>
    internal static readonly uint[] Crc32Table = MakeCrcTable(0xEDB88320u);
    private static readonly uint[] s_crc32cTable = MakeCrcTable(0x82F63B78u);

    private static uint[] MakeCrcTable(uint poly)
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1;
            }

            t[i] = c;
        }

        return t;
    }

    [A64Handler(A64Op.Crc32, A64Op.Crc32c)]
    private Flow Crc32(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        int sz = (int)(insn >> 10) & 3;
        if (sf != (sz == 3))
        {
            return Undefined();
        }

        var table = op == A64Op.Crc32 ? Crc32Table : s_crc32cTable;
        uint acc = (uint)X((int)(insn >> 5) & 31);
        ulong data = X((int)(insn >> 16) & 31);
        for (int i = 0; i < (1 << sz); i++)
        {
            acc = table[(acc ^ (byte)(data >> (8 * i))) & 0xFF] ^ (acc >> 8);
        }

        SetW((int)insn & 31, acc);
        return Flow.Next;
    }

    [A64Handler(A64Op.Rbit, A64Op.Rev16, A64Op.Rev32, A64Op.Rev, A64Op.Clz, A64Op.Cls)]
    private Flow DataProcessing1Source(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        ulong x = X((int)(insn >> 5) & 31);
        ulong result;
        switch (op)
        {
            case A64Op.Rbit:
                result = sf ? ReverseBits(x) : ReverseBits(x) >> 32;
                break;
            case A64Op.Rev16:
                result = ((x & 0x00FF00FF00FF00FFUL) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFUL);
                break;
            case A64Op.Rev32:
                result = ((ulong)System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)(x >> 32)) << 32)
                    | System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)x);
                break;
            case A64Op.Rev:
                result = sf ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x)
                    : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)x);
                break;
            case A64Op.Clz:
                result = sf ? (ulong)BitOperations.LeadingZeroCount(x) : (ulong)BitOperations.LeadingZeroCount((uint)x);
                break;
            default:
                result = sf ? (ulong)BitOperations.LeadingZeroCount((x ^ (x << 1)) | 1)
                    : (ulong)BitOperations.LeadingZeroCount(((uint)x ^ ((uint)x << 1)) | 1);
                break;
        }

        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }

    private static ulong ReverseBits(ulong v)
    {
        v = ((v >> 1) & 0x5555555555555555UL) | ((v & 0x5555555555555555UL) << 1);
        v = ((v >> 2) & 0x3333333333333333UL) | ((v & 0x3333333333333333UL) << 2);
        v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((v & 0x0F0F0F0F0F0F0F0FUL) << 4);
        return System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Madd, A64Op.Msub, A64Op.Smaddl, A64Op.Smsubl, A64Op.Smulh, A64Op.Umaddl, A64Op.Umsubl, A64Op.Umulh)]
    private Flow DataProcessing3Source(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        int rm = (int)(insn >> 16) & 31, ra = (int)(insn >> 10) & 31, rn = (int)(insn >> 5) & 31;
        ulong n = X(rn), m = X(rm), a = X(ra);
        ulong result = op switch
        {
            A64Op.Madd => a + n * m,
            A64Op.Msub => a - n * m,
            A64Op.Smaddl => a + (ulong)((long)(int)n * (int)m),
            A64Op.Smsubl => a - (ulong)((long)(int)n * (int)m),
            A64Op.Umaddl => a + (ulong)(uint)n * (uint)m,
            A64Op.Umsubl => a - (ulong)(uint)n * (uint)m,
            A64Op.Smulh => (ulong)Math.BigMul((long)n, (long)m, out _),
            _ => Math.BigMul(n, m, out _),
        };
        SetReg((int)insn & 31, result, sf);
        return Flow.Next;
    }
}
