using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// FEAT_SM4 against the standard rather than against QEMU (the max golden vectors do that instruction by
/// instruction): the whole SM4 cipher as Linux's sm4-ce driver runs it — the key schedule with eight
/// SM4EKEY, the 32 rounds with eight SM4E — on the example of GB/T 32907 (key and plaintext
/// 0123456789abcdeffedcba9876543210, ciphertext 681edf34d206965e86b3e94f536e4246). Without FEAT_SM4
/// (cortex-a57) the first SM4EKEY is UNDEFINED.
/// </summary>
public sealed class Sm4KnownAnswerTests
{
    private static readonly uint[] Fk = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];

    private static UInt128 Lanes(uint w0, uint w1, uint w2, uint w3) => new(w2 | ((ulong)w3 << 32), w0 | ((ulong)w1 << 32));

    private static uint Lane(UInt128 v, int i) => (uint)(v >> (32 * i));

    private static uint[] Program()
    {
        var code = new List<uint>
        {
            0xD2A00601u, // movz x1,#0x30,lsl #16 (CPACR_EL1.FPEN = 3)
            0xD5181041u, // msr cpacr_el1,x1
            0xD5033FDFu, // isb
        };
        for (uint i = 0; i < 8; i++)
        {
            // sm4ekey v(10+i).4s, v(i == 0 ? 0 : 9+i).4s, v(1+i).4s: four round keys per instruction
            uint n = i == 0 ? 0 : 9 + i;
            code.Add(0xCE60C800u | ((1 + i) << 16) | (n << 5) | (10 + i));
        }

        for (uint i = 0; i < 8; i++)
        {
            code.Add(0xCEC08400u | ((10 + i) << 5) | 9); // sm4e v9.4s, v(10+i).4s
        }

        code.AddRange([0x52b08000u, 0x11002000u, 0xd4000002u]); // PSCI SYSTEM_OFF
        return [.. code];
    }

    private static Arm64Vcpu Load(TestMachine m)
    {
        var v = m.Start(Program());
        uint[] key = [0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210];
        v.SetVectorRegister(0, Lanes(key[0] ^ Fk[0], key[1] ^ Fk[1], key[2] ^ Fk[2], key[3] ^ Fk[3]));
        for (int group = 0; group < 8; group++)
        {
            // CK[i] bytes are (4i+j)*7 mod 256, most significant first.
            var ck = new uint[4];
            for (int i = 0; i < 4; i++)
            {
                int k = (4 * group) + i;
                for (int j = 0; j < 4; j++)
                {
                    ck[i] = (ck[i] << 8) | (uint)((((4 * k) + j) * 7) & 0xff);
                }
            }

            v.SetVectorRegister(1 + group, Lanes(ck[0], ck[1], ck[2], ck[3]));
        }

        v.SetVectorRegister(9, Lanes(key[0], key[1], key[2], key[3])); // the example encrypts its own key
        return v;
    }

    [Fact]
    public void Sm4eAndSm4ekey_EncryptTheStandardsExample()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Load(m);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(Program().Length, (int)((Pc(v) - CodeBase) / 4)); // it ran through the HVC, no exception on the way
        var x = v.GetVectorRegister(9);
        // The ciphertext is X35, X34, X33, X32: lanes 3 to 0 after the last round.
        Assert.Equal([0x681edf34u, 0xd206965eu, 0x86b3e94fu, 0x536e4246u], new[] { Lane(x, 3), Lane(x, 2), Lane(x, 1), Lane(x, 0) });
        // The first four round keys of the example (GB/T 32907 appendix A).
        var rk = v.GetVectorRegister(10);
        Assert.Equal([0xf12186f9u, 0x41662b61u, 0x5a6ab19au, 0x7ba92077u], new[] { Lane(rk, 0), Lane(rk, 1), Lane(rk, 2), Lane(rk, 3) });
    }

    [Fact]
    public void WithoutFeatSm4_Sm4ekeyIsUndefined()
    {
        using var m = new TestMachine(model: CpuModel.CortexA57);
        var v = Load(m);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26); // ESR_EL1.EC = 0: unknown reason
        Assert.Equal(CodeBase + 12, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1))); // ELR_EL1: the first SM4EKEY
    }
}
