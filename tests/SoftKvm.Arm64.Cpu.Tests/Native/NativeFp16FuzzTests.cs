using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The translation fuzz of FEAT_FP16 on the max model: random encodings of the half-precision forms and of
/// every half-precision decode row (allocated or not), on half lanes drawn from special values, under random FPCR settings, run by the
/// interpreter and by native blocks (<see cref="EnginePair"/>): the same registers, FPSR, syndromes and RAM.
/// </summary>
public sealed class NativeFp16FuzzTests
{
    private static readonly ushort[] s_special =
        [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3C01, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFD55, 0x5BFF, 0x3555];

    [Fact]
    public void RandomHalfPrecisionEncodings_MatchTheInterpreter()
    {
        var rows = Enumerable.Range(0, A64Decoder.RowCount).Where(r => A64DecodeTable.Rows[r].Op.ToString().Contains("Half", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(rows);
        var rng = new Random(16);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        for (int program = 0; program < 120; program++)
        {
            var words = new uint[48];
            for (int i = 0; i < words.Length; i++)
            {
                uint random = (uint)rng.NextInt64(0, 1L << 32);
                if (rng.Next(8) == 0)
                {
                    var (mask, value) = A64Decoder.RowEncoding(rows[rng.Next(rows.Length)]);
                    words[i] = (random & ~mask) | value;
                }
                else
                {
                    // An allocated form (Differential.Fp16Cases), every field random.
                    var (mask, value) = A64Decoder.Parse(string.Concat(Differential.Fp16Cases.Forms[rng.Next(Differential.Fp16Cases.Forms.Length)].Pattern
                        .Select(c => c is '0' or '1' ? c : 'x')));
                    words[i] = (random & ~mask) | value;
                }
            }

            pair.Load(EnginePair.Code, words);
            ulong[] lanes = [.. Enumerable.Range(0, 64).Select(_ => Lanes(rng))];
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => (ulong)rng.NextInt64() >> rng.Next(64))];
            uint fpcr = ((uint)rng.Next(4) << 22) | ((uint)rng.Next(2) << 19) | ((uint)rng.Next(2) << 25) | ((uint)rng.Next(2) << 24);
            pair.Reset(el0MmuOn: true, cpu =>
            {
                for (int i = 0; i < 64; i++)
                {
                    cpu.State.V[i] = lanes[i];
                }

                for (int i = 0; i < 31; i++)
                {
                    cpu.State.X[i] = registers[i];
                }

                cpu.State.Fpcr = fpcr;
                cpu.State.Fpsr = 0;
            });
            pair.RunAndCompare(words.Length * 5, $"program {program}");
        }

        // The half-precision instructions ran inside native blocks, through the interpreter's handlers.
        long fallbacks = rows.Select(r => A64DecodeTable.Rows[r].Op).Distinct().Sum(op => pair.Native.NativeFallbacks[(int)op]);
        Assert.True(fallbacks > 120 * 10, $"{fallbacks} half-precision fallbacks in native blocks");
    }

    private static ulong Lanes(Random rng)
    {
        ulong v = 0;
        for (int i = 0; i < 4; i++)
        {
            ulong h = rng.Next(2) == 0 ? s_special[rng.Next(s_special.Length)] : (ulong)rng.Next(0x10000);
            v |= h << (16 * i);
        }

        return v;
    }
}
