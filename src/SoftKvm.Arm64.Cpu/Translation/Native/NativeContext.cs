using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// The part of a PE that generated code reads and writes, in memory that never moves (a pinned block the
/// CPU model owns for its whole life): the architectural state itself (<see cref="Arm64Cpu.State"/> is
/// a reference to <see cref="State"/>), and beside it what the native code needs to run without the
/// managed object: the software-TLB arrays and tags, the exit-request flag, the instruction budget, the
/// jump cache and the addresses of the managed helpers. Generated code addresses all of it from one
/// host register (<see cref="X64.X64Layout.Context"/>) at the offsets of <see cref="ContextOffsets"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeContext
{
    /// <summary>The architectural state (X0-X30, SP, PC, PSTATE, V registers, system registers).</summary>
    public CpuState State;

    /// <summary>The read software TLB (pinned array of <see cref="Arm64Cpu"/>).</summary>
    public TlbEntry* ReadTlb;

    /// <summary>The write software TLB.</summary>
    public TlbEntry* WriteTlb;

    /// <summary>The execute software TLB (the jump cache checks its entries still map the same page).</summary>
    public TlbEntry* ExecTlb;

    /// <summary>The execute TLB's info bytes (pinned, one per entry: the guarded-page bit of FEAT_BTI among them).</summary>
    public byte* ExecInfo;

    /// <summary>The tag of the current EL's accesses (ASID context and EL + 1), as Arm64Cpu keeps it.</summary>
    public ulong TagEl;

    /// <summary>The tag of unprivileged (LDTR/STTR) accesses.</summary>
    public ulong TagUnprivileged;

    /// <summary>
    /// Non-zero when the native code must return to the run loop at the next block entry or backward
    /// branch: a request was made to the vCPU (a kick) or another PE broadcast a TLB invalidation.
    /// Written by any thread; cleared by the run loop before it looks at the requests.
    /// </summary>
    public int ExitRequest;

    /// <summary>
    /// NZCV while native code runs, as the host flags image the code saves and restores with LAHF/SAHF:
    /// bits 15-8 are AH (SF, ZF, AF, PF, CF with CF = ARM's C), bit 0 is OF (ARM's V).
    /// </summary>
    public ushort FlagsImage;

    /// <summary>What a helper reports to the code that called it (0: go on; else a <see cref="NativeExit"/>).</summary>
    public int HelperStatus;

    /// <summary>Instructions left to run (the budget register, stored here when the native code returns).</summary>
    public long BudgetLeft;

    /// <summary>The per-PE jump cache (guest PC and mode to native entry), <see cref="JumpCache.Size"/> entries.</summary>
    public JumpCacheEntry* JumpCache;

    /// <summary>The current mode key (EL, SP selection, alignment checking and ASID context) the jump cache compares.</summary>
    public ulong ModeKey;

    /// <summary>The word of the VM's pair lock (<see cref="CpuShared.PairSpin"/>), which native CASP takes.</summary>
    public int* PairSpin;

    /// <summary>The native code's helpers, indexed by <see cref="NativeHelper"/>.</summary>
    public HelperTable Helpers;

    /// <summary>Where the native code saved the host stack pointer at entry (for a helper that must unwind).</summary>
    public ulong SavedStack;

    /// <summary>Scratch space a helper returns a second value in.</summary>
    public ulong Scratch;

    /// <summary>Where the last exit helper that left was called from: the block goes on there once the exit is completed (Arm64Cpu.Resume.cs).</summary>
    public ulong ResumeAt;

    /// <summary>The block of <see cref="ResumeAt"/>.</summary>
    public int ResumeBlock;

    /// <summary>Indirect branches the jump cache resolved in native code (for the profile).</summary>
    public long JumpCacheHits;

    /// <summary>Block entries past their checks, from the run loop, the jump cache or a linked exit (for the profile).</summary>
    public long BlockEntries;

    /// <summary>
    /// The exclusive monitor (<c>LoadStoreExclusive.cs</c>): the host address of the last load-exclusive's
    /// location, 0 when the monitor is clear. Here so that native code and the interpreter share one monitor.
    /// </summary>
    public ulong ExclusiveHost;

    /// <summary>The value the load-exclusive read (of a pair: the first doubleword, or both words of a 32-bit pair).</summary>
    public ulong ExclusiveValue;

    /// <summary>The second doubleword a 64-bit LDXP read.</summary>
    public ulong ExclusiveValue2;

    /// <summary>The size in bytes of the load-exclusive's access (a pair's both elements).</summary>
    public int ExclusiveSize;

    /// <summary>
    /// The interrupt lines pending, as the PSTATE.DAIF bits that mask them (I for IRQ, F for FIQ): native code
    /// that unmasks one leaves for the run loop (Arm64Cpu.MaskedInterrupts.cs). Written by the PE's own thread.
    /// </summary>
    public uint PendingInterrupts;

    /// <summary>In-kernel device reads native code completes itself (Arm64Cpu.DeviceReads.cs).</summary>
    public NativeDeviceReads DeviceReads;
}

/// <summary>The helpers' addresses, one slot per <see cref="NativeHelper"/>.</summary>
[System.Runtime.CompilerServices.InlineArray((int)NativeHelper.Count)]
internal struct HelperTable
{
    private nint _element0;
}

/// <summary>One slot of the jump cache: a guest PC in a mode, and the native entry that runs it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct JumpCacheEntry
{
    /// <summary>The guest PC (0 when the slot is empty: no entry is at PC 0 with mode 0).</summary>
    public ulong Pc;

    /// <summary>The mode key the entry was found in (<see cref="NativeContext.ModeKey"/>).</summary>
    public ulong Mode;

    /// <summary>The native entry's address.</summary>
    public nint Code;

    /// <summary>
    /// The execute-TLB delta of the entry's page when it was found: a hit needs the execute TLB to map
    /// the page still, and to the same host page (so TLB maintenance never has to touch the jump cache).
    /// </summary>
    public long ExecDelta;
}

/// <summary>Byte offsets of the <see cref="NativeContext"/> fields generated code uses.</summary>
internal static unsafe class ContextOffsets
{
    /// <summary>Offset of X[n] (n = 0..30).</summary>
    public static int X(int n) => XBase + (8 * n);

    /// <summary>Offset of V[n] as two doublewords (lanes 2n, 2n + 1).</summary>
    public static int V(int lane) => VBase + (8 * lane);

    private static readonly int XBase = Offset(c => (byte*)&c->State.X);
    private static readonly int VBase = Offset(c => (byte*)&c->State.V);

    /// <summary>SP_EL0.</summary>
    public static readonly int SpEl0 = Offset(c => (byte*)&c->State.SpEl0);

    /// <summary>SP_EL1.</summary>
    public static readonly int SpEl1 = Offset(c => (byte*)&c->State.SpEl1);

    /// <summary>TPIDR_EL1.</summary>
    public static readonly int TpidrEl1 = Offset(c => (byte*)&c->State.TpidrEl1);

    /// <summary>TPIDR_EL0.</summary>
    public static readonly int TpidrEl0 = Offset(c => (byte*)&c->State.TpidrEl0);

    /// <summary>TPIDRRO_EL0.</summary>
    public static readonly int TpidrroEl0 = Offset(c => (byte*)&c->State.TpidrroEl0);

    /// <summary>ELR_EL1.</summary>
    public static readonly int ElrEl1 = Offset(c => (byte*)&c->State.ElrEl1);

    /// <summary>SPSR_EL1.</summary>
    public static readonly int SpsrEl1 = Offset(c => (byte*)&c->State.SpsrEl1);

    /// <summary>ESR_EL1.</summary>
    public static readonly int EsrEl1 = Offset(c => (byte*)&c->State.EsrEl1);

    /// <summary>FAR_EL1.</summary>
    public static readonly int FarEl1 = Offset(c => (byte*)&c->State.FarEl1);

    /// <summary>PSTATE.DAIF (bits 9:6).</summary>
    public static readonly int Daif = Offset(c => (byte*)&c->State.Daif);

    /// <summary>PSTATE's extension fields (<see cref="CpuState.PstateFlags"/>: BTYPE in bits 11:10).</summary>
    public static readonly int PstateFlags = Offset(c => (byte*)&c->State.PstateFlags);

    /// <summary>PC.</summary>
    public static readonly int Pc = Offset(c => (byte*)&c->State.Pc);

    /// <summary>PSTATE.NZCV (bits 31:28).</summary>
    public static readonly int Nzcv = Offset(c => (byte*)&c->State.Nzcv);

    /// <summary><see cref="NativeContext.FlagsImage"/>.</summary>
    public static readonly int FlagsImage = Offset(c => (byte*)&c->FlagsImage);

    /// <summary><see cref="NativeContext.ReadTlb"/>.</summary>
    public static readonly int ReadTlb = Offset(c => (byte*)&c->ReadTlb);

    /// <summary><see cref="NativeContext.WriteTlb"/>.</summary>
    public static readonly int WriteTlb = Offset(c => (byte*)&c->WriteTlb);

    /// <summary><see cref="NativeContext.ExecTlb"/>.</summary>
    public static readonly int ExecTlb = Offset(c => (byte*)&c->ExecTlb);

    /// <summary><see cref="NativeContext.ExecInfo"/>.</summary>
    public static readonly int ExecInfo = Offset(c => (byte*)&c->ExecInfo);

    /// <summary>SCTLR_EL1.</summary>
    public static readonly int SctlrEl1 = Offset(c => (byte*)&c->State.SctlrEl1);

    /// <summary>The pointer authentication keys (<see cref="CpuState.PacKeys"/>: Lo, Hi of APIA, APIB, APDA, APDB, APGA).</summary>
    public static readonly int PacKeys = Offset(c => (byte*)&c->State.PacKeys);

    /// <summary><see cref="NativeContext.TagEl"/>.</summary>
    public static readonly int TagEl = Offset(c => (byte*)&c->TagEl);

    /// <summary><see cref="NativeContext.TagUnprivileged"/>.</summary>
    public static readonly int TagUnprivileged = Offset(c => (byte*)&c->TagUnprivileged);

    /// <summary><see cref="NativeContext.PendingInterrupts"/>.</summary>
    public static readonly int PendingInterrupts = Offset(c => (byte*)&c->PendingInterrupts);

    /// <summary><see cref="NativeContext.ExitRequest"/>.</summary>
    public static readonly int ExitRequest = Offset(c => (byte*)&c->ExitRequest);

    /// <summary><see cref="NativeContext.HelperStatus"/>.</summary>
    public static readonly int HelperStatus = Offset(c => (byte*)&c->HelperStatus);

    /// <summary><see cref="NativeContext.BudgetLeft"/>.</summary>
    public static readonly int BudgetLeft = Offset(c => (byte*)&c->BudgetLeft);

    /// <summary><see cref="NativeContext.JumpCache"/>.</summary>
    public static readonly int JumpCache = Offset(c => (byte*)&c->JumpCache);

    /// <summary><see cref="NativeContext.ModeKey"/>.</summary>
    public static readonly int ModeKey = Offset(c => (byte*)&c->ModeKey);

    /// <summary>Offset of <see cref="NativeContext.PairSpin"/>.</summary>
    public static readonly int PairSpin = Offset(c => (byte*)&c->PairSpin);

    /// <summary><see cref="NativeContext.JumpCacheHits"/>.</summary>
    public static readonly int JumpCacheHits = Offset(c => (byte*)&c->JumpCacheHits);

    /// <summary><see cref="NativeContext.BlockEntries"/>.</summary>
    public static readonly int BlockEntries = Offset(c => (byte*)&c->BlockEntries);

    /// <summary><see cref="NativeContext.SavedStack"/>.</summary>
    public static readonly int SavedStack = Offset(c => (byte*)&c->SavedStack);

    /// <summary><see cref="NativeContext.Scratch"/>.</summary>
    public static readonly int Scratch = Offset(c => (byte*)&c->Scratch);

    /// <summary><see cref="NativeContext.ResumeAt"/>.</summary>
    public static readonly int ResumeAt = Offset(c => (byte*)&c->ResumeAt);

    /// <summary><see cref="NativeContext.ResumeBlock"/>.</summary>
    public static readonly int ResumeBlock = Offset(c => (byte*)&c->ResumeBlock);

    /// <summary><see cref="NativeContext.ExclusiveHost"/>.</summary>
    public static readonly int ExclusiveHost = Offset(c => (byte*)&c->ExclusiveHost);

    /// <summary><see cref="NativeContext.ExclusiveValue"/>.</summary>
    public static readonly int ExclusiveValue = Offset(c => (byte*)&c->ExclusiveValue);

    /// <summary><see cref="NativeContext.ExclusiveSize"/>.</summary>
    public static readonly int ExclusiveSize = Offset(c => (byte*)&c->ExclusiveSize);

    /// <summary><see cref="NativeContext.DeviceReads"/> (its fields at <see cref="DeviceReadOffsets"/> from here).</summary>
    public static readonly int DeviceReads = Offset(c => (byte*)&c->DeviceReads);

    /// <summary>The slot of helper <paramref name="helper"/>.</summary>
    public static int Helper(NativeHelper helper) => HelperBase + (8 * (int)helper);

    private static readonly int HelperBase = Offset(c => (byte*)&c->Helpers);

    private delegate byte* FieldOf(NativeContext* context);

    private static int Offset(FieldOf field)
    {
        // Measured on a real (zeroed, short-lived) context: field addresses of inline arrays are taken through it.
        var context = (NativeContext*)NativeMemory.AllocZeroed((nuint)sizeof(NativeContext));
        try
        {
            return (int)(field(context) - (byte*)context);
        }
        finally
        {
            NativeMemory.Free(context);
        }
    }
}
