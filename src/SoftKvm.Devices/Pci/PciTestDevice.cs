using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// QEMU's <c>pci-testdev</c> (1B36:0005, class 00FF), which test suites such as kvm-unit-tests use to
/// check ioeventfds: BAR 0 is 4 KiB of memory, BAR 1 256 I/O ports, both the same device. Writing a test
/// number (0-2) to offset 0 of a BAR starts that test of the BAR's space: 0 "no-eventfd", 1
/// "wildcard-eventfd", 2 "datamatch-eventfd"; any other number stops the current test. While a test runs
/// the BAR reads as its header: test number, access width (1), the offset to write to, the data that
/// matches (0xFA, or 0xCE for the wildcard test), a count and the test's name (<c>mmio-no-eventfd</c>,
/// <c>portio-datamatch-eventfd</c>, ...). A byte written at the test's offset (with the test's data, when
/// it matches data) increments the count, unless the test placed an ioeventfd there: then the hypervisor
/// takes the write and the count stays 0, which is what the test checks. The memory wildcard test's
/// ioeventfd has length 0 (KVM's fast MMIO). The device works a byte at a time, as QEMU's: a wider
/// access is that many byte accesses. No interrupt pin, no optional memory BAR ("membar").
/// </summary>
public sealed class PciTestDevice : PciDevice, IDisposable
{
    /// <summary>Red Hat's PCI vendor ID.</summary>
    public const ushort VendorRedHat = 0x1B36;

    /// <summary>pci-testdev's device ID.</summary>
    public const ushort DeviceTest = 0x0005;

    /// <summary>The size of BAR 0 (memory).</summary>
    public const ulong MemorySize = 4096;

    /// <summary>The size of BAR 1 (I/O).</summary>
    public const ulong IoSize = 256;

    /// <summary>The data the data-matching tests match.</summary>
    public const byte DataMatch = 0xFA;

    /// <summary>The data the wildcard test reports (any data matches).</summary>
    public const byte NoMatch = 0xCE;

    private const int TestsPerSpace = 3;
    private const int HeaderSize = 16;
    private const int CountOffset = 12;

    private static readonly string[] TestNames = ["no-eventfd", "wildcard-eventfd", "datamatch-eventfd"];
    private static readonly string[] SpaceNames = ["mmio", "portio"];

    private readonly object _lock = new();
    private readonly Test[] _tests = new Test[TestsPerSpace * 2];
    private int _current = -1;
    private object? _ioEvent;

    /// <summary>Creates the device with its two BARs.</summary>
    public PciTestDevice()
        : base(new PciIdentity(VendorRedHat, DeviceTest, 0x00FF00))
    {
        for (int i = 0; i < _tests.Length; i++)
        {
            _tests[i] = new Test(i);
        }

        AddBar(0, PciBarKind.Memory32, MemorySize, new Space(this, 0));
        AddBar(1, PciBarKind.Io, IoSize, new Space(this, 1));
    }

    /// <summary>The running test (0-5: memory tests, then I/O tests), or -1.</summary>
    public int CurrentTest
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    /// <summary>The count of test <paramref name="test"/> (0-5).</summary>
    public uint Count(int test)
    {
        lock (_lock)
        {
            return _tests[test].Count;
        }
    }

    /// <summary>A copy of the device state.</summary>
    public PciTestDeviceState SaveState()
    {
        lock (_lock)
        {
            return new PciTestDeviceState(SaveFunctionState(), _current, [.. _tests.Select(t => t.Count)]);
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>: the running test gets its ioeventfd back.</summary>
    public void RestoreState(PciTestDeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        RestoreFunctionState(state.Function);
        lock (_lock)
        {
            Stop();
            if (state.CurrentTest >= 0 && state.CurrentTest < _tests.Length)
            {
                Start(state.CurrentTest);
            }

            for (int i = 0; i < _tests.Length && i < state.Counts.Count; i++)
            {
                _tests[i].Count = state.Counts[i];
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _tests)
        {
            t.Signal?.Dispose();
        }
    }

    private void Write(int space, ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                WriteByte(space, offset + (ulong)i, data[i]);
            }
        }
    }

    private void WriteByte(int space, ulong offset, byte value)
    {
        if (offset == 0)
        {
            Stop();
            if (value < TestsPerSpace)
            {
                Start((space * TestsPerSpace) + value);
            }

            return;
        }

        if (_current < 0)
        {
            return;
        }

        var test = _tests[_current];
        if (offset == test.Offset && (!test.MatchesData || value == test.Data))
        {
            test.Count++;
        }
    }

    private void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            data.Clear();
            if (_current < 0)
            {
                return;
            }

            var test = _tests[_current];
            test.Signal?.Drain();
            Span<byte> header = stackalloc byte[test.BufferSize];
            test.Header(header);
            for (int i = 0; i < data.Length; i++)
            {
                ulong a = offset + (ulong)i;
                if (a + 1 < (ulong)header.Length)
                {
                    data[i] = header[(int)a];
                }
            }
        }
    }

    private void Start(int index)
    {
        var test = _tests[index];
        test.Count = 0;
        if (test.Signal is { } signal)
        {
            signal.Drain();
            uint length = index < TestsPerSpace && !test.MatchesData ? 0u : 1u;
            _ioEvent = AddIoEvent(index < TestsPerSpace ? 0 : 1, test.Offset, length, test.MatchesData ? test.Data : null, signal);
        }

        _current = index;
    }

    private void Stop()
    {
        if (_ioEvent is not null)
        {
            RemoveIoEvent(_ioEvent);
            _ioEvent = null;
        }

        _current = -1;
    }

    private sealed class Test
    {
        private readonly byte[] _name;

        public Test(int index)
        {
            Index = index;
            int kind = index % TestsPerSpace;
            string name = $"{SpaceNames[index / TestsPerSpace]}-{TestNames[kind]}";
            _name = Encoding.ASCII.GetBytes(name);
            Offset = (index < TestsPerSpace ? MemorySize / 2 : IoSize / 2) + (ulong)index;
            MatchesData = kind != 1;
            Data = MatchesData ? DataMatch : NoMatch;
            Signal = kind == 0 ? null : new EventFd();
        }

        public int Index { get; }

        public ulong Offset { get; }

        public bool MatchesData { get; }

        public byte Data { get; }

        public EventFd? Signal { get; }

        public uint Count { get; set; }

        public int BufferSize => HeaderSize + _name.Length + 1;

        public void Header(Span<byte> h)
        {
            h.Clear();
            h[0] = (byte)Index;
            h[1] = 1;
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)Offset);
            h[8] = Data;
            BinaryPrimitives.WriteUInt32LittleEndian(h[CountOffset..], Count);
            _name.CopyTo(h[HeaderSize..]);
        }
    }

    private sealed class Space(PciTestDevice device, int space) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => device.Read(offset, data);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => device.Write(space, offset, data);
    }
}
