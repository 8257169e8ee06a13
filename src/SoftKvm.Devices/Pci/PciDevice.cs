using System.Buffers.Binary;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using static SoftKvm.Devices.Pci.PciConfigRegisters;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// A PCI function: its configuration space with the type 0 header (PCI Local Bus Specification 3.0,
/// chapter 6), the base address registers with their sizing and mapping, the capability list, MSI and
/// MSI-X, and INTx. Which bytes the guest may write is data (a write mask per byte, and the bits a
/// write of 1 clears), so every register follows the same rule. A BAR decodes while its command enable
/// bit is set and it holds a usable address: the PCI core then registers the BAR's region on the
/// machine's memory or port bus (<see cref="IPciHost"/>) and moves the function's ioeventfds with it.
/// How the guest reaches configuration space (mechanism #1, ECAM) is not the function's business.
/// A derived device declares its BARs and capabilities in its constructor, before it is attached to a
/// <see cref="PciBus"/>.
/// </summary>
public abstract class PciDevice
{
    private readonly byte[] _config;
    private readonly byte[] _writeMask;
    private readonly byte[] _clearMask;
    private readonly PciBar?[] _bars = new PciBar?[6];
    private readonly List<(ulong Address, uint Data)> _ready = [];
    private int _capabilityEnd = FirstCapability;
    private int _lastCapability;
    private PciMsiCapability? _msi;
    private PciMsixCapability? _msix;
    private IPciHost? _host;
    private IIrqLine? _intx;
    private bool _intxLevel;
    private bool _intxOutput;

    /// <summary>Creates a function with <paramref name="identity"/> and a configuration space of <paramref name="configSize"/> bytes (256, or 4096 for PCI Express).</summary>
    protected PciDevice(PciIdentity identity, int configSize = ConventionalSize)
    {
        if (configSize is not (ConventionalSize or ExpressSize))
        {
            throw new ArgumentOutOfRangeException(nameof(configSize), configSize, "a configuration space has 256 or 4096 bytes");
        }

        Identity = identity;
        _config = new byte[configSize];
        _writeMask = new byte[configSize];
        _clearMask = new byte[configSize];
        var c = _config.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(c[VendorId..], identity.VendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(c[DeviceId..], identity.DeviceId);
        c[RevisionId] = identity.Revision;
        c[ClassCode] = (byte)identity.ClassCode;
        c[ClassCode + 1] = (byte)(identity.ClassCode >> 8);
        c[ClassCode + 2] = (byte)(identity.ClassCode >> 16);
        BinaryPrimitives.WriteUInt16LittleEndian(c[SubsystemVendorId..], identity.SubsystemVendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(c[SubsystemId..], identity.SubsystemId);
        BinaryPrimitives.WriteUInt16LittleEndian(_writeMask.AsSpan(Command), CommandWritable);
        BinaryPrimitives.WriteUInt16LittleEndian(_clearMask.AsSpan(Status), StatusWriteOneToClear);
        _writeMask[CacheLineSize] = 0xFF;
        _writeMask[InterruptLine] = 0xFF;
    }

    /// <summary>The identification fields.</summary>
    public PciIdentity Identity { get; }

    /// <summary>Where the function sits, once attached to a bus.</summary>
    public PciAddress? Address { get; private set; }

    /// <summary>The size of the configuration space (256 or 4096).</summary>
    public int ConfigSize => _config.Length;

    /// <summary>The function's lock: configuration accesses, MSI and MSI-X state.</summary>
    internal object SyncRoot { get; } = new();

    /// <summary>The MSI-X capability, when the function has one.</summary>
    protected PciMsixCapability? Msix => _msix;

    /// <summary>Where BAR <paramref name="index"/> decodes now, or null (unimplemented, disabled or unusable address).</summary>
    public ulong? BarAddress(int index)
    {
        lock (SyncRoot)
        {
            return (uint)index < 6 && _bars[index] is { } b && b.MappedAt != PciBar.Unmapped ? b.MappedAt : null;
        }
    }

    /// <summary>The size of BAR <paramref name="index"/>, 0 when it is not implemented.</summary>
    public ulong BarSize(int index) => (uint)index < 6 && _bars[index] is { } b ? b.Size : 0;

    /// <summary>The kind of BAR <paramref name="index"/>, or null when it is not implemented.</summary>
    public PciBarKind? BarKind(int index) => (uint)index < 6 && _bars[index] is { } b ? b.Kind : null;

    /// <summary>Whether BAR <paramref name="index"/> is implemented and is not the upper half of a 64-bit BAR.</summary>
    internal bool IsBarStart(int index) => (uint)index < 6 && _bars[index] is { } b && b.Index == index;

    /// <summary>Reads configuration space; bytes past its end read as zero.</summary>
    public void ReadConfig(int offset, Span<byte> data)
    {
        lock (SyncRoot)
        {
            data.Clear();
            if ((uint)offset < (uint)_config.Length)
            {
                var s = _config.AsSpan(offset);
                s[..Math.Min(s.Length, data.Length)].CopyTo(data);
            }
        }

        OnConfigRead(offset, data);
    }

    /// <summary>
    /// Writes configuration space as the guest does: read-only bits keep their value, write-one-to-clear
    /// bits clear, and a change of the command register or a BAR remaps the BARs.
    /// </summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        if ((uint)offset >= (uint)_config.Length || data.IsEmpty)
        {
            return;
        }

        int length = Math.Min(data.Length, _config.Length - offset);
        List<(ulong Address, uint Data)>? send = null;
        lock (SyncRoot)
        {
            for (int i = 0; i < length; i++)
            {
                int o = offset + i;
                byte v = data[i];
                byte next = (byte)((_config[o] & ~_writeMask[o]) | (v & _writeMask[o]));
                _config[o] = (byte)(next & ~(v & _clearMask[o]));
            }

            bool command = Touches(offset, length, Command, 2);
            if (command || Touches(offset, length, Bar0, 24))
            {
                UpdateMappings();
            }

            if (command)
            {
                UpdateIntx();
            }

            if (_msi is not null && _msi.Covers(offset, length) || _msix is not null && _msix.Covers(offset, length))
            {
                send = CollectUnmaskedPending();
            }
        }

        Send(send);
        OnConfigWritten(offset, length);
    }

    /// <summary>A copy of the function's configuration and interrupt state (derived devices add their own).</summary>
    public PciFunctionState SaveFunctionState()
    {
        lock (SyncRoot)
        {
            return new PciFunctionState((byte[])_config.Clone(), _msix?.SaveTable(), _msix?.SavePending(), _intxLevel);
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveFunctionState"/> from the same kind of function, and remaps its BARs.</summary>
    /// <exception cref="SoftKvmException">the state's configuration space or MSI-X table has another size.</exception>
    public void RestoreFunctionState(PciFunctionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (SyncRoot)
        {
            if (state.Config.Length != _config.Length)
            {
                throw new SoftKvmException($"PCI state has {state.Config.Length} bytes of configuration space, the function {_config.Length}");
            }

            if ((_msix is null) != (state.MsixTable is null || state.MsixPending is null)
                || (_msix is not null && ((ulong)state.MsixTable!.Length != _msix.TableSize || (ulong)state.MsixPending!.Length * 8 != _msix.PbaSize)))
            {
                throw new SoftKvmException($"PCI state's MSI-X table ({state.MsixTable?.Length ?? 0} bytes) does not fit the function's ({_msix?.TableSize ?? 0} bytes)");
            }

            state.Config.CopyTo(_config, 0);
            if (_msix is not null)
            {
                _msix.Restore(state.MsixTable!, state.MsixPending!);
            }

            _intxLevel = state.IntxLevel;
            UpdateMappings();
            UpdateIntx();
        }
    }

    /// <summary>Attaches the function to <paramref name="host"/> at <paramref name="address"/> (the bus does this).</summary>
    internal void Attach(IPciHost host, PciAddress address)
    {
        lock (SyncRoot)
        {
            if (_host is not null)
            {
                throw new SoftKvmException($"PCI function {Identity.VendorId:x4}:{Identity.DeviceId:x4} is on a bus already");
            }

            _host = host;
            Address = address;
            int pin = _config[InterruptPin];
            _intx = pin != 0 ? host.GetIntxLine(address, pin) : null;
        }
    }

    /// <summary>Sets or clears the multi-function bit of the header type (the bus sets it on function 0 of a slot with several).</summary>
    internal void SetMultiFunction(bool on)
    {
        lock (SyncRoot)
        {
            _config[HeaderType] = (byte)(on ? _config[HeaderType] | HeaderTypeMultiFunction : _config[HeaderType] & ~HeaderTypeMultiFunction);
        }
    }

    /// <summary>Sends the pending MSI-X vectors an MSI-X table write unmasked.</summary>
    internal void SendUnmaskedPending()
    {
        List<(ulong Address, uint Data)>? send;
        lock (SyncRoot)
        {
            send = CollectUnmaskedPending();
        }

        Send(send);
    }

    /// <summary>
    /// Declares BAR <paramref name="index"/>: <paramref name="size"/> bytes (a power of two, at least 16 for
    /// memory and 4 for I/O) decoded by <paramref name="region"/>. A 64-bit BAR also takes index + 1.
    /// </summary>
    protected void AddBar(int index, PciBarKind kind, ulong size, IIoDevice region, bool prefetchable = false)
    {
        ArgumentNullException.ThrowIfNull(region);
        int last = kind == PciBarKind.Memory64 ? index + 1 : index;
        if (index < 0 || last > 5 || _bars[index] is not null || _bars[last] is not null)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "no such free base address register");
        }

        ulong min = kind == PciBarKind.Io ? 4UL : 16UL;
        ulong max = kind switch { PciBarKind.Io => 256, PciBarKind.Memory32 => 1UL << 31, _ => 1UL << 63 };
        if (size < min || size > max || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"a {kind} BAR is a power of two from {min} to {max} bytes");
        }

        if (kind == PciBarKind.Io && prefetchable)
        {
            throw new ArgumentException("an I/O BAR cannot be prefetchable", nameof(prefetchable));
        }

        var bar = new PciBar(index, kind, size, prefetchable, region);
        _bars[index] = bar;
        if (kind == PciBarKind.Memory64)
        {
            _bars[last] = bar;
        }

        int at = Bar0 + (index * 4);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(at), bar.TypeBits);
        BinaryPrimitives.WriteUInt32LittleEndian(_writeMask.AsSpan(at), (uint)bar.AddressMask);
        if (kind == PciBarKind.Memory64)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_writeMask.AsSpan(at + 4), (uint)(bar.AddressMask >> 32));
        }
    }

    /// <summary>
    /// Appends a capability of <paramref name="length"/> bytes (ID and next pointer included) to the list
    /// and returns its offset; its body is read-only until <see cref="SetWritable"/> says otherwise.
    /// </summary>
    protected int AddCapability(byte id, int length)
    {
        int at = (_capabilityEnd + 3) & ~3;
        if (length < 2 || at + length > ConventionalSize)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "the capability does not fit in the first 256 bytes of configuration space");
        }

        _config[at] = id;
        _config[at + 1] = 0;
        if (_lastCapability == 0)
        {
            _config[CapabilitiesPointer] = (byte)at;
            BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(Status), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Status)) | StatusCapabilitiesList));
        }
        else
        {
            _config[_lastCapability + 1] = (byte)at;
        }

        _lastCapability = at;
        _capabilityEnd = at + length;
        return at;
    }

    /// <summary>The configuration bytes at <paramref name="offset"/>, for a constructor to fill (read-only values).</summary>
    protected Span<byte> ConfigBytes(int offset, int length) => _config.AsSpan(offset, length);

    /// <summary>Lets the guest write the bits of <paramref name="mask"/> at <paramref name="offset"/>.</summary>
    protected void SetWritable(int offset, ReadOnlySpan<byte> mask) => mask.CopyTo(_writeMask.AsSpan(offset));

    /// <summary>Sets the interrupt pin (1 = INTA# ... 4 = INTD#); the machine wires it when the function is attached.</summary>
    protected void SetInterruptPin(int pin)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pin, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pin, 4);
        _config[InterruptPin] = (byte)pin;
    }

    /// <summary>Adds an MSI capability (64-bit, per-vector masking) for <paramref name="vectors"/> vectors (1, 2, 4, ... 32).</summary>
    protected void AddMsi(int vectors)
    {
        if (_msi is not null)
        {
            throw new InvalidOperationException("the function has an MSI capability already");
        }

        int at = AddCapability(CapabilityMsi, PciMsiCapability.Length);
        _msi = new PciMsiCapability(_config, _writeMask, at, vectors);
    }

    /// <summary>
    /// Adds an MSI-X capability with <paramref name="vectors"/> vectors whose table is at
    /// <paramref name="tableOffset"/> in BAR <paramref name="tableBar"/> and Pending Bit Array at
    /// <paramref name="pbaOffset"/> in BAR <paramref name="pbaBar"/>; the caller maps
    /// <see cref="PciMsixCapability.Table"/> and <see cref="PciMsixCapability.Pba"/> there.
    /// </summary>
    protected PciMsixCapability AddMsix(int vectors, int tableBar, uint tableOffset, int pbaBar, uint pbaOffset)
    {
        if (_msix is not null)
        {
            throw new InvalidOperationException("the function has an MSI-X capability already");
        }

        int at = AddCapability(CapabilityMsix, PciMsixCapability.Length);
        _msix = new PciMsixCapability(this, _config, _writeMask, at, vectors, tableBar, tableOffset, pbaBar, pbaOffset);
        return _msix;
    }

    /// <summary>
    /// Signals interrupt vector <paramref name="vector"/> by MSI-X, else MSI, whichever the driver enabled:
    /// true when one is enabled (the message was sent, or is pending while masked), false when neither is
    /// (the caller uses INTx). A message needs Bus Master Enable: without it the write is lost, as on a bus.
    /// </summary>
    protected bool SendVector(int vector)
    {
        (ulong Address, uint Data)? message;
        lock (SyncRoot)
        {
            if (_msix is not null && _msix.EnabledLocked)
            {
                message = _msix.Fire(vector);
            }
            else if (_msi is not null && _msi.Enabled)
            {
                message = _msi.Fire(vector);
            }
            else
            {
                return false;
            }

            if ((CommandWord & CommandBusMaster) == 0)
            {
                message = null;
            }
        }

        if (message is { } m && _host is { } host)
        {
            host.DeliverMsi(Address!.Value, m.Address, m.Data);
        }

        return true;
    }

    /// <summary>Sets the level of the function's INTx pin (reflected in the status register; not driven while Interrupt Disable is set).</summary>
    protected void SetIntx(bool level)
    {
        lock (SyncRoot)
        {
            _intxLevel = level;
            UpdateIntx();
        }
    }

    /// <summary>
    /// Places an ioeventfd at <paramref name="offset"/> in BAR <paramref name="bar"/> (<c>KVM_IOEVENTFD</c>:
    /// <paramref name="length"/> 0 matches any write there, otherwise writes of that length, carrying
    /// <paramref name="dataMatch"/> if given). It is registered in the hypervisor while the BAR decodes, at
    /// the BAR's address, and follows the BAR when the guest moves it. Returns a handle for <see cref="RemoveIoEvent"/>.
    /// </summary>
    protected object AddIoEvent(int bar, ulong offset, uint length, ulong? dataMatch, EventFd signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        lock (SyncRoot)
        {
            var b = (uint)bar < 6 ? _bars[bar] : null;
            if (b is null || offset >= b.Size)
            {
                throw new ArgumentOutOfRangeException(nameof(offset), offset, $"BAR {bar} has no offset 0x{offset:x}");
            }

            var e = new PciBarIoEvent(b.Index, offset, length, dataMatch, signal);
            b.IoEvents.Add(e);
            if (b.MappedAt != PciBar.Unmapped)
            {
                Register(b, e);
            }

            return e;
        }
    }

    /// <summary>Removes an ioeventfd placed by <see cref="AddIoEvent"/>.</summary>
    protected void RemoveIoEvent(object handle)
    {
        lock (SyncRoot)
        {
            if (handle is PciBarIoEvent e && _bars[e.Bar] is { } b && b.IoEvents.Remove(e) && e.Registered is { } r)
            {
                _host!.UnregisterIoEvent(b.Space, r);
                e.Registered = null;
            }
        }
    }

    /// <summary>Called after the guest wrote configuration space (outside the function's lock).</summary>
    protected virtual void OnConfigWritten(int offset, int length)
    {
    }

    /// <summary>Called after a configuration read filled <paramref name="data"/> (outside the function's lock); a device may change what is returned.</summary>
    protected virtual void OnConfigRead(int offset, Span<byte> data)
    {
    }

    private ushort CommandWord => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Command));

    private static bool Touches(int offset, int length, int register, int size) => offset < register + size && offset + length > register;

    private List<(ulong Address, uint Data)>? CollectUnmaskedPending()
    {
        _ready.Clear();
        if (_msi is not null)
        {
            uint bits = _msi.TakeUnmaskedPending();
            while (bits != 0)
            {
                int v = System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                _ready.Add(_msi.Message(v));
            }
        }

        _msix?.TakeUnmaskedPending(_ready);
        if (_ready.Count == 0 || (CommandWord & CommandBusMaster) == 0)
        {
            return null;
        }

        return [.. _ready];
    }

    private void Send(List<(ulong Address, uint Data)>? messages)
    {
        if (messages is null || _host is not { } host)
        {
            return;
        }

        foreach (var (address, data) in messages)
        {
            host.DeliverMsi(Address!.Value, address, data);
        }
    }

    private void UpdateIntx()
    {
        ushort status = BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Status));
        status = (ushort)(_intxLevel ? status | StatusInterrupt : status & ~StatusInterrupt);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(Status), status);
        bool output = _intxLevel && (CommandWord & CommandInterruptDisable) == 0;
        if (output != _intxOutput)
        {
            _intxOutput = output;
            _intx?.Set(output);
        }
    }

    // The address each BAR should decode at now: the register's address bits while the command register
    // enables its space and the address is usable (not 0, inside the space, not wrapping).
    private ulong Decoded(PciBar bar)
    {
        ushort command = CommandWord;
        int at = Bar0 + (bar.Index * 4);
        ulong raw = BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(at));
        if (bar.Kind == PciBarKind.Memory64)
        {
            raw |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(at + 4)) << 32;
        }

        ulong address = raw & bar.AddressMask;
        ulong last = address + bar.Size - 1;
        bool enabled = bar.Kind == PciBarKind.Io ? (command & CommandIoSpace) != 0 && _host?.IoSpace is not null : (command & CommandMemorySpace) != 0;
        ulong limit = bar.Kind switch { PciBarKind.Io => 0xFFFF, PciBarKind.Memory32 => 0xFFFF_FFFF, _ => ulong.MaxValue - 1 };
        return enabled && address != 0 && last > address && last <= limit ? address : PciBar.Unmapped;
    }

    private void UpdateMappings()
    {
        if (_host is null)
        {
            return;
        }

        for (int i = 0; i < 6; i++)
        {
            var bar = _bars[i];
            if (bar is null || bar.Index != i)
            {
                continue; // not implemented, or the upper half of a 64-bit BAR
            }

            ulong want = Decoded(bar);
            if (want == bar.MappedAt)
            {
                continue;
            }

            var bus = bar.Kind == PciBarKind.Io ? _host.IoSpace! : _host.MemorySpace;
            if (bar.MappedAt != PciBar.Unmapped)
            {
                foreach (var e in bar.IoEvents)
                {
                    if (e.Registered is { } r)
                    {
                        _host.UnregisterIoEvent(bar.Space, r);
                        e.Registered = null;
                    }
                }

                bus.Unregister(bar.Window);
                bar.MappedAt = PciBar.Unmapped;
            }

            if (want == PciBar.Unmapped)
            {
                continue;
            }

            try
            {
                bus.Register(want, bar.Size, bar.Window);
            }
            catch (IoBusException e)
            {
                _host.Log($"PCI {Address}: BAR {i} at 0x{want:x} (0x{bar.Size:x} bytes) overlaps another device and decodes nothing: {e.Message}");
                continue;
            }

            bar.MappedAt = want;
            foreach (var e in bar.IoEvents)
            {
                Register(bar, e);
            }
        }
    }

    private void Register(PciBar bar, PciBarIoEvent e)
    {
        var ioEvent = new IoEvent(bar.MappedAt + e.Offset, e.Length, e.Signal, e.DataMatch);
        try
        {
            _host!.RegisterIoEvent(bar.Space, ioEvent);
            e.Registered = ioEvent;
        }
        catch (IoBusException ex)
        {
            _host!.Log($"PCI {Address}: ioeventfd at BAR {bar.Index} + 0x{e.Offset:x} not registered: {ex.Message}");
        }
    }
}
