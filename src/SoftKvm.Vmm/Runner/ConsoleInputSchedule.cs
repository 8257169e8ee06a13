using System.Collections.Concurrent;
using System.Globalization;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Console input in deterministic execution (docs/snapshots.md#record-and-replay): the guest gets input only
/// at round boundaries of the deterministic <see cref="VmRunner"/>, so where it arrives is a point of the run,
/// not a moment of the host. Live (<see cref="Live"/>), bytes from the terminal wait in a queue until the
/// next boundary, and with a record file each boundary's delivered bytes are written with the round and the
/// virtual time; replayed (<see cref="Replay"/>), the file's bytes are offered at the same rounds and the
/// terminal is ignored.
/// </summary>
/// <remarks>
/// The record file is text: the line <c>softkvm-input-record 1</c>, then one line per delivery,
/// <c>ROUND NANOSECONDS HEX</c> (decimal round and virtual time, the bytes in hexadecimal), rounds increasing.
/// </remarks>
public sealed class ConsoleInputSchedule : IDisposable
{
    /// <summary>The first line of a record file.</summary>
    public const string Magic = "softkvm-input-record 1";

    private readonly ConcurrentQueue<byte> _queue = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly TextWriter? _record;
    private readonly List<(long Round, long Nanoseconds, byte[] Data)> _replay = [];
    private readonly List<byte> _pending = [];
    private int _next;
    private bool _diverged;

    private ConsoleInputSchedule(TextWriter? record) => _record = record;

    /// <summary>Whether the input comes from the terminal (else from a record file).</summary>
    public bool IsLive { get; private init; }

    /// <summary>Whether live input may still come (a terminal or pipe that has not ended).</summary>
    public bool MayArrive => IsLive && SourceEnded is { } ended && !ended();

    /// <summary>Tells whether the live source (an <see cref="InputPump"/>) has ended; null: there is no live source.</summary>
    public Func<bool>? SourceEnded { get; set; }

    /// <summary>Bytes the guest took so far.</summary>
    public long Delivered { get; private set; }

    /// <summary>Live input, recorded to <paramref name="record"/> when given (the file is created now).</summary>
    /// <exception cref="InputFileException">the record file cannot be created.</exception>
    public static ConsoleInputSchedule Live(string? record)
    {
        TextWriter? writer = null;
        if (record is not null)
        {
            try
            {
                writer = new StreamWriter(record, append: false) { AutoFlush = true, NewLine = "\n" };
                writer.WriteLine(Magic);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new InputFileException($"--record '{record}' cannot be written: {Loaders.InputFiles.OneLine(e.Message)}");
            }
        }

        return new ConsoleInputSchedule(writer) { IsLive = true };
    }

    /// <summary>The input recorded in <paramref name="path"/>.</summary>
    /// <exception cref="InputFileException">the file cannot be read, is not a record file, or is corrupt.</exception>
    public static ConsoleInputSchedule Replay(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputFileException($"--replay '{path}' cannot be read: {Loaders.InputFiles.OneLine(e.Message)}");
        }

        if (lines.Length == 0 || lines[0] != Magic)
        {
            throw new InputFileException($"--replay '{path}' is not a softkvm input record (its first line is not '{Magic}')");
        }

        var schedule = new ConsoleInputSchedule(null);
        long last = -1;
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            string[] f = lines[i].Split(' ');
            byte[]? data = null;
            if (f.Length != 3
                || !long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long round)
                || !long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out long ns)
                || f[2].Length == 0 || !TryHex(f[2], out data) || round <= last)
            {
                throw new InputFileException($"--replay '{path}' line {i + 1} is not 'ROUND NANOSECONDS HEX' with rounds increasing");
            }

            last = round;
            schedule._replay.Add((round, ns, data!));
        }

        return schedule;
    }

    /// <summary>Takes live bytes from the terminal (any thread; an <see cref="InputPump"/>'s sink): all of them, to wait for the next boundary.</summary>
    public int Offer(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            _queue.Enqueue(b);
        }

        _arrived.Release();
        return data.Length;
    }

    /// <summary>Whether input waits for the guest, or a replayed delivery is due at a later round.</summary>
    public bool HasPending => _pending.Count > 0 || !_queue.IsEmpty || _next < _replay.Count;

    /// <summary>
    /// Waits (live input) up to <paramref name="timeout"/> for bytes to arrive; true when some wait. The runner
    /// calls it when every vCPU is halted, instead of sleeping.
    /// </summary>
    public bool WaitForInput(TimeSpan timeout)
    {
        if (!_queue.IsEmpty)
        {
            return true;
        }

        if (!MayArrive)
        {
            return false;
        }

        _arrived.Wait(timeout);
        return !_queue.IsEmpty;
    }

    /// <summary>
    /// The boundary after round <paramref name="round"/> at virtual time <paramref name="nanoseconds"/>: offers the
    /// input due to <paramref name="sink"/> (the console device) and records what it took. Returns whether the
    /// guest took any.
    /// </summary>
    /// <param name="round">The round that just ended.</param>
    /// <param name="nanoseconds">The virtual time.</param>
    /// <param name="sink">The guest's console device.</param>
    /// <param name="log">Where a replay that no longer fits the guest is reported (once).</param>
    public bool Deliver(long round, long nanoseconds, InputPump.InputSink sink, TextWriter? log)
    {
        if (IsLive)
        {
            while (_queue.TryDequeue(out byte b))
            {
                _pending.Add(b);
            }
        }
        else if (_next < _replay.Count && _replay[_next].Round <= round)
        {
            var entry = _replay[_next++];
            if (entry.Round != round || entry.Nanoseconds != nanoseconds)
            {
                Diverged(log, $"input recorded for round {entry.Round} at {entry.Nanoseconds} ns came at round {round}, {nanoseconds} ns");
            }

            _pending.AddRange(entry.Data);
        }

        if (_pending.Count == 0)
        {
            return false;
        }

        byte[] offered = [.. _pending];
        int taken = Math.Clamp(sink(offered), 0, offered.Length);
        if (taken == 0)
        {
            return false;
        }

        _pending.RemoveRange(0, taken);
        Delivered += taken;
        if (!IsLive && _pending.Count > 0)
        {
            Diverged(log, $"the guest took {taken} of the bytes recorded for round {round}");
        }

        _record?.WriteLine($"{round} {nanoseconds} {Convert.ToHexStringLower(offered, 0, taken)}");
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _record?.Dispose();
        _arrived.Dispose();
    }

    private void Diverged(TextWriter? log, string what)
    {
        if (!_diverged)
        {
            _diverged = true;
            log?.WriteLine($"softkvm: the replay diverged from its recording: {what}");
        }
    }

    private static bool TryHex(string text, out byte[] data)
    {
        data = [];
        if (text.Length % 2 != 0)
        {
            return false;
        }

        try
        {
            data = Convert.FromHexString(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
