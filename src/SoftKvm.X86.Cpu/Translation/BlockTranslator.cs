using System.Collections.Concurrent;
using System.Diagnostics;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>Where a block is entered: the host address of its first byte, its RIP and the code size.</summary>
internal readonly record struct BlockKey(nint Host, ulong Rip, int Bitness);

/// <summary>A block to compile: the entry's place, a copy of its page and the block's shape there, taken by the vCPU that
/// found it hot.</summary>
internal sealed record BlockRequest(X86Cpu Cpu, BlockKey Key, byte[] Page, int Entry, BlockShape Shape);

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

    /// <summary>SOFTKVM_X86_BLOCK_LOG=1: one line on stderr per IL block compiled (its entry, instructions, the time to
    /// emit and JIT it), to see which places of a loop compile (docs/performance.md, "Engine switches").</summary>
    private static readonly bool s_log = Environment.GetEnvironmentVariable("SOFTKVM_X86_BLOCK_LOG") == "1";

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
            block = BlockCompiler.Compile(request.Shape, request.Page, key.Host - request.Entry, key.Rip - (ulong)request.Entry, key.Bitness);
            block.Code(null!, 0, 0); // the dry call: the JIT compiles the method here, not on the vCPU thread
            if (s_blocks.Count >= MaxCached)
            {
                s_blocks.Clear();
                s_started.Clear();
            }

            foreach (ulong rip in block.Entries)
            {
                // Every place the block may be entered at finds it (another vCPU's look-up there takes it from here).
                s_blocks[key with { Host = key.Host + (nint)(rip - key.Rip), Rip = rip }] = block;
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

        long ticks = Stopwatch.GetTimestamp() - start;
        request.Cpu.AddTranslationTime(ticks);
        if (s_log)
        {
            Console.Error.WriteLine($"x86 block {request.Key.Rip:x} ({request.Key.Bitness}-bit): {block?.InstructionCount ?? 0} instructions, {Stopwatch.GetElapsedTime(0, ticks).TotalMilliseconds:F1} ms");
        }

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
