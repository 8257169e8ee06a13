namespace SoftKvm.X86.Irqchip;

/// <summary>Save and restore of the PIT (docs/snapshots.md): each channel's counter, latches, modes and gate, its load time and the next interrupt as time left, the speaker data bit.</summary>
public sealed partial class Pit8254
{
    internal void SaveSnapshot(BinaryWriter w, long now)
    {
        lock (_lock)
        {
            foreach (var c in _channels)
            {
                foreach (int v in (ReadOnlySpan<int>)[c.Count, c.Latched, c.LatchState, c.ReadState, c.WriteState, c.WriteLatch, c.RwMode, c.Mode])
                {
                    w.Write(v);
                }

                w.Write(c.Status);
                w.Write(c.Bcd);
                w.Write(c.Gate);
                w.Write(c.CountLatched);
                w.Write(c.StatusLatched);
                SnapshotTime.Write(w, c.LoadTime, now);
            }

            SnapshotTime.Write(w, _nextFire, now);
            w.Write(_speakerData);
        }
    }

    internal void LoadSnapshot(BinaryReader r, long now)
    {
        lock (_lock)
        {
            foreach (var c in _channels)
            {
                c.Count = r.ReadInt32();
                c.Latched = r.ReadInt32();
                c.LatchState = r.ReadInt32();
                c.ReadState = r.ReadInt32();
                c.WriteState = r.ReadInt32();
                c.WriteLatch = r.ReadInt32();
                c.RwMode = r.ReadInt32();
                c.Mode = r.ReadInt32();
                c.Status = r.ReadByte();
                c.Bcd = r.ReadBoolean();
                c.Gate = r.ReadBoolean();
                c.CountLatched = r.ReadBoolean();
                c.StatusLatched = r.ReadBoolean();
                c.LoadTime = SnapshotTime.Read(r, now);
            }

            _nextFire = SnapshotTime.Read(r, now);
            _speakerData = r.ReadBoolean();
        }
    }
}
