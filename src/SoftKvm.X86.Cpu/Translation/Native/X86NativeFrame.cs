using System.Runtime.InteropServices;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// What a native block reads besides the registers, on the run loop's stack for one run (rbp points at it):
/// the software TLB's read and write halves of the current privilege, the FS and GS bases, the budget and
/// the vCPU's exit-request flag, the published device reads and the counters their exits count in. Offsets are fixed (<see cref="X86NativeTranslator"/> emits them).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct X86NativeFrame
{
    /// <summary>The read TLB entries of the current privilege (256 sets).</summary>
    public TlbEntry* ReadTlb;

    /// <summary>The write TLB entries of the current privilege (256 sets).</summary>
    public TlbEntry* WriteTlb;

    /// <summary>FS.base (an FS-prefixed access adds it).</summary>
    public ulong FsBase;

    /// <summary>GS.base.</summary>
    public ulong GsBase;

    /// <summary>A backward branch goes round again, and a block exit chains to the next block, only while the instructions
    /// retired at its target are at most this (the budget less the longest block, so one more pass always fits).</summary>
    public long Limit;

    /// <summary>The vCPU's exit-request flag (non-zero: leave at the next backward branch or block exit).</summary>
    public int* ExitRequested;

    /// <summary>The fetch TLB entries of the current privilege (a chained jump checks its target's page there).</summary>
    public TlbEntry* FetchTlb;

    /// <summary>The vCPU's jump cache (<see cref="X86NativeJumpCache"/>): guest RIP to a block's chained entry.</summary>
    public X86NativeJumpCache.Entry* JumpCache;

    /// <summary>Set by a block whose code changed, entered through a chain: RIP is its first instruction.</summary>
    public int Stale;

    /// <summary>The exit helper (<see cref="X86Cpu"/>'s <c>ExitHelper</c>: a device access, port IO, WRMSR or VMCALL), called
    /// by the block as <c>(frame, linear, rip, kind)</c>.</summary>
    public nint ExitHelper;

    /// <summary>The published port reads (<see cref="PublishedReads"/>), or null: an IN takes the exit helper.</summary>
    public PublishedReads.Entry* PortValues;

    /// <summary>The published guest-physical reads, or null: a device MOV takes the exit helper.</summary>
    public PublishedReads.Entry* MmioValues;

    /// <summary>The vCPU's <c>exits</c> counter (set with the tables).</summary>
    public long* CountExits;

    /// <summary>The vCPU's <c>io_exits</c> counter.</summary>
    public long* CountIoExits;

    /// <summary>The vCPU's <c>insn_emulation</c> counter.</summary>
    public long* CountInsnEmulation;

    public const int ReadTlbOffset = 0;
    public const int WriteTlbOffset = 8;
    public const int FsBaseOffset = 16;
    public const int GsBaseOffset = 24;
    public const int LimitOffset = 32;
    public const int ExitRequestedOffset = 40;
    public const int FetchTlbOffset = 48;
    public const int JumpCacheOffset = 56;
    public const int StaleOffset = 64;
    public const int ExitHelperOffset = 72;
    public const int PortValuesOffset = 80;
    public const int MmioValuesOffset = 88;
    public const int CountExitsOffset = 96;
    public const int CountIoExitsOffset = 104;
    public const int CountInsnEmulationOffset = 112;
}
