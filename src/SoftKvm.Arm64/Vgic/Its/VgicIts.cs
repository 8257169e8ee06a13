using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// A GICv3 ITS (interrupt translation service, IHI 0069 chapter 6) as KVM's vgic-its provides it
/// (docs/kvm-semantics.md#gicv3-its-and-lpis): the ITS_base registers (GITS_CTLR, IIDR, TYPER, CBASER,
/// CWRITER, CREADR, BASER0 device table, BASER1 collection table), the command queue in guest memory,
/// processed when the guest writes CWRITER, and the translation of a (DeviceID, EventID) to an LPI on a
/// redistributor, for MSIs (<see cref="Vgic.SignalMsi"/>, KVM_SIGNAL_MSI) and the INT command.
/// </summary>
/// <remarks>
/// <para>As in KVM, devices, collections and translations live in the hypervisor, not in the guest's tables:
/// the tables are read only to check that an ID fits them (a two-level device table's level-1 entry must be
/// valid) and are written only by <see cref="SaveTables"/> (and cleared by MAPD V=0 and DISCARD), in KVM's
/// ABI revision 0 (Linux's Documentation/virt/kvm/devices/arm-vgic-its.rst; 8-byte entries, 64 KiB pages,
/// a flat collection table). GITS_TYPER: physical LPIs, 16 DeviceID bits, 16 EventID bits, 16-bit
/// collection IDs (CIL 0), 8-byte ITEs, PTA 0 (RDbase is a processor number).</para>
/// <para>Life cycle: <see cref="Vgic.CreateIts"/> (<c>KVM_CREATE_DEVICE</c>), then <see cref="SetBaseAddress"/>,
/// which registers the 128 KiB frame on the VM's MMIO bus at once, as KVM's <c>KVM_VGIC_ITS_ADDR_TYPE</c>
/// does. All state is guarded by the VGIC's lock.</para>
/// </remarks>
public sealed partial class VgicIts : IIoDevice, IGicRegisterFile
{
    /// <summary>The ITS's frame: ITS_base and the translation frame, 64 KiB each (<c>KVM_VGIC_V3_ITS_SIZE</c>).</summary>
    public const ulong FrameSize = 0x20000;

    /// <summary>The offset of GITS_TRANSLATER, the MSI doorbell, in the frame.</summary>
    public const ulong TranslaterOffset = 0x10040;

    /// <summary>DeviceID bits (KVM's VITS_TYPER_DEVBITS).</summary>
    public const int DeviceIdBits = 16;

    /// <summary>EventID bits (KVM's VITS_TYPER_IDBITS).</summary>
    public const int EventIdBits = 16;

    /// <summary>The size of a device, collection or interrupt translation table entry (KVM's ABI 0).</summary>
    public const int EntrySize = 8;

    /// <summary>GITS_TYPER: Physical [0], ITT_entry_size - 1 [7:4], IDbits - 1 [12:8], Devbits - 1 [17:13].</summary>
    public const ulong Typer = 1UL | ((ulong)(EntrySize - 1) << 4) | ((ulong)(EventIdBits - 1) << 8) | ((ulong)(DeviceIdBits - 1) << 13);

    private const ulong CtlrEnabled = 1UL << 0;
    private const ulong CtlrQuiescent = 1UL << 31;
    private const ulong BaserValid = 1UL << 63;
    private const ulong BaserIndirect = 1UL << 62;
    private const int BaserTypeDevice = 1;
    private const int BaserTypeCollection = 4;
    private const ulong BaserReadOnly = (0x1FUL << 48) | (7UL << 56);   // Entry_Size, Type
    private const ulong BaserPageSize64K = 2UL << 8;
    private const ulong CbaserValid = 1UL << 63;

    // KVM's INITIAL_BASER_VALUE: inner read-allocate write-back, outer as inner, inner shareable, 64 KiB pages.
    private const ulong InitialBaser = (3UL << 59) | (1UL << 10) | BaserPageSize64K;

    private readonly Vgic _vgic;
    private readonly Vm _vm;
    private readonly Dictionary<uint, ItsDevice> _devices = [];
    private readonly List<ItsCollection> _collections = [];
    private ulong? _base;
    private bool _enabled;
    private ulong _cbaser;
    private ulong _creadr;
    private ulong _cwriter;
    private ulong _baserDevice;
    private ulong _baserCollection;

    internal VgicIts(Vgic vgic, Vm vm)
    {
        _vgic = vgic;
        _vm = vm;
        _baserDevice = InitialBaser | ((ulong)BaserTypeDevice << 56) | ((ulong)(EntrySize - 1) << 48);
        _baserCollection = InitialBaser | ((ulong)BaserTypeCollection << 56) | ((ulong)(EntrySize - 1) << 48);
    }

    /// <summary>The frame's guest-physical base, once set.</summary>
    public ulong? BaseAddress => _base;

    /// <summary>The doorbell (GITS_TRANSLATER) devices write MSIs to, once the base is set.</summary>
    public ulong? DoorbellAddress => _base + TranslaterOffset;

    /// <summary>GITS_CTLR.Enabled.</summary>
    public bool Enabled
    {
        get
        {
            using (_vgic.Lock.Hold())
            {
                return _enabled;
            }
        }
    }

    /// <summary>The error of the last command that failed (they are otherwise ignored, as in KVM), for diagnosis.</summary>
    public ItsCommandError LastCommandError { get; private set; }

    /// <summary>How many commands failed (and were ignored).</summary>
    public long FailedCommands { get; private set; }

    Vgic IGicRegisterFile.Vgic => _vgic;

    /// <summary>
    /// Sets the frame's base (<c>KVM_VGIC_ITS_ADDR_TYPE</c>) and registers the frame on the VM's MMIO bus.
    /// </summary>
    /// <exception cref="VgicException">not 64 KiB aligned, set already (-EEXIST), outside the address space, or overlapping another device.</exception>
    public void SetBaseAddress(ulong address)
    {
        using (_vgic.Lock.Hold())
        {
            if (_base is ulong current)
            {
                throw new VgicException($"the ITS address is already set (0x{current:x})", KvmErrno.Exists);
            }

            if ((address & 0xFFFF) != 0 || address + FrameSize < address || address + FrameSize > 1UL << 52)
            {
                throw new VgicException($"the ITS address 0x{address:x} is not 64 KiB aligned inside the address space", KvmErrno.InvalidArgument);
            }

            try
            {
                _vm.MmioBus.Register(address, FrameSize, this);
            }
            catch (IoBusException e)
            {
                throw new VgicException($"the ITS at 0x{address:x}: {e.Message}");
            }

            _base = address;
        }
    }

    /// <summary>Whether <paramref name="address"/> is inside this ITS's frame (where KVM_SIGNAL_MSI finds it).</summary>
    internal bool Covers(ulong address) => _base is ulong b && address >= b && address - b < FrameSize;

    void IIoDevice.Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        using (_vgic.Lock.Hold())
        {
            GicMmio.Read(this, GicRegisterMaps.Its, offset, data, -1);
            _vgic.FlushLocked();
        }
    }

    void IIoDevice.Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        using (_vgic.Lock.Hold())
        {
            GicMmio.Write(this, GicRegisterMaps.Its, offset, data, -1);
            _vgic.FlushLocked();
        }
    }

    VgicIrq? IGicRegisterFile.ResolveIrq(int intId, int vcpu) => null;

    ulong IGicRegisterFile.ReadRegister(GicReg id, int vcpu) => id switch
    {
        GicReg.ItsCtlr => (_enabled ? CtlrEnabled : 0) | (_creadr == _cwriter ? CtlrQuiescent : 0),
        GicReg.ItsIidr => Vgic.Iidr & ~0xF000UL,        // Revision = the table ABI, 0
        GicReg.ItsTyper => Typer,
        GicReg.ItsCbaser => _cbaser,
        GicReg.ItsCwriter => _cwriter,
        GicReg.ItsCreadr => _creadr,                     // Stalled never: failed commands are skipped
        GicReg.ItsBaser0 => _baserDevice,
        GicReg.ItsBaser1 => _baserCollection,
        GicReg.ItsPidr0 => 0x92,                         // KVM's part number 0x492
        GicReg.ItsPidr1 => 0xb4,
        GicReg.Pidr2 => 0x3b,                            // GICv3
        GicReg.ItsPidr4 => 0x40,                         // one 64 KiB page
        GicReg.ItsCidr01 => 0x0d | (0xf0UL << 32),
        GicReg.ItsCidr23 => 0x05 | (0xb1UL << 32),
        _ => 0,
    };

    void IGicRegisterFile.WriteRegister(GicReg id, ulong value, int vcpu)
    {
        switch (id)
        {
            case GicReg.ItsCtlr:
                WriteControl(value);
                break;
            case GicReg.ItsCbaser:
                if (!_enabled)
                {
                    // KVM's vgic_sanitise_its_cbaser; the queue restarts at its beginning.
                    _cbaser = Vgic.SanitiseBaser(value, innerShift: 59, outerShift: 53) & ~0xF000UL;
                    _creadr = 0;
                    _cwriter = 0;
                }

                break;
            case GicReg.ItsCwriter:
                ulong offset = value & 0xF_FFE0;
                if (offset < CommandQueueSize)
                {
                    _cwriter = offset;
                    ProcessCommandsLocked();
                }

                break;
            case GicReg.ItsBaser0:
            case GicReg.ItsBaser1:
                WriteBaser(id == GicReg.ItsBaser0, value);
                break;
        }
    }

    // GITS_CTLR: enabling needs valid device and collection tables and command queue (else the write is
    // ignored, as KVM ignores the UNPREDICTABLE case); queued commands run at once.
    private void WriteControl(ulong value)
    {
        bool enable = (value & CtlrEnabled) != 0;
        if (!_enabled && enable &&
            ((_baserDevice & BaserValid) == 0 || (_baserCollection & BaserValid) == 0 || (_cbaser & CbaserValid) == 0))
        {
            return;
        }

        _enabled = enable;
        ProcessCommandsLocked();
    }

    // GITS_BASER<n>: ignored while enabled; Type and Entry_Size are read-only, the collection table is
    // always flat, the page size always 64 KiB. Clearing Valid drops every device (or collection).
    private void WriteBaser(bool device, ulong value)
    {
        if (_enabled)
        {
            return;
        }

        value &= ~BaserReadOnly;
        if (!device)
        {
            value &= ~BaserIndirect;
        }

        value |= ((ulong)(EntrySize - 1) << 48) | ((ulong)(device ? BaserTypeDevice : BaserTypeCollection) << 56);
        value = (Vgic.SanitiseBaser(value, innerShift: 59, outerShift: 53) & ~(3UL << 8)) | BaserPageSize64K;
        if (device)
        {
            _baserDevice = value;
        }
        else
        {
            _baserCollection = value;
        }

        if ((value & BaserValid) == 0)
        {
            if (device)
            {
                FreeAllDevicesLocked();
            }
            else
            {
                FreeAllCollectionsLocked();
            }
        }
    }

    private ulong CommandQueueSize => ((_cbaser & 0xFF) + 1) << 12;

    /// <summary>
    /// KVM_DEV_ARM_VGIC_GRP_ITS_REGS reads: the register at <paramref name="offset"/> of ITS_base, 64 bits wide
    /// for the 64-bit registers, 32 for GITS_CTLR, GITS_IIDR and the ID registers.
    /// </summary>
    /// <exception cref="VgicException">misaligned (-EINVAL), no base address or no register there (-ENXIO).</exception>
    public ulong ReadRegister(ulong offset)
    {
        using (_vgic.Lock.Hold())
        {
            var reg = UserRegister(offset);
            return ((IGicRegisterFile)this).ReadRegister(reg.Id, -1);
        }
    }

    /// <summary>
    /// KVM_DEV_ARM_VGIC_GRP_ITS_REGS writes: as a guest write, except GITS_IIDR (sets the table ABI: only
    /// revision 0 exists) and GITS_CREADR (sets the queue's read offset while the ITS is disabled).
    /// </summary>
    /// <exception cref="VgicException">misaligned, no register, an ABI revision other than 0 or a CREADR beyond
    /// the queue (-EINVAL), or CREADR while enabled (-EBUSY).</exception>
    public void WriteRegister(ulong offset, ulong value)
    {
        using (_vgic.Lock.Hold())
        {
            var reg = UserRegister(offset);
            switch (reg.Id)
            {
                case GicReg.ItsIidr:
                    if (((value >> 12) & 0xF) != 0)
                    {
                        throw new VgicException($"ITS table ABI revision {(value >> 12) & 0xF} does not exist (only 0)", KvmErrno.InvalidArgument);
                    }

                    break;
                case GicReg.ItsCreadr:
                    if (_enabled)
                    {
                        throw new VgicException("GITS_CREADR can only be set while the ITS is disabled", KvmErrno.Busy);
                    }

                    ulong offsetInQueue = value & 0xF_FFE0;
                    if (offsetInQueue >= CommandQueueSize)
                    {
                        throw new VgicException($"GITS_CREADR 0x{value:x} is beyond the command queue", KvmErrno.InvalidArgument);
                    }

                    _creadr = offsetInQueue;
                    break;
                default:
                    ((IGicRegisterFile)this).WriteRegister(reg.Id, value, -1);
                    break;
            }

            _vgic.FlushLocked();
        }
    }

    private GicRegister UserRegister(ulong offset)
    {
        ulong alignment = offset < 8 || offset >= 0xFFD0 ? 4UL : 8UL;
        if ((offset & (alignment - 1)) != 0)
        {
            throw new VgicException($"ITS register offset 0x{offset:x} is not aligned", KvmErrno.InvalidArgument);
        }

        if (_base is null)
        {
            throw new VgicException("ITS register access before the ITS has an address", KvmErrno.NoDevice);
        }

        if (!GicRegisterMaps.Its.TryFind(offset, out var reg) || reg.Id == GicReg.RazWi)
        {
            throw new VgicException($"the ITS has no register at offset 0x{offset:x}", KvmErrno.NoDevice);
        }

        return reg;
    }

    /// <summary>
    /// KVM_DEV_ARM_ITS_CTRL_RESET: disabled, the command queue and the tables invalid (their Type and
    /// Entry_Size kept), every device and collection dropped.
    /// </summary>
    public void Reset()
    {
        using (_vgic.Lock.Hold())
        {
            _baserDevice &= ~BaserValid;
            _baserCollection &= ~BaserValid;
            _cbaser = 0;
            _creadr = 0;
            _cwriter = 0;
            _enabled = false;
            FreeAllDevicesLocked();
            FreeAllCollectionsLocked();
            _vgic.FlushLocked();
        }
    }

    /// <summary>A short description for the VGIC's state dump.</summary>
    internal string DescribeLocked() =>
        $"ITS 0x{_base:x}: enabled {(_enabled ? 1 : 0)} CBASER 0x{_cbaser:x} CREADR 0x{_creadr:x} CWRITER 0x{_cwriter:x} " +
        $"devices {_devices.Count} collections {_collections.Count} translations {_devices.Values.Sum(d => d.Translations.Count)} " +
        $"failed commands {FailedCommands}";

    private static ulong ReadLittleEndian(ReadOnlySpan<byte> b, int index) => BinaryPrimitives.ReadUInt64LittleEndian(b[(index * 8)..]);
}
