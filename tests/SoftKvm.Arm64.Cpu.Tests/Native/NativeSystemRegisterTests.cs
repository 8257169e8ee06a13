using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The system register accesses native code does itself (A64IrBuilder.System.cs): DAIFSet, DAIFClr, MSR and
/// MRS of DAIF, ELR_EL1, and reads of SPSR_EL1, ESR_EL1 and FAR_EL1, against the interpreter; at EL1 without
/// the interpreter's handlers, at EL0 (where they trap or are UNDEFINED) through them; on the max model MSR and MRS of
/// the pointer authentication keys, with the PAC instructions that use them in the same blocks.
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

    /// <summary>MSR or MRS of key register <paramref name="index"/> (APIAKeyLo_EL1 .. APGAKeyHi_EL1), or a PACIA..AUTDB that uses one.</summary>
    private static uint RandomKeyAccess(Random rng)
    {
        uint rt = (uint)rng.Next(32), index = (uint)rng.Next(10);
        uint key = 0x182000u | (((index / 4) + 1) << 8) | ((index % 4) << 5); // op0=3, CRn=2, CRm=1..3, op2
        return rng.Next(4) switch
        {
            0 or 1 => 0xd5000000u | key | rt, // msr apXXkeyYY_el1, xt
            2 => 0xd5200000u | key | rt, // mrs xt, apXXkeyYY_el1
            _ => 0xdac1_0000u | ((uint)rng.Next(8) << 10) | ((uint)rng.Next(31) << 5) | (uint)rng.Next(31), // PACIA .. AUTDB xd, xn
        };
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PointerAuthenticationKeys_MatchTheInterpreter(bool el0)
    {
        const ulong EnAll = (1UL << 31) | (1UL << 30) | (1UL << 27) | (1UL << 13);
        var rng = new Random(el0 ? 2223 : 2222);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        long keyAccesses = 0;
        for (int program = 0; program < 100; program++)
        {
            uint[] words = [.. Enumerable.Range(0, 40).Select(_ => RandomKeyAccess(rng))];
            keyAccesses += words.Count(w => (w & 0xFFC0_0000) == 0xD500_0000);
            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => rng.Next(2) == 0 ? (ulong)rng.NextInt64(0x1000_0000, 0x1010_0000) : (ulong)rng.NextInt64())];
            ulong[] keys = [.. Enumerable.Range(0, 10).Select(_ => (ulong)rng.NextInt64())];
            pair.Reset(el0, cpu =>
            {
                Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, cpu.State.SctlrEl1 | EnAll));
                for (int i = 0; i < 10; i++)
                {
                    cpu.State.PacKeys[i] = keys[i];
                }

                for (int r = 0; r < 31; r++)
                {
                    cpu.State.X[r] = registers[r];
                }
            });
            pair.RunAndCompare(200, $"program {program}");
            Arm64Cpu interpreter = pair.Cpus.First(), native = pair.Native;
            for (int i = 0; i < 10; i++)
            {
                Assert.True(interpreter.State.PacKeys[i] == native.State.PacKeys[i], $"program {program}: key register {i}");
            }
        }

        long fallbacks = pair.Native.NativeFallbacks[(int)A64Op.MsrReg] + pair.Native.NativeFallbacks[(int)A64Op.Mrs];
        if (el0)
        {
            Assert.True(fallbacks > 0, "EL0's accesses go through the interpreter's checks (UNDEFINED)");
        }
        else
        {
            Assert.True(keyAccesses > 1000, $"{keyAccesses} key accesses");
            Assert.Equal(0, fallbacks);
        }
    }
}
