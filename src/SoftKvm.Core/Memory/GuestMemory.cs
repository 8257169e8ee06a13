using System.Runtime.CompilerServices;
using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Memory;

/// <summary>
/// The guest-physical address space of a VM: a sorted set of non-overlapping memory slots.
/// Readers (the CPU models, on every TLB fill) take a lock-free snapshot; writers replace it under a
/// lock and bump <see cref="Generation"/>, which the CPU models compare to flush their TLBs, as KVM
/// kicks vCPUs with a reload request after a memslot update.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    /// <summary>log2 of the page size used for alignment and dirty logging.</summary>
    public const int PageShift = 12;

    /// <summary>The page size used for alignment and dirty logging.</summary>
    public const ulong PageSize = 1UL << PageShift;

    /// <summary>The highest guest-physical address bit width SoftKvm accepts (52, as arm64 LPA).</summary>
    public const int MaxPhysAddrBits = 52;

    private readonly object _writeLock = new();
    private readonly List<MemorySlot> _retired = [];
    private MemorySlot[] _slots = [];
    private long _generation;
    private bool _disposed;

    /// <summary>Raised after any change to the slots or after a dirty-log harvest.</summary>
    public event Action? Changed;

    /// <summary>Increments on every slot change and dirty-log harvest; TLBs compare it.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>A snapshot of the slots, sorted by guest-physical base.</summary>
    public IReadOnlyList<MemorySlot> Slots => Volatile.Read(ref _slots);

    /// <summary>
    /// Creates slot <paramref name="id"/>, or replaces it when it exists (the old contents are kept for
    /// the range both cover when the base is the same; "resize by replace").
    /// </summary>
    /// <exception cref="MemoryLayoutException">zero size, misaligned, beyond 52 bits, or overlapping.</exception>
    public MemorySlot SetRegion(int id, GuestPhysAddr guestPhysBase, ulong size, MemorySlotFlags flags)
    {
        if (id < 0)
        {
            throw new MemoryLayoutException($"memory slot id {id} is negative");
        }

        if (size == 0)
        {
            throw new MemoryLayoutException($"memory slot {id} has size 0 (use DeleteRegion to remove a slot)");
        }

        if ((guestPhysBase.Value | size) % PageSize != 0)
        {
            throw new MemoryLayoutException(
                $"memory slot {id} at {guestPhysBase} size 0x{size:x} is not aligned to {PageSize} bytes");
        }

        ulong limit = 1UL << MaxPhysAddrBits;
        if (guestPhysBase.Value >= limit || size > limit - guestPhysBase.Value)
        {
            throw new MemoryLayoutException(
                $"memory slot {id} at {guestPhysBase} size 0x{size:x} goes beyond the {MaxPhysAddrBits}-bit physical address space");
        }

        if ((flags & ~(MemorySlotFlags.LogDirtyPages | MemorySlotFlags.ReadOnly)) != 0)
        {
            throw new MemoryLayoutException($"memory slot {id} has unknown flags 0x{(int)flags:x}");
        }

        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            MemorySlot? old = null;
            foreach (var s in _slots)
            {
                if (s.Id == id)
                {
                    old = s;
                    continue;
                }

                if (guestPhysBase.Value <= s.LastAddress && s.GuestPhysBase.Value <= guestPhysBase.Value + size - 1)
                {
                    throw new MemoryLayoutException(
                        $"memory slot {id} [{guestPhysBase}..0x{guestPhysBase.Value + size - 1:x}] overlaps slot {s.Id} [{s.GuestPhysBase}..0x{s.LastAddress:x}]");
                }
            }

            var slot = new MemorySlot(id, guestPhysBase, size, flags);
            if (old is not null && old.GuestPhysBase == guestPhysBase)
            {
                Buffer.MemoryCopy(old.HostPointer, slot.HostPointer, (long)size, (long)Math.Min(size, old.Size));
            }

            var list = new List<MemorySlot>(_slots.Length + 1);
            foreach (var s in _slots)
            {
                if (s.Id != id)
                {
                    list.Add(s);
                }
            }

            list.Add(slot);
            list.Sort((a, b) => a.GuestPhysBase.CompareTo(b.GuestPhysBase));
            if (old is not null)
            {
                _retired.Add(old);
            }

            Publish([.. list]);
            return slot;
        }
    }

    /// <summary>Deletes slot <paramref name="id"/>; its addresses become MMIO.</summary>
    /// <exception cref="UnknownSlotException">no such slot.</exception>
    public void DeleteRegion(int id)
    {
        lock (_writeLock)
        {
            var slot = FindById(id) ?? throw new UnknownSlotException(id);
            _retired.Add(slot);
            Publish(Array.FindAll(_slots, s => s.Id != id));
        }
    }

    /// <summary>Returns slot <paramref name="id"/>.</summary>
    /// <exception cref="UnknownSlotException">no such slot.</exception>
    public MemorySlot GetSlot(int id) => FindById(id) ?? throw new UnknownSlotException(id);

    /// <summary>
    /// Returns the dirty bitmap of slot <paramref name="id"/> and clears it (<c>KVM_GET_DIRTY_LOG</c>).
    /// Bumps <see cref="Generation"/> so that vCPUs drop cached write mappings and mark pages again.
    /// </summary>
    public ulong[] GetDirtyLog(int id)
    {
        var slot = GetSlot(id);
        var log = slot.GetAndClearDirty();
        Interlocked.Increment(ref _generation);
        Changed?.Invoke();
        return log;
    }

    /// <summary>
    /// Drops every cached mapping of guest memory, as KVM's MMU notifier zaps the stage-2/EPT entries of host
    /// pages that were unmapped or re-protected: the contents stay, but every CPU model refills its TLB
    /// before it touches guest memory again (<see cref="Generation"/> is bumped; SoftKvm's TLBs have no
    /// per-page invalidation from outside the CPU). QEMU's pc-testdev asks for this through its flush-page port.
    /// </summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        Changed?.Invoke();
    }

    /// <summary>The slot that contains <paramref name="gpa"/>, or null (binary search, O(log n)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MemorySlot? FindSlot(ulong gpa)
    {
        var slots = Volatile.Read(ref _slots);
        int lo = 0, hi = slots.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            var s = slots[mid];
            if (gpa < s.GuestPhysBase.Value)
            {
                hi = mid - 1;
            }
            else if (gpa > s.LastAddress)
            {
                lo = mid + 1;
            }
            else
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>
    /// The CPU models' stage-2 lookup: the host pointer for <paramref name="gpa"/>, or null when the
    /// access is MMIO (no slot, or a write to a read-only slot). <paramref name="available"/> is the
    /// number of bytes from <paramref name="gpa"/> to the end of the slot. A write lookup marks the
    /// page dirty, so a CPU model that caches the pointer must drop it when <see cref="Generation"/>
    /// changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* TryGetHostPointer(ulong gpa, bool write, out ulong available)
    {
        var slot = FindSlot(gpa);
        if (slot is null || (write && slot.IsReadOnly))
        {
            available = 0;
            return null;
        }

        ulong offset = gpa - slot.GuestPhysBase.Value;
        if (write && slot.LogsDirtyPages)
        {
            slot.MarkDirty(offset);
        }

        available = slot.Size - offset;
        return slot.HostPointer + offset;
    }

    /// <summary>Reads guest memory for the VMM (loaders, devices doing DMA). May span slots.</summary>
    /// <exception cref="GuestMemoryAccessException">part of the range is not backed by a slot.</exception>
    public void Read(GuestPhysAddr address, Span<byte> destination)
    {
        ulong gpa = address.Value;
        while (!destination.IsEmpty)
        {
            var slot = FindSlot(gpa) ?? throw Unbacked(gpa, destination.Length);
            ulong offset = gpa - slot.GuestPhysBase.Value;
            int n = (int)Math.Min((ulong)destination.Length, slot.Size - offset);
            new ReadOnlySpan<byte>(slot.HostPointer + offset, n).CopyTo(destination);
            destination = destination[n..];
            gpa += (ulong)n;
        }
    }

    /// <summary>Writes guest memory for the VMM (also into read-only slots, as a VMM can). May span slots.</summary>
    /// <exception cref="GuestMemoryAccessException">part of the range is not backed by a slot.</exception>
    public void Write(GuestPhysAddr address, ReadOnlySpan<byte> source)
    {
        ulong gpa = address.Value;
        while (!source.IsEmpty)
        {
            var slot = FindSlot(gpa) ?? throw Unbacked(gpa, source.Length);
            ulong offset = gpa - slot.GuestPhysBase.Value;
            int n = (int)Math.Min((ulong)source.Length, slot.Size - offset);
            source[..n].CopyTo(new Span<byte>(slot.HostPointer + offset, n));
            slot.MarkDirty(offset, (ulong)n);
            source = source[n..];
            gpa += (ulong)n;
        }
    }

    /// <summary>Reads a little-endian value of an unmanaged type at <paramref name="address"/>.</summary>
    public T Read<T>(GuestPhysAddr address) where T : unmanaged
    {
        T value = default;
        Read(address, new Span<byte>(&value, sizeof(T)));
        return value;
    }

    /// <summary>Writes a little-endian value of an unmanaged type at <paramref name="address"/>.</summary>
    public void Write<T>(GuestPhysAddr address, T value) where T : unmanaged
    {
        Write(address, new ReadOnlySpan<byte>(&value, sizeof(T)));
    }

    /// <summary>Whether every byte of [address, address+length) is backed by a slot.</summary>
    public bool IsBacked(GuestPhysAddr address, ulong length)
    {
        ulong gpa = address.Value;
        ulong end = gpa + length;
        while (gpa < end)
        {
            var slot = FindSlot(gpa);
            if (slot is null)
            {
                return false;
            }

            gpa = slot.LastAddress + 1;
            if (gpa == 0)
            {
                return true;
            }
        }

        return true;
    }

    /// <summary>Frees the memory of every slot, current and deleted. No vCPU may run any more.</summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var s in _slots)
            {
                s.Free();
            }

            foreach (var s in _retired)
            {
                s.Free();
            }

            _slots = [];
            _retired.Clear();
        }
    }

    private MemorySlot? FindById(int id)
    {
        foreach (var s in Volatile.Read(ref _slots))
        {
            if (s.Id == id)
            {
                return s;
            }
        }

        return null;
    }

    private void Publish(MemorySlot[] slots)
    {
        Volatile.Write(ref _slots, slots);
        Interlocked.Increment(ref _generation);
        Changed?.Invoke();
    }

    private static GuestMemoryAccessException Unbacked(ulong gpa, int length) =>
        new($"guest-physical access at 0x{gpa:x} ({length} bytes) is not backed by memory");
}
