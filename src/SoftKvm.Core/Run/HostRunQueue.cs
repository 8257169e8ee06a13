using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace SoftKvm.Core.Run;

/// <summary>
/// How many host threads are runnable right now, the user-space stand-in for KVM's
/// <c>single_task_running()</c> when a halted vCPU decides whether to poll (docs/kvm-semantics.md#halt-polling):
/// Linux's instantaneous count (the fourth field of <c>/proc/loadavg</c>, "runnable/total"), read at most once
/// a millisecond and shared by every vCPU. Where it cannot be read the host counts as busy (no polling).
/// </summary>
internal static class HostRunQueue
{
    private static readonly long RefreshTicks = Stopwatch.Frequency / 1000;
    private static readonly SafeFileHandle? Handle = Open();
    private static long s_readAt;
    private static int s_runnable = int.MaxValue;

    /// <summary>Whether the host has no more runnable threads than processors (the caller, which is runnable, included).</summary>
    public static bool HasIdleProcessorsForPolling() => Runnable() <= Environment.ProcessorCount;

    /// <summary>The runnable threads at the last read (int.MaxValue when unknown).</summary>
    public static int Runnable()
    {
        long now = Stopwatch.GetTimestamp();
        long readAt = Volatile.Read(ref s_readAt);
        if (readAt == 0 || now - readAt >= RefreshTicks)
        {
            Volatile.Write(ref s_runnable, Read());
            Volatile.Write(ref s_readAt, now);
        }

        return Volatile.Read(ref s_runnable);
    }

    private static SafeFileHandle? Open()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.OpenHandle("/proc/loadavg") : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    // "0.52 0.58 0.59 3/1033 12345": the number before the slash.
    private static int Read()
    {
        if (Handle is null)
        {
            return int.MaxValue;
        }

        Span<byte> text = stackalloc byte[128];
        int n;
        try
        {
            n = RandomAccess.Read(Handle, text, 0);
        }
        catch (IOException)
        {
            return int.MaxValue;
        }

        return Parse(text[..n]);
    }

    /// <summary>The runnable count of a <c>/proc/loadavg</c> line, or int.MaxValue when it has none.</summary>
    internal static int Parse(ReadOnlySpan<byte> line)
    {
        int slash = line.IndexOf((byte)'/');
        if (slash <= 0)
        {
            return int.MaxValue;
        }

        int start = slash;
        while (start > 0 && line[start - 1] is >= (byte)'0' and <= (byte)'9')
        {
            start--;
        }

        return start < slash && int.TryParse(line[start..slash], out int value) ? value : int.MaxValue;
    }
}
