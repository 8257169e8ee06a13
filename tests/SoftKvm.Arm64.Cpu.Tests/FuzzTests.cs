using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>Guest input never crashes the host: random words executed as code end in defined exits.</summary>
public sealed class FuzzTests
{
    [Fact]
    public void RandomCode_NeverThrowsOnTheHost() => Fuzz(120, 20261125, rng => (uint)rng.NextInt64(0, 1L << 32));

    [Fact]
    public void RandomEncodingsOfEveryDecodeRow_NeverThrowOnTheHost()
    {
        int rows = SoftKvm.Arm64.Cpu.Decoder.A64Decoder.RowCount;
        Fuzz(rows * 2, 7, rng =>
        {
            var (mask, value) = SoftKvm.Arm64.Cpu.Decoder.A64Decoder.RowEncoding(rng.Next(rows));
            return ((uint)rng.NextInt64(0, 1L << 32) & ~mask) | value;
        });
    }

    private static void Fuzz(int programs, int seed, Func<Random, uint> word)
    {
        var rng = new Random(seed);
        for (int program = 0; program < programs; program++)
        {
            using var m = new TestMachine(ramSize: 1 << 20);
            m.Vm.NisvToUser = (program & 1) == 0;
            var words = new uint[2048];
            for (int i = 0; i < words.Length; i++)
            {
                words[i] = word(rng);
            }

            var v = m.Start(words);
            v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 2), (ulong)(program & 3) << 20); // CPACR_EL1.FPEN
            for (int r = 0; r < 31; r++)
            {
                TestMachine.SetX(v, r, (r & 3) switch
                {
                    0 => TestMachine.RamBase + (ulong)rng.Next(0, 1 << 20),
                    1 => TestMachine.MmioBase + (ulong)rng.Next(0, 4096),
                    2 => (ulong)rng.NextInt64(),
                    _ => (ulong)rng.Next(0, 64),
                });
            }

            using var timer = new Timer(_ => v.Kick(), null, 30, 30);
            for (int step = 0; step < 40; step++)
            {
                var result = v.Run();
                Assert.True(result is RunResult.Ok or RunResult.Interrupted or RunResult.NoSyndrome, $"program {program}: {result}");
                if (result == RunResult.Interrupted || result == RunResult.NoSyndrome || v.RunState.ExitReason == ExitReason.SystemEvent)
                {
                    break;
                }

                ref var run = ref v.RunState;
                Assert.True(run.ExitReason is ExitReason.Mmio or ExitReason.ArmNisv, $"program {program}: exit {run.ExitReason}");
                if (run.ExitReason == ExitReason.ArmNisv)
                {
                    v.InjectExternalDataAbort();
                }
                else if (!run.Mmio.IsWrite)
                {
                    run.Mmio.SetValue((ulong)rng.NextInt64());
                }
            }
        }
    }
}
