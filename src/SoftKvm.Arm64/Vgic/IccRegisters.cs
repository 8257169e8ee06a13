using SoftKvm.Arm64.Cpu;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The GICv3 CPU interface system registers (IHI 0069 §12.2; docs/kvm-semantics.md#gicv3-sgi-generation), all
/// op0 = 3, op1 = 0. The CPU model hands MRS/MSR of these to <see cref="Vgic.TryReadSystemRegister"/> /
/// <see cref="Vgic.TryWriteSystemRegister"/>.
/// </summary>
public static class IccRegisters
{
    /// <summary>ICC_PMR_EL1 (3,0,C4,C6,0).</summary>
    public static readonly SysRegKey Pmr = SysRegKey.Of(3, 0, 4, 6, 0);

    /// <summary>ICC_IAR0_EL1 (3,0,C12,C8,0).</summary>
    public static readonly SysRegKey Iar0 = SysRegKey.Of(3, 0, 12, 8, 0);

    /// <summary>ICC_EOIR0_EL1 (3,0,C12,C8,1).</summary>
    public static readonly SysRegKey Eoir0 = SysRegKey.Of(3, 0, 12, 8, 1);

    /// <summary>ICC_HPPIR0_EL1 (3,0,C12,C8,2).</summary>
    public static readonly SysRegKey Hppir0 = SysRegKey.Of(3, 0, 12, 8, 2);

    /// <summary>ICC_BPR0_EL1 (3,0,C12,C8,3).</summary>
    public static readonly SysRegKey Bpr0 = SysRegKey.Of(3, 0, 12, 8, 3);

    /// <summary>ICC_AP0R0_EL1 (3,0,C12,C8,4); AP0R1..3 follow at op2 5..7 (UNDEFINED with 5 priority bits).</summary>
    public static readonly SysRegKey Ap0r0 = SysRegKey.Of(3, 0, 12, 8, 4);

    /// <summary>ICC_AP1R0_EL1 (3,0,C12,C9,0); AP1R1..3 follow at op2 1..3 (UNDEFINED with 5 priority bits).</summary>
    public static readonly SysRegKey Ap1r0 = SysRegKey.Of(3, 0, 12, 9, 0);

    /// <summary>ICC_DIR_EL1 (3,0,C12,C11,1).</summary>
    public static readonly SysRegKey Dir = SysRegKey.Of(3, 0, 12, 11, 1);

    /// <summary>ICC_RPR_EL1 (3,0,C12,C11,3).</summary>
    public static readonly SysRegKey Rpr = SysRegKey.Of(3, 0, 12, 11, 3);

    /// <summary>ICC_SGI1R_EL1 (3,0,C12,C11,5).</summary>
    public static readonly SysRegKey Sgi1r = SysRegKey.Of(3, 0, 12, 11, 5);

    /// <summary>ICC_ASGI1R_EL1 (3,0,C12,C11,6).</summary>
    public static readonly SysRegKey Asgi1r = SysRegKey.Of(3, 0, 12, 11, 6);

    /// <summary>ICC_SGI0R_EL1 (3,0,C12,C11,7).</summary>
    public static readonly SysRegKey Sgi0r = SysRegKey.Of(3, 0, 12, 11, 7);

    /// <summary>ICC_IAR1_EL1 (3,0,C12,C12,0).</summary>
    public static readonly SysRegKey Iar1 = SysRegKey.Of(3, 0, 12, 12, 0);

    /// <summary>ICC_EOIR1_EL1 (3,0,C12,C12,1).</summary>
    public static readonly SysRegKey Eoir1 = SysRegKey.Of(3, 0, 12, 12, 1);

    /// <summary>ICC_HPPIR1_EL1 (3,0,C12,C12,2).</summary>
    public static readonly SysRegKey Hppir1 = SysRegKey.Of(3, 0, 12, 12, 2);

    /// <summary>ICC_BPR1_EL1 (3,0,C12,C12,3).</summary>
    public static readonly SysRegKey Bpr1 = SysRegKey.Of(3, 0, 12, 12, 3);

    /// <summary>ICC_CTLR_EL1 (3,0,C12,C12,4).</summary>
    public static readonly SysRegKey Ctlr = SysRegKey.Of(3, 0, 12, 12, 4);

    /// <summary>ICC_SRE_EL1 (3,0,C12,C12,5).</summary>
    public static readonly SysRegKey Sre = SysRegKey.Of(3, 0, 12, 12, 5);

    /// <summary>ICC_IGRPEN0_EL1 (3,0,C12,C12,6).</summary>
    public static readonly SysRegKey Igrpen0 = SysRegKey.Of(3, 0, 12, 12, 6);

    /// <summary>ICC_IGRPEN1_EL1 (3,0,C12,C12,7).</summary>
    public static readonly SysRegKey Igrpen1 = SysRegKey.Of(3, 0, 12, 12, 7);
}
