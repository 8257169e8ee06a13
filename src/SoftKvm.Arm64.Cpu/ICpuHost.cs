namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// What the CPU model asks of the hypervisor layer while it executes, without leaving the run loop:
/// the GIC CPU-interface system registers (owned by the VGIC), SEV (an event for every PE), and the fast
/// paths of traps, which a hypervisor may complete where they happen instead of having the PE stop
/// (KVM's exit fast paths: the exits handled next to the world switch, without a return to the run
/// loop). A translated engine honours the fast paths by raising its traps through the interpreter's
/// handlers (<c>TrapToHypervisor</c>) and its device accesses through the memory slow path
/// (<c>ReadSlow</c>, <c>WriteSlow</c>), which is where they are offered.
/// </summary>
public interface ICpuHost
{
    /// <summary>
    /// An MRS of an interrupt-controller register; false when no controller owns it (the MRS is UNDEFINED).
    /// When the access changes this PE's interrupt outputs (an acknowledge), the hypervisor sets
    /// <see cref="Arm64Cpu.IrqLine"/> and <see cref="Arm64Cpu.FiqLine"/> before it returns, as a CPU
    /// interface next to the PE would: the PE does not stop for it.
    /// </summary>
    bool TryReadControllerRegister(SysRegKey key, out ulong value);

    /// <summary>An MSR of an interrupt-controller register; false when no controller owns it. Lines as for <see cref="TryReadControllerRegister"/>.</summary>
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

    /// <summary>
    /// The fast path of trap <paramref name="exit"/> (HVC, SMC, WFI or WFE; <see cref="Arm64Cpu.Trap"/> holds
    /// its syndrome and PC is at the instruction): true when the hypervisor has completed it — retired
    /// the instruction (<see cref="Arm64Cpu.RetireTrappedInstruction"/>) or redirected the PE — and counted
    /// it as the exit it is; the PE goes on at the new PC. False when it has done nothing: the PE stops
    /// and <see cref="Arm64Cpu.Run"/> returns the trap.
    /// </summary>
    bool TryCompleteTrap(CpuExit exit);

    /// <summary>
    /// The fast path of a stage-2 data abort with a valid syndrome: a single access of IPA
    /// <paramref name="ipa"/>, described by <paramref name="iss"/> as ESR_EL2's ISS describes it (ISV,
    /// SAS, SSE, SRT, SF, AR, WnR), with a write's data in <paramref name="value"/>. True when the
    /// hypervisor has performed it (an in-kernel device) and counted it as the exit it is: a read's bytes,
    /// little-endian and zero-extended, are in <paramref name="value"/>, and the instruction completes as
    /// the hypervisor's write-back and skip would have completed it. False when it has done nothing: the
    /// PE stops with the stage-2 abort.
    /// </summary>
    bool TryCompleteMmio(ulong ipa, uint iss, ref ulong value);

    /// <summary>
    /// For native code completing device reads itself (issue 19): the fixed-value table of the device page at IPA
    /// <paramref name="ipaPage"/> on the in-kernel MMIO bus, with the statistics such a read counts; false when the page has
    /// none, or when an exit completed there could not be seen as the hypervisor's own (exits timed for a profile).
    /// </summary>
    unsafe bool TryGetFixedReads(ulong ipaPage, out DeviceFixedReads reads)
    {
        reads = default;
        return false;
    }

    /// <summary>
    /// Native code completed an in-kernel read (see <see cref="TryGetFixedReads"/>) whose value <paramref name="value"/> is
    /// the run state's MMIO data now, as <see cref="TryCompleteMmio"/> would have left it.
    /// </summary>
    void CompletedNativeMmioRead(ulong value)
    {
    }
}
