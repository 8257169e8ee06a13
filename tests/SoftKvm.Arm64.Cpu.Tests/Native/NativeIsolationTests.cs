using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// Adversarial guests run as native code and interpreted (<see cref="EnginePair"/>): the same end state,
/// and no host fault — native code reaches guest memory only through the software TLB, so an access at
/// a slot's edge, across a page, misaligned, or to no memory at all takes the interpreter's path and its
/// fault or exit. Random programs (a million instruction words, every decode row, registers aimed at
/// RAM, the slot's edges, page edges and devices), code rewritten across pages, branches into device
/// memory, accesses past the end of RAM.
/// </summary>
public sealed class NativeIsolationTests
{
    /// <summary>Addresses a random program's registers point at: RAM, its edges, page edges, devices, nothing.</summary>
    private static ulong Pointer(Random rng) => rng.Next(8) switch
    {
        0 => EnginePair.Ram + (ulong)rng.Next(0x2000, (int)EnginePair.RamSize),                 // RAM (any alignment)
        1 => EnginePair.Ram + EnginePair.RamSize - (ulong)rng.Next(1, 24),                      // the slot's last bytes
        2 => EnginePair.Ram + EnginePair.RamSize + (ulong)rng.Next(0, 24),                      // just past it
        3 => EnginePair.Ram + ((ulong)rng.Next(3, 255) << 12) - (ulong)rng.Next(1, 16),         // a page's last bytes
        4 => 0x0900_0000 + (ulong)rng.Next(0, 4096),                                            // a device (MMIO)
        5 => EnginePair.Ram + ((ulong)rng.Next(2, 255) << 12),                                   // a page's start
        6 => (ulong)rng.NextInt64(),                                                             // anywhere
        _ => (ulong)rng.Next(0, 64),                                                             // small numbers
    };

    /// <summary>A random word from a random decode row, except the counter registers (their value is the host's time).</summary>
    private static uint Word(Random rng)
    {
        while (true)
        {
            var (mask, value) = A64Decoder.RowEncoding(rng.Next(A64Decoder.RowCount));
            uint word = ((uint)rng.NextInt64(0, 1L << 32) & ~mask) | value;
            A64Op op = A64Decoder.Decode(word);
            if (op is A64Op.Mrs or A64Op.MsrReg && ((word >> 12) & 0xFF) == 0xBE)
            {
                continue; // op0 = 3, op1 = 3, CRn = 14: CNT* (time)
            }

            return word;
        }
    }

    [Theory]
    [InlineData(false, 1, false)]
    [InlineData(true, 2, true)]
    [InlineData(false, 3, true)]
    public void RandomPrograms_EndInTheInterpretersState(bool el0MmuOn, int seed, bool max)
    {
        // On the max model every row SoftKvm implements is allocated (FP16, LSE, crypto, ...), so its
        // instructions run in blocks too; on cortex-a57 they are UNDEFINED.
        // 500 programs of 1000 words per configuration: a million words over both. At EL1 the vectors
        // step over whatever faulted, so a program runs on through its faults (its registers' addresses,
        // undefined encodings, branches anywhere); at EL0 (MMU on: EL0-writable memory is never
        // executable at EL1) the first exception ends the useful part.
        var rng = new Random(seed);
        EnginePair NewPair()
        {
            var p = new EnginePair(max ? CpuModel.Max : null);
            if (!el0MmuOn)
            {
                p.ReturnFromExceptions();
            }

            return p;
        }

        var pair = NewPair();
        long translated = 0;
        int rewroteItsCode = 0;
        for (int program = 0; program < 500; program++)
        {
            var words = new uint[1000];
            for (int i = 0; i < words.Length; i++)
            {
                words[i] = Word(rng);
            }

            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => Pointer(rng))];
            uint nzcv = (uint)rng.Next(16) << 28;
            pair.Reset(el0MmuOn, cpu =>
            {
                for (int r = 0; r < 31; r++)
                {
                    cpu.State.X[r] = registers[r];
                }

                cpu.State.Nzcv = nzcv;
            });
            long before = pair.Native.Counters.TranslatedInstructions;
            if (pair.RunAndCompare(3000, $"program {program} (seed {seed})", words) is null)
            {
                // A store into its own code without an ISB: old or new instruction, both allowed. The two PEs
                // may now differ in what is cumulative (the UNDEFINED count), so the next program starts on a new pair.
                rewroteItsCode++;
                translated += pair.Native.Counters.TranslatedInstructions - before;
                pair.Dispose();
                pair = NewPair();
                continue;
            }

            translated += pair.Native.Counters.TranslatedInstructions - before;
        }

        pair.Dispose();

        // At EL0 most programs end at their first instruction (an exception), so only some hundreds run natively, and
        // how many depends on the random stream, which every new decode row shifts (486 once MTE's rows came, 500+ before).
        Assert.True(translated > (el0MmuOn ? 250 : 100_000), $"only {translated} instructions ran natively");
        Assert.True(rewroteItsCode < 10, $"{rewroteItsCode} programs rewrote their own code: too few compared");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AccessesAtTheSlotsEndAndAcrossPages_FaultOrExitAsInterpreted(bool el0MmuOn)
    {
        // x1 walks up to and past the end of RAM in steps of 3, loading and storing 8, 4, 2 and 1 bytes
        // and pairs at odd offsets (page crossings, the slot's edge, then no memory at all):
        // 1: ldr x2,[x1]; ldr w3,[x1,#1]; ldrh w4,[x1,#3]; str x2,[x1,#2]; stp w3,w4,[x1,#5]; ldp x5,x6,[x1,#-7]
        //    add x1,x1,#3; subs x7,x7,#1; b.ne 1b; b .
        uint[] loop = [0xf9400022u, 0xb8401023u, 0x78403024u, 0xf8002022u, 0x29009023u, 0xa97f9825u, 0x91000c21u, 0xf10004e7u, 0x54ffff01u, 0x14000000u];
        foreach (ulong start in new[] { EnginePair.Ram + 0x3FF0, EnginePair.Ram + EnginePair.RamSize - 64 })
        {
            using var pair = new EnginePair();
            pair.Load(EnginePair.Code, loop);
            pair.Reset(el0MmuOn, cpu =>
            {
                cpu.State.X[1] = start;
                cpu.State.X[7] = 40;
            });
            pair.RunAndCompare(2000, $"from 0x{start:x}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CodeWrittenIntoTheNextPage_RunsAsWritten(bool el0MmuOn)
    {
        // Page A writes "add x2,x2,#k; ret" into page B, calls it, and again with another k (no cache
        // maintenance: SoftKvm sees the store at once, the interpreter's rule), 50 times.
        // 1: add w3,w4,w5 (w4 = the add's encoding base, w5 = k); str w3,[x10]; blr x10; add w5,w5,#0x400; subs x7,x7,#1; b.ne 1b; b .
        const ulong PageB = EnginePair.Code + 0x1000;
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0x0b050083u, 0xb9000143u, 0xd63f0140u, 0x111000a5u, 0xf10004e7u, 0x54ffff61u, 0x14000000u);
        pair.Load(PageB, 0x91000442u, 0xd65f03c0u); // add x2,x2,#1; ret
        pair.Reset(el0MmuOn, cpu =>
        {
            cpu.State.X[4] = 0x91000042u; // add x2,x2,#0 (imm12 = w5 << 10 added below)
            cpu.State.X[5] = 1 << 10;
            cpu.State.X[10] = PageB;
            cpu.State.X[7] = 50;
        });
        pair.RunAndCompare(1000, "code rewritten in the next page");
        Assert.Equal(Enumerable.Range(1, 50).Sum(), (int)pair.Native.State.X[2]);
    }

    [Fact]
    public void CodeRewritingItsOwnBlock_IsSeenAtTheNextEntry()
    {
        // The loop rewrites its own first instruction (add x1,x1,#k with k counting up), then re-enters
        // itself through an indirect branch: every run of the block sees the words of that moment.
        // 1: add x1,x1,#1; add w3,w4,w5; str w3,[x10]; add w5,w5,#0x400; subs x7,x7,#1; b.eq 2f; br x10; 2: b .
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0x91000421u, 0x0b050083u, 0xb9000143u, 0x111000a5u, 0xf10004e7u, 0x54000040u, 0xd61f0140u, 0x14000000u);
        pair.Reset(false, cpu =>
        {
            cpu.State.X[4] = 0x91000021u; // add x1,x1,#0
            cpu.State.X[5] = 2 << 10;
            cpu.State.X[10] = EnginePair.Code;
            cpu.State.X[7] = 30;
        });
        pair.RunAndCompare(1000, "code rewriting its own block");
        Assert.Equal(1 + Enumerable.Range(2, 29).Sum(), (int)pair.Native.State.X[1]);
        Assert.True(pair.Native.Counters.BlocksInvalidated >= 29);
    }

    [Theory]
    [InlineData(false, 0x0900_0000UL)]
    [InlineData(true, 0x0900_0000UL)]
    [InlineData(false, EnginePair.Ram + EnginePair.RamSize)]
    [InlineData(true, 0x4_0000_0000UL)]
    public void BranchesIntoDeviceMemoryOrNothing_TakeThePrefetchAbort(bool el0MmuOn, ulong target)
    {
        // add x1,x1,#1; br x0
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0x91000421u, 0xd61f0000u);
        pair.Reset(el0MmuOn, cpu => cpu.State.X[0] = target);
        pair.RunAndCompare(100, $"branch to 0x{target:x}");
        Assert.Equal(1UL, pair.Native.State.X[1]);
        Assert.NotEqual(0UL, pair.Native.State.EsrEl1); // an instruction abort (or address size fault) was taken
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MisalignedAccesses_FaultAtTheInstructionWithTheInterpretersSyndrome(bool el0MmuOn)
    {
        // ldr x2,[x1]; ldr w3,[x1,#2]; ldxr x4,[x1]; b . with x1 odd: with the MMU off every access is
        // Device memory and faults; with it on only the exclusive does.
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0xf9400022u, 0xb8402023u, 0xc85f7c24u, 0x14000000u);
        pair.Reset(el0MmuOn, cpu => cpu.State.X[1] = EnginePair.Ram + 0x8001);
        pair.RunAndCompare(100, "misaligned");
    }

    [Theory]
    [InlineData(false, 0x8000UL)]
    [InlineData(true, 0x8000UL)]
    [InlineData(true, 0x8004UL)]
    [InlineData(true, 0x8002UL)]
    public void AcquireReleaseAccesses_RunNativelyAndFaultWhenMisaligned(bool el0MmuOn, ulong offset)
    {
        // stlr x5,[x1]; ldar x2,[x1]; stlr w5,[x1]; ldar w3,[x1]; stlrh w5,[x1]; ldarb w4,[x1]; b .
        // LDAR/STLR are alignment checked even where SCTLR_EL1.A = 0 (EL0 with the MMU on lets plain
        // accesses be misaligned): at +4 the 64-bit forms fault, at +2 the 32-bit ones too.
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0xc89ffc25u, 0xc8dffc22u, 0x889ffc25u, 0x88dffc23u, 0x489ffc25u, 0x08dffc24u, 0x14000000u);
        pair.Reset(el0MmuOn, cpu =>
        {
            cpu.State.X[1] = EnginePair.Ram + offset;
            cpu.State.X[5] = 0x0123_4567_89ab_cdef;
        });
        pair.RunAndCompare(100, $"acquire/release at +0x{offset:x}");
        if (offset == 0x8000)
        {
            // Aligned: native code ran them; only the first store and the first load went through the
            // interpreter, to fill the write and the read TLB (all six would, run by the interpreter).
            Assert.InRange(pair.Native.NativeFallbacks[(int)A64Op.Stlr] + pair.Native.NativeFallbacks[(int)A64Op.Ldar], 0, 2);
        }
    }
}
