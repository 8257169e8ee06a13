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
}
