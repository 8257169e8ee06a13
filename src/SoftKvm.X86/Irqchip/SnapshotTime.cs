namespace SoftKvm.X86.Irqchip;

/// <summary>
/// Guest-clock timestamps (the host's time, or virtual time in deterministic execution) in a snapshot: saved
/// relative to the moment of the save and made absolute again at the restore, so a timer that had 3 ms to go
/// has 3 ms to go in the restored VM (<see cref="long.MaxValue"/>, "never", stays never).
/// </summary>
internal static class SnapshotTime
{
    public static void Write(BinaryWriter w, long timestamp, long now) =>
        w.Write(timestamp == long.MaxValue ? long.MaxValue : timestamp - now);

    public static long Read(BinaryReader r, long now)
    {
        long relative = r.ReadInt64();
        return relative == long.MaxValue ? long.MaxValue : now + relative;
    }
}
