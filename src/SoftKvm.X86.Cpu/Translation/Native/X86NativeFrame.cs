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

    /// <summary>A backward branch goes round again only while the instructions retired at its target are at most this
    /// (the budget less the block's length, so one more pass always fits).</summary>
    public long Limit;

    /// <summary>The vCPU's exit-request flag (non-zero: leave at the next backward branch).</summary>
    public int* ExitRequested;

    public const int ReadTlbOffset = 0;
    public const int WriteTlbOffset = 8;
    public const int FsBaseOffset = 16;
    public const int GsBaseOffset = 24;
    public const int LimitOffset = 32;
    public const int ExitRequestedOffset = 40;
}
