using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The PMU's per-instruction events beside INST_RETIRED (docs/kvm-semantics.md#arm64-pmu), counted by
/// exception level while <see cref="PmuCounting"/> is set, for the instructions that retire (those
/// <see cref="Retired"/> counts; an instruction that faults counts nothing):
/// <list type="bullet">
/// <item><b>BR_RETIRED</b> (0x21), "instruction architecturally executed, branch": B, BL, B.cond, CBZ, CBNZ,
/// TBZ, TBNZ, BR, BLR and RET, taken or not. As Arm's event descriptions say, exception-generating
/// instructions (SVC, HVC, SMC, BRK), exception returns (ERET) and context synchronization (ISB) are not
/// branches, nor are exception entries.</item>
/// <item><b>MEM_ACCESS</b> (0x13), "data memory access": one per register an instruction loads or stores
/// (LDR/STR of any size and register file, unscaled, unprivileged, literal, acquire/release and exclusive
/// forms: 1; a pair, LDP/STP/LDNP/STNP/LDPSW/LDXP/STXP and their acquire/release forms: 2; LD1..LD4 and
/// ST1..ST4: one per register of the list, LDnR included), an atomic read-modify-write (LDADD and the other
/// LD&lt;op&gt;/ST&lt;op&gt;, SWP, CAS, CASP) 2, one read and one write, whether or not a compare matched, and
/// DC ZVA 1. A store-exclusive counts its access whether or not it writes. Prefetches (PRFM, PRFUM), cache
/// and TLB maintenance other than DC ZVA, and translation table walks are not data accesses of the
/// instruction and count nothing. An MMIO load or store the hypervisor completes counts 1 when it retires.</item>
/// </list>
/// Only the interpreter counts them, and translated code never runs while the PMU counts, so the counts
/// are the same whichever engine would otherwise run the code.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>The most MEM_ACCESS events one instruction makes (LD4/ST4 and LD1/ST1 of four registers).</summary>
    public const int MaxMemoryAccessesPerInstruction = 4;

    private readonly long[] _branchesAtEl = new long[2];
    private readonly long[] _memoryAccessesAtEl = new long[2];

    /// <summary>BR_RETIRED: branches retired at exception level <paramref name="el"/> (0 or 1) while the PMU counted.</summary>
    public long BranchesAt(int el) => _branchesAtEl[el];

    /// <summary>MEM_ACCESS: data memory accesses of the instructions retired at exception level <paramref name="el"/> while the PMU counted.</summary>
    public long MemoryAccessesAt(int el) => _memoryAccessesAtEl[el];

    /// <summary>Whether <paramref name="op"/> is a branch for BR_RETIRED.</summary>
    internal static bool IsBranch(A64Op op) =>
        op is A64Op.B or A64Op.Bl or A64Op.BCond or A64Op.Cbz or A64Op.Cbnz or A64Op.Tbz or A64Op.Tbnz
            or A64Op.Br or A64Op.Blr or A64Op.Ret or A64Op.BranchAuth;

    /// <summary>The MEM_ACCESS events of <paramref name="insn"/> (decoded as <paramref name="op"/>) when it retires.</summary>
    internal static int MemoryAccesses(A64Op op, uint insn) => op switch
    {
        A64Op.LdrLit or A64Op.LdrswLit or A64Op.LdrLitFp or A64Op.LdrPac => 1,
        A64Op.Stxr or A64Op.Stlxr or A64Op.Ldxr or A64Op.Ldaxr or A64Op.Stlr or A64Op.Ldar or A64Op.LdapurStlur => 1,
        A64Op.Stxp or A64Op.Stlxp or A64Op.Ldxp or A64Op.Ldaxp => 2,
        A64Op.LdStPairNoAlloc or A64Op.LdStPairPost or A64Op.LdStPairOffset or A64Op.LdStPairPre => 2,
        A64Op.Cas or A64Op.Casp => 2,
        A64Op.AtomicMemory => ((insn >> 15) & 1) != 0 && ((insn >> 12) & 7) == 4 ? 1 : 2, // LDAPR is a load
        A64Op.LdStUnscaled or A64Op.LdStPost or A64Op.LdStUnpriv or A64Op.LdStPre or A64Op.LdStRegOffset or A64Op.LdStUnsignedOffset =>
            (insn & 0xC4C0_0000) == 0xC080_0000 ? 0 : 1, // size 11, V 0, opc 10: PRFM/PRFUM
        A64Op.SimdLdStMultiple => ((insn >> 12) & 15) switch { 0 or 2 => 4, 4 or 6 => 3, 8 or 10 => 2, _ => 1 },
        A64Op.SimdLdStSingle => (int)((((insn >> 13) & 1) << 1) | ((insn >> 21) & 1)) + 1,
        A64Op.Sys => (insn & 0xFFFF_FFE0) == 0xD50B_7420 ? 1 : 0, // DC ZVA
        _ => 0,
    };

    // The interpreter, after an instruction retired at _countedEl while the PMU counts.
    private void CountPmuEvents(A64Op op, uint insn)
    {
        if (IsBranch(op))
        {
            _branchesAtEl[_countedEl]++;
        }

        _memoryAccessesAtEl[_countedEl] += MemoryAccesses(op, insn);
    }
}

/// <summary>Whether an instantiation of the interpreter loop counts the PMU's per-instruction events.</summary>
internal interface IPmuEventsMode
{
    /// <summary>A constant of the instantiation: the JIT removes the counting where it is false.</summary>
    static abstract bool Counts { get; }
}

/// <summary>The interpreter loop while the PMU counts.</summary>
internal readonly struct CountPmuEventsMode : IPmuEventsMode
{
    public static bool Counts => true;
}

/// <summary>The interpreter loop while it does not.</summary>
internal readonly struct NoPmuEventsMode : IPmuEventsMode
{
    public static bool Counts => false;
}
