using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// Load and store exclusive in native code (X64Lowering.Exclusives.cs) against the interpreter: random
/// programs of every form on a few shared locations, the monitor's corner cases (a store by another PE,
/// CLREX, an exception and its return, a size that differs, a pair), and that the native code ran them
/// rather than the interpreter's handlers.
/// </summary>
public sealed class NativeExclusiveTests
{
    private const ulong Data = EnginePair.Ram + 0x8000;

    private static readonly A64Op[] ExclusiveOps =
        [A64Op.Ldxr, A64Op.Ldaxr, A64Op.Stxr, A64Op.Stlxr, A64Op.Ldxp, A64Op.Ldaxp, A64Op.Stxp, A64Op.Stlxp, A64Op.Clrex];

    /// <summary>size 001000 o2=0 L o1 Rs o0 Rt2 Rn Rt: the exclusive forms (o1: pair, o0: acquire/release).</summary>
    private static uint Exclusive(int size, bool load, bool pair, bool ordered, int rs, int rt2, int rn, int rt) =>
        ((uint)size << 30) | 0x0800_0000u | (load ? 1u << 22 : 0) | (pair ? 1u << 21 : 0) | ((uint)rs << 16)
        | (ordered ? 1u << 15 : 0) | ((uint)rt2 << 10) | ((uint)rn << 5) | (uint)rt;

    [Fact]
    public void RandomExclusivePrograms_MatchTheInterpreter_AndRunNatively()
    {
        // Programs of LDXR/LDAXR/STXR/STLXR of every size, pairs of words and of doublewords, CLREX, plain
        // stores and additions, on bases x0-x3 that share locations (some misaligned: the alignment fault,
        // skipped by the vectors); the other registers random, some coinciding (Rs = Rt, Rt = Rt2).
        var rng = new Random(1818);
        using var pair = new EnginePair();
        pair.ReturnFromExceptions();
        long exclusives = 0;
        const int Programs = 300;
        for (int program = 0; program < Programs; program++)
        {
            var words = new uint[48];
            for (int i = 0; i < words.Length; i++)
            {
                int rn = rng.Next(8) == 0 ? 31 : rng.Next(4);
                int Reg() => 4 + rng.Next(28); // x4-x30, or 31 (XZR)
                int kind = rng.Next(20);
                exclusives += kind < 15 ? 1 : 0;
                words[i] = kind switch
                {
                    < 5 => Exclusive(rng.Next(4), load: true, pair: false, rng.Next(2) == 0, 31, 31, rn, Reg()),
                    < 10 => Exclusive(rng.Next(4), load: false, pair: false, rng.Next(2) == 0, Reg(), 31, rn, Reg()),
                    < 12 => Exclusive(rng.Next(4) == 0 ? 3 : 2, load: true, pair: true, rng.Next(2) == 0, 31, Reg(), rn, Reg()),
                    < 14 => Exclusive(rng.Next(4) == 0 ? 3 : 2, load: false, pair: true, rng.Next(2) == 0, Reg(), Reg(), rn, Reg()),
                    14 => 0xd503305fu | ((uint)rng.Next(16) << 8), // CLREX #imm
                    < 18 => 0xf9000000u | ((uint)rng.Next(4) << 5) | (uint)Reg() & 31, // str xt, [xn]
                    _ => 0x91000400u | (uint)(4 + rng.Next(26)) * 0x21, // add xd, xd, #1
                };
            }

            pair.Load(EnginePair.Code, words);
            var data = new byte[64];
            rng.NextBytes(data);
            pair.Write(Data, data);
            bool misaligned = rng.Next(10) == 0;
            ulong[] bases = [Data, Data + 16, Data, misaligned ? Data + (ulong)(1 << rng.Next(4)) : Data + 32];
            ulong[] registers = [.. Enumerable.Range(0, 31).Select(_ => rng.Next(3) == 0 ? (ulong)rng.Next(4) : (ulong)rng.NextInt64())];
            bool el0 = rng.Next(2) == 0;
            pair.Reset(el0MmuOn: el0, cpu =>
            {
                for (int r = 0; r < 31; r++)
                {
                    cpu.State.X[r] = r < 4 ? bases[r] : registers[r];
                }

                if (el0)
                {
                    cpu.State.SpEl0 = Data + 48;
                }
                else
                {
                    cpu.State.SpEl1 = Data + 48;
                }
            });
            pair.RunAndCompare(200, $"program {program} ({(el0 ? "EL0, MMU on" : "EL1, MMU off")})");
        }

        // Through the interpreter only: the first access of each run to the data page (its TLB entries are
        // filled then), the misaligned ones, and the pairs of doublewords.
        long fallbacks = ExclusiveOps.Where(op => op is not (A64Op.Ldxp or A64Op.Ldaxp or A64Op.Stxp or A64Op.Stlxp))
            .Sum(op => pair.Native.NativeFallbacks[(int)op]);
        Assert.True(fallbacks < exclusives / 5, $"{fallbacks} of about {exclusives} exclusives went through the interpreter");
    }

    /// <summary>
    /// A PE whose TLB maps the data page (a plain load and store first), with the program at
    /// <see cref="EnginePair.Code"/>: <c>ldr x9,[x0]; str x9,[x0]; body...; b .</c>.
    /// </summary>
    private static void RunWarm(EnginePair pair, params uint[] body)
    {
        pair.Load(EnginePair.Code, [0xf9400009u, 0xf9000009u, .. body, 0x14000000u]);
        pair.Write(Data, BitConverter.GetBytes(0x1122_3344_5566_7788UL));
        pair.Reset(el0MmuOn: false, cpu =>
        {
            cpu.State.X[0] = Data;
            cpu.State.X[1] = 0xAAAA_BBBB_CCCC_DDDDUL;
            cpu.State.X[2] = 7;
            cpu.State.X[3] = 0x5555_6666_7777_8888UL;
        });
        pair.RunAndCompare(100, "program");
    }

    private static void AssertNoExclusiveFallbacks(EnginePair pair) =>
        Assert.All(ExclusiveOps, op => Assert.Equal(0, pair.Native.NativeFallbacks[(int)op]));

    [Fact]
    public void LdxrStxr_Succeed_Natively()
    {
        using var pair = new EnginePair();
        RunWarm(pair, 0xc85f7c01u, 0x91000421u, 0xc8027c01u); // ldxr x1,[x0]; add x1,x1,#1; stxr w2,x1,[x0]
        Assert.Equal(0UL, pair.Native.State.X[2]);
        Assert.Equal(0x1122_3344_5566_7789UL, pair.Native.State.X[1]);
        AssertNoExclusiveFallbacks(pair);
    }

    [Fact]
    public void Stxr_FailsAfterAPlainStoreThatChangedTheValue()
    {
        using var pair = new EnginePair();
        RunWarm(pair, 0xc85f7c01u, 0xf9000003u, 0xc8027c01u); // ldxr x1,[x0]; str x3,[x0]; stxr w2,x1,[x0]
        Assert.Equal(1UL, pair.Native.State.X[2]);
        AssertNoExclusiveFallbacks(pair);
    }

    [Fact]
    public void Stxr_FailsAfterClrex()
    {
        using var pair = new EnginePair();
        RunWarm(pair, 0xc85f7c01u, 0xd5033f5fu, 0xc8027c01u); // ldxr x1,[x0]; clrex; stxr w2,x1,[x0]
        Assert.Equal(1UL, pair.Native.State.X[2]);
        AssertNoExclusiveFallbacks(pair);
    }

    [Fact]
    public void Stxr_FailsAfterAnExceptionAndItsReturn()
    {
        // ldxr x1,[x0]; brk #0 (the vector returns past it); stxr w2,x1,[x0]: exception entry clears the monitor.
        using var pair = new EnginePair();
        pair.ReturnFromExceptions();
        RunWarm(pair, 0xc85f7c01u, 0xd4200000u, 0xc8027c01u);
        Assert.Equal(1UL, pair.Native.State.X[2]);
        Assert.Equal(0x1122_3344_5566_7788UL, pair.Native.State.X[1]);
    }

    [Fact]
    public void Stxr_FailsForAnotherSize_AndAfterASecondStore()
    {
        // ldxr w1,[x0]; stxrb w2,w1,[x0] (another size: fails, clears); ldxr x1,[x0]; stxr w3,x1,[x0] (succeeds);
        // stxr w2,x1,[x0] (the monitor is clear: fails).
        using var pair = new EnginePair();
        RunWarm(pair, 0x885f7c01u, 0x08027c01u, 0xc85f7c01u, 0xc8037c01u, 0xc8027c01u);
        Assert.Equal(1UL, pair.Native.State.X[2]);
        Assert.Equal(0UL, pair.Native.State.X[3]);
        AssertNoExclusiveFallbacks(pair);
    }

    [Fact]
    public void PairsOfWords_LoadBothHalves_AndStoreBoth()
    {
        // ldaxp w1,w3,[x0]; add x1,x1,#1; stlxp w2,w1,w3,[x0]; ldr x4,[x0]
        using var pair = new EnginePair();
        RunWarm(pair, 0x887f8c01u, 0x91000421u, 0x88228c01u, 0xf9400004u);
        Assert.Equal(0x5566_7788UL, pair.Native.State.X[1] - 1);
        Assert.Equal(0x1122_3344UL, pair.Native.State.X[3]);
        Assert.Equal(0UL, pair.Native.State.X[2]);
        Assert.Equal(0x1122_3344_5566_7789UL, pair.Native.State.X[4]);
        AssertNoExclusiveFallbacks(pair);
    }

    [Fact]
    public void MisalignedExclusives_TakeTheInterpretersAlignmentFault()
    {
        // ldxr x1,[x0] with x0 4 bytes past a doubleword; ldxp w1,w3,[x0] (a pair of words needs 8); then
        // stxrh w2,w1,[x5] with x5 odd: three alignment faults, each skipped by the vectors.
        using var pair = new EnginePair();
        pair.ReturnFromExceptions();
        pair.Load(EnginePair.Code, 0xf9400009u, 0xc85f7c01u, 0x887f0c01u, 0x48027ca1u, 0x14000000u);
        pair.Reset(el0MmuOn: false, cpu =>
        {
            cpu.State.X[0] = Data + 4;
            cpu.State.X[5] = Data + 1;
            cpu.State.X[2] = 7;
        });
        pair.RunAndCompare(100, "misaligned");
        Assert.Equal(Data + 1, pair.Native.State.FarEl1);
        Assert.Equal(0x21u, (uint)(pair.Native.State.EsrEl1 & 0x3F)); // alignment fault
        Assert.Equal(7UL, pair.Native.State.X[2]);
    }

    [Fact]
    public void Stxr_FailsAfterAnotherPesStore()
    {
        // Two PEs on one memory, both running native code: PE 0 loads exclusive, PE 1 stores another value,
        // PE 0's STXR fails; without the store it succeeds.
        foreach (bool otherStores in new[] { true, false })
        {
            using var memory = new GuestMemory();
            memory.SetRegion(0, new GuestPhysAddr(EnginePair.Ram), EnginePair.RamSize, MemorySlotFlags.None);
            var shared = new CpuShared();
            Arm64Cpu[] pes = [.. Enumerable.Range(0, 2).Select(_ => new Arm64Cpu(memory, shared, new NoHypervisor(), 0x8000_0000) { TranslationEnabled = true })];
            const ulong Pe0 = EnginePair.Code, Pe1 = EnginePair.Code + 0x100;

            // PE 0: ldr x9,[x0]; str x9,[x0]; ldxr x1,[x0]; b . ; then (at +16) stxr w2,x1,[x0]; b .
            // PE 1: str x3,[x0]; b .
            uint[] code0 = [0xf9400009u, 0xf9000009u, 0xc85f7c01u, 0x14000000u, 0xc8027c01u, 0x14000000u];
            for (int i = 0; i < code0.Length; i++)
            {
                memory.Write(new GuestPhysAddr(Pe0 + (ulong)(4 * i)), code0[i]);
            }

            memory.Write(new GuestPhysAddr(Pe1), 0xf9000003u);
            memory.Write(new GuestPhysAddr(Pe1 + 4), 0x14000000u);
            memory.Write(new GuestPhysAddr(Data), 41UL);
            foreach (var (pe, pc) in new[] { (pes[0], Pe0), (pes[1], Pe1) })
            {
                pe.Reset();
                pe.State.Pc = pc;
                pe.State.X[0] = Data;
                pe.State.X[3] = 99;
                pe.OnPstateChanged();
            }

            int requests = 0;
            pes[0].Run(ref requests, 100);
            if (otherStores)
            {
                pes[1].Run(ref requests, 100);
            }

            pes[0].State.Pc = Pe0 + 16;
            pes[0].Run(ref requests, 100);
            Assert.Equal(otherStores ? 1UL : 0UL, pes[0].State.X[2]);
            Assert.Equal(otherStores ? 99UL : 41UL, memory.Read<ulong>(new GuestPhysAddr(Data)));
            Assert.Equal(0, pes[0].NativeFallbacks[(int)A64Op.Ldxr] + pes[0].NativeFallbacks[(int)A64Op.Stxr]);
        }
    }
}
