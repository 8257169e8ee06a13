using SoftKvm.Arm64.Cpu.Translation.Native;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The gate a code-cache flush takes against the PEs running native code (<see cref="NativeRunGate"/>): the
/// flush waits for every PE inside to leave, and a PE that comes while it runs waits for its end.
/// </summary>
public sealed class NativeRunGateTests
{
    [Fact]
    public void Exclusive_WaitsForThePesInside()
    {
        var gate = new NativeRunGate();
        NativeRunGate.Seat a = gate.NewSeat(), b = gate.NewSeat();
        gate.Enter(a);
        gate.Enter(b);
        gate.Enter(a); // a seat counts every run inside (a run nested in a hook's)
        using var exclusive = new ManualResetEventSlim();
        var flusher = new Thread(() =>
        {
            gate.BeginExclusive();
            exclusive.Set();
            gate.EndExclusive();
        });
        flusher.Start();

        gate.Exit(a);
        gate.Exit(b);
        Assert.False(exclusive.Wait(200), "the flush ran while a PE was inside");
        gate.Exit(a);
        Assert.True(exclusive.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(flusher.Join(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Enter_WaitsWhileAFlushRuns()
    {
        var gate = new NativeRunGate();
        var seat = gate.NewSeat();
        gate.BeginExclusive();
        using var entered = new ManualResetEventSlim();
        var pe = new Thread(() =>
        {
            gate.Enter(seat);
            entered.Set();
            gate.Exit(seat);
        });
        pe.Start();

        Assert.False(entered.Wait(200), "a PE entered during the flush");
        gate.EndExclusive();
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(pe.Join(TimeSpan.FromSeconds(30)));

        // Nobody is left inside: a second flush does not wait.
        gate.BeginExclusive();
        gate.EndExclusive();
    }

    [Fact]
    public void NoPeIsEverInsideWhileAFlushHoldsTheGate()
    {
        // The PEs' side has no locked instruction: the flush's process-wide barrier must still keep them out. Each PE
        // marks itself inside (a shared count) between its Enter and Exit; the flush, holding the gate, must see none.
        var gate = new NativeRunGate();
        int inside = 0, violations = 0, flushes = 0;
        using var stop = new CancellationTokenSource();
        var pes = new Thread[2];
        for (int i = 0; i < pes.Length; i++)
        {
            var seat = gate.NewSeat();
            pes[i] = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    gate.Enter(seat);
                    Interlocked.Increment(ref inside);
                    Interlocked.Decrement(ref inside);
                    gate.Exit(seat);
                }
            })
            { IsBackground = true };
            pes[i].Start();
        }

        var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
        while (DateTime.UtcNow < until || flushes < 20)
        {
            gate.BeginExclusive();
            for (int spin = 0; spin < 100; spin++)
            {
                if (Volatile.Read(ref inside) != 0)
                {
                    violations++;
                }
            }

            gate.EndExclusive();
            flushes++;
        }

        stop.Cancel();
        foreach (var t in pes)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(0, violations);
    }

    [Fact]
    public void ASeatWhosePeIsGoneDoesNotHoldAFlush()
    {
        var gate = new NativeRunGate();
        EnterAndDrop(gate); // a PE collected while "inside" cannot be running: its seat no longer counts
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var live = gate.NewSeat(); // forgets the dead one
        var flusher = new Thread(() =>
        {
            gate.BeginExclusive();
            gate.EndExclusive();
        })
        { IsBackground = true };
        flusher.Start();
        Assert.True(flusher.Join(TimeSpan.FromSeconds(30)));
        GC.KeepAlive(live);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void EnterAndDrop(NativeRunGate gate) => gate.Enter(gate.NewSeat());
}
