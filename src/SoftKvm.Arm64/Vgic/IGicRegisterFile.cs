namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The state behind one GIC frame, as <see cref="GicMmio"/> sees it: whole registers by id, and the
/// interrupt behind an INTID for the per-IRQ arrays. Called with the VGIC lock held.
/// </summary>
internal interface IGicRegisterFile
{
    /// <summary>The VGIC that owns the state.</summary>
    Vgic Vgic { get; }

    /// <summary>Reads a whole (non per-IRQ) register; <paramref name="vcpu"/> is the accessing vCPU index.</summary>
    ulong ReadRegister(GicReg id, int vcpu);

    /// <summary>Writes a whole (non per-IRQ) register; narrower accesses were merged with its old value.</summary>
    void WriteRegister(GicReg id, ulong value, int vcpu);

    /// <summary>The interrupt behind <paramref name="intId"/> for this frame and accessor, or null (RAZ/WI).</summary>
    VgicIrq? ResolveIrq(int intId, int vcpu);
}
