using System.Runtime.Intrinsics.X86;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// The two paths of <see cref="AesCore"/>: the portable one against known answers (FIPS 197) and against
/// the host's AES-NI/PCLMULQDQ on random inputs. (The instructions themselves are in the max golden
/// vectors, run on whichever path the host takes.) Only this class switches the path; both give the same
/// results, so tests running meanwhile are unaffected.
/// </summary>
public sealed class CryptoCoreTests
{
    private static Vec V(params byte[] b) => new(BitConverter.ToUInt64(b, 0), BitConverter.ToUInt64(b, 8));

    private static T Portable<T>(Func<T> f)
    {
        bool host = AesCore.UseHostInstructions;
        AesCore.UseHostInstructions = false;
        try
        {
            return f();
        }
        finally
        {
            AesCore.UseHostInstructions = host;
        }
    }

    [Fact]
    public void Portable_KnownAnswers()
    {
        // SubBytes(0) = 0x63 everywhere (ShiftRows moves nothing of a uniform state); InvSubBytes(0x63) = 0.
        var zero = default(Vec);
        var e = Portable(() => AesCore.Encrypt(zero, zero));
        Assert.Equal(0x6363_6363_6363_6363UL, e.Lo);
        Assert.Equal(0x6363_6363_6363_6363UL, e.Hi);
        Assert.Equal(0UL, Portable(() => AesCore.Decrypt(e, zero)).Lo);

        // MixColumns of the column (db, 13, 53, 45) is (8e, 4d, a1, bc) (FIPS 197 test column).
        var col = V(0xdb, 0x13, 0x53, 0x45, 0xdb, 0x13, 0x53, 0x45, 0xdb, 0x13, 0x53, 0x45, 0xdb, 0x13, 0x53, 0x45);
        var mixed = Portable(() => AesCore.MixColumns(col));
        Assert.Equal(0xbca1_4d8eU, (uint)mixed.Lo);
        var back = Portable(() => AesCore.InverseMixColumns(mixed));
        Assert.Equal((col.Lo, col.Hi), (back.Lo, back.Hi));

        // x+1 squared is x^2+1; x^63 times x is x^64.
        Assert.Equal(5UL, Portable(() => AesCore.CarrylessMultiply(3, 3)).Lo);
        var high = Portable(() => AesCore.CarrylessMultiply(1UL << 63, 2));
        Assert.Equal((0UL, 1UL), (high.Lo, high.Hi));
    }

    [Fact]
    public void PortableMatchesTheHostInstructions()
    {
        if (!Aes.IsSupported || !Pclmulqdq.IsSupported)
        {
            Assert.False(AesCore.UseHostInstructions); // without them the portable path is the only one
            return;
        }

        var rng = new Random(22);
        for (int i = 0; i < 2000; i++)
        {
            var a = new Vec((ulong)rng.NextInt64(), (ulong)rng.NextInt64());
            var k = new Vec((ulong)rng.NextInt64(), (ulong)rng.NextInt64());
            Vec[] host = [AesCore.Encrypt(a, k), AesCore.Decrypt(a, k), AesCore.MixColumns(a), AesCore.InverseMixColumns(a), AesCore.CarrylessMultiply(a.Lo, k.Hi)];
            Vec[] portable = Portable(() => new[] { AesCore.Encrypt(a, k), AesCore.Decrypt(a, k), AesCore.MixColumns(a), AesCore.InverseMixColumns(a), AesCore.CarrylessMultiply(a.Lo, k.Hi) });
            for (int j = 0; j < host.Length; j++)
            {
                Assert.True(host[j].Lo == portable[j].Lo && host[j].Hi == portable[j].Hi, $"operation {j} of input {i}");
            }
        }
    }
}
