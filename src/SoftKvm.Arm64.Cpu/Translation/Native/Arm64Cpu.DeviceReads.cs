using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation.Native;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// In-kernel device reads native code completes itself (issue 19): a word-aligned 32-bit load of a device page whose
/// registers the device publishes as fixed values (<see cref="ICpuHost.TryGetFixedReads"/>: the GIC distributor's
/// GICD_TYPER, IIDR, PIDR2, its reserved space) is, in the access's TLB-miss stub (X64Lowering.ExitHelpers.cs), a look-up
/// of the read IO TLB (the page still mapped, to the same IPA page), of the slot that says which table that page has, and of
/// the word; the exit is counted in the vCPU's statistics (<c>exits</c>, <c>mmio_exit_kernel</c>) as the hypervisor's
/// in-kernel completion counts it, and its value becomes the run state's MMIO data (synchronised when native code returns,
/// or before the next device access the hypervisor sees: <see cref="TakeNativeMmioValue"/>). Anything else (another size, a
/// word the table does not mark, a page without a table, a stale slot) calls the access helper as before, which fills the
/// slot after an in-kernel read (<see cref="NoteDeviceRead"/>). Native code does not run while exits are timed, hooks or
/// the debugger need the interpreter or the PMU counts, so none of those sees less than before.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>Entries of the IO TLB (and of <see cref="NativeDeviceReads.Slots"/>).</summary>
    internal const int IoTlbEntries = 1 << IoTlbBits;

    /// <summary>A slot's IPA with this bit set: the page is known to have no table (native code never matches it).</summary>
    private const ulong NoTable = 2;

    /// <summary>Whether a slot holds a table since the last clear (the generation and statistics are set then).</summary>
    private bool _deviceTablesTaken;

    /// <summary>Reads native code completed from a device's fixed-value table (for the profile).</summary>
    internal long NativeDeviceReadCount => _context->DeviceReads.Count;

    /// <summary>Pins the read IO TLB in place for native code (a pinned-heap array would move the objects allocated after it).</summary>
    private PinnedArray? _readIoTlbPin;

    private void InitializeDeviceReads()
    {
        _readIoTlbPin = new PinnedArray(_readIoTlb);
        _context->DeviceReads.ReadIoTlb = (TlbEntry*)Unsafe.AsPointer(ref _readIoTlb[0]);
        ClearDeviceReads();
    }

    private void ClearDeviceReads()
    {
        for (int i = 0; i < IoTlbEntries; i++)
        {
            _context->DeviceReads.Slots[i] = new DeviceReadSlot { Ipa = 1 };
        }

        _deviceTablesTaken = false;
    }

    /// <summary>
    /// After the access helper completed a 4-byte in-kernel read of <paramref name="va"/> through the read IO TLB (IPA
    /// <paramref name="ipa"/>): the slot of the page says whether it has a table, asked once per page and bus generation.
    /// </summary>
    private void NoteDeviceRead(ulong va, ulong ipa)
    {
        ref NativeDeviceReads d = ref _context->DeviceReads;
        if (_deviceTablesTaken && Volatile.Read(ref *d.BusGeneration) != d.BusGenerationSeen)
        {
            ClearDeviceReads(); // a device came or went: every table is asked for again
        }

        ulong page = ipa & ~0xFFFUL;
        ref DeviceReadSlot slot = ref d.Slots[(int)(va >> 12) & IoTlbMask];
        if ((slot.Ipa & ~NoTable) == page)
        {
            return;
        }

        if (_hwWatchpointsArmed || !_host.TryGetFixedReads(page, out DeviceFixedReads reads))
        {
            slot.Words = null;
            slot.Ipa = page | NoTable;
            return;
        }

        if (!_deviceTablesTaken)
        {
            d.BusGeneration = reads.BusGeneration;
            d.BusGenerationSeen = reads.Generation;
            d.Exits = reads.Exits;
            d.MmioExitKernel = reads.MmioExitKernel;
            _deviceTablesTaken = true;
        }
        else if (reads.Generation != d.BusGenerationSeen)
        {
            return; // the bus changed since the other slots were filled: they are cleared at the next read
        }

        slot.Words = reads.Words;
        slot.Ipa = page;
    }

    /// <summary>
    /// The interrupt controller's EOI slot of this PE for native code (null: none), a pinned word the controller arms with
    /// <c>INTID &lt;&lt; 8 | 1</c> when the EOI of that INTID would change nothing native code cannot see (no output of any PE:
    /// SoftKvm.Arm64's Vgic.NativeEoi.cs). In EL1 code an MSR ICC_EOIR1_EL1 whose INTID (bits [23:0] of the register
    /// written) the slot is armed with turns it into <c>INTID &lt;&lt; 8 | 2</c> with one compare-and-swap and goes on, with no
    /// call of the controller helper; the controller applies the EOI under its lock before anything reads its state. Any
    /// other value, or a slot the controller disarmed meanwhile, calls the helper as before. Not an exit (GICv3 system
    /// registers do not trap under KVM), so nothing is counted; native code does not run while hooks, the debugger or the
    /// PMU need the interpreter.
    /// </summary>
    public void SetNativeEoiSlot(ulong* slot) => _context->DeviceReads.EoiSlot = slot;

    /// <summary>Whether <see cref="SetNativeEoiSlot"/> gave a slot.</summary>
    public bool HasNativeEoiSlot => _context->DeviceReads.EoiSlot != null;

    /// <summary>
    /// Gives the hypervisor the value of the last read native code completed (the run state's MMIO data, as after the
    /// hypervisor's own completion); called when native code returns and before any device access the hypervisor sees.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TakeNativeMmioValue()
    {
        _context->DeviceReads.MmioPending = 0;
        _host.CompletedNativeMmioRead(_context->DeviceReads.MmioValue);
    }
}

/// <summary>Keeps an array pinned where it is for as long as this object lives.</summary>
internal sealed class PinnedArray(Array array)
{
    private System.Runtime.InteropServices.GCHandle _handle = System.Runtime.InteropServices.GCHandle.Alloc(array, System.Runtime.InteropServices.GCHandleType.Pinned);

    ~PinnedArray() => _handle.Free();
}
