using System.Collections.Concurrent;
using System.Diagnostics;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>Where a block is entered: the host address of its first byte, its RIP and the code size.</summary>
internal readonly record struct BlockKey(nint Host, ulong Rip, int Bitness);

/// <summary>A block to compile: the entry's place and a copy of its page, taken by the vCPU that found it hot.</summary>
internal sealed record BlockRequest(X86Cpu Cpu, BlockKey Key, byte[] Page, int Entry);

/// <summary>
/// Compiles x86 blocks off the vCPU threads: a vCPU that finds a hot entry queues it and goes on
/// interpreting; one background thread per process emits the block's host method, has the .NET JIT
/// compile it (by a dry call, which returns at once) and hands it back to the vCPU, which installs it at
/// its next look-up. A block the runtime refuses to compile is counted and the entry stays interpreted.
/// <para>
/// Compiled blocks are kept in a process-wide cache keyed by host address, RIP and code size, so the
/// other vCPUs (of the VM, or of any VM over the same memory) take them instead of compiling their
/// own; a block is valid for any vCPU, since it checks its bytes at every entry and takes the CPU as
/// an argument. A vCPU that finds a cached block stale removes it.
/// </para>
/// </summary>
internal static class BlockTranslator
{
    /// <summary>The most blocks the cache keeps (a block's code is a few KiB); beyond it starts afresh, and blocks
    /// no vCPU has installed any more are collected.</summary>
    private const int MaxCached = 1 << 14;

    private static readonly BlockingCollection<BlockRequest> s_queue = new(new ConcurrentQueue<BlockRequest>());
    private static readonly Lazy<Thread> s_thread = new(Start);
    private static readonly ConcurrentDictionary<BlockKey, TranslatedBlock> s_blocks = new();
    private static readonly ConcurrentDictionary<BlockKey, bool> s_started = new();

    /// <summary>The cached block entered at <paramref name="key"/>, compiled for any vCPU.</summary>
    public static bool TryGet(BlockKey key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TranslatedBlock? block) =>
        s_blocks.TryGetValue(key, out block);

    /// <summary>Removes <paramref name="block"/> (found stale) from the cache, if it is still the one there.</summary>
    public static void Forget(BlockKey key, TranslatedBlock block)
    {
        s_blocks.TryRemove(KeyValuePair.Create(key, block));
        s_started.TryRemove(key, out _);
    }

    /// <summary>Queues <paramref name="request"/> for the translator thread, unless that block is being compiled already
    /// (for another vCPU, which publishes it in the cache) or was refused.</summary>
    public static void Enqueue(BlockRequest request)
    {
        if (!s_started.TryAdd(request.Key, true))
        {
            return;
        }

        _ = s_thread.Value;
        s_queue.Add(request);
    }

    /// <summary>Compiles on the calling thread (tests and the synchronous mode) and returns the result.</summary>
    public static TranslatedBlock? Compile(BlockRequest request)
    {
        long start = Stopwatch.GetTimestamp();
        TranslatedBlock? block;
        try
        {
            var key = request.Key;
            block = BlockCompiler.Compile(request.Page, key.Host - request.Entry, request.Entry, key.Rip - (ulong)request.Entry, key.Bitness);
            block?.Code(null!, 0); // the dry call: the JIT compiles the method here, not on the vCPU thread
            if (block is not null)
            {
                if (s_blocks.Count >= MaxCached)
                {
                    s_blocks.Clear();
                    s_started.Clear();
                }

                s_blocks[key] = block;
            }
        }
        catch (Exception e) when (e is InvalidProgramException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            request.Cpu.RecordTranslationFailure(e.Message);
            block = null;
        }

        if (block is null)
        {
            // Nothing compiled: the next vCPU to find this place hot may ask again (the bytes there may differ:
            // the key is a host address, which other memory can reuse).
            s_started.TryRemove(request.Key, out _);
        }

        request.Cpu.AddTranslationTime(Stopwatch.GetTimestamp() - start);
        return block;
    }

    private static Thread Start()
    {
        var t = new Thread(Loop) { IsBackground = true, Name = "softkvm x86 translator" };
        t.Start();
        return t;
    }

    private static void Loop()
    {
        foreach (var request in s_queue.GetConsumingEnumerable())
        {
            request.Cpu.CompletedBlock(request, Compile(request));
        }
    }
}
