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
        int a = NativeRunGate.NewStripe(), b = NativeRunGate.NewStripe();
        gate.Enter(a);
        gate.Enter(b);
        gate.Enter(a); // a stripe counts every PE inside (two PEs may share one)
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
        int stripe = NativeRunGate.NewStripe();
        gate.BeginExclusive();
        using var entered = new ManualResetEventSlim();
        var pe = new Thread(() =>
        {
            gate.Enter(stripe);
            entered.Set();
            gate.Exit(stripe);
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
}
