namespace SoftKvm.Core.Run;

/// <summary>
/// The shared run area of a vCPU (KVM's <c>struct kvm_run</c>), docs/kvm-semantics.md#run-contract. The
/// VMM reads the exit here after <see cref="Vcpu.Run"/> returns, writes the data of a read exit back here,
/// and sets <see cref="ImmediateExit"/>. Held by the vCPU and reached by <c>ref</c>; no allocation per exit.
/// Only the member of the exit named by <see cref="ExitReason"/> is meaningful.
/// </summary>
public struct RunState
{
    /// <summary>In (x86): ask for an exit when the guest can take an interrupt.</summary>
    public bool RequestInterruptWindow;

    /// <summary>
    /// In: polled once at the start of <see cref="Vcpu.Run"/>. When set, Run completes pending IO and
    /// returns <see cref="RunResult.Interrupted"/> without running guest code and without changing
    /// <see cref="ExitReason"/>.
    /// </summary>
    public bool ImmediateExit;

    /// <summary>Out: why Run returned.</summary>
    public ExitReason ExitReason;

    /// <summary>Out (x86): the guest can take an interrupt now.</summary>
    public bool ReadyForInterruptInjection;

    /// <summary>Out (x86): RFLAGS.IF.</summary>
    public bool IfFlag;

    /// <summary>Out: flags (x86 <c>KVM_RUN_X86_SMM</c>).</summary>
    public ushort Flags;

    /// <summary>In/out (x86): CR8.</summary>
    public ulong Cr8;

    /// <summary>In/out (x86): the APIC base MSR.</summary>
    public ulong ApicBase;

    /// <summary>The MMIO exit.</summary>
    public MmioExit Mmio;

    /// <summary>The port IO exit (x86).</summary>
    public IoExit Io;

    /// <summary>The debug exit.</summary>
    public DebugExit Debug;

    /// <summary>The hypercall exit (arm64: an Arm semihosting call).</summary>
    public HypercallExit Hypercall;

    /// <summary>The system event exit.</summary>
    public SystemEventExit SystemEvent;

    /// <summary>The internal error exit.</summary>
    public InternalErrorExit Internal;

    /// <summary>The arm64 data abort without valid syndrome.</summary>
    public ArmNisvExit ArmNisv;

    /// <summary>The failed entry.</summary>
    public FailEntryExit FailEntry;

    /// <summary>The x86 PIO data page, <c>Io.Count * Io.Size</c> bytes of it in use.</summary>
    public PioDataPage PioData;
}
