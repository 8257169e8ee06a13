using System.Collections.Concurrent;
using System.Diagnostics;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>A block to compile: the entry's place and a copy of its page, taken by the vCPU that found it hot.</summary>
internal sealed record X86BlockRequest(X86Cpu Cpu, ulong Rip, nint Host, int Bitness, byte[] Page, int Entry);

/// <summary>
/// Compiles x86 blocks off the vCPU threads: a vCPU that finds a hot entry queues it and goes on
/// interpreting; one background thread per process emits the block's host method, has the .NET JIT
/// compile it (by a dry call, which returns at once) and hands it back to the vCPU, which installs it at
/// its next look-up. A block the runtime refuses to compile is counted and the entry stays interpreted.
/// </summary>
internal static class X86BlockTranslator
{
    private static readonly BlockingCollection<X86BlockRequest> s_queue = new(new ConcurrentQueue<X86BlockRequest>());
    private static readonly Lazy<Thread> s_thread = new(Start);

    /// <summary>Queues <paramref name="request"/> for the translator thread.</summary>
    public static void Enqueue(X86BlockRequest request)
    {
        _ = s_thread.Value;
        s_queue.Add(request);
    }

    /// <summary>Compiles on the calling thread (tests and the synchronous mode) and returns the result.</summary>
    public static X86CompiledBlock? Compile(X86BlockRequest request)
    {
        long start = Stopwatch.GetTimestamp();
        X86CompiledBlock? block;
        try
        {
            block = X86BlockCompiler.Compile(request.Page, request.Host - request.Entry, request.Entry, request.Rip - (ulong)request.Entry, request.Bitness);
            block?.Code(null!, 0); // the dry call: the JIT compiles the method here, not on the vCPU thread
        }
        catch (Exception e) when (e is InvalidProgramException or InvalidOperationException or NotSupportedException)
        {
            request.Cpu.RecordTranslationFailure(e.Message);
            block = null;
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
