using System.Diagnostics;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// Translates blocks off the vCPU threads, in two tiers. A vCPU that finds a hot block queues its quick
/// compilation (each instruction a call of the interpreter's per-op method: no fetch, decode or dispatch
/// left, and cheap for the JIT, a fraction of a millisecond per block) and goes on interpreting; a block
/// that has then run often enough is queued again to be optimized (the handlers inlined with their
/// instruction words as constants, which the JIT folds: several times faster, and milliseconds of JIT
/// per block). One background thread (shared by every VM of the process) emits the block's host
/// method, has the .NET JIT compile it (by a dry call, which returns at once), and installs it in the
/// VM's block cache, where the vCPUs pick it up at their next entry. Quick compilations go first, so
/// that a burst of new code is not kept waiting behind optimizations.
/// </summary>
internal static unsafe class BlockTranslator
{
    private static readonly object s_lock = new(); // a monitor: the translator waits on it
    private static readonly Queue<Request> s_quick = new();
    private static readonly List<Request> s_optimize = [];
    private static readonly HashSet<(nint Host, CpuShared Shared)> s_pending = [];
    private static Thread? s_thread;

    /// <summary>
    /// Queues the first translation of <paramref name="source"/>, discovered by <paramref name="cpu"/>:
    /// quick, or optimized at once when <paramref name="optimize"/>.
    /// </summary>
    public static void Enqueue(Arm64Cpu cpu, CpuShared shared, BlockSource source, bool optimize)
    {
        lock (s_lock)
        {
            if (!s_pending.Add(((nint)source.Host, shared)))
            {
                return; // queued already (by another vCPU, or by this one before the block came out)
            }

            var request = new Request(cpu, shared, source, optimize, First: true);
            if (optimize)
            {
                s_optimize.Add(request);
            }
            else
            {
                s_quick.Enqueue(request);
            }

            Wake();
        }
    }

    /// <summary>Queues the optimization of the block of <paramref name="source"/>, whose quick compilation is hot (asked once per block).</summary>
    public static void EnqueueOptimization(Arm64Cpu cpu, CpuShared shared, BlockSource source)
    {
        lock (s_lock)
        {
            s_optimize.Add(new Request(cpu, shared, source, Optimize: true, First: false));
            Wake();
        }
    }

    /// <summary>Translates now, on the calling thread, and installs the block.</summary>
    public static TranslatedBlock Translate(Arm64Cpu cpu, CpuShared shared, BlockSource source, bool optimize) =>
        Run(new Request(cpu, shared, source, optimize, First: true));

    // Called with s_lock held.
    private static void Wake()
    {
        if (s_thread is null)
        {
            s_thread = new Thread(Loop) { IsBackground = true, Name = "softkvm a64 translator" };
            s_thread.Start();
        }

        Monitor.Pulse(s_lock);
    }

    private static void Loop()
    {
        while (true)
        {
            Request request = Next();
            try
            {
                TranslatedBlock? current = request.Shared.FindEntry(request.Source.Host);
                if (request.First ? current is null : current is not null && current.Source == request.Source && !current.Optimized)
                {
                    Run(request); // (an optimization of a block that went stale or was replaced meanwhile is not worth it)
                }
            }
            catch (Exception e) when (e is InvalidProgramException or NotSupportedException or ArgumentException or InvalidOperationException)
            {
                // The .NET runtime refused the block's method (a translator bug): the block goes on running as
                // it did, interpreted or quick, and the profile counts the failure. The process keeps running.
                Interlocked.Increment(ref request.Cpu.Counters.TranslationFailures);
            }
            finally
            {
                if (request.First)
                {
                    lock (s_lock)
                    {
                        s_pending.Remove(((nint)request.Source.Host, request.Shared));
                    }
                }
            }
        }
    }

    /// <summary>
    /// The next request: the oldest quick one, else the optimization of the block that has run most
    /// (its quick code keeps counting its instructions while it waits), so that the hottest code is optimized
    /// first however long the queue.
    /// </summary>
    private static Request Next()
    {
        lock (s_lock)
        {
            while (true)
            {
                if (s_quick.TryDequeue(out Request? quick))
                {
                    return quick;
                }

                if (s_optimize.Count > 0)
                {
                    int best = 0;
                    for (int i = 1; i < s_optimize.Count; i++)
                    {
                        if (s_optimize[i].Source.Heat > s_optimize[best].Source.Heat)
                        {
                            best = i;
                        }
                    }

                    Request hottest = s_optimize[best];
                    s_optimize[best] = s_optimize[^1];
                    s_optimize.RemoveAt(s_optimize.Count - 1);
                    return hottest;
                }

                Monitor.Wait(s_lock);
            }
        }
    }
    private static TranslatedBlock Run(Request r)
    {
        long start = Stopwatch.GetTimestamp();
        BlockSource source = r.Source;
        BlockCode code = BlockCompiler.Compile(source.Host, source.Indices, source.Words, source.Entries, source.Pc, r.Optimize);
        int ignored = 0;
        _ = code(null!, 0, 0, ref ignored, 0); // a dry call: the JIT compiles the method, which returns at once
        TranslatedBlock? requested = null;
        int[] entries = source.Entries;
        for (int ordinal = entries.Length - 1; ordinal >= 0; ordinal--)
        {
            // The requested entry (index 0) goes in last, so it wins a cache slot it shares with another.
            var entry = new TranslatedBlock(source, entries[ordinal], ordinal, code, r.Optimize);
            r.Shared.Install(entry);
            if (entries[ordinal] == 0)
            {
                requested = entry;
            }
        }

        if (r.First)
        {
            Interlocked.Increment(ref r.Cpu.Counters.BlocksTranslated);
            Interlocked.Add(ref r.Cpu.Counters.TranslatedBlockInstructions, source.Indices.Length);
        }

        if (r.Optimize)
        {
            Interlocked.Increment(ref r.Cpu.Counters.BlocksOptimized);
        }

        Interlocked.Add(ref r.Cpu.Counters.TranslationMicroseconds, (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        return requested!;
    }

    private sealed record Request(Arm64Cpu Cpu, CpuShared Shared, BlockSource Source, bool Optimize, bool First);
}
