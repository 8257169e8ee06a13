using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Cryptographic AES (AESE, AESD, AESMC, AESIMC: FEAT_AES), three-register SHA (SHA1C, SHA1P,
/// SHA1M, SHA1SU0: FEAT_SHA1; SHA256H, SHA256H2, SHA256SU1: FEAT_SHA256) and two-register SHA (SHA1H,
/// SHA1SU1, SHA256SU0), as the Arm ARM's pseudocode defines them (SHA1hash, SHA256hash, the schedule
/// updates). AES runs on <see cref="AesCore"/> (host AES-NI or portable). UNDEFINED without the feature.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.CryptoAes)]
    private Flow CryptoAes(uint insn)
    {
        int opcode = (int)(insn >> 12) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (((insn >> 22) & 3) != 0 || opcode is < 4 or > 7 || !Has(CpuFeatures.Aes))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec n = GetV(rn);
        Vec r = opcode switch
        {
            4 => AesCore.Encrypt(GetV(rd), n),
            5 => AesCore.Decrypt(GetV(rd), n),
            6 => AesCore.MixColumns(n),
            _ => AesCore.InverseMixColumns(n),
        };
        SetV(rd, r, true);
        return Flow.Next;
    }

    [A64Handler(A64Op.CryptoSha3Reg)]
    private Flow CryptoShaThreeRegister(uint insn)
    {
        int opcode = (int)(insn >> 12) & 7;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        bool sha1 = opcode <= 3;
        if (((insn >> 22) & 3) != 0 || opcode == 7 || !Has(sha1 ? CpuFeatures.Sha1 : CpuFeatures.Sha256))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec d = GetV(rd), n = GetV(rn), m = GetV(rm);
        Vec r = opcode switch
        {
            0 or 1 or 2 => Sha1Hash(d, (uint)n.Lo, m, opcode),
            3 => new Vec(d.Hi ^ d.Lo ^ m.Lo, n.Lo ^ d.Hi ^ m.Hi),
            4 => Sha256Hash(d, n, m, true),
            5 => Sha256Hash(n, d, m, false),
            _ => Sha256ScheduleUpdate1(d, n, m),
        };
        SetV(rd, r, true);
        return Flow.Next;
    }

    [A64Handler(A64Op.CryptoSha2Reg)]
    private Flow CryptoShaTwoRegister(uint insn)
    {
        int opcode = (int)(insn >> 12) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (((insn >> 22) & 3) != 0 || opcode > 2 || !Has(opcode == 2 ? CpuFeatures.Sha256 : CpuFeatures.Sha1))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec d = GetV(rd), n = GetV(rn), r = default;
        switch (opcode)
        {
            case 0:
                // SHA1H Sd, Sn: ROL(Sn, 30).
                r.Lo = BitOperations.RotateLeft((uint)n.Lo, 30);
                break;
            case 1:
            {
                // SHA1SU1: T = Vd EOR (Vn >> 32); each word ROL 1, the top one also EOR ROL(T[0], 2).
                Vec t = new(d.Lo ^ ((n.Lo >> 32) | (n.Hi << 32)), d.Hi ^ (n.Hi >> 32));
                for (int e = 0; e < 4; e++)
                {
                    r.Set(e, 2, BitOperations.RotateLeft((uint)t.Get(e, 2), 1));
                }

                r.Set(3, 2, r.Get(3, 2) ^ BitOperations.RotateLeft((uint)t.Get(0, 2), 2));
                break;
            }

            default:
            {
                // SHA256SU0: T = Vn[0] : Vd[3:1]; sigma0(T[e]) + Vd[e].
                Vec t = new((d.Lo >> 32) | (d.Hi << 32), (d.Hi >> 32) | (n.Lo << 32));
                for (int e = 0; e < 4; e++)
                {
                    uint x = (uint)t.Get(e, 2);
                    uint s = BitOperations.RotateRight(x, 7) ^ BitOperations.RotateRight(x, 18) ^ (x >> 3);
                    r.Set(e, 2, s + (uint)d.Get(e, 2));
                }

                break;
            }
        }

        SetV(rd, r, true);
        return Flow.Next;
    }

    /// <summary>SHA1C (choose), SHA1P (parity), SHA1M (majority): four rounds on X = Vd (a..d), Y = e, W = Vm.</summary>
    private static Vec Sha1Hash(Vec x, uint y, Vec w, int kind)
    {
        uint a = (uint)x.Lo, b = (uint)(x.Lo >> 32), c = (uint)x.Hi, d = (uint)(x.Hi >> 32);
        for (int e = 0; e < 4; e++)
        {
            uint t = kind switch
            {
                0 => ((c ^ d) & b) ^ d,
                1 => b ^ c ^ d,
                _ => (b & c) | ((b | c) & d),
            };
            y = y + BitOperations.RotateLeft(a, 5) + t + (uint)w.Get(e, 2);
            b = BitOperations.RotateLeft(b, 30);

            // <Y, X> = ROL(Y : X, 32)
            uint top = d;
            d = c;
            c = b;
            b = a;
            a = y;
            y = top;
        }

        return new Vec(a | ((ulong)b << 32), c | ((ulong)d << 32));
    }

    /// <summary>SHA256hash(X, Y, W, part1): four rounds; X = (a, b, c, d), Y = (e, f, g, h).</summary>
    private static Vec Sha256Hash(Vec xv, Vec yv, Vec w, bool part1)
    {
        Span<uint> x = [(uint)xv.Lo, (uint)(xv.Lo >> 32), (uint)xv.Hi, (uint)(xv.Hi >> 32)];
        Span<uint> y = [(uint)yv.Lo, (uint)(yv.Lo >> 32), (uint)yv.Hi, (uint)(yv.Hi >> 32)];
        for (int e = 0; e < 4; e++)
        {
            uint ch = (y[0] & y[1]) ^ (~y[0] & y[2]);
            uint maj = (x[0] & x[1]) ^ (x[0] & x[2]) ^ (x[1] & x[2]);
            uint sigma1 = BitOperations.RotateRight(y[0], 6) ^ BitOperations.RotateRight(y[0], 11) ^ BitOperations.RotateRight(y[0], 25);
            uint sigma0 = BitOperations.RotateRight(x[0], 2) ^ BitOperations.RotateRight(x[0], 13) ^ BitOperations.RotateRight(x[0], 22);
            uint t = y[3] + sigma1 + ch + (uint)w.Get(e, 2);
            x[3] = t + x[3];
            y[3] = t + sigma0 + maj;

            // <Y, X> = ROL(Y : X, 32): X gets Y's top word at the bottom, Y gets X's top word.
            uint xTop = x[3], yTop = y[3];
            x[3] = x[2];
            x[2] = x[1];
            x[1] = x[0];
            x[0] = yTop;
            y[3] = y[2];
            y[2] = y[1];
            y[1] = y[0];
            y[0] = xTop;
        }

        Span<uint> r = part1 ? x : y;
        return new Vec(r[0] | ((ulong)r[1] << 32), r[2] | ((ulong)r[3] << 32));
    }

    /// <summary>SHA256SU1 Vd, Vn, Vm.</summary>
    private static Vec Sha256ScheduleUpdate1(Vec d, Vec n, Vec m)
    {
        Vec t0 = new((n.Lo >> 32) | (n.Hi << 32), (n.Hi >> 32) | (m.Lo << 32));
        Vec r = default;
        ulong t1 = m.Hi;
        for (int e = 0; e < 4; e++)
        {
            if (e == 2)
            {
                t1 = r.Lo;
            }

            uint x = (uint)(t1 >> (32 * (e & 1)));
            uint s = BitOperations.RotateRight(x, 17) ^ BitOperations.RotateRight(x, 19) ^ (x >> 10);
            r.Set(e, 2, s + (uint)d.Get(e, 2) + (uint)t0.Get(e, 2));
        }

        return r;
    }
}
