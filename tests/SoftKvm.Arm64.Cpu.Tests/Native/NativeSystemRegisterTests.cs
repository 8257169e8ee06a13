using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The system register accesses native code does itself (A64IrBuilder.System.cs): DAIFSet, DAIFClr, MSR and
/// MRS of DAIF, ELR_EL1, and reads of SPSR_EL1, ESR_EL1 and FAR_EL1, against the interpreter; at EL1 without
/// the interpreter's handlers, at EL0 (where they trap or are UNDEFINED) through them.
/// </summary>
public sealed class NativeSystemRegisterTests
{
    private static uint RandomAccess(Random rng)
    {
        uint rt = (uint)rng.Next(32);
        return rng.Next(9) switch
        {
            0 => 0xd50340dfu | ((uint)rng.Next(16) << 8), // msr daifset, #imm
            1 => 0xd50340ffu | ((uint)rng.Next(16) << 8), // msr daifclr, #imm
            2 => 0xd51b4220u | rt, // msr daif, xt
            3 => 0xd53b4220u | rt, // mrs xt, daif
            4 => 0xd5384020u | rt, // mrs xt, elr_el1
            5 => 0xd5384000u | rt, // mrs xt, spsr_el1
            6 => 0xd5385200u | rt, // mrs xt, esr_el1
            7 => 0xd5386000u | rt, // mrs xt, far_el1
            _ => 0xd5184020u | rt, // msr elr_el1, xt
        };
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DaifAndExceptionRegisters_MatchTheInterpreter(bool el0)
    {
        var rng = new Random(el0 ? 1819 : 1818);
        using var pair = new EnginePair();
        pair.ReturnFromExceptions();
        for (int program = 0; program < 100; program++)
        {
            uint[] words = [.. Enumerable.Range(0, 40).Select(_ => RandomAccess(rng))];
            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => (ulong)rng.NextInt64())];
            ulong elr = (ulong)rng.NextInt64(), far = (ulong)rng.NextInt64(), esr = (uint)rng.Next(), spsr = (uint)rng.Next() & 0xF03F_03DFu;
            pair.Reset(el0, cpu =>
            {
                for (int r = 0; r < 30; r++)
                {
                    cpu.State.X[r] = registers[r];
                }

                cpu.State.ElrEl1 = elr;
                cpu.State.FarEl1 = far;
                cpu.State.EsrEl1 = esr;
                cpu.State.SpsrEl1 = spsr;
            });
            pair.RunAndCompare(200, $"program {program}"); // past the UDF after them: a block found in the process-wide cache may have a larger bound
        }

        long fallbacks = pair.Native.NativeFallbacks[(int)A64Op.MsrImm] + pair.Native.NativeFallbacks[(int)A64Op.MsrReg]
            + pair.Native.NativeFallbacks[(int)A64Op.Mrs];
        if (el0)
        {
            Assert.True(fallbacks > 0, "EL0's accesses go through the interpreter's checks");
        }
        else
        {
            Assert.Equal(0, fallbacks);
            // (what is left of a run's budget where its last check leaves, below that check's bound, is interpreted)
            Assert.True(pair.Native.Counters.TranslatedInstructions >= 100 * 32, $"{pair.Native.Counters.TranslatedInstructions} ran natively; translated {pair.Native.Counters.BlocksTranslated}, failures {pair.Native.Counters.TranslationFailures}, stale {pair.Native.Counters.BlocksInvalidated}, native exits {string.Join(",", pair.Native.NativeExits.ToArray())}, retired {pair.Native.Retired}");
        }
    }
}
