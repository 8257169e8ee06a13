using System.Numerics;
using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// Delivery: which interrupt each CPU interface signals (highest priority pending, priority mask,
/// preemption by group priority), acknowledge, priority drop and deactivation, SGI generation, and the
/// lines driven by devices and timers. Every method here runs with the VGIC lock held.
/// </summary>
public sealed partial class Vgic
{
    /// <summary>Marks a vCPU's output for recomputation at the next <see cref="FlushLocked"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void MarkDirty(int vcpu)
    {
        if ((uint)vcpu < (uint)VcpuCount)
        {
            _dirty[vcpu >> 6] |= 1UL << (vcpu & 63);
        }
    }

    internal void MarkAllDirty()
    {
        for (int v = 0; v < VcpuCount; v++)
        {
            MarkDirty(v);
        }
    }

    /// <summary>Marks every vCPU that could take <paramref name="irq"/> (and the one it is active on).</summary>
    internal void MarkIrqDirty(VgicIrq irq)
    {
        if (irq.IsLpi)
        {
            MarkLpiDirty(irq);
            return;
        }

        if (!irq.IsSpi)
        {
            // Every change of a private IRQ's state ends here too: its vCPU's pending bitmap, which delivery
            // scans instead of all 32 private IRQs, is kept exact as the SPIs' is below.
            int v = irq.OwnerVcpu;
            uint bit = 1u << irq.IntId;
            _pendingPrivate[v] = irq.Pending ? _pendingPrivate[v] | bit : _pendingPrivate[v] & ~bit;
            MarkDirty(v);
            return;
        }

        // Every change of an SPI's state ends with this call, so the pending bitmap that delivery
        // scans (instead of every SPI) is kept exact here.
        int spi = irq.IntId - NrPrivateIrqs;
        ref ulong word = ref _pendingSpis[spi >> 6];
        ulong spiBit = 1UL << (spi & 63);
        if (irq.Pending)
        {
            _pendingSpiCount += (word & spiBit) == 0 ? 1 : 0;
            word |= spiBit;
        }
        else
        {
            _pendingSpiCount -= (word & spiBit) != 0 ? 1 : 0;
            word &= ~spiBit;
        }

        MarkDirty(irq.ActiveVcpu);
        if (Model == GicModel.V2)
        {
            uint mask = irq.Targets;
            while (mask != 0)
            {
                MarkDirty(BitOperations.TrailingZeroCount(mask));
                mask &= mask - 1;
            }
        }
        else
        {
            MarkDirty(irq.TargetVcpu);
        }
    }

    /// <summary>
    /// Recomputes the dirty vCPUs' IRQ/FIQ outputs and wakes those whose output changed, except
    /// <paramref name="accessor"/>: the vCPU whose own CPU-interface access this is, which reads its
    /// outputs itself after the access.
    /// </summary>
    internal void FlushLocked(int accessor = -1)
    {
        var vcpus = _vcpus;
        for (int w = 0; w < _dirty.Length; w++)
        {
            ulong bits = _dirty[w];
            _dirty[w] = 0;
            while (bits != 0)
            {
                int v = (w << 6) + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                Recompute(v, out bool irq, out bool fiq);
                int irqValue = irq ? 1 : 0, fiqValue = fiq ? 1 : 0;
                if (_irqOut[v] != irqValue || _fiqOut[v] != fiqValue)
                {
                    Volatile.Write(ref _irqOut[v], irqValue);
                    Volatile.Write(ref _fiqOut[v], fiqValue);
                    if (v != accessor)
                    {
                        Notify(vcpus?[v]);
                    }
                }
            }
        }
    }

    // A device thread may raise a line while the VM is being torn down: a disposed vCPU needs no wake-up.
    private static void Notify(Vcpu? vcpu)
    {
        try
        {
            vcpu?.MakeRequest(VcpuRequest.Event);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Recompute(int v, out bool irq, out bool fiq)
    {
        irq = fiq = false;
        if (_pendingPrivate[v] == 0 && _pendingSpiCount == 0 && _pendingLpis.Count == 0)
        {
            return; // nothing pending that v could take (after an EOI, usually): no output, and no scan
        }

        var cpu = _cpu[v];
        var best = HighestPending(v, 3, requireCpuEnable: true);
        if (best is null || best.Priority >= cpu.PriorityMask ||
            cpu.GroupPriority(best.Priority, best.Group) >= cpu.RunningPriority)
        {
            return;
        }

        // GICv3 (one security state): Group 0 is FIQ, Group 1 IRQ. GICv2: Group 0 is FIQ only with FIQEn.
        if (best.Group == 0 && (Model == GicModel.V3 || cpu.FiqEnable))
        {
            fiq = true;
        }
        else
        {
            irq = true;
        }
    }

    /// <summary>Whether <paramref name="irq"/> may be forwarded to vCPU <paramref name="v"/>.</summary>
    private bool IsCandidate(VgicIrq irq, int v)
    {
        if (!irq.IsSpi)
        {
            return irq.OwnerVcpu == v;
        }

        if (Model == GicModel.V2)
        {
            return v < MaxVcpusV2 && (irq.Targets >> v & 1) != 0;
        }

        return irq.TargetVcpu == v;
    }

    private bool DistGroupEnabled(int group) => group == 0 ? _distGroup0Enabled : _distGroup1Enabled;

    /// <summary>
    /// The highest-priority pending, enabled, inactive interrupt for vCPU <paramref name="v"/> among
    /// the groups in <paramref name="groupMask"/> (bit 0 = Group 0, bit 1 = Group 1); ties go to the
    /// lowest INTID. Null when none.
    /// </summary>
    private VgicIrq? HighestPending(int v, int groupMask, bool requireCpuEnable)
    {
        var cpu = _cpu[v];
        VgicIrq? best = null;
        var privateIrqs = _private[v];
        for (uint bits = _pendingPrivate[v]; bits != 0; bits &= bits - 1)
        {
            Consider(privateIrqs[BitOperations.TrailingZeroCount(bits)]);
        }

        for (int w = 0; _pendingSpiCount != 0 && w < _pendingSpis.Length; w++) // none pending (the usual case): no scan
        {
            ulong bits = _pendingSpis[w];
            while (bits != 0)
            {
                var irq = _spis[(w << 6) + BitOperations.TrailingZeroCount(bits)];
                bits &= bits - 1;
                if (IsCandidate(irq, v))
                {
                    Consider(irq);
                }
            }
        }

        var lpis = _pendingLpis;
        for (int i = 0; i < lpis.Count; i++)
        {
            if (lpis[i].TargetVcpu == v)
            {
                Consider(lpis[i]);
            }
        }

        return best;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void Consider(VgicIrq irq)
        {
            if (!irq.Pending || irq.Active || !irq.Enabled || (groupMask >> irq.Group & 1) == 0 ||
                !DistGroupEnabled(irq.Group) || (requireCpuEnable && !cpu.GroupEnabled(irq.Group)))
            {
                return;
            }

            if (best is null || irq.Priority < best.Priority)
            {
                best = irq;
            }
        }
    }

    /// <summary>
    /// An acknowledge (ICC_IAR0/1_EL1, GICC_IAR): the highest-priority pending interrupt of the groups
    /// becomes active, if it passes the priority mask and preempts the running priority; otherwise 1023.
    /// GICv2 SGIs return the source CPU in bits [12:10].
    /// </summary>
    internal uint AcknowledgeLocked(int v, int groupMask)
    {
        var cpu = _cpu[v];
        var best = HighestPending(v, groupMask, requireCpuEnable: true);
        if (best is null)
        {
            return SpuriousIntId;
        }

        int groupPriority = cpu.GroupPriority(best.Priority, best.Group);
        if (best.Priority >= cpu.PriorityMask || groupPriority >= cpu.RunningPriority)
        {
            return SpuriousIntId;
        }

        if (Model == GicModel.V2 && best.Group == 1 && !cpu.AckCtl)
        {
            return 1022; // GICC_IAR without AckCtl does not acknowledge Group 1 (IHI 0048B §4.4.4)
        }

        uint id = (uint)best.IntId;
        if (best.TracksSgiSources)
        {
            int source = BitOperations.TrailingZeroCount((uint)best.SgiSources);
            best.SgiSources &= (byte)~(1 << source);
            id |= (uint)source << 10;
        }
        else
        {
            best.PendingLatch = false;
        }

        // An LPI has no active state: acknowledging it only takes its pending state (IHI 0069 §5.1).
        best.Active = !best.IsLpi;
        if (best.IsSpi)
        {
            best.ActiveVcpu = v;
        }

        cpu.SetActivePriority(groupPriority, best.Group);
        MarkIrqDirty(best);
        MarkDirty(v);
        return id;
    }

    /// <summary>The highest-priority pending interrupt of the groups (ICC_HPPIR0/1_EL1, GICC_HPPIR), or 1023.</summary>
    internal uint HighestPendingIdLocked(int v, int groupMask)
    {
        var best = HighestPending(v, groupMask, requireCpuEnable: false);
        if (best is null)
        {
            return SpuriousIntId;
        }

        if (Model == GicModel.V2 && best.Group == 1 && !_cpu[v].AckCtl)
        {
            return 1022;
        }

        uint id = (uint)best.IntId;
        if (best.TracksSgiSources)
        {
            id |= (uint)BitOperations.TrailingZeroCount((uint)best.SgiSources) << 10;
        }

        return id;
    }

    /// <summary>
    /// An end of interrupt (ICC_EOIR0/1_EL1, GICC_EOIR): priority drop, and with EOImode 0 also the
    /// deactivation of the INTID written. Special INTIDs (1020..1023) have no effect.
    /// </summary>
    internal void EndOfInterruptLocked(int v, uint value)
    {
        int intId = (int)(Model == GicModel.V2 ? value & 0x3ff : value & 0xff_ffff);
        if (intId is >= 1020 and <= 1023)
        {
            return;
        }

        var cpu = _cpu[v];
        cpu.DropPriority();
        if (!cpu.SplitEoi)
        {
            DeactivateLocked(v, intId);
        }

        MarkDirty(v);
    }

    /// <summary>ICC_DIR_EL1 / GICC_DIR: deactivates the INTID when EOImode is 1 (ignored otherwise).</summary>
    internal void DeactivateInterruptLocked(int v, uint value)
    {
        if (_cpu[v].SplitEoi)
        {
            DeactivateLocked(v, (int)(Model == GicModel.V2 ? value & 0x3ff : value & 0xff_ffff));
        }
    }

    private void DeactivateLocked(int v, int intId)
    {
        VgicIrq? irq = intId < NrPrivateIrqs ? _private[v][intId] : intId < NrIrqs ? _spis[intId - NrPrivateIrqs] : null;
        if (irq is null || !irq.Active)
        {
            return;
        }

        irq.Active = false;
        irq.ActiveVcpu = -1;
        MarkIrqDirty(irq);
    }

    /// <summary>Makes SGI <paramref name="intId"/> of vCPU <paramref name="target"/> pending, from <paramref name="sender"/>.</summary>
    private void PendSgi(int target, int intId, int sender)
    {
        var irq = _private[target][intId];
        if (irq.TracksSgiSources)
        {
            irq.SgiSources |= (byte)(1 << sender);
        }
        else
        {
            irq.PendingLatch = true;
        }

        MarkIrqDirty(irq);
    }

    /// <summary>
    /// ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 / ICC_SGI0R_EL1 (docs/kvm-semantics.md#gicv3-sgi-generation): IRM=1
    /// targets every vCPU but the sender; otherwise each TargetList bit b names the vCPU with MPIDR
    /// Aff3.Aff2.Aff1.(RS*16+b), and vacant targets are ignored. SGI0R only reaches SGIs configured as
    /// Group 0.
    /// </summary>
    internal void SendSgiV3Locked(int sender, ulong value, bool group0Only)
    {
        int intId = (int)(value >> 24) & 0xf;
        if ((value >> 40 & 1) != 0)
        {
            for (int t = 0; t < VcpuCount; t++)
            {
                if (t != sender)
                {
                    PendSgiV3(t, intId, group0Only);
                }
            }

            return;
        }

        ulong aff3 = value >> 48 & 0xff, aff2 = value >> 32 & 0xff, aff1 = value >> 16 & 0xff;
        int rangeSelector = (int)(value >> 44) & 0xf;
        uint list = (uint)value & 0xffff;
        while (list != 0)
        {
            int bit = BitOperations.TrailingZeroCount(list);
            list &= list - 1;
            ulong aff0 = (ulong)(rangeSelector * 16 + bit);
            int target = FindVcpuByAffinity(aff3 << 32 | aff2 << 16 | aff1 << 8 | aff0);
            if (target >= 0)
            {
                PendSgiV3(target, intId, group0Only);
            }
        }
    }

    private void PendSgiV3(int target, int intId, bool group0Only)
    {
        if (!group0Only || _private[target][intId].Group == 0)
        {
            PendSgi(target, intId, 0);
        }
    }

    /// <summary>
    /// GICD_SGIR (GICv2): TargetListFilter [25:24] 0 = the CPUTargetList [23:16], 1 = every vCPU but
    /// the sender, 2 = the sender only, 3 = reserved (nothing); SGIINTID [3:0].
    /// </summary>
    internal void SendSgiV2Locked(int sender, uint value)
    {
        if ((uint)sender >= MaxVcpusV2)
        {
            return;
        }

        int intId = (int)value & 0xf;
        uint online = V2OnlineMask;
        uint targets = ((value >> 24) & 3) switch
        {
            0 => (value >> 16) & 0xff & online,
            1 => online & ~(1u << sender),
            2 => 1u << sender,
            _ => 0,
        };

        while (targets != 0)
        {
            int t = BitOperations.TrailingZeroCount(targets);
            targets &= targets - 1;
            PendSgi(t, intId, sender);
        }
    }

    /// <summary>
    /// The vCPU whose MPIDR affinity (Aff3 in [39:32], Aff2.Aff1.Aff0 in [23:0]) is
    /// <paramref name="affinity"/>, or -1. KVM's MPIDR layout makes this a direct computation.
    /// </summary>
    internal int FindVcpuByAffinity(ulong affinity)
    {
        ulong aff0 = affinity & 0xff, aff1 = affinity >> 8 & 0xff, aff2 = affinity >> 16 & 0xff;
        if (aff0 >= 16 || (affinity >> 32) != 0)
        {
            return -1;
        }

        ulong id = aff0 | aff1 << 4 | aff2 << 12;
        if (id >= (ulong)VcpuCount || Mpidr.Affinity(Mpidr.FromVcpuId((int)id)) != (affinity & 0xff_ffff))
        {
            return -1;
        }

        return (int)id;
    }

    /// <summary>Drives an interrupt's input: an edge-triggered one latches pending on a rising edge.</summary>
    private void SetLevelLocked(VgicIrq irq, bool level)
    {
        if (irq.Edge && level && !irq.LineLevel)
        {
            irq.PendingLatch = true;
        }

        irq.LineLevel = level;
        MarkIrqDirty(irq);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">the vCPU does not exist or <paramref name="intId"/> is not a PPI (16..31).</exception>
    public void SetPrivateLine(int vcpuId, int intId, bool level)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpuId, (uint)VcpuCount, nameof(vcpuId));
        if (intId is < NrSgis or >= NrPrivateIrqs)
        {
            throw new ArgumentOutOfRangeException(nameof(intId), intId, "a private line must be a PPI (INTID 16..31)");
        }

        using (_lock.Hold())
        {
            SetLevelLocked(_private[vcpuId][intId], level);
            FlushLocked();
        }
    }

    /// <summary>Sets the input level of SPI <paramref name="spi"/> (INTID 32 + spi), as <c>KVM_IRQ_LINE</c> does.</summary>
    /// <exception cref="ArgumentOutOfRangeException">no such SPI.</exception>
    public void SetSpiLevel(int spi, bool level)
    {
        CheckSpi(spi);
        using (_lock.Hold())
        {
            SetLevelLocked(_spis[spi], level);
            FlushLocked();
        }
    }

    /// <summary>
    /// Injects an edge on SPI <paramref name="spi"/>: the interrupt becomes pending as if GICD_ISPENDR
    /// had been written (the irqfd path), whatever its configuration.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">no such SPI.</exception>
    public void InjectSpiEdge(int spi)
    {
        CheckSpi(spi);
        using (_lock.Hold())
        {
            var irq = _spis[spi];
            irq.PendingLatch = true;
            MarkIrqDirty(irq);
            FlushLocked();
        }
    }

    /// <summary>The line of SPI <paramref name="spi"/> (INTID 32 + spi) for a device model; the same object on every call.</summary>
    /// <exception cref="ArgumentOutOfRangeException">no such SPI.</exception>
    public Core.Io.IIrqLine GetSpiLine(int spi)
    {
        CheckSpi(spi);
        var line = Volatile.Read(ref _spiLines[spi]);
        if (line is null)
        {
            Interlocked.CompareExchange(ref _spiLines[spi], new SpiLine(this, spi), null);
            line = _spiLines[spi]!;
        }

        return line;
    }

    /// <summary>
    /// Binds an <see cref="Core.Io.EventFd"/> to SPI <paramref name="spi"/> (<c>KVM_IRQFD</c>): every
    /// signal injects an edge on the SPI from the signalling thread, without a VMM round trip. A count
    /// already in the eventfd is injected at once. Dispose the result to unbind (<c>KVM_IRQFD_FLAG_DEASSIGN</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">no such SPI.</exception>
    public IDisposable AttachIrqFd(Core.Io.EventFd eventFd, int spi)
    {
        ArgumentNullException.ThrowIfNull(eventFd);
        CheckSpi(spi);
        return new IrqFdBinding(this, eventFd, spi);
    }

    private void CheckSpi(int spi)
    {
        if ((uint)spi >= (uint)SpiCount)
        {
            throw new ArgumentOutOfRangeException(nameof(spi), spi, $"SPI {spi} does not exist: this GIC has {SpiCount} SPIs");
        }
    }
}
