using SoftKvm.Core.Snapshots;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The VGIC in a snapshot (docs/snapshots.md): its <see cref="VgicState"/> (distributor, every interrupt,
/// CPU interfaces, redistributors), then per ITS its registers, in the order QEMU saves and restores a
/// KVM ITS: before memory is written the ITS tables and the LPI pending tables go into guest memory
/// (<see cref="PrepareSave"/>); on restore, after memory and the redistributors, GITS_IIDR, CBASER,
/// CREADR, CWRITER and the BASERs are written, the tables read back (creating devices, collections,
/// translations and LPIs with their pending state), and GITS_CTLR last.
/// </summary>
internal static class VgicSnapshot
{
    private const ulong Ctlr = 0x0, Iidr = 0x4, Cbaser = 0x80, Cwriter = 0x88, Creadr = 0x90, Baser0 = 0x100, Baser1 = 0x108;

    /// <summary>Writes the ITS and pending tables into guest memory (KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES).</summary>
    public static void PrepareSave(Vgic vgic)
    {
        vgic.SavePendingTables();
        foreach (var its in vgic.Its)
        {
            its.SaveTables();
        }
    }

    public static void Write(BinaryWriter w, Vgic vgic)
    {
        var s = vgic.GetState();
        w.Write((int)s.Model);
        w.Write(s.VcpuCount);
        w.Write(s.SpiCount);
        w.Write(s.Group0Enabled);
        w.Write(s.Group1Enabled);
        foreach (var irqs in s.PrivateIrqs)
        {
            w.Write(irqs.Count);
            foreach (var irq in irqs)
            {
                WriteIrq(w, irq);
            }
        }

        w.Write(s.Spis.Count);
        foreach (var irq in s.Spis)
        {
            WriteIrq(w, irq);
        }

        foreach (var c in s.CpuInterfaces)
        {
            w.Write(c.PriorityMask);
            w.Write(c.Bpr0);
            w.Write(c.Bpr1);
            w.Write(c.CommonBpr);
            w.Write(c.SplitEoi);
            w.Write(c.Group0Enabled);
            w.Write(c.Group1Enabled);
            w.Write(c.AckCtl);
            w.Write(c.FiqEnable);
            w.Write(c.ActivePriorities0);
            w.Write(c.ActivePriorities1);
        }

        w.Write(s.Redistributors.Count);
        foreach (var r in s.Redistributors)
        {
            w.Write(r.Waker);
            w.Write(r.PropBaser);
            w.Write(r.PendBaser);
            w.Write(r.LpisEnabled);
        }

        w.Write(vgic.Its.Count);
        foreach (var its in vgic.Its)
        {
            foreach (ulong offset in (ReadOnlySpan<ulong>)[Ctlr, Iidr, Cbaser, Cwriter, Creadr, Baser0, Baser1])
            {
                w.Write(its.ReadRegister(offset));
            }
        }
    }

    /// <exception cref="SnapshotFormatException">the state does not fit this VGIC.</exception>
    public static void Read(BinaryReader r, Vgic vgic)
    {
        var model = (GicModel)r.ReadInt32();
        int vcpus = r.ReadInt32();
        int spiCount = r.ReadInt32();
        if (model != vgic.Model || vcpus != vgic.VcpuCount || spiCount != vgic.SpiCount)
        {
            throw new SnapshotFormatException(
                $"the snapshot's GIC ({model}, {vcpus} vCPUs, {spiCount} SPIs) does not fit this VM's ({vgic.Model}, {vgic.VcpuCount} vCPUs, {vgic.SpiCount} SPIs)");
        }

        bool g0 = r.ReadBoolean(), g1 = r.ReadBoolean();
        var privates = new List<IReadOnlyList<VgicIrqState>>();
        for (int v = 0; v < vcpus; v++)
        {
            privates.Add(ReadIrqs(r, Vgic.NrPrivateIrqs));
        }

        var spis = ReadIrqs(r, spiCount);
        var cpus = new List<VgicCpuInterfaceState>();
        for (int v = 0; v < vcpus; v++)
        {
            cpus.Add(new VgicCpuInterfaceState(
                r.ReadByte(), r.ReadInt32(), r.ReadInt32(), r.ReadBoolean(), r.ReadBoolean(), r.ReadBoolean(), r.ReadBoolean(),
                r.ReadBoolean(), r.ReadBoolean(), r.ReadUInt32(), r.ReadUInt32()));
        }

        int redistributors = r.ReadInt32();
        if (redistributors != 0 && redistributors != vcpus)
        {
            throw new SnapshotFormatException($"the snapshot's GIC has {redistributors} redistributors for {vcpus} vCPUs");
        }

        var rds = new List<VgicRedistributorState>();
        for (int i = 0; i < redistributors; i++)
        {
            rds.Add(new VgicRedistributorState(r.ReadUInt32(), r.ReadUInt64(), r.ReadUInt64(), r.ReadBoolean()));
        }

        int itsCount = r.ReadInt32();
        if (itsCount != vgic.Its.Count)
        {
            throw new SnapshotFormatException($"the snapshot's GIC has {itsCount} ITS, this VM's {vgic.Its.Count}");
        }

        var itsRegisters = new ulong[itsCount][];
        for (int i = 0; i < itsCount; i++)
        {
            itsRegisters[i] = [r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64()];
        }

        try
        {
            vgic.SetState(new VgicState(model, vcpus, spiCount, g0, g1, privates, spis, cpus, rds));
            for (int i = 0; i < itsCount; i++)
            {
                var its = vgic.Its[i];
                ulong[] regs = itsRegisters[i];
                its.WriteRegister(Iidr, regs[1]);
                its.WriteRegister(Cbaser, regs[2]);
                its.WriteRegister(Creadr, regs[4]);
                its.WriteRegister(Cwriter, regs[3]);
                its.WriteRegister(Baser0, regs[5]);
                its.WriteRegister(Baser1, regs[6]);
                its.RestoreTables();
                its.WriteRegister(Ctlr, regs[0]);
            }
        }
        catch (VgicException e)
        {
            throw new SnapshotFormatException($"the snapshot's GIC state cannot be restored: {e.Message}");
        }
    }

    private static void WriteIrq(BinaryWriter w, in VgicIrqState irq)
    {
        w.Write(irq.Enabled);
        w.Write(irq.PendingLatch);
        w.Write(irq.LineLevel);
        w.Write(irq.Active);
        w.Write(irq.ActiveVcpu);
        w.Write(irq.Edge);
        w.Write(irq.Priority);
        w.Write(irq.Group);
        w.Write(irq.Targets);
        w.Write(irq.Mpidr);
        w.Write(irq.SgiSources);
    }

    private static List<VgicIrqState> ReadIrqs(BinaryReader r, int expected)
    {
        int count = r.ReadInt32();
        if (count != expected)
        {
            throw new SnapshotFormatException($"the snapshot's GIC has {count} interrupts where this VM's has {expected}");
        }

        var list = new List<VgicIrqState>(count);
        for (int i = 0; i < count; i++)
        {
            list.Add(new VgicIrqState(
                r.ReadBoolean(), r.ReadBoolean(), r.ReadBoolean(), r.ReadBoolean(), r.ReadInt32(), r.ReadBoolean(),
                r.ReadByte(), r.ReadInt32(), r.ReadByte(), r.ReadUInt64(), r.ReadByte()));
        }

        return list;
    }
}
