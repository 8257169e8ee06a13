using System.Runtime.CompilerServices;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Published device reads in IL blocks (issue 19, <see cref="PublishedReads"/>; the native blocks' are in
/// X86Cpu.NativePublished.cs): a block's IN from a port, or MOV load from a device page, whose value its in-kernel device
/// published takes the value and counts the exit as the fast path would (<c>exits</c> and <c>io_exits</c>, or <c>exits</c>
/// and <c>insn_emulation</c>), without offering the access to the fast path. Under the native blocks' conditions: only while
/// the hypervisor that published them is the CPU's exit fast path (another host, or none while the guest is debugged, sees
/// every access; exits timed for a profile turn the tables off), nothing debugs the instruction, no memory hook watches
/// (<see cref="DevicePage"/>), ports only at CPL &lt;= IOPL (no I/O permission bitmap to read), and no load from the page the
/// local APIC serves before the bus.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>An IN of <paramref name="size"/> bytes from <paramref name="port"/> completed from the published table: its
    /// value zero-extended in <paramref name="value"/>, the exit counted. False: not published now (the fast path decides).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryBlockPublishedIn(ushort port, int size, ref ulong value)
    {
        var reads = ActivePublishedReads;
        if (reads is null || !FastExitAllowed || (ulong)_cpl > ((_regs.Rflags >> 12) & 3) || !reads.TryReadPort(port, size, out ulong v))
        {
            return false;
        }

        value = v;
        (*_countExits)++;
        (*_countIoExits)++;
        return true;
    }

    /// <summary>A load of <paramref name="size"/> bytes from guest-physical <paramref name="gpa"/> (a device page the TLB holds,
    /// no memory hook) completed from the published table, the exit counted. False: not published now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryBlockPublishedLoad(ulong gpa, int size, out ulong value)
    {
        value = 0;
        var reads = ActivePublishedReads;
        if (reads is null || !FastExitAllowed)
        {
            return false;
        }

        if ((XApicPage(out ulong apicPage) && (gpa & ~0xFFFUL) == apicPage) || !reads.TryReadMmio(gpa, size, out value))
        {
            return false; // (the local APIC's page goes to the vCPU's APIC before any bus)
        }

        (*_countExits)++;
        (*_countInsnEmulation)++;
        return true;
    }
}
