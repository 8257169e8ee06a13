using SoftKvm.Arm64.Cpu.PointerAuth;

namespace SoftKvm.Arm64.Cpu.Tests.PointerAuth;

/// <summary>The Arm ARM's ComputePAC (QARMA5) and SoftKvm's IMPDEF algorithm.</summary>
public sealed class Qarma5Tests
{
    /// <summary>
    /// The QARMA paper's test vector (Avanzi, "The QARMA Block Cipher Family", ToSC 2017, QARMA-64 with
    /// σ2 and r = 5): plaintext P, tweak T, w0, k0 give the ciphertext C; ComputePAC(P, T, w0, k0) is C.
    /// </summary>
    [Fact]
    public void ComputePac_GivesTheQarmaPapersCiphertext()
    {
        Assert.Equal(0xC003_B939_99B3_3765UL,
            Qarma5.ComputePac(0xFB62_3599_DA6E_8127, 0x477D_469D_EC0B_8762, 0x84BE_85CE_9804_E94B, 0xEC28_02D4_E0A4_88E9));
    }

    [Fact]
    public void ComputePac_TheTablesGiveThePseudocodesResult()
    {
        Assert.Equal(0xC003_B939_99B3_3765UL,
            Qarma5.Reference(0xFB62_3599_DA6E_8127, 0x477D_469D_EC0B_8762, 0x84BE_85CE_9804_E94B, 0xEC28_02D4_E0A4_88E9));
        var random = new Random(22);
        for (int i = 0; i < 2000; i++)
        {
            ulong d = (ulong)random.NextInt64(), m = (ulong)random.NextInt64(), k0 = (ulong)random.NextInt64() << 1, k1 = (ulong)random.NextInt64() ^ (ulong)i;
            Assert.Equal(Qarma5.Reference(d, m, k0, k1), Qarma5.ComputePac(d, m, k0, k1));
        }
    }

    [Fact]
    public void ComputePac_DependsOnEveryInput()
    {
        ulong p = 0xFB62_3599_DA6E_8127, t = 0x477D_469D_EC0B_8762, w0 = 0x84BE_85CE_9804_E94B, k0 = 0xEC28_02D4_E0A4_88E9;
        ulong c = Qarma5.ComputePac(p, t, w0, k0);
        Assert.NotEqual(c, Qarma5.ComputePac(p ^ 1, t, w0, k0));
        Assert.NotEqual(c, Qarma5.ComputePac(p, t ^ (1UL << 63), w0, k0));
        Assert.NotEqual(c, Qarma5.ComputePac(p, t, w0 ^ (1UL << 17), k0));
        Assert.NotEqual(c, Qarma5.ComputePac(p, t, w0, k0 ^ (1UL << 40)));
    }

    [Theory]
    [InlineData(0UL, 0UL, 0UL, 0UL, 0xe18485764ba03644UL)]
    [InlineData(0xffff800008123450UL, 0xffff80000a0b3ff0UL, 0x0123456789abcdefUL, 0xfedcba9876543210UL, 0xfab680a582d4b594UL)]
    [InlineData(0x0000aaaabbbbccccUL, 0x477d469dec0b8762UL, 0x84be85ce9804e94bUL, 0xec2802d4e0a488e9UL, 0x37e7ec1fa55144d6UL)]
    public void Impdef_GivesThePinnedCodes(ulong data, ulong modifier, ulong key0, ulong key1, ulong code)
    {
        // Computed outside SoftKvm (Python: p = (data ^ key0 ^ P0) * (modifier ^ key1 ^ P1); (p >> 64) ^ (p & (2**64 - 1))):
        // a change of the algorithm changes what guests saved (signed pointers in a snapshot) and fails here.
        Assert.Equal(code, PacImpdef.ComputePac(data, modifier, key0, key1));
    }

    [Fact]
    public void Impdef_DependsOnEveryInputBitAndDiffersFromQarma5()
    {
        ulong p = 0x0000_FFFF_1234_5678, t = 0x0000_7FFF_FFFF_FFF0, w0 = 0x0123_4567_89AB_CDEF, k0 = 0xFEDC_BA98_7654_3210;
        ulong c = PacImpdef.ComputePac(p, t, w0, k0);
        Assert.NotEqual(Qarma5.ComputePac(p, t, w0, k0), c);
        for (int bit = 0; bit < 64; bit++)
        {
            Assert.NotEqual(c, PacImpdef.ComputePac(p ^ (1UL << bit), t, w0, k0));
            Assert.NotEqual(c, PacImpdef.ComputePac(p, t ^ (1UL << bit), w0, k0));
            Assert.NotEqual(c, PacImpdef.ComputePac(p, t, w0 ^ (1UL << bit), k0));
            Assert.NotEqual(c, PacImpdef.ComputePac(p, t, w0, k0 ^ (1UL << bit)));
        }
    }
}
