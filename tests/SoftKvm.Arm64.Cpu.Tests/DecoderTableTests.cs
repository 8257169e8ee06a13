using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>The table-order test (as dynarmic's decoder_tests): every row wins for its own encodings.</summary>
public sealed class DecoderTableTests
{
    /// <summary>
    /// Every row wins for its own encodings, except where an earlier row is strictly more specific
    /// (its encodings are a subset of the later row's: the hints before HINT, FMOV before the FP/integer
    /// conversions, MOVI before the SIMD shifts by immediate). Any other overlap is a table-order bug.
    /// </summary>
    [Fact]
    public void EveryRow_WinsForItsEncodings()
    {
        var rng = new Random(1234);
        var rows = A64DecodeTable.Rows;
        var failures = new List<string>();
        for (int r = 0; r < rows.Length; r++)
        {
            var (mask, value) = A64Decoder.RowEncoding(r);
            for (int k = 0; k < 500; k++)
            {
                uint insn = ((uint)rng.NextInt64(0, 1L << 32) & ~mask) | value;
                int winner = A64Decoder.MatchingRow(insn);
                if (winner == r || rows[winner].Op == rows[r].Op)
                {
                    continue;
                }

                var (wm, wv) = A64Decoder.RowEncoding(winner);
                bool moreSpecific = winner < r && (wm & mask) == mask && (wv & mask) == value && wm != mask;
                if (!moreSpecific)
                {
                    failures.Add($"0x{insn:x8}: row {r} ({rows[r].Op}, {rows[r].Pattern}) lost to row {winner} ({rows[winner].Op}, {rows[winner].Pattern})");
                    break;
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Patterns_AreWellFormed_AndEveryOpHasARow()
    {
        foreach (var (pattern, _) in A64DecodeTable.Rows)
        {
            Assert.Equal(32, pattern.Length);
            Assert.Matches("^[01x]{32}$", pattern);
        }

        var named = A64DecodeTable.Rows.Select(r => r.Op).ToHashSet();
        foreach (A64Op op in Enum.GetValues<A64Op>())
        {
            if (op is A64Op.Undefined or A64Op.Count)
            {
                continue;
            }

            Assert.Contains(op, named);
        }
    }

    [Theory]
    [InlineData(0x91000442u, "AddImm")]
    [InlineData(0xb9400001u, "LdStUnsignedOffset")]
    [InlineData(0xa9400801u, "LdStPairOffset")]
    [InlineData(0xd503207fu, "Wfi")]
    [InlineData(0xd50320dfu, "Hint")] // hint #6
    [InlineData(0xd503233fu, "PacHint")] // paciasp
    [InlineData(0xd50321dfu, "PacHint")] // autib1716
    [InlineData(0xd50320ffu, "PacHint")] // xpaclri
    [InlineData(0xd503245fu, "Bti")] // bti c
    [InlineData(0xdac10020u, "PacDataProcessing")] // pacia x0,x1
    [InlineData(0xdac143e3u, "PacDataProcessing")] // xpaci x3
    [InlineData(0x9adf3041u, "Pacga")] // pacga x1,x2,sp
    [InlineData(0xd71f0822u, "BranchAuth")] // braa x1,x2
    [InlineData(0xd65f0fffu, "BranchAuth")] // retab
    [InlineData(0xd69f0bffu, "BranchAuth")] // eretaa
    [InlineData(0xd63f087fu, "BranchAuth")] // blraaz x3
    [InlineData(0xf87ffc41u, "LdrPac")] // ldraa x1,[x2,#-8]!
    [InlineData(0xf8bff441u, "LdrPac")] // ldrab x1,[x2,#4088]
    [InlineData(0xd4000002u, "Hvc")]
    [InlineData(0xd69f03e0u, "Eret")]
    [InlineData(0xc85f7c01u, "Ldxr")]
    [InlineData(0x9ac14c00u, "Crc32")]
    [InlineData(0x00000000u, "Undefined")]
    [InlineData(0x1e202800u, "FpDataProc2")] // fadd s0,s0,s0
    public void KnownEncodings_Decode(uint insn, string op) => Assert.Equal(op, A64Decoder.Decode(insn).ToString());
}
