using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// Operations the native code computes itself rather than through the interpreter's handler, on random
/// operands against the interpreter (<see cref="EnginePair"/>): every form, every register.
/// </summary>
public sealed class NativeOperationTests
{
    [Fact]
    public void Crc32AndCrc32c_EverySizeAndRegister_MatchTheInterpreter()
    {
        // CRC32{B,H,W,X} and CRC32C{B,H,W,X} (sf must equal sz == 3; the other forms are UNDEFINED and
        // are in the programs too), random Rd, Rn, Rm (31: XZR), random 64-bit register values.
        var rng = new Random(18);
        using var pair = new EnginePair();
        pair.ReturnFromExceptions();
        long undefined = 0;
        for (int program = 0; program < 200; program++)
        {
            var words = new uint[64];
            for (int i = 0; i < words.Length; i++)
            {
                int size = rng.Next(4);
                bool sf = rng.Next(16) == 0 ? size != 3 : size == 3;
                undefined += sf == (size == 3) ? 0 : 1;
                words[i] = 0x1AC04000u | (sf ? 1u << 31 : 0) | ((uint)rng.Next(32) << 16) | ((uint)rng.Next(2) << 12)
                    | ((uint)size << 10) | ((uint)rng.Next(32) << 5) | (uint)rng.Next(30);
            }

            pair.Load(EnginePair.Code, words);
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40))];
            pair.Reset(el0MmuOn: false, cpu =>
            {
                for (int r = 0; r < 31; r++)
                {
                    cpu.State.X[r] = registers[r];
                }
            });
            pair.RunAndCompare(2 * words.Length, $"program {program}"); // room past each exception for the rest of the block (its bound)
        }

        // Only (some of: the budget ends first) the UNDEFINED forms went through the interpreter.
        long fallbacks = pair.Native.NativeFallbacks[(int)A64Op.Crc32] + pair.Native.NativeFallbacks[(int)A64Op.Crc32c];
        Assert.InRange(fallbacks, 1, undefined);
        Assert.True(pair.Native.Counters.TranslatedInstructions > 200 * 32, $"{pair.Native.Counters.TranslatedInstructions} instructions ran natively");
    }
}
