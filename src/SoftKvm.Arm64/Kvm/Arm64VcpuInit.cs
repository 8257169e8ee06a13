namespace SoftKvm.Arm64.Kvm;

/// <summary>Which instruction the guest uses to call PSCI (the device tree's <c>psci { method = ... }</c>).</summary>
public enum PsciConduit
{
    /// <summary>HVC #0 (KVM's default).</summary>
    Hvc,

    /// <summary>SMC #0.</summary>
    Smc,
}

/// <summary>The options of <see cref="Arm64Vcpu.Init"/>, like <c>struct kvm_vcpu_init</c>'s features.</summary>
public sealed record Arm64VcpuInit
{
    /// <summary>KVM_ARM_VCPU_POWER_OFF: the vCPU starts powered off and waits for PSCI CPU_ON (secondaries).</summary>
    public bool PowerOff { get; init; }

    /// <summary>
    /// KVM_ARM_VCPU_PMU_V3: the vCPU has a PMUv3 (ID_AA64DFR0_EL1.PMUVer, the PMU registers, the overflow
    /// interrupt on PPI 23); without it the PMU registers are UNDEFINED, as in KVM.
    /// </summary>
    public bool Pmu { get; init; }

    /// <summary>
    /// SoftKvm's own feature (KVM has none): Arm semihosting. HLT #0xF000 at EL1 exits to the VMM as
    /// <c>KVM_EXIT_HYPERCALL</c> with <see cref="Core.Run.HypercallFlags.ArmSemihosting"/>, the operation (W0) in
    /// <c>Nr</c>, X1 in <c>Arg0</c> and PC already past the HLT; the VMM does the operation and writes X0.
    /// Without it HLT is UNDEFINED, as on hardware without a halting debugger.
    /// </summary>
    public bool Semihosting { get; init; }

    /// <summary>The PSCI conduit; the other instruction is UNDEFINED in the guest.</summary>
    public PsciConduit PsciConduit { get; init; } = PsciConduit.Hvc;
}
