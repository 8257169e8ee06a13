using System.Diagnostics;
using System.Text.Json;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Writes every vCPU exit as a Chrome trace-event JSON file (the "JSON Object Format" of the Trace Event
/// Format), which Perfetto and chrome://tracing open: one complete ("X") event per exit on the vCPU's
/// track, starting when Run returned and lasting while the VMM handled the exit, named by the KVM exit
/// reason, with the address, length and direction as arguments. Thread-safe; writes no heap objects per
/// event.
/// </summary>
public sealed class ExitTraceWriter : IDisposable
{
    private static readonly JsonEncodedText TraceEvents = JsonEncodedText.Encode("traceEvents");
    private static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText Cat = JsonEncodedText.Encode("cat");
    private static readonly JsonEncodedText Ph = JsonEncodedText.Encode("ph");
    private static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts");
    private static readonly JsonEncodedText Dur = JsonEncodedText.Encode("dur");
    private static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid");
    private static readonly JsonEncodedText Tid = JsonEncodedText.Encode("tid");
    private static readonly JsonEncodedText Args = JsonEncodedText.Encode("args");
    private static readonly JsonEncodedText Addr = JsonEncodedText.Encode("addr");
    private static readonly JsonEncodedText Len = JsonEncodedText.Encode("len");
    private static readonly JsonEncodedText Write = JsonEncodedText.Encode("write");
    private static readonly JsonEncodedText Result = JsonEncodedText.Encode("result");
    private static readonly JsonEncodedText Exit = JsonEncodedText.Encode("exit");
    private static readonly JsonEncodedText Complete = JsonEncodedText.Encode("X");
    private static readonly Dictionary<ExitReason, JsonEncodedText> ReasonNames = BuildReasonNames();

    private readonly object _lock = new();
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly long _start = Stopwatch.GetTimestamp();
    private bool _disposed;

    /// <summary>Writes the trace to <paramref name="stream"/>, which it owns.</summary>
    public ExitTraceWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _json = new Utf8JsonWriter(stream);
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ns");
        _json.WriteStartArray(TraceEvents);
        WriteMetadata("process_name", -1, "softkvm");
    }

    /// <summary>The number of exit events written.</summary>
    public long Events { get; private set; }

    /// <summary>Creates the trace file <paramref name="path"/>.</summary>
    /// <exception cref="Errors.InputFileException">it cannot be created.</exception>
    public static ExitTraceWriter Create(string path)
    {
        try
        {
            return new ExitTraceWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new Errors.InputFileException($"trace file '{path}' cannot be created: {Loaders.InputFiles.OneLine(e.Message)}");
        }
    }

    /// <summary>The current trace timestamp (pass to <see cref="WriteExit"/> as the exit's start).</summary>
    public long Timestamp() => Stopwatch.GetTimestamp();

    /// <summary>Names a vCPU's track.</summary>
    public void NameVcpu(int vcpuId)
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                Span<char> name = stackalloc char[24];
                "vCPU ".CopyTo(name);
                vcpuId.TryFormat(name[5..], out int n);
                WriteMetadata("thread_name", vcpuId, name[..(5 + n)]);
            }
        }
    }

    /// <summary>Records one exit of <paramref name="vcpuId"/> that returned at <paramref name="start"/> and was handled by now.</summary>
    public void WriteExit(int vcpuId, long start, RunResult result, in RunState run)
    {
        long end = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _json.WriteStartObject();
            if (result != RunResult.Ok)
            {
                _json.WriteString(Name, result == RunResult.Interrupted ? "KVM_RUN -EINTR" : "KVM_RUN error");
            }
            else if (ReasonNames.TryGetValue(run.ExitReason, out var reason))
            {
                _json.WriteString(Name, reason);
            }
            else
            {
                _json.WriteString(Name, "KVM_EXIT_?");
            }

            _json.WriteString(Cat, Exit);
            _json.WriteString(Ph, Complete);
            _json.WriteNumber(Ts, Micros(start));
            _json.WriteNumber(Dur, Stopwatch.GetElapsedTime(start, end).TotalMicroseconds);
            _json.WriteNumber(Pid, 1);
            _json.WriteNumber(Tid, vcpuId);
            _json.WriteStartObject(Args);
            _json.WriteNumber(Result, (int)result);
            if (result == RunResult.Ok)
            {
                switch (run.ExitReason)
                {
                    case ExitReason.Mmio:
                        WriteHex(Addr, run.Mmio.PhysAddr);
                        _json.WriteNumber(Len, run.Mmio.Length);
                        _json.WriteBoolean(Write, run.Mmio.IsWrite);
                        break;
                    case ExitReason.Io:
                        WriteHex(Addr, run.Io.Port);
                        _json.WriteNumber(Len, run.Io.Size * run.Io.Count);
                        _json.WriteBoolean(Write, run.Io.Direction == IoDirection.Out);
                        break;
                    case ExitReason.ArmNisv:
                        WriteHex(Addr, run.ArmNisv.FaultIpa);
                        break;
                    case ExitReason.SystemEvent:
                        _json.WriteNumber(Len, (uint)run.SystemEvent.Type);
                        break;
                }
            }

            _json.WriteEndObject();
            _json.WriteEndObject();
            Events++;
            if (_json.BytesPending > 1 << 15)
            {
                _json.Flush();
            }
        }
    }

    /// <summary>Closes the JSON and the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _json.WriteEndArray();
            _json.WriteEndObject();
            _json.Flush();
            _json.Dispose();
            _stream.Dispose();
        }
    }

    private double Micros(long timestamp) => Stopwatch.GetElapsedTime(_start, timestamp).TotalMicroseconds;

    private void WriteHex(JsonEncodedText name, ulong value)
    {
        Span<char> text = stackalloc char[18];
        text[0] = '0';
        text[1] = 'x';
        value.TryFormat(text[2..], out int n, "x");
        _json.WriteString(name, text[..(2 + n)]);
    }

    private void WriteMetadata(string kind, int tid, ReadOnlySpan<char> value)
    {
        _json.WriteStartObject();
        _json.WriteString(Name, kind);
        _json.WriteString(Ph, "M");
        _json.WriteNumber(Pid, 1);
        if (tid >= 0)
        {
            _json.WriteNumber(Tid, tid);
        }

        _json.WriteStartObject(Args);
        _json.WriteString(Name, value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private static Dictionary<ExitReason, JsonEncodedText> BuildReasonNames()
    {
        var d = new Dictionary<ExitReason, JsonEncodedText>();
        foreach (var r in Enum.GetValues<ExitReason>())
        {
            d[r] = JsonEncodedText.Encode(ExitReasonNames.Kvm(r));
        }

        return d;
    }
}
