using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Tests.Differential;
using SoftKvm.Arm64.Cpu.Tests.Harness;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The IMPDEF pointer authentication and BTI in native code (X64Lowering.PointerAuth.cs) against the
/// interpreter: the golden-vector inputs, random PAC programs under random keys, enables and TCR_EL1
/// fields, random branch programs on a guarded page, and a PAC-heavy loop that allocates nothing. Each
/// also counts what still ran through the interpreter's handlers from native blocks.
/// </summary>
public sealed class NativePointerAuthTests
{
    private const ulong EnAll = (1UL << 31) | (1UL << 30) | (1UL << 27) | (1UL << 13);
    private static readonly uint[] s_hints =
    [
        0xd50320ff, 0xd503211f, 0xd503215f, 0xd503219f, 0xd50321df, 0xd503231f, 0xd503233f,
        0xd503235f, 0xd503237f, 0xd503239f, 0xd50323bf, 0xd50323df, 0xd50323ff,
    ];

    [Fact]
    public void ImpdefOnTheGoldenInputs_NativeMatchesTheInterpreterAndRunsInline()
    {
        var cases = PauthGoldenTests.ReadCases();
        int groups = 0;
        long inline = 0;
        foreach (var group in cases.GroupBy(c => c.Tcr))
        {
            var list = group.ToList();
            var code = list.SelectMany(c => PauthGoldenTests.Load(0, c.X0).Concat(PauthGoldenTests.Load(1, c.X1)).Append(c.Insn).Append(0xF8008440u)).ToArray();
            var (interpreted, _) = RunGoldenGroup(code, group.Key, list.Count, native: false);
            var (native, fallbacks) = RunGoldenGroup(code, group.Key, list.Count, native: true);
            for (int i = 0; i < list.Count; i++)
            {
                var c = list[i];
                Assert.True(interpreted[i] == native[i], $"{c.Insn:x8} tcr {c.Tcr:x} x0 {c.X0:x16} x1 {c.X1:x16}: interpreter {interpreted[i]:x16}, native {native[i]:x16}");
            }

            // All inline: a pointer of either half, AddPAC of a pointer whose PAC field is not all extension bits and a
            // failed authentication (most of the golden inputs) included; only the unallocated encodings would fall back.
            Assert.Equal(0, fallbacks);
            inline += list.Count;
            groups++;
        }

        Assert.True(groups >= 4);
        Assert.True(inline > 50, $"{inline} ran inline"); // the golden inputs are mostly failing authentications
    }

    /// <summary>A data-processing PAC word the decoder leaves UNDEFINED (opcode above XPACD, or a Z form or XPAC with Rn != 31).</summary>
    private static bool IsUnallocatedPac(uint insn)
    {
        int opcode = (int)(insn >> 10) & 0x3F;
        return opcode > 0x11 || (opcode >= 8 && ((insn >> 5) & 31) != 31);
    }

    private static (ulong[] Results, long PacFallbacks) RunGoldenGroup(uint[] code, ulong tcr, int count, bool native)
    {
        const ulong Results = RamBase + 0x80_0000;
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(code);
        v.Cpu.TranslationEnabled = native;
        foreach (var (key, value) in PauthGoldenTests.Keys)
        {
            v.SetSystemRegister(new SysRegKey(key), value);
        }

        var sctlr = SysRegKey.Of(3, 0, 1, 0, 0);
        v.SetSystemRegister(sctlr, v.GetSystemRegister(sctlr) | EnAll);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), tcr);
        SetX(v, 2, Results);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(Results + (8UL * (ulong)count), X(v, 2));
        var results = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            results[i] = m.Vm.Memory.Read<ulong>(new GuestPhysAddr(Results + (8UL * (ulong)i)));
        }

        return (results, v.Cpu.NativeFallbacks[(int)A64Op.PacDataProcessing]);
    }

    [Fact]
    public void RandomPointerAuthPrograms_MatchTheInterpreter()
    {
        var rng = new Random(22);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        long undefinedWords = 0;
        for (int program = 0; program < 200; program++)
        {
            var words = new uint[40];
            for (int i = 0; i < words.Length;)
            {
                i += RandomPacWords(rng, words, i);
            }

            undefinedWords += words.Count(w => (w & 0xFFFF_0000) == 0xDAC1_0000 && IsUnallocatedPac(w));

            pair.Load(EnginePair.Code, words);
            bool el0 = program % 2 == 1;
            ulong sctlrEn = (ulong)rng.Next(4) == 0 ? (ulong)rng.NextInt64() & EnAll : EnAll;
            ulong tcrBits = (rng.Next(2) == 0 ? 0 : 1UL << 37) | (rng.Next(2) == 0 ? 0 : 1UL << 38)
                | (rng.Next(2) == 0 ? 0 : 1UL << 51) | (rng.Next(2) == 0 ? 0 : 1UL << 52) | ((ulong)rng.Next(10, 46) << 16);
            ulong t0sz = el0 ? 25 : (ulong)rng.Next(10, 46);
            ulong[] keys = [.. Enumerable.Range(0, 10).Select(_ => (ulong)rng.NextInt64())];
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => RandomPointer(rng))];
            pair.Reset(el0MmuOn: el0, cpu =>
            {
                Assert.True(cpu.TryWriteSystemRegister(SysReg.TcrEl1, (cpu.State.TcrEl1 & ~0x3FUL) | t0sz | tcrBits));
                Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, (cpu.State.SctlrEl1 & ~EnAll) | sctlrEn));
                for (int i = 0; i < 10; i++)
                {
                    cpu.State.PacKeys[i] = keys[i];
                }

                for (int i = 0; i < 31; i++)
                {
                    cpu.State.X[i] = registers[i];
                }
            });
            pair.RunAndCompare(words.Length * 3, $"program {program} (EL{(el0 ? 0 : 1)}, sctlr {sctlrEn:x}, tcr {tcrBits | t0sz:x})");
        }

        // All ran inline but the unallocated data-processing opcodes (UNDEFINED, the interpreter's) and PACGA (its own op).
        Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.PacHint]);
        long fallbacks = pair.Native.NativeFallbacks[(int)A64Op.PacDataProcessing];
        Assert.True(fallbacks <= undefinedWords, $"{fallbacks} pointer authentication instructions ran in the interpreter, {undefinedWords} unallocated");
    }

    [Fact]
    public void RandomPointerAuthPrograms_RunFromTheUpperHalf_MatchTheInterpreter()
    {
        // EL1 code at an upper-half address, as the kernel runs: the shared routines then take the upper half's path
        // straight through. One level-1 table (in RAM) maps the low gigabyte through TTBR0 and TTBR1 alike (T0SZ = T1SZ
        // = 25, 4K granules), so Upper + x is x; the vectors stay at RAM's lower-half address.
        const ulong Upper = 0xFFFF_FF80_0000_0000, Table = EnginePair.Ram + 0x8_0000;
        var rng = new Random(2210);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        pair.Write(Table, BitConverter.GetBytes(1UL | (1UL << 10) | (3UL << 8))); // block 0-1 GiB, EL1 RW, AF
        long undefinedWords = 0;
        for (int program = 0; program < 100; program++)
        {
            var words = new uint[40];
            for (int i = 0; i < words.Length;)
            {
                i += RandomPacWords(rng, words, i);
            }

            undefinedWords += words.Count(w => (w & 0xFFFF_0000) == 0xDAC1_0000 && IsUnallocatedPac(w));
            pair.Load(EnginePair.Code, [.. words, 0x14000000u]); // then b .
            ulong tcrBits = (rng.Next(2) == 0 ? 0 : 1UL << 37) | (rng.Next(2) == 0 ? 0 : 1UL << 38)
                | (rng.Next(2) == 0 ? 0 : 1UL << 51) | (rng.Next(2) == 0 ? 0 : 1UL << 52);
            ulong[] keys = [.. Enumerable.Range(0, 10).Select(_ => (ulong)rng.NextInt64())];
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => RandomPointer(rng))];
            pair.Reset(el0MmuOn: false, cpu =>
            {
                Assert.True(cpu.TryWriteSystemRegister(SysReg.TcrEl1, 25UL | (25UL << 16) | (2UL << 30) | tcrBits));
                Assert.True(cpu.TryWriteSystemRegister(SysReg.Ttbr0El1, Table));
                Assert.True(cpu.TryWriteSystemRegister(SysReg.Ttbr1El1, Table));
                Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, cpu.State.SctlrEl1 | 1 | EnAll));
                for (int i = 0; i < 10; i++)
                {
                    cpu.State.PacKeys[i] = keys[i];
                }

                for (int i = 0; i < 31; i++)
                {
                    cpu.State.X[i] = registers[i];
                }

                cpu.State.Pc = Upper + EnginePair.Code;
            });
            pair.RunAndCompare(words.Length * 6, $"program {program} (EL1 upper half, tcr {tcrBits:x})");
            Assert.Equal(Upper + EnginePair.Code + (4 * (ulong)words.Length), pair.Native.State.Pc); // ran through to the b .
        }

        Assert.True(pair.Native.Counters.TranslatedInstructions > 1000, $"{pair.Native.Counters.TranslatedInstructions} ran natively");
        Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.PacHint]);
        Assert.True(pair.Native.NativeFallbacks[(int)A64Op.PacDataProcessing] <= undefinedWords);
    }

    [Fact]
    public void EnableFlipsInsideABlock_TakeEffectAtOnce_WithoutOtherBlocksOrTlbFlushes()
    {
        // loop: msr sctlr_el1, x2 (EnIA clear); pacia x5, x1; autia x6, x1; msr sctlr_el1, x3 (EnIA set); pacia x7, x1;
        // autia x8, x1; msr sctlr_el1, x2; pacia x9, x1; (x4: pacia before the loop) subs x10, x10, #1; b.ne loop; b .
        uint[] code =
        [
            0xdac10024u, 0xd5181002u, 0xdac10025u, 0xdac11026u, 0xd5181003u, 0xdac10027u, 0xdac11028u, 0xd5181002u,
            0xdac10029u, 0xf100054au, 0x54fffee1u, 0x14000000u,
        ];
        using var pair = new EnginePair(CpuModel.Max);
        pair.Load(EnginePair.Code, code);
        long flushes = 0, blocks = 0;
        pair.Reset(false, cpu =>
        {
            Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, cpu.State.SctlrEl1 | EnAll));
            for (int i = 0; i < 10; i++)
            {
                cpu.State.PacKeys[i] = 0x0123_4567_89ab_cdefUL * (ulong)(i + 1);
            }

            cpu.State.X[0] = EnginePair.Ram + 0x1230;
            cpu.State.X[1] = 0x77;
            cpu.State.X[2] = cpu.State.SctlrEl1 & ~(1UL << 31);
            cpu.State.X[3] = cpu.State.SctlrEl1;
            cpu.State.X[4] = cpu.State.X[5] = cpu.State.X[6] = cpu.State.X[7] = cpu.State.X[8] = cpu.State.X[9] = EnginePair.Ram + 0x1230;
            cpu.State.X[10] = 1000;
            flushes = cpu.Counters.TlbFlushes;
            blocks = cpu.Counters.BlocksTranslated;
        });
        pair.RunAndCompare(20_000, "PAC with EnIA flipped inside the loop");

        Arm64Cpu native = pair.Native;
        Assert.NotEqual(EnginePair.Ram + 0x1230, native.State.X[7]); // signed under EnIA
        Assert.Equal(EnginePair.Ram + 0x1230, native.State.X[5]); // PACIA and AUTIA are NOPs without it
        Assert.Equal(EnginePair.Ram + 0x1230, native.State.X[6]);
        Assert.NotEqual(EnginePair.Ram + 0x1230, native.State.X[8]); // with it, AUTIA of an unsigned pointer fails
        Assert.Equal(flushes, native.Counters.TlbFlushes); // only the enables changed
        Assert.True(native.Counters.BlocksTranslated - blocks <= 3, $"{native.Counters.BlocksTranslated - blocks} blocks for one loop");
        Assert.True(native.Counters.TranslatedInstructions >= 9_000, $"{native.Counters.TranslatedInstructions} ran natively");
    }

    [Fact]
    public void PacHintsWithTheirKeyDisabled_MatchTheInterpreterAndRunNatively()
    {
        // loop: paciasp; pacibsp; stp x29, x30, [sp, #-16]!; ldp x29, x30, [sp], #16; autibsp; autiasp;
        // pacia1716; autia1716; subs x10, x10, #1; b.ne loop; b .   (EnIA off, EnIB on; then all off)
        uint[] code =
        [
            0xd503233fu, 0xd503237fu, 0xa9bf7bfdu, 0xa8c17bfdu, 0xd50323ffu, 0xd50323bfu, 0xd503211fu, 0xd503219fu,
            0xf100054au, 0x54fffee1u, 0x14000000u,
        ];
        foreach (ulong enables in new[] { 1UL << 30, 0UL })
        {
            using var pair = new EnginePair(CpuModel.Max);
            pair.Load(EnginePair.Code, code);
            pair.Reset(false, cpu =>
            {
                Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, (cpu.State.SctlrEl1 & ~EnAll) | enables));
                for (int i = 0; i < 10; i++)
                {
                    cpu.State.PacKeys[i] = 0x0123_4567_89ab_cdefUL * (ulong)(i + 3);
                }

                cpu.State.X[30] = EnginePair.Code + 0x40;
                cpu.State.X[16] = 0x55;
                cpu.State.X[17] = EnginePair.Ram + 0x80;
                cpu.State.X[10] = 500;
            });
            pair.RunAndCompare(10_000, $"PAC hints with SCTLR_EL1 enables {enables:x}");
            Assert.Equal(EnginePair.Code + 0x40, pair.Native.State.X[30]); // signed and authenticated with IB, or untouched
            Assert.Equal(EnginePair.Ram + 0x80, pair.Native.State.X[17]); // PACIA1716/AUTIA1716 with IA disabled: NOPs
            Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.PacHint]);
            Assert.True(pair.Native.Counters.TranslatedInstructions >= 4_000, $"{pair.Native.Counters.TranslatedInstructions} ran natively");
        }
    }

    /// <summary>A pointer: canonical in either half (some with a top byte or a code in them), or any value.</summary>
    private static ulong RandomPointer(Random rng) => rng.Next(5) switch
    {
        0 => (ulong)rng.NextInt64(0x1000_0000, 0x1010_0000),
        1 => 0xFFFF_8000_0000_0000 | (ulong)rng.NextInt64(0, 1L << 47),
        2 => ((ulong)rng.Next(256) << 56) | (ulong)rng.NextInt64(0, 1L << 39),
        3 => (ulong)rng.NextInt64(0, 1L << 48),
        _ => (ulong)rng.NextInt64(),
    };

    /// <summary>
    /// The next words of a PAC program at <paramref name="i"/> (how many): a hint form, a data-processing form
    /// (sometimes an unallocated opcode), PACGA, a signing followed by its authentication (sometimes with a bit
    /// of the code flipped between them), or an ordinary instruction that moves pointers around.
    /// </summary>
    private static int RandomPacWords(Random rng, uint[] words, int i)
    {
        uint rd = (uint)rng.Next(31), rn = rng.Next(3) == 0 ? 31u : (uint)rng.Next(32);
        switch (rng.Next(8))
        {
            case 0 or 1:
                words[i] = s_hints[rng.Next(s_hints.Length)];
                return 1;
            case 2 or 3:
                {
                    uint opcode = rng.Next(8) == 0 ? (uint)rng.Next(0x40) : (uint)rng.Next(0x12);
                    words[i] = 0xdac1_0000 | (opcode << 10) | ((opcode >= 8 && rng.Next(4) != 0 ? 31u : rn) << 5) | rd;
                    return 1;
                }

            case 4:
                words[i] = 0x9ac0_3000 | ((uint)rng.Next(32) << 16) | (rn << 5) | rd; // PACGA
                return 1;
            case 5 when i + 2 < words.Length:
                {
                    uint key = (uint)rng.Next(4);
                    bool flip = rng.Next(3) == 0;
                    words[i] = 0xdac1_0000 | (key << 10) | (rn << 5) | rd; // PACxx
                    words[i + 1] = 0xd24e_0000 | (rd << 5) | rd; // eor xd, xd, #(1 << 50)
                    words[i + (flip ? 2 : 1)] = 0xdac1_1000 | (key << 10) | (rn << 5) | rd; // AUTxx
                    return flip ? 3 : 2;
                }

            case 6:
                words[i] = 0xaa00_03e0 | ((uint)rng.Next(31) << 16) | (rng.Next(2) == 0 ? 30u : 17u); // mov x30/x17, xm
                return 1;
            default:
                words[i] = 0x9100_0000 | ((uint)rng.Next(64) << 10) | ((uint)rng.Next(31) << 5) | rd; // add xd, xn, #imm
                return 1;
        }
    }

    [Fact]
    public void RandomBranchProgramsOnAGuardedPage_MatchTheInterpreter()
    {
        const int Words = 48;
        var rng = new Random(0xB71);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();

        // The identity block that maps RAM for EL0 (and the vectors at EL1), guarded (GP = 1).
        const ulong Block = 1UL | (1UL << 6) | (3UL << 8) | (1UL << 10) | (1UL << 50);
        pair.Write(UserIdentityMap.TableBase, BitConverter.GetBytes(Block));
        long branches = 0;
        for (int program = 0; program < 150; program++)
        {
            var words = new uint[Words];
            for (int i = 0; i < Words; i++)
            {
                words[i] = RandomBranchWord(rng, i);
                branches += words[i] >> 25 == 0x6B ? 1 : 0;
            }

            pair.Load(EnginePair.Code, words);
            ulong[] targets = [.. Enumerable.Range(0, 31).Select(_ => EnginePair.Code + (4UL * (ulong)rng.Next(Words)))];
            bool bt0 = rng.Next(2) == 0;
            pair.Reset(el0MmuOn: true, cpu =>
            {
                if (bt0)
                {
                    Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, cpu.State.SctlrEl1 | (1UL << 35)));
                }

                for (int i = 0; i < 31; i++)
                {
                    cpu.State.X[i] = targets[i];
                }
            });
            pair.RunAndCompare(Words * 6, $"program {program} (BT0 {bt0})");
        }

        // BR and BLR set BTYPE in native code, and the landing pads were checked by the block entries.
        Assert.True(branches > 1000);
        Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.Br] + pair.Native.NativeFallbacks[(int)A64Op.Blr]);
        Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.PacHint]);
    }

    /// <summary>
    /// One word of a branch program: BR/BLR/RET through a random register (the registers start as addresses
    /// in the program), every landing pad (BTI, BTI c/j/jc, PACIASP, PACIBSP, BRK), or a short forward B, a
    /// NOP, an ADD that moves a target by a few instructions.
    /// </summary>
    private static uint RandomBranchWord(Random rng, int i)
    {
        uint rn = (uint)rng.Next(31);
        return rng.Next(12) switch
        {
            0 or 1 => 0xd61f_0000 | ((rng.Next(3) == 0 ? 16u + (uint)rng.Next(2) : rn) << 5), // BR
            2 or 3 => 0xd63f_0000 | (rn << 5), // BLR
            4 => rng.Next(2) == 0 ? 0xd65f_03c0u : 0xd65f_0000 | (rn << 5), // RET
            5 or 6 => 0xd503_241f | ((uint)rng.Next(4) << 6), // BTI, BTI c, BTI j, BTI jc
            7 => rng.Next(2) == 0 ? 0xd503_233fu : 0xd503_237fu, // PACIASP, PACIBSP
            8 => i % 3 == 0 ? 0xd420_0000u : 0xd503_201fu, // BRK #0, NOP
            9 => 0x1400_0000u | (uint)rng.Next(1, 4), // b .+4..12
            _ => 0x9100_1000u | (rn << 5) | rn, // add xn, xn, #4
        };
    }

    [Theory]
    [InlineData(0xd503245fu, 0x10, 0, 0)] // BTI c after BR x16 (BTYPE 01): passes
    [InlineData(0xd503245fu, 0x05, 0, 3)] // BTI c after BR x5 from a guarded page (BTYPE 11): Branch Target exception
    [InlineData(0xd503249fu, 0x05, 0, 0)] // BTI j after BR x5: passes
    [InlineData(0xd503249fu, 0x25, 0, 2)] // BTI j after BLR x5 (BTYPE 10): Branch Target exception
    [InlineData(0xd503233fu, 0x05, 0, 0)] // PACIASP after BR x5 with SCTLR_EL1.BT1 = 0: passes
    [InlineData(0xd503233fu, 0x05, 1, 3)] // ... with BT1 = 1: Branch Target exception
    [InlineData(0xd503237fu, 0x25, 1, 0)] // PACIBSP after BLR: passes
    [InlineData(0xd503201fu, 0x10, 0, 1)] // NOP after BR x16: Branch Target exception
    [InlineData(0xd4200000u, 0x05, 0, -1)] // BRK: its own exception first
    public void BranchToABlockAlreadyTranslated_ChecksItsLandingPadAsTheInterpreter(uint pad, int branch, int bt1, int expected)
    {
        // The target block is translated and in the jump cache first (BL to it with BTYPE 00, it returns), then the
        // branch under test: BR/BLR x5 or BR x16 (branch = 0x20 | register for BLR) from a guarded page.
        // 0: bl 5; 1: mov x30, x7 (the pad's RET comes back to 3); 2: br/blr; 3: mov x6, #1; 4: udf #0 (ends the run); 5: pad; 6: ret
        uint indirect = ((branch & 0x20) != 0 ? 0xd63f0000u : 0xd61f0000u) | ((uint)(branch & 31) << 5);
        uint[] code = [0x94000005u, 0xaa0703feu, indirect, 0xd2800026u, 0x00000000u, pad, 0xd65f03c0u];
        foreach (bool native in new[] { false, true })
        {
            using var m = new TestMachine(model: CpuModel.Max);
            var v = m.Start(code);
            v.Cpu.TranslationEnabled = native;
            m.EnableIdentityMmu(v);
            m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable + 8), (1UL << 30) | 1 | (3UL << 8) | (1UL << 10) | (1UL << 50));
            var sctlr = SysRegKey.Of(3, 0, 1, 0, 0);
            v.SetSystemRegister(sctlr, v.GetSystemRegister(sctlr) | ((ulong)bt1 << 36));
            SetX(v, 5, CodeBase + 20);
            SetX(v, 16, CodeBase + 20);
            SetX(v, 7, CodeBase + 12);
            Assert.Equal(RunResult.Ok, m.Run(v)); // to the first exception: the vectors end the run
            ulong esr = v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0));
            string what = native ? "native" : "interpreter";
            if (expected > 0)
            {
                Assert.True((0x0DUL << 26 | 1UL << 25 | (ulong)expected) == esr, $"{what}: ESR {esr:x}");
                Assert.Equal(CodeBase + 20, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
            }
            else if (expected < 0)
            {
                Assert.True(esr >> 26 == 0x3C, $"{what}: ESR {esr:x} (BRK)");
            }
            else
            {
                Assert.True(X(v, 6) == 1 && esr == 1UL << 25, $"{what}: x6 {X(v, 6)}, ESR {esr:x} (UDF)");
            }
        }
    }

    [Fact]
    public void PacAndBranchTargetLoop_AllocatesNothingAndRunsInline()
    {
        // 1: blr x9; ldr w1,[x0] (MMIO); subs x7,x7,#1; b.ne 1b; str x7,[x3]
        // func: bti c; paciasp; autiasp; ret   (RAM a guarded page, SCTLR_EL1.EnIA set)
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(0xd63f0120u, 0xb9400001u, 0xf10004e7u, 0x54ffffa1u, 0xf9000067u, 0xd503245fu, 0xd503233fu, 0xd50323bfu, 0xd65f03c0u);
        m.EnableIdentityMmu(v);
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable + 8), (1UL << 30) | 1 | (3UL << 8) | (1UL << 10) | (1UL << 50));
        var sctlr = SysRegKey.Of(3, 0, 1, 0, 0);
        v.SetSystemRegister(sctlr, v.GetSystemRegister(sctlr) | (1UL << 31));
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 1, 0), 0x0123456789abcdef);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 1, 1), 0xfedcba9876543210);
        SetX(v, 0, MmioBase);
        SetX(v, 3, MarkerBase);
        SetX(v, 7, 2000);
        SetX(v, 9, CodeBase + 20);
        v.Cpu.TranslationEnabled = true;
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            v.RunState.Mmio.SetValue(1);
        }

        Assert.Equal(0, AllocationTests.AllocatedOverMmioRoundTrips(v, out _));
        Assert.Equal(0L, v.Cpu.UndefinedCount);
        Assert.Equal(CodeBase + 4, X(v, 30)); // signed and authenticated again
        Assert.Equal(0, v.Cpu.NativeFallbacks[(int)A64Op.PacHint] + v.Cpu.NativeFallbacks[(int)A64Op.Blr]);
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 1000 * 7);
    }
}
