using SoftKvm.Core.Stats;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// The statistics in a snapshot: section <c>STAT</c> with the VM's block, then each vCPU's, each as its count of
/// statistics and (name, value) pairs. Cumulative counters and peaks are saved; instant values (<c>blocking</c>)
/// describe the moment and start again from the restored VM's own. A restored VM's statistics go on from the
/// saved ones, so <c>--stats</c> after a restore shows the totals of the whole run.
/// </summary>
public static class StatsSnapshot
{
    private const string Tag = "STAT";

    /// <summary>Writes the statistics of <paramref name="vm"/> and its vCPUs.</summary>
    public static void Save(Vm vm, SnapshotWriter writer)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(writer);
        var w = writer.BeginSection(Tag);
        Write(w, vm.Stats);
        w.Write(vm.Vcpus.Count);
        foreach (var v in vm.Vcpus)
        {
            Write(w, v.Stats);
        }

        writer.EndSection();
    }

    /// <summary>Reads what <see cref="Save"/> wrote into <paramref name="vm"/>, whose vCPUs have not run.</summary>
    /// <exception cref="SnapshotFormatException">another vCPU count, a statistic this build does not have, or a corrupt section.</exception>
    public static void Load(Vm vm, SnapshotReader reader)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(reader);
        using var r = reader.ReadSection(Tag);
        Read(r, vm.Stats, reader);
        int count = r.ReadInt32();
        if (count != vm.Vcpus.Count)
        {
            throw new SnapshotFormatException($"the snapshot has statistics of {count} vCPUs, the machine {vm.Vcpus.Count}");
        }

        foreach (var v in vm.Vcpus)
        {
            Read(r, v.Stats, reader);
        }
    }

    private static void Write(BinaryWriter w, StatsBlock block)
    {
        var saved = Saved(block.Schema).ToList();
        w.Write(saved.Count);
        foreach (int id in saved)
        {
            w.Write(block.Schema.Descriptors[id].Name);
            w.Write(block[id]);
        }
    }

    private static void Read(BinaryReader r, StatsBlock block, SnapshotReader reader)
    {
        int count = r.ReadInt32();
        if (count < 0 || count > block.Schema.Descriptors.Count)
        {
            throw reader.Corrupt($"the statistics section lists {count} statistics");
        }

        for (int i = 0; i < count; i++)
        {
            string name = r.ReadString();
            ulong value = r.ReadUInt64();
            int id = block.Schema.IndexOf(name);
            if (id < 0 || block.Schema.Descriptors[id].Kind == StatKind.Instant)
            {
                throw new SnapshotFormatException($"the snapshot's statistic '{name}' is not a counter of this build");
            }

            block.Set(id, (long)value);
        }
    }

    private static IEnumerable<int> Saved(StatsSchema schema) =>
        Enumerable.Range(0, schema.Descriptors.Count).Where(i => schema.Descriptors[i].Kind != StatKind.Instant);
}
