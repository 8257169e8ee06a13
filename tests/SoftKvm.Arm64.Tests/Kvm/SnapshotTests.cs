using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using SoftKvm.Core.Snapshots;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// <c>Vm.SaveState</c>/<c>Vm.LoadState</c> on an arm64 VM (docs/snapshots.md): a pending MMIO completion is
/// completed by the save, exactly once, and the restored VM goes on from the next instruction with the same
/// registers, system registers and memory.
/// </summary>
public sealed class SnapshotTests
{
    // P: ldr w1,[x0]; P+4: add x2,x2,#1; P+8: str x2,[x3] (exit marker)
    private static readonly uint[] LoadProgram = [0xb9400001u, 0x91000442u, 0xf9000062u];

    private static readonly SysRegKey TpidrEl0 = SysRegKey.Of(3, 3, 13, 0, 2);

    [Fact]
    public void SaveCompletesThePendingMmioReadOnceAndTheRestoredVmRunsTheNextInstruction()
    {
        using var m = new TestMachine();
        var v = m.Start(LoadProgram);
        SetX(v, 0, MmioBase);
        SetX(v, 2, 100);
        SetX(v, 3, MarkerBase);
        v.SetVectorRegister(5, new UInt128(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210));
        v.SetSystemRegister(TpidrEl0, 0x5eed);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        v.RunState.Mmio.SetValue(0x11223344);

        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        m.Vm.SaveState(writer);
        writer.Finish();
        Assert.False(v.HasPendingCompletion);
        Assert.Equal(CodeBase + 4, Pc(v));

        using var copy = new TestMachine(vectors: false);
        var w = copy.Init(copy.Vcpu, 0);
        stream.Position = 0;
        var reader = new SnapshotReader(stream, "vm.snap");
        copy.Vm.LoadState(reader);
        reader.ReadEnd();

        Assert.Equal(CodeBase + 4, Pc(w));
        Assert.Equal(0x11223344UL, X(w, 1));
        Assert.Equal(new UInt128(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210), w.GetVectorRegister(5));
        Assert.Equal(0x5eedUL, w.GetSystemRegister(TpidrEl0));
        Assert.Equal(VectorBase, w.GetSystemRegister(SysRegKey.Of(3, 0, 12, 0, 0)));

        // The load is not run again: the next exit is the marker store of x2 + 1.
        Assert.Equal(RunResult.Ok, w.Run());
        Assert.Equal(ExitReason.Mmio, w.RunState.ExitReason);
        Assert.Equal(MarkerBase, w.RunState.Mmio.PhysAddr);
        Assert.Equal(101UL, w.RunState.Mmio.Value);
        Assert.Equal(CodeBase + 8, Pc(w));
    }

    [Fact]
    public void AVmWithAnotherVcpuCountIsRefused()
    {
        using var m = new TestMachine();
        m.Start(LoadProgram);
        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        m.Vm.SaveState(writer);
        writer.Finish();

        using var copy = new TestMachine(vcpus: 2);
        stream.Position = 0;
        var e = Assert.Throws<SnapshotFormatException>(() => copy.Vm.LoadState(new SnapshotReader(stream, "vm.snap")));
        Assert.Contains("1 vCPUs", e.Message);
    }
}
