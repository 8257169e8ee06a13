using System.Text;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The architectural state the differential test compares: X0..X30, SP, NZCV, V0..V31, the scratch page, and
/// how the block ended (<see cref="Signal"/> 0 when it ran to its end, otherwise the Linux signal the
/// reference received, or the one SoftKvm's exception maps to, with the faulting PC).
/// </summary>
internal sealed class DiffState
{
    public const int SigIll = 4;
    public const int SigTrap = 5;
    public const int SigBus = 7;
    public const int SigSegv = 11;

    /// <summary>SoftKvm ran more steps than the block can take (only forward branches are generated).</summary>
    public const int Runaway = 1000;

    /// <summary>A translated run (<see cref="SoftKvmDiffRunner"/>) that did not run the case in translated blocks.</summary>
    public const int NotTranslated = 1001;

    public readonly ulong[] X = new ulong[31];

    /// <summary>V0..V31 as little-endian 64-bit halves: V[n] = (V[2n], V[2n+1]).</summary>
    public readonly ulong[] V = new ulong[64];
    public readonly byte[] Scratch = new byte[DiffLayout.ScratchSize];
    public ulong Sp;
    public uint Nzcv;
    public int Signal;
    public ulong FaultPc;

    /// <summary>The initial state of a case: registers, flags and scratch derived from its seed.</summary>
    public static DiffState Initial(ulong caseSeed)
    {
        var s = new DiffState();
        var rng = new SplitMix64(caseSeed);
        for (int i = 0; i < 31; i++)
        {
            s.X[i] = InterestingValue(ref rng);
        }

        s.Nzcv = (uint)(rng.Next() & 0xF) << 28;
        s.Sp = DiffLayout.InitialSp;
        for (int i = 0; i < DiffLayout.ScratchSize; i += 8)
        {
            BitConverter.TryWriteBytes(s.Scratch.AsSpan(i), rng.Next());
        }

        for (int i = 0; i < 64; i++)
        {
            s.V[i] = InterestingValue(ref rng);
        }

        return s;
    }

    private static ulong InterestingValue(ref SplitMix64 rng)
    {
        ulong r = rng.Next();
        return rng.Below(16) switch
        {
            0 => 0,
            1 => 1,
            2 => ulong.MaxValue,
            3 => 0x7FFF_FFFF,
            4 => 0x8000_0000,
            5 => 0xFFFF_FFFF,
            6 => 0x8000_0000_0000_0000,
            7 => 0x7FFF_FFFF_FFFF_FFFF,
            8 => r & 0xFF,
            9 => (ulong)(long)(sbyte)r,
            10 => r & 0xFFFF_FFFF,
            11 => (ulong)(long)(int)r,
            12 => r & 0x3F,
            _ => r,
        };
    }

    public DiffState Clone()
    {
        var c = new DiffState { Sp = Sp, Nzcv = Nzcv, Signal = Signal, FaultPc = FaultPc };
        X.CopyTo(c.X, 0);
        V.CopyTo(c.V, 0);
        Scratch.CopyTo(c.Scratch, 0);
        return c;
    }

    /// <summary>
    /// The differences from <paramref name="expected"/>, empty when the states agree. With
    /// <paramref name="memoryFaultsAlike"/>, SIGSEGV and SIGBUS count as the same end: an unconstrained
    /// access outside RAM is an unmapped page for qemu-user but Device memory for SoftKvm with the MMU
    /// off (an unaligned one then takes an alignment fault).
    /// </summary>
    public string Differences(DiffState expected, bool memoryFaultsAlike = false)
    {
        var sb = new StringBuilder();
        bool sameEnd = Signal == expected.Signal
            || (memoryFaultsAlike && Signal is SigBus or SigSegv && expected.Signal is SigBus or SigSegv);
        if (!sameEnd || (Signal != 0 && FaultPc != expected.FaultPc))
        {
            sb.Append($" end: {Describe()} expected {expected.Describe()};");
        }

        for (int i = 0; i < 31; i++)
        {
            if (X[i] != expected.X[i])
            {
                sb.Append($" x{i}=0x{X[i]:x} expected 0x{expected.X[i]:x};");
            }
        }

        for (int i = 0; i < 64; i++)
        {
            if (V[i] != expected.V[i])
            {
                sb.Append($" v{i / 2}.d[{i % 2}]=0x{V[i]:x} expected 0x{expected.V[i]:x};");
            }
        }

        if (Sp != expected.Sp)
        {
            sb.Append($" sp=0x{Sp:x} expected 0x{expected.Sp:x};");
        }

        if (Nzcv != expected.Nzcv)
        {
            sb.Append($" nzcv={Nzcv >> 28:X} expected {expected.Nzcv >> 28:X};");
        }

        for (int i = 0; i < DiffLayout.ScratchSize; i++)
        {
            if (Scratch[i] != expected.Scratch[i])
            {
                sb.Append($" mem[0x{DiffLayout.ScratchBase + (ulong)i:x}]=0x{Scratch[i]:x2} expected 0x{expected.Scratch[i]:x2} (first difference);");
                break;
            }
        }

        return sb.ToString();
    }

    public string Describe() => Signal switch
    {
        0 => "end of block",
        SigIll => $"SIGILL at 0x{FaultPc:x}",
        SigTrap => $"SIGTRAP at 0x{FaultPc:x}",
        SigBus => $"SIGBUS at 0x{FaultPc:x}",
        SigSegv => $"SIGSEGV at 0x{FaultPc:x}",
        Runaway => "runaway (did not reach the end of the block)",
        _ => $"signal/exit {Signal} at 0x{FaultPc:x}",
    };
}
