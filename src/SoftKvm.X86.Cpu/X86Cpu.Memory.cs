using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Core.Hooks;

namespace SoftKvm.X86.Cpu;

/// <summary>Memory access kinds of the translation path.</summary>
internal enum AccessKind
{
    Read = 0,
    Write = 1,
    Fetch = 2,
}

/// <summary>
/// One software-TLB entry: tag = linear page | user bit | valid bit; host = linear + addend. A device page's entry
/// also has the device bit (<c>X86Cpu.TlbDevice</c>), which no RAM look-up's tag has, and its guest-physical page in
/// <see cref="Addend"/>.
/// </summary>
internal struct TlbEntry
{
    public ulong Tag;
    public long Addend;
}

/// <summary>
/// Guest memory access: segmentation, the software TLB (linear page to host pointer, stage 1 and
/// stage 2 folded, per access kind and privilege) and the MMIO slow path; the page walkers are in
/// X86Cpu.Mmu.cs.
/// RAM accesses are served through the TLB; a page without a memory slot is cached with its guest-physical
/// address only (the slow path's translation, never a RAM look-up's hit) and its accesses end in the fast path,
/// an EPT-violation exit (Run) or the emulation bus (EmulateOne).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const int TlbSets = 256;

    /// <summary>The tag bit of a TLB entry for a page without a memory slot (a device page): see <see cref="TranslateData"/>.</summary>
    private const ulong TlbDevice = 4;

    private readonly TlbEntry[] _tlb = new TlbEntry[3 * 2 * TlbSets];
    private long _tlbGeneration;
    private bool _tlbHasLargePages;
    private bool _implicitSupervisor;

    /// <summary>Drops every cached translation (CR3 reload without PCID, CR0/CR4/EFER changes, slot changes).</summary>
    public void FlushTlb()
    {
        Array.Clear(_tlb);
        _tlbGeneration = _memory.Generation;
        _tlbHasLargePages = false;
    }

    /// <summary>INVLPG: drops the translations of the page holding <paramref name="linear"/>.</summary>
    public void InvalidatePage(ulong linear)
    {
        if (_tlbHasLargePages)
        {
            FlushTlb();
            return;
        }

        int set = (int)((linear >> 12) & (TlbSets - 1));
        for (int k = 0; k < 6; k++)
        {
            _tlb[k * TlbSets + set].Tag = 0;
        }
    }

    /// <summary>Whether <paramref name="a"/> is a canonical 48-bit linear address (bits 63:47 all equal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsCanonical(ulong a) => (ulong)((long)(a << 16) >> 16) == a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool UserAccess() => _cpl == 3 && !_implicitSupervisor;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref TlbEntry TlbSlot(AccessKind kind, bool user, ulong linear) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_tlb),
            ((int)kind * 2 + (user ? 1 : 0)) * TlbSets + (int)((linear >> 12) & (TlbSets - 1)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong TlbTag(ulong linear, bool user) => (linear & ~0xFFFUL) | 1 | (user ? 2UL : 0);

    // ---- Segmentation ----

    /// <summary>Computes the linear address of <paramref name="offset"/> in segment <paramref name="seg"/>,
    /// with the limit, type and canonical checks of the current mode.</summary>
    internal bool Linear(int seg, ulong offset, int size, AccessKind kind, out ulong linear)
    {
        if (!LinearCore(seg, offset, size, kind, out linear))
        {
            return false;
        }

        // DR7 is read directly (not cached) so a debugger that swaps DR7 in Regs needs no notification.
        if ((_regs.Dr7 & 0xFF) != 0)
        {
            CheckDataBreakpoints(linear, size, kind);
        }

        return true;
    }

    private bool LinearCore(int seg, ulong offset, int size, AccessKind kind, out ulong linear)
    {
        if (_bitness == 64)
        {
            linear = seg >= SegmentIndex.Fs ? offset + _regs.Seg[seg].Base : offset;
            if (!IsCanonical(linear) || !IsCanonical(linear + (ulong)size - 1))
            {
                return Fault(seg == SegmentIndex.Ss ? ExceptionVector.SS : ExceptionVector.GP, 0, true);
            }

            return true;
        }

        ref var s = ref _regs.Seg[seg];
        linear = (s.Base + offset) & 0xFFFFFFFF;
        int vector = seg == SegmentIndex.Ss ? ExceptionVector.SS : ExceptionVector.GP;
        if ((_regs.Cr0 & 1) != 0 && (_regs.Rflags & Rflags.VM) == 0)
        {
            uint attr = s.Attributes;
            if ((attr & SegmentRegister.Unusable) != 0 || (attr & SegmentRegister.Present) == 0)
            {
                return Fault(vector, 0, true);
            }

            uint type = attr & 0xF;
            if (kind == AccessKind.Write && ((type & 8) != 0 || (type & 2) == 0))
            {
                return Fault(vector, 0, true);
            }

            if (kind == AccessKind.Read && (type & 0xA) == 8)
            {
                return Fault(vector, 0, true);
            }

            if ((type & 0xC) == 4)
            {
                ulong upper = s.IsBig ? 0xFFFFFFFFUL : 0xFFFFUL;
                if (offset <= s.Limit || offset + (ulong)size - 1 > upper)
                {
                    return Fault(vector, 0, true);
                }

                return true;
            }
        }

        if (offset + (ulong)size - 1 > s.Limit)
        {
            return Fault(vector, 0, true);
        }

        return true;
    }

    // ---- Virtual (segment:offset) accesses used by the instruction handlers ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Read(int seg, ulong offset, int size, out ulong value)
    {
        if (!Linear(seg, offset, size, AccessKind.Read, out ulong linear))
        {
            value = 0;
            return false;
        }

        return ReadLinear(linear, size, out value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Write(int seg, ulong offset, int size, ulong value)
    {
        if (!Linear(seg, offset, size, AccessKind.Write, out ulong linear))
        {
            return false;
        }

        return WriteLinear(linear, size, value);
    }

    /// <summary>Checks that a write of <paramref name="size"/> bytes would succeed, without writing (for instructions
    /// that must not commit anything before all their faults are known).</summary>
    internal bool ProbeWrite(int seg, ulong offset, int size)
    {
        if (!Linear(seg, offset, size, AccessKind.Write, out ulong linear))
        {
            return false;
        }

        return ProbeLinear(linear, size, AccessKind.Write);
    }

    internal bool ProbeLinear(ulong linear, int size, AccessKind kind)
    {
        int first = Math.Min(size, 0x1000 - (int)(linear & 0xFFF));
        if (!TranslateData(linear, kind, out _, out _))
        {
            return false;
        }

        return first >= size || TranslateData(linear + (ulong)first, kind, out _, out _);
    }

    // ---- Linear accesses ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ReadLinear(ulong linear, int size, out ulong value)
    {
        if ((linear & 0xFFF) <= (ulong)(0x1000 - size))
        {
            bool user = UserAccess();
            ref var e = ref TlbSlot(AccessKind.Read, user, linear);
            if (e.Tag == TlbTag(linear, user))
            {
                value = Load((byte*)(e.Addend + (long)linear), size);
                return true;
            }
        }

        return ReadLinearSlow(linear, size, out value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool WriteLinear(ulong linear, int size, ulong value)
    {
        if ((linear & 0xFFF) <= (ulong)(0x1000 - size))
        {
            bool user = UserAccess();
            ref var e = ref TlbSlot(AccessKind.Write, user, linear);
            if (e.Tag == TlbTag(linear, user))
            {
                Store((byte*)(e.Addend + (long)linear), size, value);
                return true;
            }
        }

        return WriteLinearSlow(linear, size, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Load(byte* p, int size) => size switch
    {
        1 => *p,
        2 => Unsafe.ReadUnaligned<ushort>(p),
        4 => Unsafe.ReadUnaligned<uint>(p),
        _ => Unsafe.ReadUnaligned<ulong>(p),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(byte* p, int size, ulong v)
    {
        switch (size)
        {
            case 1: *p = (byte)v; break;
            case 2: Unsafe.WriteUnaligned(p, (ushort)v); break;
            case 4: Unsafe.WriteUnaligned(p, (uint)v); break;
            default: Unsafe.WriteUnaligned(p, v); break;
        }
    }

    /// <summary>
    /// Translates the one or two pages an access of <paramref name="size"/> bytes at <paramref name="linear"/>
    /// touches, both before a byte moves (a fault on the second page commits nothing): the length of the
    /// first piece, and for each piece its host pointer (null: not RAM) and guest-physical address.
    /// </summary>
    private bool TranslatePieces(ulong linear, int size, AccessKind kind, out int first, out byte* p1, out ulong gpa1, out byte* p2, out ulong gpa2)
    {
        first = Math.Min(size, 0x1000 - (int)(linear & 0xFFF));
        p2 = null;
        gpa2 = 0;
        return TranslateData(linear, kind, out p1, out gpa1)
            && (first >= size || TranslateData(linear + (ulong)first, kind, out p2, out gpa2));
    }

    private bool ReadLinearSlow(ulong linear, int size, out ulong value)
    {
        BeginSlowAccess();
        value = 0;
        ulong v = 0;
        if (!TranslatePieces(linear, size, AccessKind.Read, out int first, out byte* p1, out ulong gpa1, out byte* p2, out ulong gpa2)
            || !ReadChunk(p1, gpa1, linear, first, 0, ref v)
            || (first < size && !ReadChunk(p2, gpa2, linear + (ulong)first, size - first, first, ref v)))
        {
            return false;
        }

        value = v;
        HookAccess(MemoryAccessKind.Read, linear, size, v);
        return true;
    }

    /// <summary>
    /// A linear access that left the TLB fast path (the only way to a device) starts a new data access
    /// (<see cref="EmulatedAccess"/>), unless it continues a wider operand (<see cref="BeginWideAccess"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void BeginSlowAccess()
    {
        if (!_wideAccess)
        {
            _accessSerial++;
        }
    }

    /// <summary>Starts one data access made of several linear accesses (a 16-byte operand's two halves); end it with <see cref="EndWideAccess"/>.</summary>
    private void BeginWideAccess()
    {
        _accessSerial++;
        _wideAccess = true;
    }

    private void EndWideAccess() => _wideAccess = false;

    private bool ReadChunk(byte* p, ulong gpa, ulong linear, int n, int shift, ref ulong v)
    {
        ulong part = 0;
        if (p != null)
        {
            for (int i = 0; i < n; i++)
            {
                part |= (ulong)p[i] << (8 * i);
            }
        }
        else if (!MmioRead(gpa, linear, n, out part))
        {
            return false;
        }

        v |= part << (8 * shift);
        return true;
    }

    private bool WriteLinearSlow(ulong linear, int size, ulong value)
    {
        BeginSlowAccess();
        if (!TranslatePieces(linear, size, AccessKind.Write, out int first, out byte* p1, out ulong gpa1, out byte* p2, out ulong gpa2))
        {
            return false;
        }

        HookAccess(MemoryAccessKind.Write, linear, size, value);
        return WriteChunk(p1, gpa1, linear, first, value)
            && (first >= size || WriteChunk(p2, gpa2, linear + (ulong)first, size - first, value >> (8 * first)));
    }

    private bool WriteChunk(byte* p, ulong gpa, ulong linear, int n, ulong v)
    {
        if (p != null)
        {
            for (int i = 0; i < n; i++)
            {
                p[i] = (byte)(v >> (8 * i));
            }

            return true;
        }

        return MmioWrite(gpa, linear, n, v);
    }

    private bool MmioRead(ulong gpa, ulong linear, int n, out ulong value)
    {
        value = 0;
        if (_bus is null)
        {
            ulong v = 0;
            if (TryFastMmio(gpa, n, false, ref v, out bool declined))
            {
                value = v;
                return true;
            }

            EptExit(gpa, linear, AccessKind.Read, true, n, 0);
            _exit.FastPathDeclined = declined;
            return false;
        }

        ulong buffer = 0;
        var span = new Span<byte>(&buffer, n);
        if (_bus.ReadMemory(gpa, span) == X86BusResult.NeedsUserspace)
        {
            return NeedsUserspace(gpa, linear, n, false, 0);
        }

        value = buffer;
        return true;
    }

    private bool MmioWrite(ulong gpa, ulong linear, int n, ulong value)
    {
        if (_bus is null)
        {
            return TryFastMmio(gpa, n, true, ref value, out _) || EptExit(gpa, linear, AccessKind.Write, true, n, value);
        }

        if (_bus.WriteMemory(gpa, new ReadOnlySpan<byte>(&value, n)) == X86BusResult.NeedsUserspace)
        {
            return NeedsUserspace(gpa, linear, n, true, value);
        }

        return true;
    }

    private bool NeedsUserspace(ulong gpa, ulong linear, int n, bool write, ulong data)
    {
        _exitPending = true;
        _exit.Reason = X86ExitReason.NeedsUserspace;
        _exit.GuestPhysicalAddress = gpa;
        _exit.GuestLinearAddress = linear;
        _exit.AccessSize = n;
        _exit.IsWrite = write;
        _exit.Data = write ? data : 0;
        _exit.InstructionLength = _insn.Length;
        _exit.InstructionLengthValid = true;
        return false;
    }

    private bool EptExit(ulong gpa, ulong linear, AccessKind kind, bool final, int size, ulong data)
    {
        _exitPending = true;
        _exit.Reason = X86ExitReason.EptViolation;
        _exit.Qualification = (kind == AccessKind.Read ? 1UL : kind == AccessKind.Write ? 2UL : 4UL) | 0x80 | (final ? 0x100UL : 0);
        _exit.GuestPhysicalAddress = gpa;
        _exit.GuestLinearAddress = linear;
        _exit.AccessSize = size;
        _exit.IsWrite = kind == AccessKind.Write;
        _exit.Data = data;
        _exit.InstructionLength = kind == AccessKind.Fetch ? 0 : _insn.Length;
        _exit.InstructionLengthValid = kind != AccessKind.Fetch && !Controls.WithholdEptInstructionLength;
        _exit.FastAccesses = Math.Max(_fastAccesses, 0);
        return false;
    }

    /// <summary>Returns a host pointer to the code byte at <paramref name="linear"/>, or null after recording a fault or exit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* TranslateFetch(ulong linear)
    {
        bool user = _cpl == 3;
        ref var e = ref TlbSlot(AccessKind.Fetch, user, linear);
        return e.Tag == TlbTag(linear, user) ? (byte*)(e.Addend + (long)linear) : TranslateFetchMiss(linear);
    }

    /// <summary>The TLB miss of <see cref="TranslateFetch"/>: the page walk and the TLB fill (kept out of the inlined hit path).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* TranslateFetchMiss(ulong linear)
    {
        if (!TranslateData(linear, AccessKind.Fetch, out byte* p, out ulong gpa))
        {
            return null;
        }

        if (p == null)
        {
            EptExit(gpa, linear, AccessKind.Fetch, true, 1, 0);
            return null;
        }

        return p;
    }

    /// <summary>Translates one linear address for an access; on RAM returns the host pointer and fills the TLB,
    /// on MMIO returns host = null and the guest-physical address (a device page enters the TLB too, marked
    /// <see cref="TlbDevice"/>: the next access to it skips the page walk and the memory-slot look-up, as QEMU's
    /// IO TLB entries do). False after a fault or exit.</summary>
    internal bool TranslateData(ulong linear, AccessKind kind, out byte* host, out ulong gpa)
    {
        host = null;
        bool user = UserAccess();
        ref var e = ref TlbSlot(kind, user, linear);
        if (e.Tag == (TlbTag(linear, user) | TlbDevice))
        {
            gpa = (ulong)e.Addend | (linear & 0xFFF);
            return true;
        }

        if (!Walk(linear, kind, user, out gpa, out bool large))
        {
            return false;
        }

        byte* p = _memory.TryGetHostPointer(gpa, kind == AccessKind.Write, out _);
        if (!MayCache(linear, kind))
        {
            host = p;
            return true;
        }

        _tlbHasLargePages |= large;
        if (p == null)
        {
            e.Tag = TlbTag(linear, user) | TlbDevice;
            e.Addend = (long)(gpa & ~0xFFFUL);
            return true;
        }

        host = p;
        e.Tag = TlbTag(linear, user);
        e.Addend = (long)(p - (gpa & 0xFFF)) - (long)(linear & ~0xFFFUL);
        return true;
    }
}
