namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// What the CPU model asks of the hypervisor layer while it executes, without leaving the run loop:
/// the GIC CPU-interface system registers (owned by the VGIC), and SEV (an event for every PE).
/// </summary>
public interface ICpuHost
{
    /// <summary>An MRS of an interrupt-controller register; false when no controller owns it (the MRS is UNDEFINED).</summary>
    bool TryReadControllerRegister(SysRegKey key, out ulong value);

    /// <summary>An MSR of an interrupt-controller register; false when no controller owns it.</summary>
    bool TryWriteControllerRegister(SysRegKey key, ulong value);

    /// <summary>SEV: sets the event register of every PE of the VM.</summary>
    void SendEvent();

    /// <summary>Whether the vCPU has a PMU (ID_AA64DFR0_EL1.PMUVer says PMUv3p5 then).</summary>
    bool HasPmu => false;

    /// <summary>
    /// An MRS (<paramref name="write"/> false: the value goes to <paramref name="value"/>) or MSR of a PMU
    /// register, at EL0 when <paramref name="el0"/>; false makes the instruction UNDEFINED. A write takes
    /// effect once the instruction has retired: the CPU returns <see cref="CpuExit.Reevaluate"/> after it.
    /// </summary>
    bool AccessPmuRegister(SysRegKey key, bool write, bool el0, ref ulong value) => false;
}
