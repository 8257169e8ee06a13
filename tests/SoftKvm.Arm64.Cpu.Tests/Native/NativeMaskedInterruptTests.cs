using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// Native code while an interrupt is pending but masked (Arm64Cpu.MaskedInterrupts.cs): it runs natively, and
/// the interrupt is taken exactly once, right after the instruction that unmasks it (MSR DAIFClr, MSR DAIF,
/// ERET), at the same instruction as the interpreter takes it. The vectors at IRQ and FIQ (current EL, SP_ELx)
/// record ELR_EL1 (x20, x22), count (x21, x23) and return with the interrupt masked again in SPSR_EL1.
/// </summary>
public sealed class NativeMaskedInterruptTests
{
    private const int Iterations = 20_000;

    private static readonly uint[] IrqVector =
    [
        0xd5384034u, // mrs x20, elr_el1
        0x910006b5u, // add x21, x21, #1
        0xd538401eu, // mrs x30, spsr_el1
        0xb27903deu, // orr x30, x30, #0x80
        0xd518401eu, // msr spsr_el1, x30
        0xd69f03e0u, // eret
    ];

    private static readonly uint[] FiqVector =
    [
        0xd5384036u, // mrs x22, elr_el1
        0x910006f7u, // add x23, x23, #1
        0xd538401eu, // mrs x30, spsr_el1
        0xb27a03deu, // orr x30, x30, #0x40
        0xd518401eu, // msr spsr_el1, x30
        0xd69f03e0u, // eret
    ];

    /// <summary>A pair whose vectors record and return from IRQ and FIQ.</summary>
    private static EnginePair NewPair()
    {
        var pair = new EnginePair();
        pair.Load(EnginePair.Ram + 0x280, IrqVector);
        pair.Load(EnginePair.Ram + 0x300, FiqVector);
        return pair;
    }

    /// <summary>mov x0, #Iterations; loop: add x1, x1, #1; subs x0, x0, #1; b.ne loop (then <paramref name="unmask"/>, at index 4).</summary>
    private static uint[] MaskedLoopThen(params uint[] unmask) =>
        [0xd2800000u | (Iterations << 5), 0x91000421u, 0xf1000400u, 0x54ffffc1u, .. unmask];

    [Theory]
    [InlineData(0xd50342ffu, 1)] // msr daifclr, #2
    [InlineData(0xd50343ffu, 1)] // msr daifclr, #3
    [InlineData(0xd51b4225u, 1)] // msr daif, x5 (x5 = 0)
    public void PendingMaskedIrq_RunsNatively_TakenRightAfterTheUnmaskingMsr(uint unmask, int taken)
    {
        using var pair = NewPair();
        // the unmask, then mov x2, #1; b .
        uint[] code = MaskedLoopThen(unmask, 0xd2800022u, 0x14000000u);
        pair.Load(EnginePair.Code, code);
        pair.Reset(false, cpu => cpu.IrqLine = true); // reset masks D, A, I, F

        pair.RunAndCompare((3 * Iterations) + 200, "masked loop, then unmask");

        Arm64Cpu cpu = pair.Native;
        Assert.Equal((ulong)Iterations, cpu.State.X[1]);
        Assert.Equal((ulong)taken, cpu.State.X[21]); // once: the vector masks it again
        Assert.Equal(EnginePair.Code + (4 * 5), cpu.State.X[20]); // ELR: the instruction after the MSR
        Assert.Equal(1ul, cpu.State.X[2]);
        Assert.True(cpu.Counters.TranslatedInstructions >= 3 * Iterations, $"{cpu.Counters.TranslatedInstructions} instructions ran natively");
    }

    [Fact]
    public void PendingMaskedIrq_Eret_TakenBeforeTheTargetsFirstInstruction()
    {
        using var pair = NewPair();
        // adr x3, Code; msr elr_el1, x3; mov x4, #5 (EL1h, DAIF clear); msr spsr_el1, x4; eret. The target is the
        // entry of a block the jump cache knows: native code must not go on there with the interrupt takeable.
        uint[] code = MaskedLoopThen(0x10ffff83u, 0xd5184023u, 0xd28000a4u, 0xd5184004u, 0xd69f03e0u);
        pair.Load(EnginePair.Code, code);
        pair.Reset(false, cpu => cpu.IrqLine = true);

        pair.RunAndCompare((3 * Iterations) + 200, "masked loop, then ERET unmasking");

        Arm64Cpu cpu = pair.Native;
        Assert.Equal(1ul, cpu.State.X[21]);
        Assert.Equal(EnginePair.Code, cpu.State.X[20]); // ELR: the ERET's target, not yet run
        Assert.True(cpu.Counters.TranslatedInstructions >= 3 * Iterations, $"{cpu.Counters.TranslatedInstructions} instructions ran natively");
    }

    [Fact]
    public void PendingIrq_DaifClrOfOtherBits_LeavesItMasked()
    {
        using var pair = NewPair();
        // msr daifclr, #1 (F only: the IRQ stays masked); mov x2, #1; b .
        uint[] code = MaskedLoopThen(0xd50341ffu, 0xd2800022u, 0x14000000u);
        pair.Load(EnginePair.Code, code);
        pair.Reset(false, cpu => cpu.IrqLine = true);

        pair.RunAndCompare((3 * Iterations) + 200, "masked loop, then DAIFClr of F");

        Assert.Equal(0ul, pair.Native.State.X[21]);
        Assert.Equal(1ul, pair.Native.State.X[2]);
        Assert.Equal(0, pair.Native.NativeFallbacks[(int)A64Op.MsrImm]); // nothing to take: no look by the interpreter
    }

    /// <summary>Random DAIF writes, reads, ERETs and additions with IRQ and FIQ lines up: native code takes each interrupt where the interpreter does.</summary>
    [Fact]
    public void RandomDaifAccesses_WithLinesPending_MatchTheInterpreter()
    {
        var rng = new Random(2207);
        using var pair = NewPair();
        long native = 0;
        for (int program = 0; program < 150; program++)
        {
            uint[] words = [.. Enumerable.Range(0, 48).Select(_ => RandomInstruction(rng)), 0x17ffffd0u]; // b back to the start
            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 16).Select(_ => (ulong)rng.NextInt64() & (rng.Next(2) == 0 ? 0 : Psr.DaifMask))];
            bool irq = rng.Next(4) != 0, fiq = rng.Next(3) == 0;
            ulong elr = EnginePair.Code + (4 * (ulong)rng.Next(words.Length)), spsr = 0x5 | ((ulong)rng.Next(16) << 6);
            long before = pair.Native.Counters.TranslatedInstructions;
            pair.Reset(false, cpu =>
            {
                for (int r = 0; r < 16; r++)
                {
                    cpu.State.X[r] = registers[r];
                }

                cpu.State.ElrEl1 = elr;
                cpu.State.SpsrEl1 = spsr;
                cpu.IrqLine = irq;
                cpu.FiqLine = fiq;
            });
            pair.RunAndCompare(400, $"program {program} (irq {irq}, fiq {fiq})");
            native += pair.Native.Counters.TranslatedInstructions - before;
        }

        Assert.True(native >= 150 * 100, $"{native} instructions ran natively");
    }

    private static uint RandomInstruction(Random rng)
    {
        uint r = (uint)rng.Next(16);
        return rng.Next(12) switch
        {
            0 or 1 => 0xd50340dfu | ((uint)rng.Next(16) << 8), // msr daifset, #imm
            2 or 3 => 0xd50340ffu | ((uint)rng.Next(16) << 8), // msr daifclr, #imm
            4 => 0xd51b4220u | r, // msr daif, xr
            5 => 0xd53b4220u | r, // mrs xr, daif
            6 => 0xd69f03e0u, // eret
            _ => 0x91000000u | ((uint)rng.Next(4096) << 10) | (r << 5) | r, // add xr, xr, #imm
        };
    }
}
