using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The IO TLB: translations of device pages (an IPA no memory slot backs), kept apart from the RAM TLB so
/// that the RAM fast path, in every engine, never matches one (its compare is unchanged and a device
/// page is never in it). A data access that misses the RAM TLB looks here before walking the page
/// tables: a hit gives the IPA at once, so an MMIO access costs no stage-1 walk and no memory-slot
/// look-up (QEMU's TLB_MMIO entries). Entries carry the RAM TLB's tags (VA page, ASID context, EL) and
/// are filled by the same walk, one array per access kind, so a read-only device mapping still faults
/// on a write; every TLB maintenance operation and every flush drops them with the RAM entries
/// (<see cref="FlushTlb"/>, Arm64Cpu.Tlb.cs). Not filled while a watchpoint is armed (as the RAM TLB).
/// </summary>
public sealed partial class Arm64Cpu
{
    private const int IoTlbBits = 6;
    private const int IoTlbMask = (1 << IoTlbBits) - 1;

    /// <summary>Device pages readable at a tag: <see cref="TlbEntry.Delta"/> holds the IPA of the page.</summary>
    private readonly TlbEntry[] _readIoTlb = new TlbEntry[1 << IoTlbBits]; // pinned where it is for native code (Arm64Cpu.DeviceReads.cs)

    /// <summary>Device pages writable at a tag (an IPA that is no read-only slot either).</summary>
    private readonly TlbEntry[] _writeIoTlb = new TlbEntry[1 << IoTlbBits];

    private readonly byte[] _readIoInfo = new byte[1 << IoTlbBits];
    private readonly byte[] _writeIoInfo = new byte[1 << IoTlbBits];

    /// <summary>
    /// The IPA of <paramref name="va"/> when the IO TLB of <paramref name="kind"/> holds its page under
    /// <paramref name="tag"/> (the RAM TLB's tag of the access), for an access aligned to its
    /// <paramref name="size"/> (an unaligned one takes the slow path, which raises its alignment fault).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryIoTlb(AccessKind kind, ulong va, ulong tag, int size, out ulong ipa)
    {
        ref TlbEntry e = ref (kind == AccessKind.Write ? _writeIoTlb : _readIoTlb)[(int)(va >> 12) & IoTlbMask];
        if (e.Tag == tag && (va & (ulong)(size - 1)) == 0)
        {
            ipa = (ulong)e.Delta | (va & 0xFFF);
            return true;
        }

        ipa = 0;
        return false;
    }

    /// <summary>Caches the device page <paramref name="ipa"/> holding <paramref name="va"/> after its walk (tags as in <see cref="Resolve"/>).</summary>
    private void FillIoTlb(AccessKind kind, ulong va, ulong ipa, bool unprivileged)
    {
        if (_hwWatchpointsArmed || (kind == AccessKind.Write && _memory.FindSlot(ipa) is not null))
        {
            return; // a watchpoint checks every access; a write to a read-only slot keeps its permission fault
        }

        int index = (int)(va >> 12) & IoTlbMask;
        ref TlbEntry e = ref (kind == AccessKind.Write ? _writeIoTlb : _readIoTlb)[index];
        e.Tag = (va & ~0xFFFUL) | (unprivileged ? _tagUnprivileged : _tagEl);
        e.Delta = (long)(ipa & ~0xFFFUL);
        NoteFill(kind == AccessKind.Write ? _writeIoInfo : _readIoInfo, index, va);
    }

    private void ClearIoTlb()
    {
        Array.Clear(_readIoTlb);
        Array.Clear(_writeIoTlb);
    }
}
