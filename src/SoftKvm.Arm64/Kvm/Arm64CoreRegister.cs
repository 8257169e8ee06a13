namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The core registers of <c>struct kvm_regs</c> (KVM_REG_ARM_CORE) for <see cref="Arm64Vcpu.GetRegister"/>
/// and <see cref="Arm64Vcpu.SetRegister"/>.
/// </summary>
public enum Arm64CoreRegister
{
    /// <summary>X0.</summary>
    X0 = 0,

    /// <summary>X30 (LR); X1..X29 are X0 + n.</summary>
    X30 = 30,

    /// <summary><c>regs.sp</c>: SP_EL0.</summary>
    Sp = 31,

    /// <summary>The PC.</summary>
    Pc = 32,

    /// <summary>PSTATE in SPSR format.</summary>
    Pstate = 33,

    /// <summary>SP_EL1.</summary>
    SpEl1 = 34,

    /// <summary>ELR_EL1.</summary>
    ElrEl1 = 35,

    /// <summary>SPSR_EL1.</summary>
    SpsrEl1 = 36,
}
