using System.Collections.Concurrent;
using System.Diagnostics;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// Translates blocks off the vCPU threads: a vCPU that finds a hot block queues it and goes on
/// interpreting; one background thread (shared by every VM of the process) emits the block's host
/// method, has the .NET JIT compile it (by a dry call, which returns at once), and installs it in the
/// VM's block cache, where the vCPUs pick it up at their next entry. The JIT is the expensive part of
/// translation (milliseconds per block), so this keeps it off the guest's critical path when the host
/// has a core to spare.
/// </summary>
internal static unsafe class BlockTranslator
{
    private static readonly BlockingCollection<Request> s_queue = [];
    private static readonly ConcurrentDictionary<(nint Host, CpuShared Shared), byte> s_pending = new();
    private static readonly Lock s_startLock = new();
    private static Thread? s_thread;

    /// <summary>Queues the translation of the block at <paramref name="host"/> discovered by <paramref name="cpu"/>.</summary>
    public static void Enqueue(Arm64Cpu cpu, CpuShared shared, uint* host, ulong pc, int[] indices, uint[] words)
    {
        if (!s_pending.TryAdd(((nint)host, shared), 0))
        {
            return; // queued already (by another vCPU, or by this one before the block came out)
        }

        EnsureStarted();
        s_queue.Add(new Request(cpu, shared, (nint)host, pc, indices, words));
    }

    /// <summary>Translates now, on the calling thread, and installs the block.</summary>
    public static TranslatedBlock Translate(Arm64Cpu cpu, CpuShared shared, uint* host, ulong pc, int[] indices, uint[] words) =>
        Run(new Request(cpu, shared, (nint)host, pc, indices, words));

    private static void EnsureStarted()
    {
        if (Volatile.Read(ref s_thread) is not null)
        {
            return;
        }

        lock (s_startLock)
        {
            if (s_thread is null)
            {
                var thread = new Thread(Loop) { IsBackground = true, Name = "softkvm a64 translator" };
                thread.Start();
                Volatile.Write(ref s_thread, thread);
            }
        }
    }

    private static void Loop()
    {
        foreach (Request request in s_queue.GetConsumingEnumerable())
        {
            if (request.Shared.FindEntry((uint*)request.Host) is null)
            {
                Run(request);
            }

            s_pending.TryRemove((request.Host, request.Shared), out _);
        }
    }

    private static TranslatedBlock Run(Request r)
    {
        long start = Stopwatch.GetTimestamp();
        var host = (uint*)r.Host;
        int[] entries = BlockCompiler.Entries(r.Indices, r.Words);
        BlockCode code = BlockCompiler.Compile(host, r.Indices, r.Words, entries, r.Pc);
        int ignored = 0;
        _ = code(null!, 0, 0, ref ignored, 0); // a dry call: the JIT compiles the method, which returns at once
        TranslatedBlock? requested = null;
        for (int ordinal = entries.Length - 1; ordinal >= 0; ordinal--)
        {
            // The requested entry (index 0) goes in last, so it wins a cache slot it shares with another.
            var entry = new TranslatedBlock(host + entries[ordinal], entries[ordinal], ordinal, code);
            r.Shared.Install(entry);
            if (entries[ordinal] == 0)
            {
                requested = entry;
            }
        }

        Interlocked.Increment(ref r.Cpu.Counters.BlocksTranslated);
        Interlocked.Add(ref r.Cpu.Counters.TranslatedBlockInstructions, r.Indices.Length);
        Interlocked.Add(ref r.Cpu.Counters.TranslationMicroseconds, (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        return requested!;
    }

    private sealed record Request(Arm64Cpu Cpu, CpuShared Shared, nint Host, ulong Pc, int[] Indices, uint[] Words);
}
