using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.FpSimd;

/// <summary>
/// Whole-feature checks: every FP/SIMD instruction word Debian's static busybox executed under
/// qemu-aarch64 (in_asm traces of sh, ls, date, awk with floating point, printf %f, sort -n, seq,
/// md5sum, sha256sum, gzip) decodes and executes without UNDEFINED; CPACR_EL1.FPEN traps with EC 0x07;
/// unimplemented encodings stay guest UNDEFINED and are counted.
/// </summary>
public sealed class FpSimdCoverageTests
{
    /// <summary>The FP/SIMD words (Arm ARM op0 = x111 data processing, or loads/stores with V = 1) from the busybox traces.</summary>
    private static readonly uint[] s_busyboxWords =
    [
        0x0e214022u, 0x0f0c8422u, 0x0f0c8443u, 0x0f0c8445u, 0x0f0c8464u, 0x1e600929u, 0x1e601929u, 0x1e602000u,
        0x1e602008u, 0x1e602110u, 0x1e602118u, 0x1e604008u, 0x1e604009u, 0x1e60400au, 0x1e604100u, 0x1e604120u,
        0x1e60c002u, 0x1e612040u, 0x1e612800u, 0x1e620020u, 0x1e630281u, 0x1e6a2010u, 0x1e6e1000u, 0x1f482420u,
        0x2f00e400u, 0x2f07e600u, 0x3c808260u, 0x3c818260u, 0x3c820460u, 0x3c828260u, 0x3c848000u, 0x3c858000u,
        0x3c85d260u, 0x3c8e83e0u, 0x3c9c0ca2u, 0x3c9d00a3u, 0x3c9e00a0u, 0x3c9f0060u, 0x3c9f0080u, 0x3c9f00a0u,
        0x3c9f00a1u, 0x3c9f00a3u, 0x3ca36800u, 0x3ca56801u, 0x3cc10c40u, 0x3cc20c20u, 0x3cc20c40u, 0x3cc20c41u,
        0x3cc20c61u, 0x3cdb8060u, 0x3cdf0083u, 0x3ce56821u, 0x3ce56860u, 0x3d000840u, 0x3d004280u, 0x3d800000u,
        0x3d800001u, 0x3d800003u, 0x3d800060u, 0x3d800260u, 0x3d800400u, 0x3d800460u, 0x3d800800u, 0x3d800a60u,
        0x3d801060u, 0x3d801be0u, 0x3d801fe0u, 0x3d801fe1u, 0x3d8023e0u, 0x3d8023e1u, 0x3d8023e2u, 0x3d8027e0u,
        0x3d8027e1u, 0x3d8027e2u, 0x3d8027e3u, 0x3d802be1u, 0x3d802be2u, 0x3d802be3u, 0x3d802be4u, 0x3d802fe2u,
        0x3d802fe3u, 0x3d802fe4u, 0x3d802fe5u, 0x3d8033e3u, 0x3d8033e4u, 0x3d8033e5u, 0x3d8033e6u, 0x3d8037e4u,
        0x3d8037e5u, 0x3d8037e6u, 0x3d8037e7u, 0x3d803be5u, 0x3d803be6u, 0x3d803be7u, 0x3d803fe6u, 0x3d803fe7u,
        0x3d8043e7u, 0x3d805fe0u, 0x3d8063e1u, 0x3d8067e2u, 0x3d806be3u, 0x3d806fe4u, 0x3d8073e5u, 0x3d8077e6u,
        0x3d807be7u, 0x3dc00020u, 0x3dc00021u, 0x3dc00023u, 0x3dc00420u, 0x3dc00440u, 0x3dc00441u, 0x3dc00461u,
        0x3dc0d420u, 0x4c407020u, 0x4c407040u, 0x4c407041u, 0x4c407061u, 0x4cdf7041u, 0x4e010c20u, 0x4e209801u,
        0x4e209822u, 0x4e22bc45u, 0x4f000400u, 0x4f00e440u, 0x4f01e5a0u, 0x4f01e664u, 0x6d0627e8u, 0x6d072408u,
        0x6d082c0au, 0x6d09340cu, 0x6d0a3c0eu, 0x6d0d27e8u, 0x6d4627e8u, 0x6d472408u, 0x6d482c0au, 0x6d49340cu,
        0x6d4a3c0eu, 0x6d4d27e8u, 0x6e004000u, 0x6e208c22u, 0x6e208c23u, 0x6e213c62u, 0x6e213c63u, 0x6e21a422u,
        0x6e22a443u, 0x6e22a445u, 0x6e23a464u, 0x6ea41c62u, 0x6f000400u, 0x6f00b5e2u, 0x6f079604u, 0x7d000040u,
        0x9e660005u, 0x9e660042u, 0x9e660043u, 0x9e660044u, 0x9e660065u, 0x9e660081u, 0x9e6600a1u, 0x9e6600a3u,
        0x9e670000u, 0x9e670001u, 0xad000000u, 0xad000020u, 0xad000040u, 0xad000060u, 0xad0000a0u, 0xad0000c0u,
        0xad000100u, 0xad000260u, 0xad000340u, 0xad000400u, 0xad000420u, 0xad000440u, 0xad000460u, 0xad000480u,
        0xad0004a0u, 0xad0004c0u, 0xad000500u, 0xad000680u, 0xad000ca2u, 0xad008460u, 0xad010000u, 0xad010020u,
        0xad010040u, 0xad010060u, 0xad0100a0u, 0xad0100c0u, 0xad010100u, 0xad010340u, 0xad011404u, 0xad011424u,
        0xad011444u, 0xad018400u, 0xad018c62u, 0xad020060u, 0xad020340u, 0xad020c22u, 0xad020c42u, 0xad030340u,
        0xad030400u, 0xad030420u, 0xad030440u, 0xad040340u, 0xad050340u, 0xad060340u, 0xad070340u, 0xad3e0080u,
        0xad3e0ca2u, 0xad3e14a4u, 0xad3f0080u, 0xad3f04a0u, 0xad400400u, 0xad400420u, 0xad400440u, 0xad400460u,
        0xad400480u, 0xad4004a0u, 0xad4004c0u, 0xad400520u, 0xad400660u, 0xad4006a0u, 0xad4006c0u, 0xad400700u,
        0xad400cc2u, 0xad408420u, 0xad411424u, 0xad411444u, 0xad411464u, 0xad418c22u, 0xad420c42u, 0xad420c62u,
        0xad428420u, 0xad430440u, 0xad430460u, 0xad438c22u, 0xad7c0c82u, 0xad7d0480u, 0xad7e0c82u, 0xad7e1484u,
        0xad7f0480u, 0xbc1fc080u, 0xbc1fc0a0u, 0xbc237800u, 0xbd000000u, 0xfc128380u, 0xfc1e0280u, 0xfc528280u,
        0xfd000260u, 0xfd000800u, 0xfd000a60u, 0xfd000a68u, 0xfd000be8u, 0xfd002fe8u, 0xfd003beau, 0xfd0067e8u,
        0xfd0067eau, 0xfd009be0u, 0xfd400000u, 0xfd4003e0u, 0xfd400a60u, 0xfd400a80u, 0xfd400be8u, 0xfd403beau,
        0xfd4067e8u, 0xfd4067eau,
    ];

    [Fact]
    public void EveryFpSimdWordBusyboxExecutesIsImplemented()
    {
        using var runner = new FpSimdRunner();
        var undefined = new List<string>();
        foreach (uint word in s_busyboxWords)
        {
            if (A64Decoder.Decode(word) == A64Op.Undefined)
            {
                undefined.Add($"{word:x8} (no decode row)");
                continue;
            }

            runner.Run(Case(word), setup: (ref CpuState s) =>
            {
                for (int i = 0; i < 31; i++)
                {
                    s.X[i] = FpSimdRunner.BufferBase + 0x100;
                }
            });
            ref CpuState st = ref runner.Cpu.State;
            if (st.El != 0 && (st.EsrEl1 >> 26) == Esr.EcUnknown)
            {
                undefined.Add($"{word:x8} (UNDEFINED)");
            }
        }

        Assert.True(s_busyboxWords.Length > 200);
        Assert.Empty(undefined);
    }

    [Theory]
    [InlineData(0x4e209820u, "cmeq v0.16b, v1.16b, #0")]
    [InlineData(0x1e622820u, "fadd d0, d1, d2")]
    [InlineData(0x4c407020u, "ld1 {v0.16b}, [x1]")]
    [InlineData(0x4c007020u, "st1 {v0.16b}, [x1]")]
    [InlineData(0x9e620020u, "scvtf d0, x1")]
    public void FpDisabledTrapsWithEc07(uint word, string asm)
    {
        using var runner = new FpSimdRunner();
        foreach (ulong cpacr in new[] { 0UL, 1UL << 20, 2UL << 20 })
        {
            runner.Run(Case(word), cpacr);
            ref CpuState s = ref runner.Cpu.State;
            Assert.True(s.El == 1, asm);
            Assert.Equal(Esr.EcFpAccess, (uint)(s.EsrEl1 >> 26) & 0x3F);
            Assert.Equal(FpSimdRunner.CodeBase, s.ElrEl1);
            Assert.Equal(0x1111111111111111UL, s.V[0]);
        }
    }

    [Theory]
    [InlineData(0x6e828420u, "sqrdmlah v0.4s, v1.4s, v2.4s (ARMv8.1)")]
    [InlineData(0x0ee2e020u, "pmull v0.1q, v1.1d, v2.1d (crypto)")]
    [InlineData(0x4e829420u, "sdot v0.4s, v1.16b, v2.16b (ARMv8.2 dot product)")]
    [InlineData(0x4f020fe0u, "reserved: modified immediate with o2 = 1 (FP16 FMOV is not ARMv8.0)")]
    [InlineData(0x1ee22820u, "fadd h0, h1, h2 (FP16 is not ARMv8.0)")]
    public void UnimplementedEncodingsAreGuestUndefined(uint word, string asm)
    {
        using var runner = new FpSimdRunner();
        long before = runner.Cpu.UndefinedCount;
        runner.Run(Case(word));
        ref CpuState s = ref runner.Cpu.State;
        Assert.True(s.El == 1, asm);
        Assert.Equal(Esr.EcUnknown, (uint)(s.EsrEl1 >> 26) & 0x3F);
        Assert.Equal(before + 1, runner.Cpu.UndefinedCount);
    }

    private static FpSimdCase Case(uint word) => new(
        "coverage", word.ToString("x8"), word,
        [0x1111111111111111UL, 0x2222222222222222UL, 0x8899aabbccddeeffUL, 0x0011223344556677UL, 0x0f1e2d3c4b5a6978UL, 0xf0e1d2c3b4a59687UL, 0x0001020304050607UL, 0x1f1e1d1c1b1a1918UL],
        0x1000, 0, new ulong[8], 0, 0, 0, 0, string.Empty);
}
