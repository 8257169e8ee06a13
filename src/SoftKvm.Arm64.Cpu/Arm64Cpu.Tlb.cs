using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// ASIDs and TLB maintenance for the software TLB (Arm ARM D8.13, D8.14). The ASID of EL1&amp;0 comes
/// from TTBR1_EL1 or TTBR0_EL1 per TCR_EL1.A1, 16 bits when TCR_EL1.AS = 1 (ID_AA64MMFR0_EL1.ASIDBits
/// advertises 16) and 8 bits otherwise. Entries are tagged so that the hot path still compares one word:
/// the tag's low 12 bits hold (context &lt;&lt; 5) | ((EL + 1) &lt;&lt; 3), where a context is a small number
/// (1..127) standing for one ASID since the last full flush; bits 2:0 stay 0, so that native code folds an
/// access's alignment into the tag compare (the address's low bits kept: a misaligned access misses). Running out of contexts flushes everything, which a
/// TLB may always do. A translation from a global leaf (nG = 0) is tagged with the context it was filled
/// under like any other (it is refilled after an ASID switch) but is marked global in a side array, so
/// TLBI ASIDE1 leaves it and TLBI VAE1 of any ASID removes it. The side array also keeps the block size
/// the page came from, so TLBI by VA removes every page cached from the block that holds the VA.
/// A TTBR write does not flush: it only selects the context of the new ASID. Broadcast (IS) forms reach
/// the other PEs through CpuShared's ring and are replayed there with the same operands.
/// </summary>
public sealed partial class Arm64Cpu
{
    private const int ContextCount = 1 << 7;

    /// <summary>Where the ASID context sits in a tag (above the EL field at bits 4:3; bits 2:0 are 0).</summary>
    private const int ContextShift = 5;

    /// <summary>Where EL + 1 sits in a tag.</summary>
    private const int ElShift = 3;
    private const byte InfoGlobal = 0x80;
    private const byte InfoShiftMask = 0x3F;

    /// <summary>An execute-TLB entry's page is guarded (GP = 1, FEAT_BTI).</summary>
    internal const byte InfoGuarded = 0x40;
    private const ulong TlbiPageMask = 0x00FF_FFFF_FFFF_F000UL;

    private readonly byte[] _readInfo = new byte[1 << TlbBits];
    private readonly byte[] _writeInfo = new byte[1 << TlbBits];
    private readonly byte[] _execInfo = GC.AllocateArray<byte>(1 << TlbBits, pinned: true); // native code reads the guarded bit
    private readonly ushort[] _asidContext = new ushort[1 << 16];
    private readonly ushort[] _contextAsid = new ushort[ContextCount];
    private int _nextContext = 1;
    private ulong _contextTag;

    /// <summary>The largest block shift cached since the last full flush (12 when only pages are).</summary>
    private int _maxCachedShift = 12;

    /// <summary>
    /// The 2 MiB regions that hold a cached block of at most 2 MiB, so that a TLBI by VA outside them scans
    /// one slot however many blocks are cached elsewhere (Linux's linear map is cached in 2 MiB blocks;
    /// its TLBIs are mostly of vmalloc pages): by hash of VA[55:21], the region's number + 1 (0: none,
    /// <see cref="ulong.MaxValue"/>: more than one, which only widens scans) and the largest block shift.
    /// Larger blocks make every scan use <see cref="_maxCachedShift"/>.
    /// </summary>
    private readonly ulong[] _blockRegions = new ulong[1 << BlockRegionBits];
    private readonly byte[] _blockRegionShift = new byte[1 << BlockRegionBits];
    private bool _hugeBlockCached;
    private const int BlockRegionBits = 10;
    private const int BlockRegionShift = 21;

    /// <summary>The ASID of EL1&amp;0 translations now (TCR_EL1.A1 selects the TTBR, TCR_EL1.AS the width).</summary>
    private int CurrentAsid
    {
        get
        {
            ulong ttbr = ((State.TcrEl1 >> 22) & 1) != 0 ? State.Ttbr1El1 : State.Ttbr0El1;
            return (int)(ttbr >> 48) & AsidMask;
        }
    }

    private int AsidMask => ((State.TcrEl1 >> 36) & 1) != 0 ? 0xFFFF : 0xFF;

    /// <summary>Forgets every ASID context (the TLB arrays were just cleared) and re-derives the tags.</summary>
    private void ResetAsidContexts()
    {
        for (int c = 1; c < _nextContext; c++)
        {
            _asidContext[_contextAsid[c]] = 0;
        }

        _nextContext = 1;
        _maxCachedShift = 12;
        _hugeBlockCached = false;
        Array.Clear(_blockRegions);
        Array.Clear(_blockRegionShift);
        UpdateAsid();
    }

    /// <summary>Re-derives the context tag after a TTBR or TCR write (or a flush).</summary>
    private void UpdateAsid()
    {
        int asid = CurrentAsid;
        int context = _asidContext[asid];
        if (context == 0)
        {
            if (_nextContext == ContextCount)
            {
                FlushTlb(); // reset the contexts and comes back here with room
                return;
            }

            context = _nextContext++;
            _asidContext[asid] = (ushort)context;
            _contextAsid[context] = (ushort)asid;
        }

        _contextTag = (ulong)context << ContextShift;
        _tagUnprivileged = _contextTag | (1UL << ElShift);
        UpdateTagEl();
    }

    /// <summary>Records the global bit and the block size of the walk that just filled <paramref name="index"/> for <paramref name="va"/>.</summary>
    private void NoteFill(byte[] info, int index, ulong va)
    {
        info[index] = (byte)(_walkShift | (_walkGlobal ? InfoGlobal : 0) | (_walkGuarded ? InfoGuarded : 0));
        if (_walkShift > _maxCachedShift)
        {
            _maxCachedShift = _walkShift;
        }

        if (_walkShift > BlockRegionShift)
        {
            _hugeBlockCached = true;
        }
        else if (_walkShift > 12)
        {
            ulong region = BlockRegion(va);
            int slot = BlockRegionSlot(region);
            ulong key = _blockRegions[slot];
            _blockRegions[slot] = key == 0 || key == region + 1 ? region + 1 : ulong.MaxValue;
            _blockRegionShift[slot] = Math.Max(_blockRegionShift[slot], (byte)_walkShift);
        }
    }

    /// <summary>VA[55:21]: the 2 MiB region (a TLBI's operand has no VA bits above 55).</summary>
    private static ulong BlockRegion(ulong va) => (va & TlbiPageMask) >> BlockRegionShift;

    private static int BlockRegionSlot(ulong region) =>
        (int)(region ^ (region >> BlockRegionBits) ^ (region >> (2 * BlockRegionBits)) ^ (region >> (3 * BlockRegionBits))) & ((1 << BlockRegionBits) - 1);

    /// <summary>The largest block shift of a cached entry that may hold <paramref name="va"/>.</summary>
    private int CachedShiftAround(ulong va)
    {
        if (_hugeBlockCached)
        {
            return _maxCachedShift;
        }

        ulong region = BlockRegion(va);
        int slot = BlockRegionSlot(region);
        ulong key = _blockRegions[slot];
        return key == region + 1 || key == ulong.MaxValue ? _blockRegionShift[slot] : 12;
    }

    /// <summary>
    /// TLBI VMALLE1, VAE1, ASIDE1, VAAE1, VALE1, VAALE1 (op2 0, 1, 2, 3, 5, 7) with operand
    /// <paramref name="operand"/> on this PE. The last-level forms act as the full ones: only leaf
    /// translations are cached.
    /// </summary>
    private void TlbInvalidate(int op2, ulong operand)
    {
        int asid = (int)(operand >> 48) & AsidMask;
        ulong va = operand << 12; // VA[55:12] = Xt[43:0]
        switch (op2)
        {
            case 0:
                FlushTlb();
                break;
            case 2:
                InvalidateAsid(asid);
                break;
            case 1:
            case 5:
                InvalidateVa(va, asid, anyAsid: false);
                break;
            default:
                InvalidateVa(va, 0, anyAsid: true);
                break;
        }
    }

    /// <summary>
    /// Applies the TLBI ...IS the other PEs broadcast since this PE last looked (its own are applied
    /// already and are harmless to repeat), or flushes everything when the ring no longer holds them all.
    /// </summary>
    private void ReplayBroadcastTlbi()
    {
        lock (_shared.TlbiLock)
        {
            long now = _shared.TlbEpoch;
            if (now - _tlbEpoch > CpuShared.TlbiRingSize)
            {
                FlushTlb();
                return;
            }

            for (long e = _tlbEpoch + 1; e <= now && _tlbEpoch != now; e++)
            {
                var (op2, operand) = _shared.TlbiAt(e);
                TlbInvalidate(op2, operand); // a VMALLE1IS flushes and catches up at once
            }

            _tlbEpoch = now;
        }
    }

    private void InvalidateAsid(int asid)
    {
        int context = _asidContext[asid];
        if (context == 0)
        {
            return; // nothing was cached under this ASID since the last flush
        }

        InvalidateContext(_readTlb, _readInfo, context);
        InvalidateContext(_writeTlb, _writeInfo, context);
        InvalidateContext(_execTlb, _execInfo, context);
        InvalidateContext(_readIoTlb, _readIoInfo, context);
        InvalidateContext(_writeIoTlb, _writeIoInfo, context);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // scans the TLB: never at tier 0 (Linux's TLBIs reach here early and often)
    private static void InvalidateContext(TlbEntry[] tlb, byte[] info, int context)
    {
        for (int i = 0; i < tlb.Length; i++)
        {
            ulong tag = tlb[i].Tag;
            if (tag != 0 && (int)((tag >> ContextShift) & (ContextCount - 1)) == context && (info[i] & InfoGlobal) == 0)
            {
                tlb[i].Tag = 0;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // scans up to every TLB slot: never at tier 0
    private void InvalidateVa(ulong va, int asid, bool anyAsid)
    {
        int context = anyAsid ? -1 : _asidContext[asid];
        int maxShift = CachedShiftAround(va);
        int slots = maxShift - 12 >= TlbBits ? 1 << TlbBits : 1 << (maxShift - 12);
        int first = (int)((va & ~((1UL << maxShift) - 1)) >> 12) & TlbMask;
        for (int n = 0; n < slots; n++)
        {
            int i = (first + n) & TlbMask;
            InvalidateVaSlot(_readTlb, _readInfo, i, va, context);
            InvalidateVaSlot(_writeTlb, _writeInfo, i, va, context);
            InvalidateVaSlot(_execTlb, _execInfo, i, va, context);
        }

        // The IO TLB (Arm64Cpu.IoTlb.cs), indexed the same way with fewer bits.
        slots = Math.Min(slots, 1 << IoTlbBits);
        for (int n = 0; n < slots; n++)
        {
            int i = (first + n) & IoTlbMask;
            InvalidateVaSlot(_readIoTlb, _readIoInfo, i, va, context);
            InvalidateVaSlot(_writeIoTlb, _writeIoInfo, i, va, context);
        }
    }

    /// <summary>
    /// Drops slot <paramref name="i"/> when it caches a page of the block or page holding
    /// <paramref name="va"/> (VA[55:12] compared, so top-byte tags do not matter) and is global, or
    /// belongs to <paramref name="context"/> (-1: any ASID).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InvalidateVaSlot(TlbEntry[] tlb, byte[] info, int i, ulong va, int context)
    {
        ulong tag = tlb[i].Tag;
        if (tag == 0)
        {
            return;
        }

        byte entry = info[i];
        ulong blockMask = ~((1UL << (entry & InfoShiftMask)) - 1);
        if (((tag ^ va) & TlbiPageMask & blockMask) != 0)
        {
            return;
        }

        if (context == -1 || (entry & InfoGlobal) != 0 || (int)((tag >> ContextShift) & (ContextCount - 1)) == context)
        {
            tlb[i].Tag = 0;
        }
    }
}
