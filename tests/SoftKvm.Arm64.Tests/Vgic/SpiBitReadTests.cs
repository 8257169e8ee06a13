namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// The distributor's SPI set/clear registers read the SPIs' fields directly (Vgic.TryReadSpiBits, issue 19's gicd-state
/// row): every bit as the interrupt's own state says, past the last SPI as zero.
/// </summary>
public sealed class SpiBitReadTests
{
    [Theory]
    [InlineData(SoftKvm.Arm64.Vgic.GicModel.V3, 64)]
    [InlineData(SoftKvm.Arm64.Vgic.GicModel.V2, 64)]
    [InlineData(SoftKvm.Arm64.Vgic.GicModel.V3, 32)]
    public void EnablePendingActiveBits_AreTheInterruptsOwn(SoftKvm.Arm64.Vgic.GicModel model, int spis)
    {
        var (vm, gic) = model == SoftKvm.Arm64.Vgic.GicModel.V3 ? Gic.V3(1, spis) : Gic.V2(1, spis);
        using var _ = vm;
        ulong dist = model == SoftKvm.Arm64.Vgic.GicModel.V3 ? Gic.V3Dist : Gic.V2Dist;
        Gic.Write32(vm, 0, dist + 0x104, 0xA5C3_0F11);  // ISENABLER1
        Gic.Write32(vm, 0, dist + 0x108, 0x8000_0001);  // ISENABLER2
        Gic.Write32(vm, 0, dist + 0x204, 0x0101_8002);  // ISPENDR1
        Gic.Write32(vm, 0, dist + 0x304, 0x7000_0004);  // ISACTIVER1
        gic.SetSpiLevel(5, true);                         // INTID 37 pending by its line

        foreach (ulong bank in new ulong[] { 0x100, 0x180, 0x200, 0x280, 0x300, 0x380 })
        {
            for (int n = 1; n <= 3; n++)
            {
                uint expected = 0;
                for (int k = 0; k < 32; k++)
                {
                    int intId = 32 * n + k;
                    if (intId >= gic.NrIrqs)
                    {
                        continue;
                    }

                    var info = gic.GetIrqInfo(0, intId);
                    bool bit = bank switch { 0x100 or 0x180 => info.Enabled, 0x200 or 0x280 => info.Pending, _ => info.Active };
                    expected |= (bit ? 1u : 0) << k;
                }

                ulong address = dist + bank + (ulong)(4 * n);
                Assert.Equal(expected, Gic.Read32(vm, 0, address));
            }
        }
    }
}
