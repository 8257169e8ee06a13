using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Memory;

/// <summary>
/// One memory slot: a guest-physical range backed by host memory (KVM's <c>kvm_memory_slot</c>; an
/// anonymous mapping on Linux, <see cref="HostMemory"/>). The backing is zeroed on creation and stays
/// valid until the VM that owns it is disposed, also after the slot is deleted, so that a vCPU that still
/// holds a host pointer from its TLB never touches freed memory (the role SRCU plays in KVM).
/// </summary>
public sealed unsafe class MemorySlot
{
    private readonly ulong[]? _dirty;

    internal MemorySlot(int id, GuestPhysAddr guestPhysBase, ulong size, MemorySlotFlags flags)
    {
        Id = id;
        GuestPhysBase = guestPhysBase;
        Size = size;
        Flags = flags;
        HostPointer = HostMemory.Allocate(size, out bool mapped);
        IsMapping = mapped;
        if ((flags & MemorySlotFlags.LogDirtyPages) != 0)
        {
            _dirty = new ulong[(PageCount + 63) / 64];
        }
    }

    /// <summary>The slot id the VMM chose.</summary>
    public int Id { get; }

    /// <summary>The first guest-physical address of the slot.</summary>
    public GuestPhysAddr GuestPhysBase { get; }

    /// <summary>The size in bytes, a multiple of <see cref="GuestMemory.PageSize"/>.</summary>
    public ulong Size { get; }

    /// <summary>The slot flags.</summary>
    public MemorySlotFlags Flags { get; }

    /// <summary>The host address of the first byte of the slot.</summary>
    public byte* HostPointer { get; private set; }

    /// <summary>Whether the backing is a page-aligned host mapping that file pages can replace (<see cref="HostMemory"/>).</summary>
    internal bool IsMapping { get; }

    /// <summary>The number of 4 KiB pages in the slot.</summary>
    public ulong PageCount => Size >> GuestMemory.PageShift;

    /// <summary>Whether guest writes to the slot are MMIO.</summary>
    public bool IsReadOnly => (Flags & MemorySlotFlags.ReadOnly) != 0;

    /// <summary>Whether guest writes are recorded in the dirty bitmap.</summary>
    public bool LogsDirtyPages => _dirty is not null;

    /// <summary>The last guest-physical address of the slot (inclusive).</summary>
    public ulong LastAddress => GuestPhysBase.Value + Size - 1;

    /// <summary>Whether <paramref name="gpa"/> lies in the slot.</summary>
    public bool Contains(ulong gpa) => gpa - GuestPhysBase.Value < Size;

    /// <summary>The host memory of the slot as a span (slots larger than 2 GiB are not spannable).</summary>
    public Span<byte> AsSpan(ulong offset, int length)
    {
        if (offset > Size || (ulong)length > Size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range 0x{offset:x}+{length} is outside slot {Id}");
        }

        return new Span<byte>(HostPointer + offset, length);
    }

    /// <summary>Marks the page that holds slot offset <paramref name="offset"/> dirty (thread-safe).</summary>
    public void MarkDirty(ulong offset)
    {
        if (_dirty is null)
        {
            return;
        }

        ulong page = offset >> GuestMemory.PageShift;
        ulong bit = 1UL << (int)(page & 63);
        ref ulong word = ref _dirty[page >> 6];
        if ((Volatile.Read(ref word) & bit) == 0)
        {
            Interlocked.Or(ref word, bit);
        }
    }

    /// <summary>Marks every page of [offset, offset+length) dirty.</summary>
    public void MarkDirty(ulong offset, ulong length)
    {
        if (_dirty is null || length == 0)
        {
            return;
        }

        for (ulong page = offset >> GuestMemory.PageShift; page <= (offset + length - 1) >> GuestMemory.PageShift; page++)
        {
            MarkDirty(page << GuestMemory.PageShift);
        }
    }

    /// <summary>
    /// Returns the dirty bitmap (bit n = page n) and clears it atomically word by word, like
    /// <c>KVM_GET_DIRTY_LOG</c>. Throws when the slot does not log dirty pages.
    /// </summary>
    internal ulong[] GetAndClearDirty()
    {
        if (_dirty is null)
        {
            throw new MemoryLayoutException($"memory slot {Id} does not log dirty pages");
        }

        var copy = new ulong[_dirty.Length];
        for (int i = 0; i < _dirty.Length; i++)
        {
            copy[i] = Interlocked.Exchange(ref _dirty[i], 0);
        }

        return copy;
    }

    internal void Free()
    {
        if (HostPointer != null)
        {
            HostMemory.Free(HostPointer, Size, IsMapping);
            HostPointer = null;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"slot {Id} [{GuestPhysBase}..0x{LastAddress:x}] {Flags}";
}
