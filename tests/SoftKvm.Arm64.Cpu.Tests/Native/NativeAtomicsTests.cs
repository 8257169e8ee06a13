using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The translation fuzz of FEAT_LSE on the max model (X64Lowering.Atomics.cs): random LD&lt;op&gt;, ST&lt;op&gt;,
/// SWP, CAS and CASP of every size and ordering on addresses in RAM (aligned or not, SP as the base too) and
/// outside it, run by the interpreter and by native blocks (<see cref="EnginePair"/>): the same registers,
/// syndromes and RAM; the atomics native code emits never reach the interpreter's handlers on their fast path.
/// A CASPAL retry loop, whose compares succeed, runs inline with the interpreter's results.
/// </summary>
public sealed class NativeAtomicsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RandomAtomics_MatchTheInterpreter(bool el0)
    {
        var rng = new Random(el0 ? 181 : 18);
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        long inline = 0;
        for (int program = 0; program < 100; program++)
        {
            var words = new uint[32];
            for (int i = 0; i < words.Length; i++)
            {
                uint size = (uint)rng.Next(4), rs = (uint)rng.Next(32), rn = rng.Next(8) == 0 ? 31u : (uint)rng.Next(8), rt = (uint)rng.Next(32);
                uint ar = (uint)rng.Next(4) << 22;
                switch (rng.Next(6))
                {
                    case 0 or 1 or 2:
                        {
                            // LD<op> (opc 0-7) or SWP (o3), sometimes LDAPR or an unallocated o3 form
                            uint opc = (uint)rng.Next(8), o3 = rng.Next(5) == 0 ? 1u : 0u;
                            words[i] = 0x3820_0000 | (size << 30) | ar | (rs << 16) | (o3 << 15) | (opc << 12) | (rn << 5) | rt;
                            inline += o3 == 0 ? (opc < 4 ? 1 : 0) : (opc == 0 ? 1 : 0);
                            break;
                        }

                    case 3 or 4:
                        words[i] = 0x08a0_7c00 | (size << 30) | ((uint)rng.Next(2) << 22) | ((uint)rng.Next(2) << 15) | (rs << 16) | (rn << 5) | rt; // CAS
                        inline++;
                        break;
                    default:
                        words[i] = 0x0820_7c00 | ((uint)rng.Next(2) << 30) | ((uint)rng.Next(2) << 22) | ((uint)rng.Next(2) << 15) | (rs << 16) | (rn << 5) | rt; // CASP
                        break;
                }
            }

            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(r => r < 8
                ? EnginePair.Ram + 0x8_0000 + ((ulong)rng.Next(64) * (rng.Next(4) == 0 ? 1UL : 8UL)) + (rng.Next(16) == 0 ? 0x1000_0000UL : 0)
                : (ulong)rng.NextInt64() >> rng.Next(64))];
            ulong sp = EnginePair.Ram + 0x9_0000 + (rng.Next(3) == 0 ? (ulong)rng.Next(16) : 0);
            byte[] data = new byte[512];
            rng.NextBytes(data);
            pair.Write(EnginePair.Ram + 0x8_0000, data);
            pair.Reset(el0MmuOn: el0, cpu =>
            {
                for (int r = 0; r < 31; r++)
                {
                    cpu.State.X[r] = registers[r];
                }

                if (el0)
                {
                    cpu.State.SpEl0 = sp;
                }
                else
                {
                    cpu.State.SpEl1 = sp;
                }
            });
            pair.RunAndCompare(words.Length * 4, $"program {program} (EL{(el0 ? 0 : 1)}): {string.Join(",", words.Select(w => w.ToString("x8")))}");
        }

        // The forms emitted inline reached the handlers only on their slow paths (a TLB miss, a misaligned or unmapped address).
        long handled = pair.Native.NativeFallbacks[(int)A64Op.AtomicMemory] + pair.Native.NativeFallbacks[(int)A64Op.Cas];
        Assert.True(inline > 1000 && handled < inline * 6 / 10, $"{handled} LD<op>/SWP/CAS in the interpreter of about {inline} inline");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CaspLoop_MatchesTheInterpreter_AndRunsInline(bool el0)
    {
        const int iterations = 40;
        using var pair = new EnginePair(CpuModel.Max);
        pair.ReturnFromExceptions();
        pair.Load(EnginePair.Code, [.. AtomicTests.CaspLoop, 0x14000000u]); // the loop, then b .
        byte[] counter = new byte[16];
        new Random(22).NextBytes(counter);
        pair.Write(EnginePair.Ram + 0x8_0000, counter);
        pair.Reset(el0MmuOn: el0, cpu =>
        {
            cpu.State.X[0] = EnginePair.Ram + 0x8_0000;
            cpu.State.X[3] = iterations;
            cpu.State.X[4] = EnginePair.Ram + 0x9_0000;
        });
        pair.RunAndCompare(iterations * 14 + 100, $"CASPAL loop at EL{(el0 ? 0 : 1)}");
        Arm64Cpu native = pair.Native;
        Assert.Equal(0UL, native.State.X[3]);
        Assert.Equal(BitConverter.ToUInt64(counter, 0) + iterations - 1, native.State.X[6]); // the old pair of the last CASP
        Assert.Equal(BitConverter.ToUInt64(counter, 8) + iterations - 1, native.State.X[7]);
        Assert.True(native.NativeFallbacks[(int)A64Op.Casp] <= 1, $"{native.NativeFallbacks[(int)A64Op.Casp]} CASP in the interpreter (the first may miss the TLB)");
    }
}
