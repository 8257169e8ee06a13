using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Cryptographic four-register (EOR3, BCAX: FEAT_SHA3), XAR and RAX1 (FEAT_SHA3), and SHA512
/// three- and two-register (SHA512H, SHA512H2, SHA512SU0, SHA512SU1: FEAT_SHA512), per the Arm ARM's
/// pseudocode. The SM3 and SM4 encodings of these classes are in CryptoSm3Sm4.cs.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.CryptoFourReg)]
    private Flow CryptoFourRegister(uint insn)
    {
        int op0 = (int)(insn >> 21) & 3;
        if (op0 == 2)
        {
            return Sm3Ss1(insn);
        }

        if (op0 > 1 || !Has(CpuFeatures.Sha3))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec n = GetV((int)(insn >> 5) & 31), m = GetV((int)(insn >> 16) & 31), a = GetV((int)(insn >> 10) & 31);
        Vec r = op0 == 0 ? new Vec(n.Lo ^ m.Lo ^ a.Lo, n.Hi ^ m.Hi ^ a.Hi) : new Vec(n.Lo ^ (m.Lo & ~a.Lo), n.Hi ^ (m.Hi & ~a.Hi));
        SetV((int)insn & 31, r, true);
        return Flow.Next;
    }

    [A64Handler(A64Op.CryptoXar)]
    private Flow CryptoXar(uint insn)
    {
        if (!Has(CpuFeatures.Sha3))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rotate = (int)(insn >> 10) & 63;
        Vec n = GetV((int)(insn >> 5) & 31), m = GetV((int)(insn >> 16) & 31);
        SetV((int)insn & 31, new Vec(BitOperations.RotateRight(n.Lo ^ m.Lo, rotate), BitOperations.RotateRight(n.Hi ^ m.Hi, rotate)), true);
        return Flow.Next;
    }

    [A64Handler(A64Op.CryptoSha512ThreeReg)]
    private Flow CryptoSha512ThreeRegister(uint insn)
    {
        int opcode = (int)(insn >> 10) & 3;
        bool o = ((insn >> 14) & 1) != 0;
        if (o)
        {
            return Sm3Sm4ThreeRegister(insn, opcode);
        }

        if (!Has(opcode == 3 ? CpuFeatures.Sha3 : CpuFeatures.Sha512))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rd = (int)insn & 31;
        Vec w = GetV(rd), x = GetV((int)(insn >> 5) & 31), y = GetV((int)(insn >> 16) & 31), r;
        switch (opcode)
        {
            case 0:
            {
                // SHA512H
                ulong hi = ((y.Hi & x.Lo) ^ (~y.Hi & x.Hi)) + Sigma512(y.Hi, 14, 18, 41) + w.Hi;
                ulong tmp = hi + y.Lo;
                ulong lo = ((tmp & y.Hi) ^ (~tmp & x.Lo)) + Sigma512(tmp, 14, 18, 41) + w.Lo;
                r = new Vec(lo, hi);
                break;
            }

            case 1:
            {
                // SHA512H2
                ulong hi = ((x.Lo & y.Hi) ^ (x.Lo & y.Lo) ^ (y.Hi & y.Lo)) + Sigma512(y.Lo, 28, 34, 39) + w.Hi;
                ulong lo = ((hi & y.Lo) ^ (hi & y.Hi) ^ (y.Hi & y.Lo)) + Sigma512(hi, 28, 34, 39) + w.Lo;
                r = new Vec(lo, hi);
                break;
            }

            case 2:
                // SHA512SU1
                r = new Vec(w.Lo + Schedule512(x.Lo, 19, 61, 6) + y.Lo, w.Hi + Schedule512(x.Hi, 19, 61, 6) + y.Hi);
                break;
            default:
                // RAX1
                r = new Vec(x.Lo ^ BitOperations.RotateLeft(y.Lo, 1), x.Hi ^ BitOperations.RotateLeft(y.Hi, 1));
                break;
        }

        SetV(rd, r, true);
        return Flow.Next;
    }

    [A64Handler(A64Op.CryptoSha512TwoReg)]
    private Flow CryptoSha512TwoRegister(uint insn)
    {
        if (((insn >> 10) & 3) == 1)
        {
            return Sm4Encrypt(insn);
        }

        if (((insn >> 10) & 3) != 0 || !Has(CpuFeatures.Sha512))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        // SHA512SU0
        int rd = (int)insn & 31;
        Vec w = GetV(rd), x = GetV((int)(insn >> 5) & 31);
        SetV(rd, new Vec(w.Lo + Schedule512(w.Hi, 1, 8, 7), w.Hi + Schedule512(x.Lo, 1, 8, 7)), true);
        return Flow.Next;
    }

    private static ulong Sigma512(ulong x, int a, int b, int c) =>
        BitOperations.RotateRight(x, a) ^ BitOperations.RotateRight(x, b) ^ BitOperations.RotateRight(x, c);

    private static ulong Schedule512(ulong x, int a, int b, int shift) =>
        BitOperations.RotateRight(x, a) ^ BitOperations.RotateRight(x, b) ^ (x >> shift);
}
