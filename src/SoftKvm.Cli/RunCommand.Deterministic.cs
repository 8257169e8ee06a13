using System.CommandLine;
using System.Globalization;
using SoftKvm.Core.Time;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Cli;

/// <summary>
/// Deterministic execution on the command line (docs/snapshots.md#deterministic-execution): <c>--deterministic</c>
/// with its epoch, and the console input's <c>--record</c>/<c>--replay</c>, for <c>run</c> and <c>restore</c>.
/// </summary>
internal sealed partial class RunCommand
{
    // The epoch of --deterministic (null without it); --deterministic-epoch needs it.
    private static DateTimeOffset? DeterministicEpochOf(ParseResult parse, RunOptions o)
    {
        string? text = parse.GetValue(o.DeterministicEpoch);
        if (!parse.GetValue(o.Deterministic))
        {
            return text is null ? null : throw new ConfigurationException("--deterministic-epoch sets the clock of deterministic execution: use it with --deterministic");
        }

        if (text is null)
        {
            return GuestClock.DefaultEpoch;
        }

        text = text.Trim();
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds)
            && seconds >= 0 && seconds <= 253_402_300_799)
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            && time >= DateTimeOffset.UnixEpoch
            ? time
            : throw new ConfigurationException($"invalid --deterministic-epoch '{text}': expected a time such as 2026-01-01T00:00:00Z or Unix seconds");
    }

    // --record/--replay need --deterministic and exclude each other; --gdb and --gdb-wait are for threaded runs.
    private static void CheckDeterministicOptions(ParseResult parse, RunOptions o)
    {
        bool deterministic = parse.GetValue(o.Deterministic);
        string? record = parse.GetValue(o.Record), replay = parse.GetValue(o.Replay);
        if (!deterministic && (record ?? replay) is not null)
        {
            throw new ConfigurationException($"{(record is not null ? "--record" : "--replay")} captures console input of deterministic execution: use it with --deterministic");
        }

        if (record is not null && replay is not null)
        {
            throw new ConfigurationException("--record and --replay exclude each other");
        }

        if (deterministic && parse.GetValue(o.Gdb) is not null)
        {
            throw new ConfigurationException("--gdb and --deterministic do not go together (the debugger holds vCPUs on its own threads)");
        }

        if (replay is not null)
        {
            InputFiles.Check(replay, "replay file");
        }
    }

    // A restored machine's clock must match the run: a snapshot's deterministic-ness is its own.
    private static void CheckClock(IMachine machine, bool deterministic)
    {
        if (machine.Vm.Clock.IsVirtual && !deterministic)
        {
            throw new ConfigurationException("the snapshot was taken in deterministic execution: restore it with --deterministic");
        }

        if (!machine.Vm.Clock.IsVirtual && deterministic)
        {
            throw new ConfigurationException("the snapshot was not taken in deterministic execution: restore it without --deterministic");
        }
    }

    // The console input of a deterministic run: replayed from a file, or live (recorded when asked).
    private static ConsoleInputSchedule? InputScheduleOf(ParseResult parse, RunOptions o) =>
        !parse.GetValue(o.Deterministic) ? null
        : parse.GetValue(o.Replay) is { } replay ? ConsoleInputSchedule.Replay(replay)
        : ConsoleInputSchedule.Live(parse.GetValue(o.Record));
}
