using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// A debugger attached to a <see cref="VmRunner"/> (the gdb stub, <c>SoftKvm.Vmm.Gdb</c>): it holds vCPU threads
/// between runs (all-stop), programs guest debugging through the vCPUs' KVM-shaped API while they are held, and
/// receives their <c>Debug</c> exits. Called on the vCPU threads.
/// </summary>
public interface IVcpuDebugger
{
    /// <summary>Before every <see cref="Vcpu.Run"/> of <paramref name="vcpu"/>, on its thread: blocks while the debugger holds it.</summary>
    void BeforeRun(Vcpu vcpu);

    /// <summary>A <c>Debug</c> exit of <paramref name="vcpu"/>; the vCPU goes on (through <see cref="BeforeRun"/>).</summary>
    void OnDebugExit(Vcpu vcpu, in DebugExit exit);

    /// <summary>The run ended (any thread): held vCPUs are released and the debugger is told.</summary>
    void RunEnded(RunOutcome outcome);
}
