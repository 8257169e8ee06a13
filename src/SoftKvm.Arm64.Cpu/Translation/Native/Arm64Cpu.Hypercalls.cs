using SoftKvm.Arm64.Cpu.Translation.Native;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// HVC #0 calls native code answers itself (issue 19): the hypervisor publishes the SMCCC calls whose answer never changes
/// while the vCPU keeps its configuration (<see cref="ICpuHost.TryGetFixedHypercalls"/>: PSCI_VERSION and the like, on a
/// vCPU whose PSCI conduit is HVC), and native code (X64Lowering.ExitHelpers.cs) answers a W0 among them in X0 and counts
/// the exit (<c>exits</c>, <c>hvc_exit_stat</c>) as the hypervisor's in-place completion does, with no call out of native
/// code. The table is dropped at the start of every native run (the vCPU's configuration and whether its exits are timed
/// change only between runs) and taken again after the hypercall helper completed an HVC #0 in place
/// (<see cref="NoteHypercall"/>). Native code does not run while hooks, the debugger or the PMU need the interpreter.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>HVCs native code answered (for the profile).</summary>
    internal long NativeHypercallCount => _context->Hypercalls.Count;

    /// <summary>At the start of a native run: nothing is answered natively until the hypervisor says so again.</summary>
    private void DropFixedHypercalls() => _context->Hypercalls.Enabled = 0;

    /// <summary>After the hypercall helper completed an HVC #0 in place: takes the calls native code may answer, once per run.</summary>
    private void NoteHypercall()
    {
        ref NativeHypercalls h = ref _context->Hypercalls;
        if (h.Enabled != 0 || !_host.TryGetFixedHypercalls(out FixedHypercalls calls))
        {
            return;
        }

        h.Exits = calls.Exits;
        h.HvcExitStat = calls.HvcExitStat;
        for (int i = 0; i < FixedHypercalls.Capacity; i++)
        {
            (h.Calls[i].Function, h.Calls[i].Answer) = calls[i];
        }

        h.Enabled = 1;
    }
}
