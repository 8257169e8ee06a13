using System.Runtime.Intrinsics.X86;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.X86;

/// <summary>
/// QEMU's <c>pc-testdev</c> (hw/misc/pc-testdev.c), the ISA test device of kvm-unit-tests, in five windows:
/// <list type="bullet">
/// <item>ports 0xE0-0xE3 (<see cref="Data"/>): a 32-bit register read and written in parts: an access of n
/// bytes at port 0xE0 + k reaches bytes k..k+n-1;</item>
/// <item>ports 0xE8-0xEB (<see cref="ByteData"/>): the same register, which QEMU serves a byte at a time
/// (the difference is only in how the hypervisor splits string I/O);</item>
/// <item>ports 0xE4-0xE7 (<see cref="FlushPage"/>): a 32-bit write of a guest-physical address drops the
/// hypervisor's mappings of that page (QEMU re-protects the host page, so KVM's MMU notifier zaps it; here
/// <c>GuestMemory.Invalidate</c>); other sizes are ignored, reads return 0;</item>
/// <item>ports 0x2000-0x2017 (<see cref="IrqLines"/>): a byte written to port 0x2000 + n sets ISA interrupt
/// line n to (value != 0); reads return 0; QEMU aborts for lines 16-23, SoftKvm drives the IOAPIC pins
/// the machine gives it;</item>
/// <item>64 KiB of memory at 0xFF00_0000 (<see cref="Memory"/>): plain storage, read and written through MMIO exits.</item>
/// </list>
/// </summary>
public sealed class PcTestDevice
{
    /// <summary>The data register's ports.</summary>
    public const ushort DataPort = 0xE0;

    /// <summary>The flush-page port.</summary>
    public const ushort FlushPort = 0xE4;

    /// <summary>The byte-wise data register's ports.</summary>
    public const ushort ByteDataPort = 0xE8;

    /// <summary>The size of each of the three windows above (4 ports).</summary>
    public const ulong RegisterPorts = 4;

    /// <summary>The first interrupt-line port.</summary>
    public const ushort IrqPort = 0x2000;

    /// <summary>The interrupt-line ports (24).</summary>
    public const int IrqLineCount = 24;

    /// <summary>Where the memory window sits.</summary>
    public const ulong MemoryAddress = 0xFF00_0000;

    /// <summary>The size of the memory window (64 KiB).</summary>
    public const ulong MemorySize = 0x1_0000;

    private readonly object _lock = new();
    private readonly IReadOnlyList<IIrqLine> _lines;
    private readonly Action<ulong> _flushPage;
    private readonly byte[] _memory = new byte[MemorySize];
    private uint _data;

    /// <summary>The memory window's sequence (a seqlock's): odd while a write to the window is under way, bumped twice by each under the lock.</summary>
    private int _memorySequence;

    /// <summary>
    /// Creates the device: <paramref name="lines"/>[n] is ISA line n (lines past the list are ignored);
    /// <paramref name="flushPage"/> receives the page address of a flush-page write.
    /// </summary>
    public PcTestDevice(IReadOnlyList<IIrqLine> lines, Action<ulong> flushPage)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(flushPage);
        _lines = lines;
        _flushPage = flushPage;
        Data = new DataRegister(this);
        ByteData = new DataRegister(this);
        FlushPage = new FlushRegister(this);
        IrqLines = new IrqRegister(this);
        Memory = new MemoryWindow(this);
    }

    /// <summary>The data register at 0xE0.</summary>
    public IIoDevice Data { get; }

    /// <summary>The byte-wise view of the data register at 0xE8.</summary>
    public IIoDevice ByteData { get; }

    /// <summary>The flush-page port at 0xE4.</summary>
    public IIoDevice FlushPage { get; }

    /// <summary>The interrupt-line ports at 0x2000.</summary>
    public IIoDevice IrqLines { get; }

    /// <summary>The memory window at 0xFF00_0000.</summary>
    public IIoDevice Memory { get; }

    /// <summary>A copy of the device state.</summary>
    public PcTestDeviceState SaveState()
    {
        lock (_lock)
        {
            return new PcTestDeviceState(_data, (byte[])_memory.Clone());
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>.</summary>
    public void RestoreState(PcTestDeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _data = state.Data;
            WriteMemory(state.Memory.AsSpan(0, Math.Min(state.Memory.Length, _memory.Length)), 0);
        }
    }

    private sealed class DataRegister(PcTestDevice device) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            lock (device._lock)
            {
                RegisterAccess.StoreRead(offset, Mask(offset, data.Length) & device._data, data);
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            lock (device._lock)
            {
                uint mask = Mask(offset, data.Length);
                device._data = (device._data & ~mask) | (RegisterAccess.LoadWrite(offset, data) & mask);
            }
        }

        // The bytes of the register an access of `length` bytes at `offset` covers.
        private static uint Mask(ulong offset, int length)
        {
            int shift = (int)(offset & 3) * 8;
            ulong bytes = length >= 4 ? uint.MaxValue : (1UL << (length * 8)) - 1;
            return (uint)(bytes << shift);
        }
    }

    private sealed class FlushRegister(PcTestDevice device) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset == 0 && data.Length == 4)
            {
                device._flushPage(RegisterAccess.LoadWrite(0, data) & ~0xFFFUL);
            }
        }
    }

    private sealed class IrqRegister(PcTestDevice device) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (data.Length == 1 && offset < (ulong)device._lines.Count)
            {
                device._lines[(int)offset].Set(data[0] != 0);
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> into the memory window at <paramref name="offset"/>, under the lock, between the two
    /// bumps of the sequence the lock-free reader checks (each a full barrier: the bytes are not seen before the first).
    /// </summary>
    private void WriteMemory(ReadOnlySpan<byte> bytes, int offset)
    {
        Interlocked.Increment(ref _memorySequence);
        bytes.CopyTo(_memory.AsSpan(offset));
        Interlocked.Increment(ref _memorySequence);
    }

    private sealed class MemoryWindow(PcTestDevice device) : IIoDevice
    {
        /// <remarks>
        /// Without the lock, as a seqlock's reader (a guest's read of a VMM device is an exit path, issue 19): the bytes are
        /// taken only when no write to the window began or ended around the copy (else again under the lock), so a read
        /// never sees half of a write, as under the lock.
        /// </remarks>
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            int sequence = Volatile.Read(ref device._memorySequence);
            Copy(offset, data);
            if (!X86Base.IsSupported)
            {
                Interlocked.MemoryBarrier(); // the copy's loads before the sequence's second read (x86 hosts keep loads in order)
            }

            if ((sequence & 1) != 0 || Volatile.Read(ref device._memorySequence) != sequence)
            {
                lock (device._lock)
                {
                    Copy(offset, data);
                }
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            lock (device._lock)
            {
                if (offset < MemorySize)
                {
                    device.WriteMemory(data[..Math.Min((int)MemorySize - (int)offset, data.Length)], (int)offset);
                }
            }
        }

        private void Copy(ulong offset, Span<byte> data)
        {
            data.Clear();
            if (offset < MemorySize)
            {
                var s = device._memory.AsSpan((int)offset);
                s[..Math.Min(s.Length, data.Length)].CopyTo(data);
            }
        }
    }
}
