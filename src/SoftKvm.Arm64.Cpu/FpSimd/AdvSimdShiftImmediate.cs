using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD shift by immediate (vector and scalar): SSHR, USHR, SSRA, USRA, SRSHR, URSHR,
/// SRSRA, URSRA, SRI, SHL, SLI, SQSHL, UQSHL, SQSHLU (immediate), SHRN, RSHRN, SQSHRN, UQSHRN, SQRSHRN,
/// UQRSHRN, SQSHRUN, SQRSHRUN, SSHLL/SXTL, USHLL/UXTL, SCVTF/UCVTF and FCVTZS/FCVTZU (fixed point).
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdShiftImmediate)]
    private Flow AdvSimdShiftImmediate(uint insn) => SimdShiftImmediate(insn, false);

    [A64Handler(A64Op.SimdScalarShiftImmediate)]
    private Flow AdvSimdScalarShiftImmediate(uint insn) => SimdShiftImmediate(insn, true);

    private Flow SimdShiftImmediate(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        uint immh = (insn >> 19) & 15, immb = (insn >> 16) & 7;
        int opcode = (int)(insn >> 11) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (immh == 0)
        {
            return Undefined();
        }

        int size = 3 - System.Numerics.BitOperations.LeadingZeroCount(immh) + 28;
        int bits = 8 << size;
        int immhb = (int)((immh << 3) | immb);
        int rightShift = (2 * bits) - immhb;
        int leftShift = immhb - bits;
        bool narrow = opcode is 16 or 17 or 18 or 19;
        bool widen = opcode == 20;
        bool valid = opcode switch
        {
            0 or 2 or 4 or 6 => scalar ? size == 3 : (size != 3 || q),
            8 => u && (scalar ? size == 3 : (size != 3 || q)),
            10 => scalar ? size == 3 : (size != 3 || q),
            12 => u && (scalar || size != 3 || q),
            14 => scalar || size != 3 || q,
            16 or 17 => size != 3 && (!scalar || u),
            18 or 19 => size != 3,
            20 => !scalar && size != 3,
            28 or 31 => size >= 2 && (scalar || size == 2 || q),
            _ => false,
        };
        if (!valid)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vd = GetV(rd), res = default;
        if (narrow)
        {
            // Source elements are twice as wide; the shift counts against the destination size.
            int n = scalar ? 1 : 8 >> size;
            res = scalar ? default : vd;
            int part = q && !scalar ? n : 0;
            if (!q || scalar)
            {
                res.Hi = 0;
                if (scalar)
                {
                    res.Lo = 0;
                }
            }

            bool round = (opcode & 1) != 0;
            for (int i = 0; i < n; i++)
            {
                bool signedSource = opcode >= 18 ? !u : u;
                Int128 x = signedSource ? vn.GetSigned(i, size + 1) : (Int128)vn.Get(i, size + 1);

                if (round)
                {
                    x += (Int128)1 << (rightShift - 1);
                }

                x >>= rightShift;
                ulong r = (opcode, u) switch
                {
                    (16 or 17, false) => (ulong)x & Mask(size),
                    (16 or 17, true) => SaturateTo(x, size, false),
                    (_, false) => SaturateTo(x, size, true),
                    _ => SaturateTo(x, size, false),
                };
                res.Set(part + i, size, r);
            }

            SetVector(rd, res.Lo, q && !scalar ? res.Hi : 0);
            return Flow.Next;
        }

        if (widen)
        {
            int n = 8 >> size, part = q ? n : 0;
            for (int i = 0; i < n; i++)
            {
                ulong x = u ? vn.Get(part + i, size) : (ulong)vn.GetSigned(part + i, size);
                res.Set(i, size + 1, (x << leftShift) & Mask(size + 1));
            }

            SetV(rd, res, true);
            return Flow.Next;
        }

        int elements = scalar ? 1 : (q ? 16 : 8) >> size;
        for (int i = 0; i < elements; i++)
        {
            ulong x = vn.Get(i, size), d = vd.Get(i, size);
            Int128 v = u ? (Int128)x : vn.GetSigned(i, size);
            ulong r;
            switch (opcode)
            {
                case 0:
                case 2:
                case 4:
                case 6:
                {
                    if ((opcode & 4) != 0)
                    {
                        v += (Int128)1 << (rightShift - 1);
                    }

                    ulong shifted = (ulong)(v >> rightShift);
                    r = (opcode & 2) != 0 ? d + shifted : shifted;
                    break;
                }

                case 8:
                {
                    ulong mask = rightShift >= 64 ? 0 : Mask(size) >> rightShift;
                    ulong shifted = rightShift >= 64 ? 0 : x >> rightShift;
                    r = (d & ~mask) | shifted;
                    break;
                }

                case 10:
                    r = u ? (d & ~(Mask(size) << leftShift)) | (x << leftShift) : x << leftShift;
                    break;
                case 12:
                    r = SaturateTo((Int128)vn.GetSigned(i, size) << leftShift, size, false);
                    break;
                case 14:
                    r = SaturateTo(v << leftShift, size, !u);
                    break;
                case 28:
                {
                    bool dbl = size == 3;
                    r = FixedToFp(u ? x : (ulong)vn.GetSigned(i, size), !u, rightShift, dbl);
                    break;
                }

                default:
                    r = FpToFixed(x, size == 3, rightShift, u, bits, 3);
                    break;
            }

            res.Set(i, size, r & Mask(size));
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }
}
