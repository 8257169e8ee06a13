namespace SoftKvm.X86.Irqchip;

/// <summary>Save and restore of the two 8259As (docs/snapshots.md): IRR, IMR, ISR, ELCR, the edge latch, the initialisation state and modes, and the output to the CPU.</summary>
public sealed partial class Pic8259
{
    internal void SaveSnapshot(BinaryWriter w)
    {
        lock (_lock)
        {
            _master.SaveSnapshot(w);
            _slave.SaveSnapshot(w);
            w.Write(_output);
        }
    }

    internal void LoadSnapshot(BinaryReader r)
    {
        lock (_lock)
        {
            _master.MaskRead?.Retract();
            _slave.MaskRead?.Retract();
            _master.LoadSnapshot(r);
            _slave.LoadSnapshot(r);
            _output = r.ReadBoolean();
            _master.PublishMaskLocked();
            _slave.PublishMaskLocked();
        }
    }

    private sealed partial class Chip
    {
        public void SaveSnapshot(BinaryWriter w)
        {
            w.Write(Irr);
            w.Write(Imr);
            w.Write(Isr);
            w.Write(Elcr);
            w.Write(LastIrr);
            w.Write(IrqBase);
            w.Write(Poll);
            w.Write(ReadIsr);
            w.Write(_priorityAdd);
            w.Write(_initState);
            w.Write(_init4);
            w.Write(_singleMode);
            w.Write(_autoEoi);
            w.Write(_rotateOnAutoEoi);
            w.Write(_specialFullyNested);
        }

        public void LoadSnapshot(BinaryReader r)
        {
            Irr = r.ReadByte();
            Imr = r.ReadByte();
            Isr = r.ReadByte();
            Elcr = (byte)(r.ReadByte() & ElcrMask);
            LastIrr = r.ReadByte();
            IrqBase = r.ReadInt32() & 0xF8;
            Poll = r.ReadBoolean();
            ReadIsr = r.ReadBoolean();
            _priorityAdd = r.ReadInt32() & 7;
            _initState = r.ReadInt32() & 3;
            _init4 = r.ReadBoolean();
            _singleMode = r.ReadBoolean();
            _autoEoi = r.ReadBoolean();
            _rotateOnAutoEoi = r.ReadBoolean();
            _specialFullyNested = r.ReadBoolean();
        }
    }
}
