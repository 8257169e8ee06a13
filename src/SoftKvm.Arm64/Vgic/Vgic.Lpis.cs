using SoftKvm.Core;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// LPIs (IHI 0069 §5.1) as KVM's VGIC keeps them (docs/kvm-semantics.md#gicv3-its-and-lpis): an LPI
/// exists while an ITS translation entry maps it; its priority and enable bit are read from the
/// property table (GICR_PROPBASER, one for the whole VM as in KVM) when it is mapped and on INV/INVALL,
/// not when the guest writes the table; its pending state lives in the VGIC and is read from a
/// redistributor's pending table (GICR_PENDBASER) when the LPI is mapped and when LPIs are enabled.
/// LPIs are edge-triggered, Group 1, and have no active state. Every method here runs with the VGIC
/// lock held.
/// </summary>
public sealed partial class Vgic
{
    /// <summary>The first LPI INTID (KVM's <c>VGIC_MIN_LPI</c>).</summary>
    public const int MinLpi = 8192;

    /// <summary>INTID bits with an ITS (KVM's <c>INTERRUPT_ID_BITS_ITS</c>): LPIs 8192..65535.</summary>
    public const int LpiIdBits = 16;

    /// <summary>INTID bits without an ITS (KVM's <c>INTERRUPT_ID_BITS_SPIS</c>).</summary>
    internal const int SpiIdBits = 10;

    // GICR_CTLR (IHI 0069 §12.11.2).
    private const ulong RdCtlrEnableLpis = 1UL << 0;

    // GICR_PENDBASER.PTZ: the pending table is zero, nothing to read when LPIs are enabled.
    private const ulong PendBaserPtz = 1UL << 62;

    // KVM's PROPBASER_RES0_MASK and PENDBASER_RES0_MASK, inverted: the bits kept.
    private const ulong PropBaserKept = ~(0xF800_0000_0000_0000UL | 0x00F0_0000_0000_0000UL | 0x60UL);
    private const ulong PendBaserKept = ~(0x8000_0000_0000_0000UL | 0x3800_0000_0000_0000UL | 0x00F0_0000_0000_0000UL | 0xF000UL | 0x7FUL);

    // KVM's INITIAL_PROPBASER_VALUE: inner read-allocate write-back, outer as inner, inner shareable.
    private const ulong InitialPropBaser = (3UL << 7) | (1UL << 10);

    private readonly Dictionary<int, VgicIrq> _lpis = [];
    private readonly List<VgicIrq> _pendingLpis = [];
    private readonly List<VgicIts> _its = [];
    private ulong[] _pendBaser = [];
    private bool[] _lpisEnabled = [];
    private ulong _propBaser;
    private volatile bool _hasIts;

    /// <summary>Whether an ITS was created (<see cref="CreateIts"/>): LPIs exist (GICD_TYPER.LPIS, GICR_TYPER.PLPIS).</summary>
    public bool HasIts => _hasIts;

    /// <summary>The ITSes of this VGIC, in creation order.</summary>
    public IReadOnlyList<VgicIts> Its
    {
        get
        {
            using (_lock.Hold())
            {
                return [.. _its];
            }
        }
    }

    /// <summary>The LPIs mapped now (by any ITS), in INTID order.</summary>
    public IReadOnlyList<int> MappedLpis
    {
        get
        {
            using (_lock.Hold())
            {
                return [.. _lpis.Keys.Order()];
            }
        }
    }

    /// <summary>
    /// Creates an ITS for this GICv3 (<c>KVM_CREATE_DEVICE</c> of <c>KVM_DEV_TYPE_ARM_VGIC_ITS</c>); give it its
    /// address with <see cref="VgicIts.SetBaseAddress"/>. From now on the GIC has LPIs.
    /// </summary>
    /// <exception cref="VgicException">the VGIC is a GICv2 (-ENODEV).</exception>
    public VgicIts CreateIts()
    {
        if (Model != GicModel.V3)
        {
            throw new VgicException("an ITS needs a GICv3; this VGIC is a GICv2", Core.Errors.KvmErrno.NoDevice);
        }

        using (_lock.Hold())
        {
            var its = new VgicIts(this, _vm);
            if (!_hasIts)
            {
                _propBaser = InitialPropBaser;
            }

            _its.Add(its);
            _hasIts = true;
            _distributor?.ItsCreated(); // GICD_TYPER changes: the fixed-value words without an ITS stop answering
            return its;
        }
    }

    /// <summary>
    /// KVM_SIGNAL_MSI: the write of <paramref name="data"/> (the EventID) by device <paramref name="deviceId"/> to
    /// <paramref name="address"/>, which must fall inside an ITS's frame (its GITS_TRANSLATER doorbell).
    /// </summary>
    public Core.Io.MsiResult SignalMsi(ulong address, uint data, uint deviceId)
    {
        using (_lock.Hold())
        {
            if (!_hasIts)
            {
                return Core.Io.MsiResult.NoController;
            }

            foreach (var its in _its)
            {
                if (its.Covers(address))
                {
                    var result = its.TriggerLocked(deviceId, data);
                    FlushLocked();
                    return result;
                }
            }

            return Core.Io.MsiResult.InvalidAddress;
        }
    }

    /// <summary>
    /// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: writes the pending state of every LPI into its target
    /// redistributor's pending table (the bit set or cleared), for save and restore.
    /// </summary>
    /// <exception cref="VgicException">a pending table is not in guest memory.</exception>
    public void SavePendingTables()
    {
        Span<byte> b = stackalloc byte[1];
        using (_lock.Hold())
        {
            foreach (var irq in _lpis.Values.OrderBy(i => i.IntId))
            {
                if (irq.TargetVcpu < 0)
                {
                    continue;
                }

                ulong address = PendingTableAddress(irq.TargetVcpu) + (ulong)(irq.IntId / 8);
                if (!TryReadGuest(address, b))
                {
                    throw new VgicException($"the pending table of vCPU {irq.TargetVcpu} at 0x{address:x} is not in guest memory");
                }

                byte mask = (byte)(1 << (irq.IntId % 8));
                b[0] = irq.PendingLatch ? (byte)(b[0] | mask) : (byte)(b[0] & ~mask);
                TryWriteGuest(address, b);
            }
        }
    }

    internal bool LpisEnabled(int vcpu) => _lpisEnabled[vcpu];

    internal Vm VmOf => _vm;

    /// <summary>The vCPUs (set at init), for the ITS.</summary>
    internal int OnlineVcpus => VcpuCount;

    /// <summary>LPIs INTID &lt; this value may be mapped (KVM's max_lpis_propbaser): 2^(IDbits + 1), at most 2^16.</summary>
    internal uint LpiLimit => 1u << Math.Min((int)(_propBaser & 0x1F) + 1, LpiIdBits);

    /// <summary>
    /// KVM's vgic_add_lpi: the LPI of <paramref name="intId"/>, one reference more if it exists (its target
    /// unchanged); else a new one targeting <paramref name="targetVcpu"/> (-1: none), configured from the
    /// property table and given its pending state from the target's pending table (a set bit is consumed).
    /// Null when a table is not in guest memory.
    /// </summary>
    internal VgicIrq? AddLpiLocked(int intId, int targetVcpu)
    {
        if (_lpis.TryGetValue(intId, out var existing))
        {
            existing.LpiReferences++;
            return existing;
        }

        var irq = new VgicIrq(intId, -1) { TargetVcpu = targetVcpu, LpiReferences = 1 };
        _lpis.Add(intId, irq);
        if (!UpdateLpiConfigLocked(irq, -1) || !SyncLpiPendingLocked(irq))
        {
            ReleaseLpiLocked(irq);
            return null;
        }

        return irq;
    }

    /// <summary>Drops a reference to an LPI; the last one frees it with its pending state (KVM's vgic_put_irq).</summary>
    internal void ReleaseLpiLocked(VgicIrq irq)
    {
        if (--irq.LpiReferences > 0)
        {
            return;
        }

        _lpis.Remove(irq.IntId);
        irq.PendingLatch = false;
        MarkLpiDirty(irq);
    }

    /// <summary>
    /// KVM's update_lpi_config: reads the LPI's property byte (priority [7:2], enable [0]) and applies it,
    /// unless <paramref name="filterVcpu"/> is a vCPU the LPI does not target. False when the byte is not in
    /// guest memory.
    /// </summary>
    internal bool UpdateLpiConfigLocked(VgicIrq irq, int filterVcpu)
    {
        Span<byte> prop = stackalloc byte[1];
        if (!TryReadGuest((_propBaser & AddressBits51To12) + (ulong)(irq.IntId - MinLpi), prop))
        {
            return false;
        }

        if (filterVcpu < 0 || filterVcpu == irq.TargetVcpu)
        {
            irq.Priority = (byte)(prop[0] & 0xFC & PriorityMaskBits);
            irq.Enabled = (prop[0] & 1) != 0;
            MarkIrqDirty(irq);
        }

        return true;
    }

    /// <summary>KVM's update_affinity: the LPI now targets <paramref name="vcpu"/> (-1: none); a pending one moves with it.</summary>
    internal void SetLpiTargetLocked(VgicIrq irq, int vcpu)
    {
        MarkIrqDirty(irq);
        irq.TargetVcpu = vcpu;
        MarkIrqDirty(irq);
    }

    /// <summary>The LPIs targeting <paramref name="vcpu"/>, in INTID order (KVM's vgic_copy_lpi_list).</summary>
    internal List<VgicIrq> LpisTargetingLocked(int vcpu) =>
        [.. _lpis.Values.Where(i => i.TargetVcpu == vcpu).OrderBy(i => i.IntId)];

    /// <summary>KVM's vgic_its_invall: re-reads the configuration of every LPI targeting <paramref name="vcpu"/>.</summary>
    internal void InvalidateAllLpisLocked(int vcpu)
    {
        foreach (var irq in LpisTargetingLocked(vcpu))
        {
            UpdateLpiConfigLocked(irq, vcpu);
        }
    }

    /// <summary>Makes an LPI pending (an MSI or the INT command).</summary>
    internal void SetLpiPendingLocked(VgicIrq irq, bool pending)
    {
        irq.PendingLatch = pending;
        MarkIrqDirty(irq);
    }

    private const ulong AddressBits51To12 = 0x000F_FFFF_FFFF_F000UL;
    private const ulong AddressBits51To16 = 0x000F_FFFF_FFFF_0000UL;

    private ulong PendingTableAddress(int vcpu) => _pendBaser[vcpu] & AddressBits51To16;

    // KVM's vgic_v3_lpi_sync_pending_status: a set bit in the target's pending table makes the new LPI
    // pending and is cleared in the table (consumed).
    private bool SyncLpiPendingLocked(VgicIrq irq)
    {
        if (irq.TargetVcpu < 0)
        {
            return true;
        }

        ulong address = PendingTableAddress(irq.TargetVcpu) + (ulong)(irq.IntId / 8);
        Span<byte> b = stackalloc byte[1];
        if (!TryReadGuest(address, b))
        {
            return false;
        }

        byte mask = (byte)(1 << (irq.IntId % 8));
        SetLpiPendingLocked(irq, (b[0] & mask) != 0);
        if ((b[0] & mask) != 0)
        {
            b[0] &= (byte)~mask;
            TryWriteGuest(address, b);
        }

        return true;
    }

    // Keeps the list of pending LPIs (what delivery scans) exact, and marks the target for recomputation.
    private void MarkLpiDirty(VgicIrq irq)
    {
        bool listed = irq.PendingLpiIndex >= 0;
        bool pending = irq.PendingLatch && _lpis.ContainsKey(irq.IntId);
        if (pending && !listed)
        {
            irq.PendingLpiIndex = _pendingLpis.Count;
            _pendingLpis.Add(irq);
        }
        else if (!pending && listed)
        {
            int i = irq.PendingLpiIndex, last = _pendingLpis.Count - 1;
            _pendingLpis[i] = _pendingLpis[last];
            _pendingLpis[i].PendingLpiIndex = i;
            _pendingLpis.RemoveAt(last);
            irq.PendingLpiIndex = -1;
        }

        MarkDirty(irq.TargetVcpu);
    }

    /// <summary>GICR_CTLR of <paramref name="vcpu"/>: EnableLPIs (RWP and UWP read 0).</summary>
    internal ulong ReadRedistributorControl(int vcpu) => _lpisEnabled[vcpu] ? RdCtlrEnableLpis : 0;

    /// <summary>
    /// GICR_CTLR writes (KVM's vgic_mmio_write_v3r_ctlr): ignored without an ITS. Setting EnableLPIs reads
    /// the pending state of the LPIs targeting the vCPU from its pending table (unless PENDBASER.PTZ);
    /// clearing it drops their pending state (KVM takes them off the vCPU and re-reads the table when
    /// LPIs are enabled again, which ends the same). LPIs cannot be disabled and enabled in one write.
    /// </summary>
    internal void WriteRedistributorControl(int vcpu, ulong value)
    {
        if (!_hasIts)
        {
            return;
        }

        bool enable = (value & RdCtlrEnableLpis) != 0;
        if (enable == _lpisEnabled[vcpu])
        {
            return;
        }

        _lpisEnabled[vcpu] = enable;
        Span<byte> b = stackalloc byte[1];
        foreach (var irq in LpisTargetingLocked(vcpu))
        {
            if (!enable)
            {
                SetLpiPendingLocked(irq, false);
            }
            else if ((_pendBaser[vcpu] & PendBaserPtz) == 0)
            {
                if (!TryReadGuest(PendingTableAddress(vcpu) + (ulong)(irq.IntId / 8), b))
                {
                    break;
                }

                SetLpiPendingLocked(irq, (b[0] >> (irq.IntId % 8) & 1) != 0);
            }
        }
    }

    /// <summary>GICR_PROPBASER (the VM's, whichever redistributor is read).</summary>
    internal ulong ReadPropBaser() => _propBaser;

    /// <summary>GICR_PENDBASER of <paramref name="vcpu"/>; PTZ reads 0.</summary>
    internal ulong ReadPendBaser(int vcpu) => _pendBaser[vcpu] & ~PendBaserPtz;

    /// <summary>GICR_PROPBASER writes: ignored while <paramref name="vcpu"/> has LPIs enabled; sanitised as KVM does.</summary>
    internal void WritePropBaser(int vcpu, ulong value)
    {
        if (!_lpisEnabled[vcpu])
        {
            _propBaser = SanitiseBaser(value & PropBaserKept, innerShift: 7, outerShift: 56);
        }
    }

    /// <summary>GICR_PENDBASER writes: ignored while LPIs are enabled; sanitised as KVM does (PTZ is kept for the enable).</summary>
    internal void WritePendBaser(int vcpu, ulong value)
    {
        if (!_lpisEnabled[vcpu])
        {
            _pendBaser[vcpu] = SanitiseBaser(value & PendBaserKept, innerShift: 7, outerShift: 56);
        }
    }

    /// <summary>GICR_INVLPIR (KVM's vgic_mmio_write_invlpi): re-reads one LPI's configuration; ignored while LPIs are disabled.</summary>
    internal void InvalidateLpiRegister(int vcpu, ulong value)
    {
        if (_lpisEnabled[vcpu] && _lpis.TryGetValue((int)(uint)value, out var irq))
        {
            UpdateLpiConfigLocked(irq, -1);
        }
    }

    /// <summary>GICR_INVALLR: re-reads the configuration of every LPI targeting the vCPU; ignored while LPIs are disabled.</summary>
    internal void InvalidateAllRegister(int vcpu)
    {
        if (_lpisEnabled[vcpu])
        {
            InvalidateAllLpisLocked(vcpu);
        }
    }

    /// <summary>
    /// KVM's vgic_sanitise_*: Outer Shareable becomes Inner Shareable (Shareability [11:10]), a Device or
    /// non-cacheable inner attribute becomes read-allocate write-back, an outer attribute other than
    /// "same as inner" or non-cacheable becomes "same as inner".
    /// </summary>
    internal static ulong SanitiseBaser(ulong value, int innerShift, int outerShift)
    {
        const ulong ReadAllocWriteBack = 3, NonCacheable = 1, OuterShareable = 2, InnerShareable = 1;
        ulong shareability = (value >> 10) & 3;
        if (shareability == OuterShareable)
        {
            value = (value & ~(3UL << 10)) | (InnerShareable << 10);
        }

        ulong inner = (value >> innerShift) & 7;
        if (inner <= NonCacheable)
        {
            value = (value & ~(7UL << innerShift)) | (ReadAllocWriteBack << innerShift);
        }

        ulong outer = (value >> outerShift) & 7;
        if (outer > NonCacheable)
        {
            value &= ~(7UL << outerShift);
        }

        return value;
    }

    // Guest memory as KVM's kvm_read_guest/kvm_write_guest see it: false where no memory slot backs it
    // (a slot deleted by another thread meanwhile is the same failure).
    internal bool TryReadGuest(ulong address, Span<byte> data)
    {
        try
        {
            if (!_vm.Memory.IsBacked(address, (ulong)data.Length))
            {
                return false;
            }

            _vm.Memory.Read(address, data);
            return true;
        }
        catch (Core.Errors.GuestMemoryAccessException)
        {
            return false;
        }
    }

    internal bool TryWriteGuest(ulong address, ReadOnlySpan<byte> data)
    {
        try
        {
            if (!_vm.Memory.IsBacked(address, (ulong)data.Length))
            {
                return false;
            }

            _vm.Memory.Write(address, data);
            return true;
        }
        catch (Core.Errors.GuestMemoryAccessException)
        {
            return false;
        }
    }
}
