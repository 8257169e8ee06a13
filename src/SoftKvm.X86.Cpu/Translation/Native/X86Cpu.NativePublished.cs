using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu.Translation.Native;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Published device reads in native blocks (issue 19, <see cref="PublishedReads"/>): an IN from a port, or a MOV load from a
/// device page, whose value its in-kernel device published is completed by the block itself: the value into the register, the
/// exit counted in the vCPU's statistics as the exit fast path counts it, the block going on; no call of the exit helper. Only
/// while the hypervisor that published them is the CPU's exit fast path (<see cref="FastExits"/>: another host, or none while
/// the guest is debugged, sees every access offered as before), no memory hook watches, and for ports only where no I/O
/// permission bitmap is consulted (CPL &lt;= IOPL).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private PublishedReads? _publishedReads;
    private IX86FastExitHost? _publishedReadsHost;
    private long* _countExits;
    private long* _countIoExits;
    private long* _countInsnEmulation;

    /// <summary>
    /// Native blocks and IL blocks (X86Cpu.BlockPublished.cs) complete the reads <paramref name="reads"/> publishes while
    /// <paramref name="host"/> is <see cref="FastExits"/>, counting each in the counters at <paramref name="exits"/> and
    /// <paramref name="ioExits"/> (a port) or <paramref name="exits"/>
    /// and <paramref name="insnEmulation"/> (a load), with a plain add on the vCPU's thread as the fast path's own counting does;
    /// the counters must stay where they are while the CPU lives (pinned). A null <paramref name="reads"/> turns it off.
    /// </summary>
    public void UsePublishedReads(PublishedReads? reads, IX86FastExitHost? host, nint exits, nint ioExits, nint insnEmulation)
    {
        if (reads is not null && (host is null || exits == 0 || ioExits == 0 || insnEmulation == 0))
        {
            throw new ArgumentException("published reads need their host and three counters");
        }

        _publishedReads = reads;
        _publishedReadsHost = host;
        _countExits = (long*)exits;
        _countIoExits = (long*)ioExits;
        _countInsnEmulation = (long*)insnEmulation;
    }

    /// <summary>The published tables while the hypervisor that published them is this CPU's exit fast path; else null
    /// (another host, or none while the guest is debugged, sees every access).</summary>
    private PublishedReads? ActivePublishedReads
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ReferenceEquals(_fastExits, _publishedReadsHost) ? _publishedReads : null;
    }

    /// <summary>The page the local APIC serves before any bus (enabled in xAPIC mode: IA32_APIC_BASE bits 11 and 10 = 1, 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool XApicPage(out ulong page)
    {
        ulong apicBase = _regs.ApicBase;
        page = apicBase & 0x000F_FFFF_FFFF_F000UL;
        return (apicBase & 0xC00) == 0x800;
    }

    /// <summary>The published tables a native run may read (null pointers: none), for its frame (every native entry: kept short;
    /// the counters are read by the block only after a table's hit).</summary>
    private void SetPublishedReads(X86NativeFrame* frame)
    {
        var reads = ActivePublishedReads;
        if (reads is null)
        {
            frame->PortValues = null;
            frame->MmioValues = null;
            return;
        }

        frame->CountExits = _countExits;
        frame->CountIoExits = _countIoExits;
        frame->CountInsnEmulation = _countInsnEmulation;
        ulong rflags = _regs.Rflags;
        frame->PortValues = (rflags & Rflags.VM) == 0 && (ulong)_cpl <= ((rflags >> 12) & 3) ? reads.PortTable : null;
        frame->MmioValues = _hooks is not { HasMemoryHooks: true } && (!XApicPage(out ulong apicPage) || !reads.PublishesMmioPage(apicPage))
            ? reads.MmioTable : null;
    }
}
