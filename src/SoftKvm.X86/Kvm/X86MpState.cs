namespace SoftKvm.X86.Kvm;

/// <summary>A vCPU's multiprocessor state (<c>KVM_MP_STATE_*</c>).</summary>
public enum X86MpState
{
    /// <summary><c>KVM_MP_STATE_RUNNABLE</c>: runs guest code.</summary>
    Runnable = 0,

    /// <summary><c>KVM_MP_STATE_UNINITIALIZED</c>: an application processor that has received no INIT yet (in-kernel irqchip only).</summary>
    Uninitialized = 1,

    /// <summary><c>KVM_MP_STATE_INIT_RECEIVED</c>: wait-for-SIPI after an INIT.</summary>
    InitReceived = 2,

    /// <summary><c>KVM_MP_STATE_HALTED</c>: halted by HLT, waiting for an interrupt.</summary>
    Halted = 3,
}
