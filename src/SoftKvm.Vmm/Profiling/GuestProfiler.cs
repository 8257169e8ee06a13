using System.Diagnostics;
using System.Globalization;
using SoftKvm.Core;
using SoftKvm.Core.Stats;

namespace SoftKvm.Vmm.Profiling;

/// <summary>
/// A sampling profiler of the guest (<c>softkvm run --profile</c>): a background thread reads every
/// vCPU's program counter about once a millisecond without stopping it (the racy read
/// <see cref="Vcpu.SampleProgramCounter"/>), and notes whether the vCPU was halted. The vCPU threads pay
/// nothing. <see cref="WriteReport"/> then gives where the guest spent its time (by function with a
/// symbol map), how fast the CPU model ran (instructions per second from its counters, TLB and
/// decode-cache hit rates), the exits per second by reason and, where the architecture marks its exits,
/// the average host-side cost of one exit of each reason: every marked exit is timed on its vCPU's
/// thread (<see cref="Vcpu.TimeExits"/>), so even a reason whose exits are too short for samples to find
/// gets its exact average.
/// </summary>
public sealed class GuestProfiler : IDisposable
{
    private readonly IReadOnlyList<Vcpu> _vcpus;
    private readonly TimeSpan _interval;
    private readonly Dictionary<ulong, long> _running = [];
    private readonly Dictionary<ulong, long> _halted = [];
    private readonly Stopwatch _clock = new();
    private Thread? _thread;
    private volatile bool _stop;
    private long _samples;

    /// <summary>Creates a profiler for <paramref name="vcpus"/>, sampling every <paramref name="interval"/> (default 1 ms).</summary>
    public GuestProfiler(IReadOnlyList<Vcpu> vcpus, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(vcpus);
        _vcpus = vcpus;
        _interval = interval ?? TimeSpan.FromMilliseconds(1);
    }

    /// <summary>Samples taken (one per vCPU per tick).</summary>
    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Starts sampling.</summary>
    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the profiler is already running");
        }

        foreach (var vcpu in _vcpus)
        {
            vcpu.TimeExits();
        }

        _clock.Start();
        _thread = new Thread(SampleLoop) { IsBackground = true, Name = "profiler", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Stops sampling (idempotent).</summary>
    public void Stop()
    {
        _stop = true;
        _thread?.Join();
        _clock.Stop();
    }

    /// <inheritdoc />
    public void Dispose() => Stop();

    private void SampleLoop()
    {
        while (!_stop)
        {
            lock (_running)
            {
                foreach (var vcpu in _vcpus)
                {
                    ulong pc = vcpu.SampleProgramCounter();
                    bool halted = vcpu.Stats[VcpuStat.Blocking] != 0;
                    var table = halted ? _halted : _running;
                    table[pc] = table.GetValueOrDefault(pc) + 1;
                    _samples++;
                }
            }

            Thread.Sleep(_interval);
        }
    }

    /// <summary>
    /// Writes the profile: wall time, per-vCPU CPU-model counters with rates, exits per second by
    /// reason from <paramref name="statistics"/>, and the <paramref name="top"/> hottest functions (or
    /// program counters without <paramref name="symbols"/>) while running, with the halted share.
    /// </summary>
    public void WriteReport(TextWriter output, IEnumerable<StatValue> statistics, SymbolMap? symbols, int top = 25)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(statistics);
        Stop();
        var inv = CultureInfo.InvariantCulture;
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        long running = _running.Values.Sum();
        long halted = _halted.Values.Sum();
        long all = Math.Max(1, running + halted);
        output.WriteLine(string.Create(inv, $"profile: {seconds:0.00} s wall, {_vcpus.Count} vCPU(s), {running + halted} samples ({100.0 * halted / all:0.0}% halted)"));
        // The host runtime's share: a collection pauses every vCPU thread; the JIT compiles SoftKvm and the translated blocks.
        output.WriteLine(string.Create(inv, $"  host: {GC.CollectionCount(0):N0}/{GC.CollectionCount(1):N0}/{GC.CollectionCount(2):N0} collections (gen0/1/2), {GC.GetTotalPauseDuration().TotalMilliseconds:N0} ms paused, {GC.GetTotalAllocatedBytes() / (1024.0 * 1024):N0} MiB allocated; JIT {System.Runtime.JitInfo.GetCompiledMethodCount():N0} methods, {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:N0} ms"));

        long totalInstructions = 0;
        foreach (var vcpu in _vcpus)
        {
            var counters = vcpu.CpuModelCounters();
            if (counters.Count == 0)
            {
                continue;
            }

            var c = counters.ToDictionary(p => p.Key, p => p.Value);
            long insns = c.GetValueOrDefault("instructions");
            long translated = c.GetValueOrDefault("translated_instructions");
            totalInstructions += insns;
            double busy = seconds - (vcpu.Stats[VcpuStat.HaltWaitNs] / 1e9);
            output.Write(string.Create(inv, $"  vcpu{vcpu.Id}: {insns:N0} instructions, {insns / seconds / 1e6:0.0} MIPS over the run, {insns / Math.Max(busy, 1e-9) / 1e6:0.0} MIPS while not halted"));
            output.WriteLine();
            foreach (var (name, value) in counters)
            {
                if (name == "instructions")
                {
                    continue;
                }

                // Figures that are not counts of events (a time per block, a size, a rate) get no rate.
                bool figure = name.EndsWith("_median", StringComparison.Ordinal) || name.EndsWith("_p99", StringComparison.Ordinal)
                    || name.EndsWith("_bytes", StringComparison.Ordinal) || name.EndsWith("_per_mille", StringComparison.Ordinal);
                string rate = insns > 0 && !figure ? string.Create(inv, $" ({1e6 * value / insns:0.0} per million instructions)") : string.Empty;
                // Interpreted instructions make one fetch and one decode-cache lookup each; an entry into
                // translated code makes one fetch for all the instructions it runs.
                long lookups = name switch
                {
                    "fetch_tlb_misses" => insns - translated + c.GetValueOrDefault("translated_block_runs"),
                    "decode_cache_misses" => insns - translated,
                    _ => 0,
                };
                string hit = lookups > 0
                    ? string.Create(inv, $", hit rate {100.0 * (1 - ((double)value / lookups)):0.000}%")
                    : name is "translated_instructions" or "optimized_instructions" && insns > 0
                        ? string.Create(inv, $", {100.0 * value / insns:0.0}% of all")
                        : string.Empty;
                output.WriteLine(string.Create(inv, $"    {name} {value:N0}{rate}{hit}"));
            }
        }

        if (_vcpus.Count > 1 && totalInstructions > 0)
        {
            output.WriteLine(string.Create(inv, $"  all vCPUs: {totalInstructions:N0} instructions, {totalInstructions / seconds / 1e6:0.0} MIPS"));
        }

        output.WriteLine("exits per second by reason (cost: host time handling one, timed on the vCPU threads: guest time excluded, JIT warm-up included):");
        foreach (var stat in statistics)
        {
            (string name, ulong value) = (stat.Name, stat.Value);
            TimeSpan handling = HandlingTime(name);
            if (value != 0 && (name.Contains("exit", StringComparison.Ordinal) || name == "halt_wakeup" || handling > TimeSpan.Zero))
            {
                string cost = handling > TimeSpan.Zero
                    ? string.Create(inv, $"  {handling.TotalNanoseconds / value,10:N0} ns each ({handling.TotalMilliseconds:N1} ms in all)")
                    : string.Empty;
                output.WriteLine(string.Create(inv, $"  {name,-22} {value,12:N0}  {value / seconds,12:N1}/s{cost}"));
            }
        }

        var byName = new Dictionary<string, long>();
        foreach (var (pc, count) in _running)
        {
            string name = symbols?.Lookup(pc) ?? string.Create(inv, $"0x{pc:x}");
            byName[name] = byName.GetValueOrDefault(name) + count;
        }

        output.WriteLine(symbols is null ? "hottest guest PCs (while not halted):" : "hottest guest functions (while not halted):");
        foreach (var (name, count) in byName.OrderByDescending(p => p.Value).Take(top))
        {
            output.WriteLine(string.Create(inv, $"  {100.0 * count / Math.Max(1, running),5:0.0}%  {name}"));
        }
    }

    /// <summary>The time every vCPU spent handling exits counted by the statistic named <paramref name="name"/>.</summary>
    private TimeSpan HandlingTime(string name)
    {
        var total = TimeSpan.Zero;
        foreach (var vcpu in _vcpus)
        {
            total += vcpu.ExitHandlingTime(vcpu.Stats.Schema.IndexOf(name)); // -1 (no such statistic) gives zero
        }

        return total;
    }
}
