using SoftKvm.Core;
using SoftKvm.Core.Snapshots;

namespace SoftKvm.Vmm.Snapshots;

/// <summary>
/// The virtual clock's snapshot section (<c>CLCK</c>, after the header; docs/snapshots.md#deterministic-execution):
/// whether guest time is virtual, and then its epoch and virtual time, where the deterministic schedule stands
/// (round, turn, what is left of a turn the run stopped in) and every vCPU's halt state, so that a restored
/// deterministic run goes on exactly as the run it was taken from.
/// </summary>
internal sealed class ClockSnapshot
{
    public const string Tag = "CLCK";

    private DateTimeOffset _epoch;
    private long _nanoseconds, _round, _turnLeft, _roundDeadline;
    private int _turnIndex;
    private bool _roundBusy;
    private byte[][] _vcpus = [];

    /// <summary>Whether the snapshot was taken in deterministic execution.</summary>
    public bool IsVirtual { get; private set; }

    /// <summary>The epoch to build the machine with (null: host time).</summary>
    public DateTimeOffset? Epoch => IsVirtual ? _epoch : null;

    public static void Save(SnapshotWriter writer, Vm vm)
    {
        var w = writer.BeginSection(Tag);
        var clock = vm.Clock;
        w.Write(clock.IsVirtual);
        if (clock.IsVirtual)
        {
            w.Write(clock.Epoch.UtcTicks);
            w.Write(clock.Nanoseconds);
            w.Write(clock.Round);
            w.Write(clock.TurnIndex);

            // A run stopped in the middle of a turn (its open turn includes the completion of the last exit).
            w.Write(clock.InTurn ? Math.Max(0, vm.Vcpus[clock.TurnIndex].QuantumLeft) : -1L);
            w.Write(clock.RoundBusy);
            w.Write(clock.RoundDeadline);
            w.Write(vm.Vcpus.Count);
            foreach (var v in vm.Vcpus)
            {
                v.SaveDeterministicState(w);
            }
        }

        writer.EndSection();
    }

    public static ClockSnapshot Read(SnapshotReader reader)
    {
        using var r = reader.ReadSection(Tag);
        var s = new ClockSnapshot { IsVirtual = r.ReadBoolean() };
        if (!s.IsVirtual)
        {
            return s;
        }

        long ticks = r.ReadInt64();
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            throw reader.Corrupt($"the virtual clock's epoch has {ticks} ticks");
        }

        s._epoch = new DateTimeOffset(ticks, TimeSpan.Zero);
        s._nanoseconds = r.ReadInt64();
        s._round = r.ReadInt64();
        s._turnIndex = r.ReadInt32();
        s._turnLeft = r.ReadInt64();
        s._roundBusy = r.ReadBoolean();
        s._roundDeadline = r.ReadInt64();
        int count = r.ReadInt32();
        if (s._nanoseconds < 0 || s._round < 0 || count is < 0 or > 4096 || s._turnIndex < 0 || s._turnIndex > count)
        {
            throw reader.Corrupt("the virtual clock's schedule is out of range");
        }

        s._vcpus = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            s._vcpus[i] = r.ReadBytes(1 + 1 + 8 + 8);
        }

        return s;
    }

    /// <summary>Puts the clock and the schedule into the restored <paramref name="vm"/> (before its state is loaded).</summary>
    public void Apply(Vm vm, SnapshotReader reader)
    {
        if (!IsVirtual)
        {
            return;
        }

        if (_vcpus.Length != vm.Vcpus.Count)
        {
            throw reader.Corrupt($"the virtual clock's section has {_vcpus.Length} vCPUs, the machine {vm.Vcpus.Count}");
        }

        vm.Clock.MakeVirtual(_epoch, _nanoseconds);
        vm.Clock.Round = _round;
        vm.Clock.TurnIndex = _turnIndex;
        vm.Clock.TurnLeft = _turnLeft;
        vm.Clock.RoundBusy = _roundBusy;
        vm.Clock.RoundDeadline = _roundDeadline;
        for (int i = 0; i < _vcpus.Length; i++)
        {
            using var r = new BinaryReader(new MemoryStream(_vcpus[i]));
            vm.Vcpus[i].LoadDeterministicState(r);
        }
    }
}
