using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class HotPathAllocationTests
{
    [Fact]
    public void SgiRoundTripsMmioAndLinesAllocateNothing()
    {
        var (vm, gic) = Gic.V3(64);
        using var _ = vm;
        for (int v = 0; v < 64; v++)
        {
            Gic.EnableV3Cpu(gic, vm, v);
        }

        Gic.Write32(vm, 0, Gic.V3Dist + 0x104, 1);
        ulong sgiFrame = gic.GetRedistributorBase(40)!.Value + 0x10000;
        var data = new byte[4];
        var typer = new byte[4];

        void Round()
        {
            gic.TryWriteSystemRegister(0, IccRegisters.Sgi1r, 2UL << 16 | 1UL << 8 | 5UL << 24); // vCPU 40
            gic.TryReadSystemRegister(40, IccRegisters.Iar1, out ulong iar);
            gic.TryWriteSystemRegister(40, IccRegisters.Eoir1, iar);
            gic.TryWriteSystemRegister(3, IccRegisters.Sgi1r, 1UL << 40 | 6UL << 24);           // broadcast
            vm.MmioBus.Read(null, sgiFrame + 0x100, data);
            vm.MmioBus.Write(null, sgiFrame + 0x280, data);
            vm.MmioBus.Read(null, Gic.V3Dist + 0x4, typer); // GICD_TYPER: read without the lock
            gic.SetSpiLevel(0, true);
            gic.SetSpiLevel(0, false);
            gic.SetPrivateLine(7, 27, true);
            gic.SetPrivateLine(7, 27, false);
        }

        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0xffffu, BitConverter.ToUInt32(data));
        Assert.NotEqual(0u, BitConverter.ToUInt32(typer)); // ITLinesNumber, IDbits
    }
}
