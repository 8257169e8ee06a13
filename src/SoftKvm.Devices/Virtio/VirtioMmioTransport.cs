using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Core.Memory;
using static SoftKvm.Devices.Virtio.VirtioMmioRegisters;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2): identification, 64-bit feature
/// negotiation through the select registers, split virtqueues set up by address, the status state
/// machine with reset, the interrupt status and acknowledge, configuration space at 0x100, and queue
/// notification, served synchronously on the notifying vCPU's thread. Guest memory is reached through
/// Core's <see cref="GuestMemory"/>. A driver that breaks the rules gets DEVICE_NEEDS_RESET and a
/// configuration-change interrupt, never a host error. The interrupt line is level: high while
/// InterruptStatus is non-zero.
/// </summary>
public sealed class VirtioMmioTransport : IIoDevice
{
    private readonly object _lock = new();
    private readonly VirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly IIrqLine _irq;
    private readonly Action<string>? _log;
    private readonly Virtqueue[] _queues;
    private uint _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _interruptStatus;
    private bool _irqLevel;

    /// <summary>
    /// Puts <paramref name="device"/> behind a transport that reaches <paramref name="memory"/> and
    /// interrupts on <paramref name="irq"/>; <paramref name="log"/> hears about driver errors.
    /// </summary>
    public VirtioMmioTransport(VirtioDevice device, GuestMemory memory, IIrqLine irq, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(irq);
        if (device.Transport is not null)
        {
            throw new SoftKvmException("a virtio device can sit behind only one transport");
        }

        _device = device;
        _memory = memory;
        _irq = irq;
        _log = log;
        _queues = new Virtqueue[device.QueueCount];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new Virtqueue(device.MaxQueueSize);
        }

        device.Transport = this;
    }

    /// <summary>The size of the MMIO window to register (0x200).</summary>
    public static ulong Size => WindowSize;

    /// <summary>The device behind this transport.</summary>
    public VirtioDevice Device => _device;

    /// <summary>The device status byte (section 2.1).</summary>
    public uint Status
    {
        get
        {
            lock (_lock)
            {
                return _status;
            }
        }
    }

    /// <summary>How many times the driver broke the virtqueue rules.</summary>
    public int DriverErrors { get; private set; }

    /// <summary>Whether the interrupt line is asserted now.</summary>
    public bool IrqAsserted
    {
        get
        {
            lock (_lock)
            {
                return _irqLevel;
            }
        }
    }

    internal object SyncRoot => _lock;

    internal GuestMemory Memory => _memory;

    /// <summary>
    /// Set by a transport built on this one (<see cref="VirtioPciTransport"/>): offered each used-buffer
    /// interrupt (the queue's index) and each configuration-change interrupt (-1) first, under the lock;
    /// when it returns true it has delivered the interrupt itself (an MSI-X vector) and the interrupt
    /// status and line are left alone.
    /// </summary>
    internal Func<int, bool>? InterruptOverride { get; set; }

    /// <summary>The size of the selected queue (what virtio-pci's queue_size reads), 0 when none is selected.</summary>
    internal ushort SelectedQueueSize
    {
        get
        {
            lock (_lock)
            {
                return SelectedQueue?.Size ?? 0;
            }
        }
    }

    /// <summary>The ring addresses of the selected queue (virtio-pci reads them back; virtio-mmio's registers are write-only).</summary>
    internal (ulong Desc, ulong Driver, ulong Device) SelectedQueueAddresses
    {
        get
        {
            lock (_lock)
            {
                return SelectedQueue is { } q ? (q.DescTable, q.DriverArea, q.DeviceArea) : default;
            }
        }
    }

    /// <summary>The 32 driver feature bits DriverFeaturesSel selects (virtio-pci reads them back; virtio-mmio's register is write-only).</summary>
    internal uint SelectedDriverFeatures
    {
        get
        {
            lock (_lock)
            {
                return _driverFeaturesSel switch { 0 => (uint)_driverFeatures, 1 => (uint)(_driverFeatures >> 32), _ => 0 };
            }
        }
    }

    internal bool DriverOk => (_status & VirtioStatus.DriverOk) != 0 && (_status & VirtioStatus.DeviceNeedsReset) == 0;

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (offset < DeviceFeatures)
        {
            // MagicValue, Version, DeviceID and VendorID never change: read without the lock (a driver's probe, and a
            // guest's cheapest read of the device).
            RegisterAccess.StoreRead(offset, ReadIdentification(offset & ~3UL), data);
            return;
        }

        lock (_lock)
        {
            if (offset >= Config)
            {
                _device.ReadConfig(offset - Config, data);
                return;
            }

            RegisterAccess.StoreRead(offset, ReadRegister(offset & ~3UL), data);
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (offset >= Config)
            {
                _device.WriteConfig(offset - Config, data);
                return;
            }

            WriteRegister(offset & ~3UL, RegisterAccess.LoadWrite(offset, data));
            UpdateIrq();
        }
    }

    /// <summary>A copy of the transport state.</summary>
    public VirtioMmioState SaveState()
    {
        lock (_lock)
        {
            var queues = new VirtqueueState[_queues.Length];
            for (int i = 0; i < queues.Length; i++)
            {
                var q = _queues[i];
                queues[i] = new VirtqueueState(q.Size, q.Ready, q.DescTable, q.DriverArea, q.DeviceArea, q.LastAvail, q.UsedIndex);
            }

            return new VirtioMmioState
            {
                Status = _status, DeviceFeaturesSel = _deviceFeaturesSel, DriverFeaturesSel = _driverFeaturesSel,
                DriverFeatures = _driverFeatures, QueueSel = _queueSel, InterruptStatus = _interruptStatus, Queues = queues,
            };
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/> from a transport with the same device type.</summary>
    /// <exception cref="SoftKvmException">the queue count differs.</exception>
    public void RestoreState(VirtioMmioState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            if (state.Queues.Count != _queues.Length)
            {
                throw new SoftKvmException($"virtio state has {state.Queues.Count} queues, the device has {_queues.Length}");
            }

            _status = state.Status & 0xFF;
            _deviceFeaturesSel = state.DeviceFeaturesSel;
            _driverFeaturesSel = state.DriverFeaturesSel;
            _driverFeatures = state.DriverFeatures;
            _queueSel = state.QueueSel;
            _interruptStatus = state.InterruptStatus & (InterruptUsedBuffer | InterruptConfigChange);
            for (int i = 0; i < _queues.Length; i++)
            {
                var s = state.Queues[i];
                var q = _queues[i];
                q.Size = s.Size;
                q.Ready = s.Ready;
                q.DescTable = s.DescTable;
                q.DriverArea = s.DriverArea;
                q.DeviceArea = s.DeviceArea;
                q.RestorePositions(s.LastAvail, s.UsedIndex);
            }

            _irqLevel = _interruptStatus != 0;
            _irq.Set(_irqLevel);
        }
    }

    /// <summary>The queue <paramref name="index"/> when the driver has made it ready, else null (lock held).</summary>
    internal Virtqueue? ReadyQueue(int index) =>
        DriverOk && (uint)index < (uint)_queues.Length && _queues[index].Ready ? _queues[index] : null;

    /// <summary>Signals used buffers on <paramref name="queue"/> unless the driver suppressed it (lock held).</summary>
    internal void SignalUsed(Virtqueue queue)
    {
        if (!queue.InterruptSuppressed(_memory) && InterruptOverride?.Invoke(Array.IndexOf(_queues, queue)) != true)
        {
            _interruptStatus |= InterruptUsedBuffer;
            UpdateIrq();
        }
    }

    /// <summary>
    /// Lets the device serve <paramref name="queue"/> (or, for -1, start after DRIVER_OK), turning driver
    /// errors into DEVICE_NEEDS_RESET (lock held; no allocation).
    /// </summary>
    internal void Serve(int queue)
    {
        try
        {
            if (queue < 0)
            {
                _device.OnDriverOk(_memory);
            }
            else
            {
                _device.OnNotify(_memory, queue);
            }
        }
        catch (VirtqueueException e)
        {
            DriverError(e.Message);
        }
        catch (GuestMemoryAccessException e)
        {
            DriverError(e.Message);
        }

        UpdateIrq();
    }

    private uint ReadIdentification(ulong reg) => reg switch
    {
        MagicValue => Magic,
        VirtioMmioRegisters.Version => TransportVersion,
        DeviceID => _device.DeviceId,
        _ => Vendor,
    };

    private uint ReadRegister(ulong reg)
    {
        var q = SelectedQueue;
        switch (reg)
        {
            // MagicValue, Version, DeviceID and VendorID: ReadIdentification, without the lock (Read)
            case DeviceFeatures:
                ulong features = OfferedFeatures;
                return _deviceFeaturesSel switch { 0 => (uint)features, 1 => (uint)(features >> 32), _ => 0 };
            case QueueNumMax: return q is null ? 0u : q.MaxSize;
            case QueueReady: return q is { Ready: true } ? 1u : 0u;
            case InterruptStatus: return _interruptStatus;
            case VirtioMmioRegisters.Status: return _status;
            case SHMLenLow or SHMLenHigh: return uint.MaxValue; // no shared memory regions (4.2.2: length -1)
            case SHMBaseLow or SHMBaseHigh: return uint.MaxValue;
            case QueueReset: return 0;
            case ConfigGeneration: return 0; // the configuration space never changes under the driver
            default: return 0; // write-only and reserved registers read as zero
        }
    }

    private void WriteRegister(ulong reg, uint value)
    {
        var q = SelectedQueue;
        switch (reg)
        {
            case DeviceFeaturesSel:
                _deviceFeaturesSel = value;
                break;
            case DriverFeatures:
                if ((_status & VirtioStatus.FeaturesOk) == 0)
                {
                    if (_driverFeaturesSel == 0)
                    {
                        _driverFeatures = (_driverFeatures & 0xFFFF_FFFF_0000_0000UL) | value;
                    }
                    else if (_driverFeaturesSel == 1)
                    {
                        _driverFeatures = (_driverFeatures & 0xFFFF_FFFFUL) | ((ulong)value << 32);
                    }
                }

                break;
            case DriverFeaturesSel:
                _driverFeaturesSel = value;
                break;
            case QueueSel:
                _queueSel = value;
                break;
            case QueueNum when q is { Ready: false }:
                q.Size = (ushort)Math.Min(value, ushort.MaxValue);
                break;
            case QueueReady when q is not null:
                SetQueueReady(q, value != 0);
                break;
            case QueueNotify:
                Notify((int)(value & 0xFFFF));
                break;
            case InterruptACK:
                _interruptStatus &= ~value;
                break;
            case VirtioMmioRegisters.Status:
                WriteStatus(value & 0xFF);
                break;
            case QueueDescLow when q is { Ready: false }:
                q.DescTable = (q.DescTable & ~0xFFFF_FFFFUL) | value;
                break;
            case QueueDescHigh when q is { Ready: false }:
                q.DescTable = (q.DescTable & 0xFFFF_FFFFUL) | ((ulong)value << 32);
                break;
            case QueueDriverLow when q is { Ready: false }:
                q.DriverArea = (q.DriverArea & ~0xFFFF_FFFFUL) | value;
                break;
            case QueueDriverHigh when q is { Ready: false }:
                q.DriverArea = (q.DriverArea & 0xFFFF_FFFFUL) | ((ulong)value << 32);
                break;
            case QueueDeviceLow when q is { Ready: false }:
                q.DeviceArea = (q.DeviceArea & ~0xFFFF_FFFFUL) | value;
                break;
            case QueueDeviceHigh when q is { Ready: false }:
                q.DeviceArea = (q.DeviceArea & 0xFFFF_FFFFUL) | ((ulong)value << 32);
                break;
            case QueueReset when q is not null && value == 1:
                q.Reset(); // VIRTIO_F_RING_RESET is not offered; a driver that resets a queue anyway gets it reset
                break;
            default:
                break; // read-only, reserved, or a queue register of a ready queue (4.2.2: must not be written)
        }
    }

    private Virtqueue? SelectedQueue => _queueSel < (uint)_queues.Length ? _queues[_queueSel] : null;

    private ulong OfferedFeatures => _device.DeviceFeatures | VirtioFeatures.Version1;

    private void SetQueueReady(Virtqueue q, bool ready)
    {
        if (!ready)
        {
            q.Ready = false;
            return;
        }

        try
        {
            q.Validate();
            q.Ready = true;
        }
        catch (VirtqueueException e)
        {
            DriverError(e.Message);
        }
    }

    private void WriteStatus(uint value)
    {
        if (value == 0)
        {
            Reset();
            return;
        }

        uint old = _status;
        _status = value | (old & VirtioStatus.DeviceNeedsReset);
        if ((value & VirtioStatus.FeaturesOk) != 0 && (old & VirtioStatus.FeaturesOk) == 0)
        {
            // 3.1.1: the device refuses feature sets it did not offer, and a version 2 transport needs VERSION_1.
            bool subset = (_driverFeatures & ~OfferedFeatures) == 0;
            bool modern = (_driverFeatures & VirtioFeatures.Version1) != 0;
            if (!subset || !modern)
            {
                _status &= ~VirtioStatus.FeaturesOk;
            }
        }

        if ((value & VirtioStatus.DriverOk) != 0 && (old & VirtioStatus.DriverOk) == 0)
        {
            Serve(-1);
        }
    }

    private void Reset()
    {
        _status = 0;
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _driverFeatures = 0;
        _queueSel = 0;
        _interruptStatus = 0;
        foreach (var q in _queues)
        {
            q.Reset();
        }

        _device.OnReset();
    }

    private void Notify(int queue)
    {
        if (!DriverOk || (uint)queue >= (uint)_queues.Length || !_queues[queue].Ready)
        {
            return; // a notification before DRIVER_OK or for a queue that is not live has nothing to serve
        }

        Serve(queue);
    }

    private void DriverError(string message)
    {
        DriverErrors++;
        if ((_status & VirtioStatus.DeviceNeedsReset) == 0)
        {
            _log?.Invoke($"virtio-mmio device {_device.DeviceId}: {message}; device needs reset");
        }

        _status |= VirtioStatus.DeviceNeedsReset;
        if (InterruptOverride?.Invoke(-1) != true)
        {
            _interruptStatus |= InterruptConfigChange;
        }
    }

    private void UpdateIrq()
    {
        bool level = _interruptStatus != 0;
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq.Set(level);
        }
    }
}
