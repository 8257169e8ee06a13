using System.Runtime.InteropServices;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// What a native block reads besides the registers, on the run loop's stack for one run (rbp points at it):
/// the software TLB's read and write halves of the current privilege, the FS and GS bases, the budget and
/// the vCPU's exit-request flag. Offsets are fixed (<see cref="X86NativeTranslator"/> emits them).
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
}
