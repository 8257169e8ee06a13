using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>One software-TLB entry: a 4 KiB guest-virtual page mapped to host memory.</summary>
internal struct TlbEntry
{
    /// <summary>Page VA | (ASID context &lt;&lt; 5) | ((EL + 1) &lt;&lt; 3); 0 = empty.</summary>
    public ulong Tag;

    /// <summary>Host address minus guest VA for the page.</summary>
    public long Delta;
}

/// <summary>What an access is, for permission checks and syndromes.</summary>
internal enum AccessKind
{
    Read,
    Write,
    Execute,
}

/// <summary>
/// Memory accesses: a per-vCPU software TLB (stage 1 and stage 2 folded: VA page → host pointer, one
/// array per access kind, tagged with the EL so EL0 and EL1 permissions never mix and with the ASID
/// context of Arm64Cpu.Tlb.cs), the slow path that walks the page tables and asks the memory slots, and
/// the stage-2 trap when the IPA is not RAM. The fast path takes an access aligned to its size (it cannot
/// cross a page), or an unaligned one inside the page when alignment is not checked.
/// RAM TLB entries are only created for RAM, so device registers are never cached; device pages have the
/// IO TLB (Arm64Cpu.IoTlb.cs), looked at only on the slow path. A device access with a valid syndrome is
/// offered to the hypervisor's fast path (<see cref="ICpuHost.TryCompleteMmio"/>) before it becomes a
/// stage-2 trap.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const int TlbBits = 10;
    private const int TlbMask = (1 << TlbBits) - 1;
    private const int DecodeCacheBits = 14;

    private readonly TlbEntry[] _readTlb = GC.AllocateArray<TlbEntry>(1 << TlbBits, pinned: true);
    private readonly TlbEntry[] _writeTlb = GC.AllocateArray<TlbEntry>(1 << TlbBits, pinned: true);
    private readonly TlbEntry[] _execTlb = GC.AllocateArray<TlbEntry>(1 << TlbBits, pinned: true);
    private readonly ulong[] _decodeCache = new ulong[1 << DecodeCacheBits];
    private long _memoryGeneration;
    private long _tlbEpoch;
    private ulong _tagEl = 2UL << ElShift;
    private ulong _tagUnprivileged = 1UL << ElShift;

    /// <summary>Drops every cached translation (TLBI, memory slot change, dirty-log harvest).</summary>
    public void FlushTlb()
    {
        Counters.TlbFlushes++;
        _memoryGeneration = _memory.Generation;
        _tlbEpoch = _shared.TlbEpoch;
        Array.Clear(_readTlb);
        Array.Clear(_writeTlb);
        Array.Clear(_execTlb);
        ClearIoTlb();
        ResetAsidContexts();
    }

    /// <summary>
    /// The TLB tag's EL field (bits 4:3): EL + 1, or 3 for EL1 with PSTATE.PAN set, so entries filled under PAN (with
    /// its permission check) and without it never hit for each other. Engines that inline the TLB compare
    /// against this field and so honour PAN without knowing of it.
    /// </summary>
    private void UpdateTagEl() => _tagEl = _contextTag | ((PanActive ? 3UL : (ulong)State.El + 1) << ElShift);

    /// <summary>Whether privileged data accesses are PAN-checked now (EL1 and PSTATE.PAN).</summary>
    private bool PanActive => State.El == 1 && (State.PstateFlags & Psr.Pan) != 0;

    /// <summary>Re-derives cached state after PSTATE was written from outside (the VMM).</summary>
    public void OnPstateChanged()
    {
        MaskPstateFlags();
        UpdateTagEl();
        UpdateAttention();
    }

    // ---- instruction fetch ----

    /// <summary>
    /// The host address of the instruction at <paramref name="pc"/>, or null when fetching it took an
    /// exception (a prefetch abort, PC alignment, a breakpoint). The decode cache is indexed by the
    /// host address of the instruction and keeps (word, op): an entry is used only when the word just
    /// fetched equals the cached word, so a write to code by any PE, DMA or the VMM invalidates it
    /// implicitly and IC maintenance needs no bookkeeping.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint* FetchHost(ulong pc)
    {
        ref TlbEntry e = ref _execTlb[(int)(pc >> 12) & TlbMask];
        byte* p;
        if (e.Tag == ((pc & ~0xFFFUL) | _tagEl) && (pc & 3) == 0)
        {
            p = (byte*)(e.Delta + (long)pc);
        }
        else if ((p = FetchSlow(pc)) == null)
        {
            return null;
        }

        if (_hwBreakpointsArmed && CheckBreakpoint(pc))
        {
            return null;
        }

        return (uint*)p;
    }

    /// <summary>The op of <paramref name="insn"/>, fetched from <paramref name="host"/>, through the decode cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private A64Op DecodeCached(uint* host, uint insn)
    {
        ref ulong slot = ref _decodeCache[(int)((nuint)host >> 2) & ((1 << DecodeCacheBits) - 1)];
        ulong cached = slot;
        if ((uint)cached == insn && cached != 0)
        {
            return (A64Op)(cached >> 32);
        }

        Counters.DecodeCacheMisses++;
        A64Op op = A64Decoder.Decode(insn);
        slot = insn | ((ulong)op << 32);
        return op;
    }

    private byte* FetchSlow(ulong pc)
    {
        Counters.FetchTlbMisses++;
        if ((pc & 3) != 0)
        {
            TakeSyncException(Esr.Make(Esr.EcPcAlign, 0), pc, true);
            return null;
        }

        if (!Translate(pc, AccessKind.Execute, State.El, out ulong pa, out uint fault))
        {
            uint ec = State.El == 0 ? Esr.EcIabtLow : Esr.EcIabtCur;
            TakeSyncException(Esr.Make(ec, fault), pc, true);
            return null;
        }

        byte* host = _memory.TryGetHostPointer(pa, false, out _);
        if (host == null)
        {
            // Instruction fetch outside RAM is not MMIO: the guest gets a prefetch abort
            // (docs/kvm-semantics.md#arm64-data-abort-syndrome).
            uint ec = State.El == 0 ? Esr.EcIabtLow : Esr.EcIabtCur;
            TakeSyncException(Esr.Make(ec, Esr.FscExternal), pc, true);
            return null;
        }

        int index = (int)(pc >> 12) & TlbMask;
        ref TlbEntry e = ref _execTlb[index];
        e.Tag = (pc & ~0xFFFUL) | _tagEl;
        e.Delta = (long)(host - (pa & 0xFFF)) - (long)(pc & ~0xFFFUL);
        NoteFill(_execInfo, index, pc);
        return host;
    }

    // ---- data accesses ----

    /// <summary>
    /// Reads <paramref name="size"/> bytes (1, 2, 4, 8) at <paramref name="va"/>. False when the access
    /// faulted: an exception was taken in the guest, or a stage-2 trap is pending (<see cref="Flow.Trap"/>
    /// via <see cref="FaultFlow"/>). <paramref name="iss"/> is the instruction syndrome for a stage-2
    /// abort (ISV|SAS|SSE|SRT|SF|AR), 0 when the instruction gives none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Read(ulong va, int size, out ulong value, uint iss, bool unprivileged = false, bool aligned = false)
    {
        ulong tag = (va & ~0xFFFUL) | (unprivileged ? _tagUnprivileged : _tagEl);
        ref TlbEntry e = ref _readTlb[(int)(va >> 12) & TlbMask];
        if (e.Tag == tag && ((va & (ulong)(size - 1)) == 0 || (!aligned && _unalignedAllowed && (va & 0xFFF) <= (ulong)(4096 - size))))
        {
            byte* p = (byte*)(e.Delta + (long)va);
            value = size switch
            {
                1 => *p,
                2 => *(ushort*)p,
                4 => *(uint*)p,
                _ => *(ulong*)p,
            };
            return true;
        }

        return ReadSlow(va, size, out value, iss, unprivileged, aligned);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Write(ulong va, int size, ulong value, uint iss, bool unprivileged = false, bool aligned = false)
    {
        ulong tag = (va & ~0xFFFUL) | (unprivileged ? _tagUnprivileged : _tagEl);
        ref TlbEntry e = ref _writeTlb[(int)(va >> 12) & TlbMask];
        if (e.Tag == tag && ((va & (ulong)(size - 1)) == 0 || (!aligned && _unalignedAllowed && (va & 0xFFF) <= (ulong)(4096 - size))))
        {
            byte* p = (byte*)(e.Delta + (long)va);
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }

            return true;
        }

        return WriteSlow(va, size, value, iss, unprivileged, aligned);
    }

    /// <summary>
    /// Whether a data access need not be aligned to its size: SCTLR_EL1.M = 1 (the MMU maps RAM as Normal
    /// memory) and SCTLR_EL1.A = 0. With the MMU off every data access is Device-nGnRnE (Arm ARM D8.2.11,
    /// B2.5.2), so an unaligned one takes an Alignment fault, as it does with SCTLR_EL1.A = 1. Instruction
    /// fetches with the MMU off are Normal memory and not affected.
    /// </summary>
    private bool _unalignedAllowed;

    /// <summary>Re-derives what SCTLR_EL1 decides for data accesses: alignment checking and the MTE tag-check gate.</summary>
    private void UpdateAlignment()
    {
        _unalignedAllowed = (State.SctlrEl1 & SctlrM) != 0 && (State.SctlrEl1 & SctlrA) == 0;
        UpdateTagChecking();
    }

    /// <summary>
    /// The alignment check of a 16-byte (Q register) access that is done as two 8-byte halves: it must be
    /// aligned to 16 bytes when alignment is checked. False with the fault delivered.
    /// </summary>
    private bool CheckQuadAlignment(ulong va, bool write)
    {
        if ((va & 15) != 0 && !_unalignedAllowed)
        {
            _faultIsTrap = false;
            DataAbortToGuest(va, Esr.FscAlignment, write);
            return false;
        }

        return true;
    }

    /// <summary>The flow of an instruction whose access faulted.</summary>
    private Flow FaultFlow => _faultIsTrap ? Flow.Trap : Flow.Exception;

    private bool _faultIsTrap;

    private bool ReadSlow(ulong va, int size, out ulong value, uint iss, bool unprivileged, bool aligned)
    {
        Counters.ReadSlowPaths++;
        value = 0;
        if (TryIoTlb(AccessKind.Read, va, (va & ~0xFFFUL) | (unprivileged ? _tagUnprivileged : _tagEl), size, out ulong ipa))
        {
            return DeviceAccess(va, ipa, iss, false, ref value);
        }

        byte* host = Resolve(va, size, AccessKind.Read, iss, unprivileged, aligned, out bool split, out ipa);
        if (host == null)
        {
            if (ipa != NoDevice)
            {
                return DeviceAccess(va, ipa, iss, false, ref value);
            }

            if (!split)
            {
                return false;
            }

            // A page-crossing access is made of byte reads; the hooks see it once, whole.
            _hookingSplit = true;
            try
            {
                for (int i = 0; i < size; i++)
                {
                    if (!Read(va + (ulong)i, 1, out ulong b, 0, unprivileged))
                    {
                        return false;
                    }

                    value |= b << (8 * i);
                }
            }
            finally
            {
                _hookingSplit = false;
            }

            HookAccess(AccessKind.Read, va, size, value);
            return true;
        }

        value = size switch
        {
            1 => *host,
            2 => *(ushort*)host,
            4 => *(uint*)host,
            _ => *(ulong*)host,
        };
        HookAccess(AccessKind.Read, va, size, value);
        return true;
    }

    private bool WriteSlow(ulong va, int size, ulong value, uint iss, bool unprivileged, bool aligned)
    {
        Counters.WriteSlowPaths++;
        if (TryIoTlb(AccessKind.Write, va, (va & ~0xFFFUL) | (unprivileged ? _tagUnprivileged : _tagEl), size, out ulong ipa))
        {
            return DeviceAccess(va, ipa, iss, true, ref value);
        }

        byte* host = Resolve(va, size, AccessKind.Write, iss, unprivileged, aligned, out bool split, out ipa);
        if (host == null)
        {
            if (ipa != NoDevice)
            {
                return DeviceAccess(va, ipa, iss, true, ref value);
            }

            if (!split)
            {
                return false;
            }

            // Check every byte first so a faulting page-crossing store writes nothing.
            for (int i = 0; i < size; i++)
            {
                if (ResolveNoFill(va + (ulong)i, AccessKind.Write, unprivileged) == null)
                {
                    return WriteByteFault(va + (ulong)i, unprivileged);
                }

                if (_walkTagged && _tagChecksConfigured && !SplitWriteTagCheck(va + (ulong)i, unprivileged))
                {
                    return false;
                }
            }

            HookAccess(AccessKind.Write, va, size, value);
            for (int i = 0; i < size; i++)
            {
                *ResolveNoFill(va + (ulong)i, AccessKind.Write, unprivileged) = (byte)(value >> (8 * i));
            }

            return true;
        }

        HookAccess(AccessKind.Write, va, size, value);
        switch (size)
        {
            case 1: *host = (byte)value; break;
            case 2: *(ushort*)host = (ushort)value; break;
            case 4: *(uint*)host = (uint)value; break;
            default: *(ulong*)host = value; break;
        }

        return true;
    }

    private bool WriteByteFault(ulong va, bool unprivileged)
    {
        if (Resolve(va, 1, AccessKind.Write, 0, unprivileged, false, out _, out ulong ipa) == null && ipa != NoDevice)
        {
            Stage2Abort(va, ipa, 0, true);
        }

        return false;
    }

    /// <summary>The tag check of one byte of a page-crossing store (its page was just translated by <see cref="ResolveNoFill"/>).</summary>
    private bool SplitWriteTagCheck(ulong va, bool unprivileged) =>
        !Translate(va, AccessKind.Write, unprivileged ? 0 : State.El, out ulong pa, out _, pan: !unprivileged && PanActive)
        || CheckTag(va, pa, 1, true, unprivileged);

    private byte* ResolveNoFill(ulong va, AccessKind kind, bool unprivileged)
    {
        if (!Translate(va, kind, unprivileged ? 0 : State.El, out ulong pa, out _, pan: !unprivileged && PanActive))
        {
            return null;
        }

        return _memory.TryGetHostPointer(pa, kind == AccessKind.Write, out _);
    }

    /// <summary>Resolve's <c>deviceIpa</c> when the access did not reach a device page.</summary>
    private const ulong NoDevice = ulong.MaxValue;

    /// <summary>
    /// The slow path of one access: alignment, watchpoints, stage 1, stage 2. Returns the host pointer
    /// and fills the TLB, or null with the fault delivered as a guest exception; or null with
    /// <paramref name="deviceIpa"/> set when the access reached a device page (an IPA no slot backs, or a
    /// write to a read-only slot), nothing raised yet and the IO TLB filled: the caller performs it
    /// (<see cref="DeviceAccess"/>) or raises the stage-2 abort. <paramref name="split"/> asks the caller
    /// to do a page-crossing access byte by byte.
    /// </summary>
    private byte* Resolve(ulong va, int size, AccessKind kind, uint iss, bool unprivileged, bool aligned, out bool split, out ulong deviceIpa)
    {
        split = false;
        deviceIpa = NoDevice;
        _faultIsTrap = false;
        bool write = kind == AccessKind.Write;
        if ((va & (ulong)(size - 1)) != 0 && (aligned || !_unalignedAllowed))
        {
            DataAbortToGuest(va, Esr.FscAlignment, write);
            return null;
        }

        if (_hwWatchpointsArmed && CheckWatchpoint(va, size, write))
        {
            return null;
        }

        if ((va & 0xFFF) + (ulong)size > 4096)
        {
            split = true;
            return null;
        }

        int el = unprivileged ? 0 : State.El;
        if (!Translate(va, kind, el, out ulong pa, out uint fault, pan: !unprivileged && PanActive))
        {
            DataAbortToGuest(va, fault, write);
            return null;
        }

        byte* host = _memory.TryGetHostPointer(pa, write, out _);
        if (host == null)
        {
            if ((va & (ulong)(size - 1)) != 0)
            {
                // Device memory (no slot) does not take unaligned accesses.
                DataAbortToGuest(va, Esr.FscAlignment, write);
                return null;
            }

            deviceIpa = pa;
            FillIoTlb(kind, va, pa, unprivileged);
            return null;
        }

        if (_walkTagged && _tagChecksConfigured && !CheckTag(va, pa, size, write, unprivileged))
        {
            return null;
        }

        if (!_hwWatchpointsArmed && MayCache(va, kind))
        {
            FillTlb(kind == AccessKind.Write ? _writeTlb : _readTlb, kind == AccessKind.Write ? _writeInfo : _readInfo,
                va, host, pa, unprivileged ? _tagUnprivileged : _tagEl);
        }

        return host;
    }

    /// <summary>
    /// Maps the page of <paramref name="va"/> (host <paramref name="host"/> for IPA <paramref name="pa"/>) in <paramref name="tlb"/>;
    /// not a Tagged page (the last walk's) while tag checks are configured for the access's EL: its accesses are checked on the
    /// slow path (Arm64Cpu.Mte.cs).
    /// </summary>
    private void FillTlb(TlbEntry[] tlb, byte[] info, ulong va, byte* host, ulong pa, ulong tagEl)
    {
        if (_walkTagged && _tagChecksConfigured && TagChecksAt(tagEl == _tagUnprivileged ? 0 : State.El))
        {
            return;
        }

        int index = (int)(va >> 12) & TlbMask;
        ref TlbEntry e = ref tlb[index];
        e.Tag = (va & ~0xFFFUL) | tagEl;
        e.Delta = (long)(host - (pa & 0xFFF)) - (long)(va & ~0xFFFUL);
        NoteFill(info, index, va);
    }

    /// <summary>
    /// Host pointer for an aligned access that must hit RAM (exclusives, LSE atomics, DC ZVA), or null with
    /// the fault delivered. A hit in the TLB of <paramref name="kind"/> (read or write) is the fast path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* ResolveForAtomic(ulong va, int size, AccessKind kind, uint iss)
    {
        ref TlbEntry e = ref (kind == AccessKind.Write ? _writeTlb : _readTlb)[(int)(va >> 12) & TlbMask];
        if (e.Tag == ((va & ~0xFFFUL) | _tagEl) && (va & (ulong)(size - 1)) == 0 && size <= 4096)
        {
            return (byte*)(e.Delta + (long)va);
        }

        return ResolveForAtomicSlow(va, size, kind, iss);
    }

    private byte* ResolveForAtomicSlow(ulong va, int size, AccessKind kind, uint iss)
    {
        byte* host = Resolve(va, size, kind, iss, false, true, out bool split, out ulong ipa);
        if (host == null && split)
        {
            DataAbortToGuest(va, Esr.FscAlignment, kind == AccessKind.Write);
        }
        else if (host == null && ipa != NoDevice)
        {
            Stage2Abort(va, ipa, iss, kind == AccessKind.Write);
        }

        return host;
    }

    /// <summary>
    /// A single access to device page <paramref name="ipa"/> by an instruction with syndrome <paramref name="iss"/>:
    /// with a valid syndrome it is offered to the hypervisor's fast path first (an in-kernel device
    /// completes it here, as KVM completes an in-kernel MMIO access: the PE goes on, for a read with the
    /// device's bytes in <paramref name="value"/>); otherwise, or when the hypervisor declines, the
    /// stage-2 abort (false, a trap pending).
    /// </summary>
    private bool DeviceAccess(ulong va, ulong ipa, uint iss, bool write, ref ulong value)
    {
        if (_context->DeviceReads.MmioPending != 0)
        {
            TakeNativeMmioValue(); // the run state's data in order (Arm64Cpu.DeviceReads.cs)
        }

        if ((iss & Esr.IssIsv) != 0 && _host.TryCompleteMmio(ipa, iss | (write ? Esr.IssWnR : 0), ref value))
        {
            return true;
        }

        Stage2Abort(va, ipa, iss, write);
        return false;
    }

    private void DataAbortToGuest(ulong va, uint fsc, bool write, bool cm = false)
    {
        uint ec = State.El == 0 ? Esr.EcDabtLow : Esr.EcDabtCur;
        uint iss = fsc | (write ? Esr.IssWnR : 0) | (cm ? Esr.IssCm : 0);
        TakeSyncException(Esr.Make(ec, iss), va, true);
        _faultIsTrap = false;
    }

    /// <summary>
    /// A stage-2 data abort for the hypervisor (docs/kvm-semantics.md#arm64-data-abort-syndrome): EC 0x24,
    /// IL = 1, the instruction syndrome when the instruction gives one (ISV = 1), WnR, DFSC translation
    /// fault level 3 for an IPA no slot backs, permission fault for a write to a read-only slot.
    /// </summary>
    private void Stage2Abort(ulong va, ulong ipa, uint iss, bool write, bool cm = false)
    {
        bool readOnlySlot = write && _memory.FindSlot(ipa) is not null;
        uint dfsc = readOnlySlot ? Esr.FscPermission | 3 : Esr.FscTranslation | 3;
        Trap.Esr = Esr.Make(Esr.EcDabtLow, iss | (write ? Esr.IssWnR : 0) | (cm ? Esr.IssCm : 0) | dfsc);
        Trap.Far = va;
        Trap.Ipa = ipa;
        Trap.El = State.El;
        _pendingExit = CpuExit.DataAbort;
        _faultIsTrap = true;
    }

    /// <summary>The ISS of a single-register access with a valid syndrome.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Syndrome(int sizeLog2, bool signExtend, int rt, bool sixtyFour, bool acquireRelease = false) =>
        Esr.IssIsv | ((uint)sizeLog2 << Esr.IssSasShift) | (signExtend ? Esr.IssSse : 0) | ((uint)rt << Esr.IssSrtShift)
        | (sixtyFour ? Esr.IssSf : 0) | (acquireRelease ? Esr.IssAr : 0);
}
