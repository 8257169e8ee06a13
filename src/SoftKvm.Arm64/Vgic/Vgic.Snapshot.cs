using SoftKvm.Arm64.Kvm;
using SoftKvm.Core.Errors;

namespace SoftKvm.Arm64.Vgic;

/// <summary>The VGIC as the VM's snapshot sees it (<see cref="IArm64InterruptController"/>; the format is <see cref="VgicSnapshot"/>'s).</summary>
public sealed partial class Vgic
{
    void IArm64InterruptController.PrepareSave()
    {
        try
        {
            VgicSnapshot.PrepareSave(this);
        }
        catch (VgicException e)
        {
            throw new UnsupportedException($"the GIC's tables cannot be saved into guest memory: {e.Message}");
        }
    }

    void IArm64InterruptController.SaveState(BinaryWriter writer) => VgicSnapshot.Write(writer, this);

    void IArm64InterruptController.LoadState(BinaryReader reader) => VgicSnapshot.Read(reader, this);
}
