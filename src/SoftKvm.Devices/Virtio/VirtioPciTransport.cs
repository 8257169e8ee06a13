using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Core.Memory;
using SoftKvm.Devices.Pci;
using static SoftKvm.Devices.Virtio.VirtioMmioRegisters;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// The virtio-pci transport for modern (non-transitional) devices (virtio 1.2 section 4.1), laid out as
/// QEMU lays it out: vendor 1AF4, device 0x1040 + the virtio device ID, revision 1; BAR 4 (64-bit,
/// prefetchable, 16 KiB) holds the common configuration at 0x0000, the ISR status at 0x1000, the device
/// configuration at 0x2000 and the notification area at 0x3000 (queue n notifies at 0x3000 + 4n:
/// queue_notify_off = n, notify_off_multiplier = 4); BAR 1 (4 KiB) holds the MSI-X table (queues + 1
/// vectors) and, at 0x800, its Pending Bit Array. The capability list has the five virtio structures
/// (common, notify, ISR, device, and the PCI configuration access window) and MSI-X; INTA# is the pin.
/// <para>
/// The feature negotiation, status state machine, virtqueues and device service are the virtio-mmio
/// transport's, which this one drives through its registers (a function of the PCI core around the same
/// state machine). With MSI-X enabled, a used buffer sends its queue's vector and a configuration change
/// the configuration vector (NO_VECTOR: nothing is sent), and the ISR stays 0; otherwise the ISR's bits
/// drive INTx, and reading the ISR clears it and lowers the line.
/// </para>
/// </summary>
public sealed class VirtioPciTransport : PciDevice
{
    /// <summary>The virtio PCI vendor ID.</summary>
    public const ushort VendorVirtio = 0x1AF4;

    /// <summary>A modern device's PCI device ID is this plus the virtio device ID.</summary>
    public const ushort DeviceIdBase = 0x1040;

    /// <summary>The capability ID of the virtio structures (vendor-specific).</summary>
    public const byte CapabilityVendorSpecific = 0x09;

    /// <summary>The cfg_type values of the virtio capabilities (section 4.1.4).</summary>
    public const byte CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4, PciCfg = 5;

    /// <summary>The BAR holding the virtio structures, and its size.</summary>
    public const int RegistersBar = 4;

    /// <summary>The size of <see cref="RegistersBar"/>.</summary>
    public const ulong RegistersSize = 0x4000;

    /// <summary>The offsets of the structures in <see cref="RegistersBar"/>.</summary>
    public const uint CommonOffset = 0x0000, IsrOffset = 0x1000, DeviceOffset = 0x2000, NotifyOffset = 0x3000;

    /// <summary>The length of each structure's window.</summary>
    public const uint StructureSize = 0x1000;

    /// <summary>The length of the common configuration structure (through queue_reset).</summary>
    public const uint CommonLength = 0x3C;

    /// <summary>The distance between queue notification addresses.</summary>
    public const uint NotifyOffMultiplier = 4;

    /// <summary>The BAR holding the MSI-X table (offset 0) and Pending Bit Array (offset <see cref="PbaOffset"/>).</summary>
    public const int MsixBar = 1;

    /// <summary>The Pending Bit Array's offset in <see cref="MsixBar"/>.</summary>
    public const uint PbaOffset = 0x800;

    /// <summary>VIRTIO_MSI_NO_VECTOR.</summary>
    public const ushort NoVector = 0xFFFF;

    private const int VirtioCapLength = 16;
    private const int PciCfgCapLength = 20;

    private readonly VirtioMmioTransport _inner;
    private readonly CompositeRegion _registers = new();
    private readonly CompositeRegion _msixRegion = new();
    private readonly ushort[] _queueVectors;
    private readonly int _vectors;
    private readonly int _pciCfgCap;
    private ushort _configVector = NoVector;
    private uint _deviceFeatureSelect;
    private uint _driverFeatureSelect;
    private ushort _queueSelect;

    /// <summary>
    /// Puts <paramref name="device"/> behind a virtio-pci function whose virtqueues live in
    /// <paramref name="memory"/>; <paramref name="log"/> hears about driver errors.
    /// </summary>
    public VirtioPciTransport(VirtioDevice device, GuestMemory memory, Action<string>? log = null)
        : base(new PciIdentity(VendorVirtio, (ushort)(DeviceIdBase + (device ?? throw new ArgumentNullException(nameof(device))).DeviceId), ClassCodeOf(device.DeviceId), Revision: 1))
    {
        _inner = new VirtioMmioTransport(device, memory, new IntxLine(this), log);
        _inner.InterruptOverride = OnInterrupt;
        _queueVectors = new ushort[device.QueueCount];
        _queueVectors.AsSpan().Fill(NoVector);
        _vectors = device.QueueCount + 1;

        _registers
            .Add(CommonOffset, StructureSize, new CommonConfig(this))
            .Add(IsrOffset, StructureSize, new IsrStatus(this))
            .Add(DeviceOffset, StructureSize, new DeviceConfig(this))
            .Add(NotifyOffset, StructureSize, new Notification(this));
        AddBar(MsixBar, PciBarKind.Memory32, 0x1000, _msixRegion);
        AddBar(RegistersBar, PciBarKind.Memory64, RegistersSize, _registers, prefetchable: true);
        SetInterruptPin(1);

        AddVirtioCapability(CommonCfg, CommonOffset, CommonLength);
        AddVirtioCapability(IsrCfg, IsrOffset, 1);
        AddVirtioCapability(DeviceCfg, DeviceOffset, StructureSize);
        int notify = AddVirtioCapability(NotifyCfg, NotifyOffset, StructureSize, VirtioCapLength + 4);
        BinaryPrimitives.WriteUInt32LittleEndian(ConfigBytes(notify + VirtioCapLength, 4), NotifyOffMultiplier);
        _pciCfgCap = AddVirtioCapability(PciCfg, 0, 0, PciCfgCapLength, bar: 0);
        SetWritable(_pciCfgCap + 4, [0xFF]); // bar
        SetWritable(_pciCfgCap + 8, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // offset, length
        SetWritable(_pciCfgCap + 16, [0xFF, 0xFF, 0xFF, 0xFF]); // pci_cfg_data

        var msix = AddMsix(_vectors, MsixBar, 0, MsixBar, PbaOffset);
        _msixRegion.Add(0, msix.TableSize, msix.Table).Add(PbaOffset, msix.PbaSize, msix.Pba);
    }

    /// <summary>The virtio state machine and queues behind the function.</summary>
    public VirtioMmioTransport Virtio => _inner;

    /// <summary>The class code QEMU gives the device type: block → mass storage (01 00), console → other communication (07 80), network (02 00), else FF.</summary>
    public static uint ClassCodeOf(uint deviceId) => deviceId switch
    {
        1 => 0x020000,
        2 => 0x010000,
        3 => 0x078000,
        _ => 0xFF0000,
    };

    /// <summary>
    /// A copy of the function's state (<see cref="VirtioPciState"/>). Requests are served synchronously on the
    /// notifying vCPU, so none is in flight while the vCPUs are stopped.
    /// </summary>
    public VirtioPciState SaveState()
    {
        lock (_inner.SyncRoot)
        {
            return new VirtioPciState(SaveFunctionState(), _inner.SaveState(), _deviceFeatureSelect, _driverFeatureSelect, _queueSelect, _configVector, [.. _queueVectors]);
        }
    }

    /// <summary>
    /// Restores a state saved by <see cref="SaveState"/> from a function with the same device type: the BARs decode
    /// where the state says, and the INTx level and MSI-X state are the saved ones.
    /// </summary>
    /// <exception cref="SoftKvmException">the state has another queue count or an MSI-X vector this function does not have.</exception>
    public void RestoreState(VirtioPciState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.QueueVectors.Count != _queueVectors.Length)
        {
            throw new SoftKvmException($"virtio-pci state has {state.QueueVectors.Count} queue vectors, the device has {_queueVectors.Length} queues");
        }

        foreach (ushort v in state.QueueVectors.Append(state.ConfigVector))
        {
            if (v != NoVector && v >= _vectors)
            {
                throw new SoftKvmException($"virtio-pci state names MSI-X vector {v}; the function has {_vectors}");
            }
        }

        lock (_inner.SyncRoot)
        {
            RestoreFunctionState(state.Function);
            _inner.RestoreState(state.Virtio);
            _deviceFeatureSelect = state.DeviceFeatureSelect;
            _driverFeatureSelect = state.DriverFeatureSelect;
            _queueSelect = state.QueueSelect;
            _configVector = state.ConfigVector;
            for (int i = 0; i < _queueVectors.Length; i++)
            {
                _queueVectors[i] = state.QueueVectors[i];
            }
        }
    }

    /// <inheritdoc />
    protected override void OnConfigWritten(int offset, int length)
    {
        if (offset < _pciCfgCap + PciCfgCapLength && offset + length > _pciCfgCap + 16 && PciCfgWindow() is { } w)
        {
            Span<byte> value = stackalloc byte[4];
            ReadConfigRaw(_pciCfgCap + 16, value); // the bytes the driver wrote, not the window's read
            w.Region.Write(null, w.Offset, value[..w.Length]);
        }
    }

    /// <inheritdoc />
    protected override void OnConfigRead(int offset, Span<byte> data)
    {
        int at = _pciCfgCap + 16;
        if (offset < at + 4 && offset + data.Length > at && PciCfgWindow() is { } w)
        {
            Span<byte> value = stackalloc byte[4];
            value.Clear();
            w.Region.Read(null, w.Offset, value[..w.Length]);
            for (int i = 0; i < data.Length; i++)
            {
                int o = offset + i - at;
                if (o is >= 0 and < 4)
                {
                    data[i] = value[o];
                }
            }
        }
    }

    private int AddVirtioCapability(byte type, uint offset, uint length, int capLength = VirtioCapLength, int bar = RegistersBar)
    {
        int at = AddCapability(CapabilityVendorSpecific, capLength);
        var c = ConfigBytes(at, capLength);
        c[2] = (byte)capLength;
        c[3] = type;
        c[4] = (byte)bar;
        BinaryPrimitives.WriteUInt32LittleEndian(c[8..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(c[12..], length);
        return at;
    }

    // The VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9): an access of cap.length (1, 2 or 4, aligned) bytes at
    // cap.offset in BAR cap.bar; anything else is ignored.
    private (IIoDevice Region, ulong Offset, int Length)? PciCfgWindow()
    {
        Span<byte> cap = stackalloc byte[16];
        ReadConfigRaw(_pciCfgCap, cap);
        int bar = cap[4];
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(cap[8..]);
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(cap[12..]);
        IIoDevice? region = bar == RegistersBar && offset < RegistersSize ? _registers : bar == MsixBar && offset < 0x1000 ? _msixRegion : null;
        if (region is null || length is not (1 or 2 or 4) || offset % (uint)length != 0)
        {
            return null;
        }

        return (region, offset, length);
    }

    private void ReadConfigRaw(int offset, Span<byte> data)
    {
        lock (SyncRoot)
        {
            ConfigBytes(offset, data.Length).CopyTo(data);
        }
    }

    // Under the inner transport's lock: an MSI-X vector when the driver enabled MSI-X, else the ISR and INTx.
    private bool OnInterrupt(int queue)
    {
        if (Msix is not { Enabled: true })
        {
            return false;
        }

        ushort vector = queue < 0 ? _configVector : _queueVectors[queue];
        if (vector != NoVector)
        {
            SendVector(vector);
        }

        return true;
    }

    private uint InnerRead(ulong register)
    {
        Span<byte> b = stackalloc byte[4];
        _inner.Read(null, register, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private void InnerWrite(ulong register, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _inner.Write(null, register, b);
    }

    private ushort CheckedVector(uint value) => value < (uint)_vectors ? (ushort)value : NoVector;

    private void SetIntxLevel(bool level) => SetIntx(level);

    // The common configuration structure (4.1.4.3), read as an image of its fields.
    private sealed class CommonConfig(VirtioPciTransport t) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            data.Clear();
            if (offset >= CommonLength)
            {
                return;
            }

            Span<byte> image = stackalloc byte[64];
            image.Clear();
            lock (t._inner.SyncRoot)
            {
                var (desc, driver, device) = t._inner.SelectedQueueAddresses;
                bool valid = t._queueSelect < t._queueVectors.Length;
                BinaryPrimitives.WriteUInt32LittleEndian(image[0x00..], t._deviceFeatureSelect);
                BinaryPrimitives.WriteUInt32LittleEndian(image[0x04..], t.InnerRead(DeviceFeatures));
                BinaryPrimitives.WriteUInt32LittleEndian(image[0x08..], t._driverFeatureSelect);
                BinaryPrimitives.WriteUInt32LittleEndian(image[0x0C..], t._inner.SelectedDriverFeatures);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x10..], t._configVector);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x12..], (ushort)t._queueVectors.Length);
                image[0x14] = (byte)t.InnerRead(VirtioMmioRegisters.Status);
                image[0x15] = (byte)t.InnerRead(ConfigGeneration);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x16..], t._queueSelect);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x18..], t._inner.SelectedQueueSize);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x1A..], valid ? t._queueVectors[t._queueSelect] : NoVector);
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x1C..], (ushort)t.InnerRead(QueueReady));
                BinaryPrimitives.WriteUInt16LittleEndian(image[0x1E..], valid ? t._queueSelect : (ushort)0);
                BinaryPrimitives.WriteUInt64LittleEndian(image[0x20..], desc);
                BinaryPrimitives.WriteUInt64LittleEndian(image[0x28..], driver);
                BinaryPrimitives.WriteUInt64LittleEndian(image[0x30..], device);
            }

            var from = image[(int)offset..];
            from[..Math.Min(from.Length, data.Length)].CopyTo(data);
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            Span<byte> padded = stackalloc byte[8];
            padded.Clear();
            data[..Math.Min(data.Length, 8)].CopyTo(padded);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(padded);
            lock (t._inner.SyncRoot)
            {
                if (data.Length == 8 && offset is 0x20 or 0x28 or 0x30)
                {
                    Field(offset, (uint)value);
                    Field(offset + 4, (uint)(value >> 32));
                }
                else
                {
                    Field(offset, (uint)value);
                }
            }
        }

        private void Field(ulong offset, uint value)
        {
            switch (offset)
            {
                case 0x00:
                    t._deviceFeatureSelect = value;
                    t.InnerWrite(DeviceFeaturesSel, value);
                    break;
                case 0x08:
                    t._driverFeatureSelect = value;
                    t.InnerWrite(DriverFeaturesSel, value);
                    break;
                case 0x0C:
                    t.InnerWrite(DriverFeatures, value);
                    break;
                case 0x10:
                    t._configVector = t.CheckedVector(value & 0xFFFF);
                    break;
                case 0x14:
                    t.InnerWrite(VirtioMmioRegisters.Status, value & 0xFF);
                    if ((value & 0xFF) == 0)
                    {
                        t._configVector = NoVector;
                        t._queueVectors.AsSpan().Fill(NoVector);
                        t._deviceFeatureSelect = t._driverFeatureSelect = t._queueSelect = 0;
                    }

                    break;
                case 0x16:
                    t._queueSelect = (ushort)value;
                    t.InnerWrite(QueueSel, value & 0xFFFF);
                    break;
                case 0x18:
                    t.InnerWrite(QueueNum, value & 0xFFFF);
                    break;
                case 0x1A when t._queueSelect < t._queueVectors.Length:
                    t._queueVectors[t._queueSelect] = t.CheckedVector(value & 0xFFFF);
                    break;
                case 0x1C:
                    t.InnerWrite(QueueReady, value & 0xFFFF);
                    break;
                case 0x20: t.InnerWrite(QueueDescLow, value); break;
                case 0x24: t.InnerWrite(QueueDescHigh, value); break;
                case 0x28: t.InnerWrite(QueueDriverLow, value); break;
                case 0x2C: t.InnerWrite(QueueDriverHigh, value); break;
                case 0x30: t.InnerWrite(QueueDeviceLow, value); break;
                case 0x34: t.InnerWrite(QueueDeviceHigh, value); break;
                case 0x3A:
                    t.InnerWrite(QueueReset, value & 0xFFFF);
                    break;
                default:
                    break; // read-only fields (device_feature, num_queues, config_generation, queue_notify_off) and reserved offsets
            }
        }
    }

    // The ISR status (4.1.4.5): reading returns the interrupt bits and clears them, which lowers INTx.
    private sealed class IsrStatus(VirtioPciTransport t) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            data.Clear();
            if (offset != 0 || data.IsEmpty)
            {
                return;
            }

            lock (t._inner.SyncRoot)
            {
                uint isr = t.InnerRead(InterruptStatus);
                if (isr != 0)
                {
                    t.InnerWrite(InterruptACK, isr);
                }

                data[0] = (byte)isr;
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }

    private sealed class DeviceConfig(VirtioPciTransport t) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => t._inner.Read(vcpu, Config + offset, data);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => t._inner.Write(vcpu, Config + offset, data);
    }

    // The notification area (4.1.4.4): a write at queue_notify_off * multiplier notifies that queue.
    private sealed class Notification(VirtioPciTransport t) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset % NotifyOffMultiplier == 0)
            {
                t.InnerWrite(QueueNotify, (uint)(offset / NotifyOffMultiplier));
            }
        }
    }

    private sealed class IntxLine(VirtioPciTransport t) : IIrqLine
    {
        public void Set(bool level) => t.SetIntxLevel(level);
    }
}
