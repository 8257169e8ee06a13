namespace SoftKvm.X86.Irqchip;

/// <summary>Save and restore of the IOAPIC (docs/snapshots.md): the redirection table (with Remote IRR), the pin levels, IOREGSEL and the id.</summary>
public sealed partial class IoApic
{
    internal void SaveSnapshot(BinaryWriter w)
    {
        lock (_lock)
        {
            for (int i = 0; i < Pins; i++)
            {
                w.Write(_redirection[i]);
                w.Write(_level[i]);
            }

            w.Write(_select);
            w.Write(_id);
        }
    }

    internal void LoadSnapshot(BinaryReader r)
    {
        lock (_lock)
        {
            RetractWindowLocked();
            for (int i = 0; i < Pins; i++)
            {
                _redirection[i] = r.ReadUInt64();
                _level[i] = r.ReadBoolean();
            }

            SetSelect(r.ReadUInt32());
            _id = r.ReadUInt32();
            PublishWindowLocked();
        }
    }
}
