using SoftKvm.Arm64.Vgic;
using SoftKvm.Core.Io;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class DeliveryTests
{
    private const ulong D3 = Gic.V3Dist;

    private static (TestVm Vm, VgicDevice Gic) OpenV3(int vcpus)
    {
        var (vm, gic) = Gic.V3(vcpus);
        for (int v = 0; v < vcpus; v++)
        {
            Gic.EnableV3Cpu(gic, vm, v);
        }

        return (vm, gic);
    }

    private static void EnableSpi(TestVm vm, int intId, byte priority)
    {
        Gic.Write32(vm, 0, D3 + 0x100 + (ulong)(intId / 32 * 4), 1u << (intId % 32));
        Gic.Write8(vm, 0, D3 + 0x400 + (ulong)intId, priority);
    }

    private static void RouteSpi(TestVm vm, int intId, ulong irouter) => Gic.Write64(vm, 0, D3 + 0x6000 + 8 * (ulong)intId, irouter);

    [Fact]
    public void HighestPriorityFirstThenLowestIntId()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        EnableSpi(vm, 40, 0x80);
        EnableSpi(vm, 41, 0x40);
        EnableSpi(vm, 42, 0x40);
        EnableSpi(vm, 43, 0xc0);
        Gic.Write32(vm, 0, D3 + 0x204, 0xf << 8);                         // pend 40..43
        Assert.Equal(41UL, Gic.SysRead(gic, 0, IccRegisters.Hppir1));
        Assert.Equal(41UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0x40UL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Assert.Equal(1023UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));      // 42 has the same group priority: no preemption
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 41);
        Assert.Equal(42UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 42);
        Assert.Equal(40UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 40);
        Assert.Equal(43UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 43);
        Assert.Equal(1023UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0xffUL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
    }

    [Fact]
    public void EverySpiOfALargeGicIsDelivered()
    {
        var (vm, gic) = Gic.V3(2, spis: VgicDevice.MaxSpiCount);
        using var _ = vm;
        Gic.EnableV3Cpu(gic, vm, 1);
        for (int intId = 32; intId < 1020; intId++)
        {
            EnableSpi(vm, intId, (byte)(0xf0 - (intId % 30) * 8)); // all below PMR (0xF8)
            RouteSpi(vm, intId, 1);
        }

        for (int spi = 0; spi < VgicDevice.MaxSpiCount; spi++)
        {
            gic.InjectSpiEdge(spi);
        }

        var seen = new List<int>();
        int last = -1;
        for (ulong id; (id = Gic.SysRead(gic, 1, IccRegisters.Iar1)) != 1023;)
        {
            int priority = gic.GetIrqInfo(1, (int)id).Priority;
            Assert.True(priority >= last);
            last = priority;
            seen.Add((int)id);
            Gic.SysWrite(gic, 1, IccRegisters.Eoir1, id);
        }

        Assert.Equal(Enumerable.Range(32, VgicDevice.MaxSpiCount), seen.Order());
        Assert.False(gic.HasPendingIrq(1));
    }

    [Fact]
    public void PriorityMaskHoldsBackLowerPriorities()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        EnableSpi(vm, 50, 0x80);
        Gic.SysWrite(gic, 0, IccRegisters.Pmr, 0x80);
        Assert.Equal(0x80UL, Gic.SysRead(gic, 0, IccRegisters.Pmr));
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 18);
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(50UL, Gic.SysRead(gic, 0, IccRegisters.Hppir1));      // HPPIR ignores the mask
        Assert.Equal(1023UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Pmr, 0x88);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(50UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
    }

    [Fact]
    public void PreemptionComparesGroupPrioritiesSplitByTheBinaryPoint()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        EnableSpi(vm, 32, 0x70);
        EnableSpi(vm, 33, 0x48);

        Gic.SysWrite(gic, 0, IccRegisters.Bpr1, 6);                       // group priority = bits [7:6]
        Assert.Equal(6UL, Gic.SysRead(gic, 0, IccRegisters.Bpr1));
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 0);
        Assert.Equal(32UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0x40UL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 1);
        Assert.False(gic.HasPendingIrq(0));                               // 0x48 and 0x70 are both group priority 0x40
        Assert.Equal(1023UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 32);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(33UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 33);

        Gic.SysWrite(gic, 0, IccRegisters.Bpr1, 0);                       // clamps to the minimum, 3: bits [7:3]
        Assert.Equal(3UL, Gic.SysRead(gic, 0, IccRegisters.Bpr1));
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 0);
        Assert.Equal(32UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(0x70UL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 1);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(33UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));       // nested
        Assert.Equal(0x48UL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Assert.Equal((1UL << (0x48 >> 3)) | (1UL << (0x70 >> 3)), Gic.SysRead(gic, 0, IccRegisters.Ap1r0));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 33);
        Assert.Equal(0x70UL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 32);
        Assert.Equal(0xffUL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Assert.Equal(0UL, Gic.SysRead(gic, 0, IccRegisters.Ap1r0));
    }

    [Fact]
    public void LevelInterruptBecomesActiveAndPendingWhileItsLineIsHigh()
    {
        var (vm, gic) = OpenV3(2);
        using var _ = vm;
        ulong sgiFrame = gic.GetRedistributorBase(1)!.Value + 0x10000;
        Gic.Write32(vm, 0, sgiFrame + 0x100, 1u << 30);
        gic.SetPrivateLine(1, 30, true);                                  // the physical timer
        Assert.True(gic.HasPendingIrq(1));
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(30UL, Gic.SysRead(gic, 1, IccRegisters.Iar1));
        var info = gic.GetIrqInfo(1, 30);
        Assert.True(info.Active && info.Pending);
        Assert.False(gic.HasPendingIrq(1));
        Gic.SysWrite(gic, 1, IccRegisters.Eoir1, 30);
        Assert.True(gic.HasPendingIrq(1));                                // still high: taken again
        Assert.Equal(30UL, Gic.SysRead(gic, 1, IccRegisters.Iar1));
        gic.SetPrivateLine(1, 30, false);
        Gic.SysWrite(gic, 1, IccRegisters.Eoir1, 30);
        Assert.False(gic.HasPendingIrq(1));
        Assert.False(gic.GetIrqInfo(1, 30).Pending);
    }

    [Fact]
    public void EdgeInterruptLatchesAndCanBePendingWhileActive()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        EnableSpi(vm, 35, 0);
        Gic.Write32(vm, 0, D3 + 0xc08, 2u << 6);                          // INTID 35 edge
        var line = gic.GetSpiLine(3);
        Assert.Same(line, gic.GetSpiLine(3));
        line.Pulse();
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(35UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.False(gic.GetIrqInfo(0, 35).Pending);
        line.Set(true);
        line.Set(true);                                                   // no new edge
        Assert.True(gic.GetIrqInfo(0, 35).Pending && gic.GetIrqInfo(0, 35).Active);
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 35);
        Assert.Equal(35UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 35);
        Assert.False(gic.HasPendingIrq(0));
    }

    [Fact]
    public void SplitEoiDropsPriorityAndDirDeactivates()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        Gic.SysWrite(gic, 0, IccRegisters.Ctlr, 0x2);                     // EOImode
        Assert.Equal(0x2UL | (4UL << 8), Gic.SysRead(gic, 0, IccRegisters.Ctlr));
        EnableSpi(vm, 60, 0x20);
        Gic.Write32(vm, 0, D3 + 0x204, 1u << 28);
        Assert.Equal(60UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 60);
        Assert.Equal(0xffUL, Gic.SysRead(gic, 0, IccRegisters.Rpr));
        Assert.True(gic.GetIrqInfo(0, 60).Active);
        Gic.SysWrite(gic, 0, IccRegisters.Dir, 60);
        Assert.False(gic.GetIrqInfo(0, 60).Active);
    }

    [Fact]
    public void Group0IsFiqOnGicV3()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        Gic.Write32(vm, 0, D3, 0x3);
        Gic.SysWrite(gic, 0, IccRegisters.Igrpen0, 1);
        EnableSpi(vm, 32, 0x10);
        Gic.Write32(vm, 0, D3 + 0x84, 0);                                 // INTID 32: Group 0
        Gic.Write32(vm, 0, D3 + 0x204, 1);
        Assert.True(gic.HasPendingFiq(0));
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(1023UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Assert.Equal(32UL, Gic.SysRead(gic, 0, IccRegisters.Hppir0));
        Assert.Equal(32UL, Gic.SysRead(gic, 0, IccRegisters.Iar0));
        Assert.Equal(1UL << 2, Gic.SysRead(gic, 0, IccRegisters.Ap0r0));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir0, 32);
        Assert.False(gic.GetIrqInfo(0, 32).Active);
    }

    [Fact]
    public void DisabledGroupsAndInterruptsAreNotSignalled()
    {
        var (vm, gic) = Gic.V3(1);
        using var _ = vm;
        EnableSpi(vm, 32, 0);
        Gic.Write32(vm, 0, D3 + 0x204, 1);
        Gic.SysWrite(gic, 0, IccRegisters.Pmr, 0xff);
        Assert.False(gic.HasPendingIrq(0));                               // distributor and CPU interface off
        Gic.Write32(vm, 0, D3, 0x2);
        Assert.False(gic.HasPendingIrq(0));
        Gic.SysWrite(gic, 0, IccRegisters.Igrpen1, 1);
        Assert.True(gic.HasPendingIrq(0));
        Gic.Write32(vm, 0, D3 + 0x184, 1);
        Assert.False(gic.HasPendingIrq(0));
    }

    [Fact]
    public void SpiRoutingByIrouterIgnoresTheRoutingModeBit()
    {
        var (vm, gic) = OpenV3(4);
        using var _ = vm;
        EnableSpi(vm, 32, 0);
        RouteSpi(vm, 32, 3);
        gic.SetSpiLevel(0, true);
        Assert.Equal([false, false, false, true], Enumerable.Range(0, 4).Select(gic.HasPendingIrq));
        gic.SetSpiLevel(0, false);

        // KVM has no 1-of-N routing: Interrupt_Routing_Mode is RAZ/WI, so IROUTER = 1 << 31 | 0 routes
        // to the vCPU with affinity 0.0.0 alone, whichever vCPUs have the group enabled.
        RouteSpi(vm, 32, 1UL << 31 | 2);
        gic.InjectSpiEdge(0);
        Assert.Equal([false, false, true, false], Enumerable.Range(0, 4).Select(gic.HasPendingIrq));
        Assert.Equal(1023UL, Gic.SysRead(gic, 1, IccRegisters.Iar1));     // not a candidate
        Assert.Equal(32UL, Gic.SysRead(gic, 2, IccRegisters.Iar1));
        Gic.SysWrite(gic, 2, IccRegisters.Eoir1, 32);
        Assert.False(gic.GetIrqInfo(0, 32).Active);
    }

    [Fact]
    public void VcpusAreToldWhenTheirOutputChanges()
    {
        var (vm, gic) = OpenV3(2);
        using var _ = vm;
        vm.Cpu(0).TakeEvent();
        vm.Cpu(1).TakeEvent();
        EnableSpi(vm, 32, 0);
        Assert.False(vm.Cpu(0).TakeEvent());                               // nothing pending yet
        gic.SetSpiLevel(0, true);
        Assert.True(vm.Cpu(0).TakeEvent());
        Assert.False(vm.Cpu(1).TakeEvent());
        gic.SetSpiLevel(0, true);
        Assert.False(vm.Cpu(0).TakeEvent());                               // no change, no request
        gic.SetSpiLevel(0, false);
        Assert.True(vm.Cpu(0).TakeEvent());
        Assert.False(gic.HasPendingIrq(0));
    }

    [Fact]
    public void IrqFdInjectsAnEdgeUntilUnbound()
    {
        var (vm, gic) = OpenV3(1);
        using var _ = vm;
        EnableSpi(vm, 40, 0);
        using var fd = new EventFd();
        var binding = gic.AttachIrqFd(fd, 8);
        fd.Signal();
        Assert.Equal(0UL, fd.Count);                                      // consumed
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(40UL, Gic.SysRead(gic, 0, IccRegisters.Iar1));
        Gic.SysWrite(gic, 0, IccRegisters.Eoir1, 40);
        binding.Dispose();
        fd.Signal();
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(1UL, fd.Count);
        using var again = gic.AttachIrqFd(fd, 8);                         // a count already there is injected
        Assert.True(gic.HasPendingIrq(0));
    }

    [Fact]
    public void LinesRaisedAfterTheVmIsDisposedDoNotThrow()
    {
        var (vm, gic) = OpenV3(2);
        EnableSpi(vm, 32, 0);
        vm.Dispose();
        gic.SetSpiLevel(0, true);
        Assert.True(gic.HasPendingIrq(0));
    }

    [Fact]
    public void LineApisCheckTheirArguments()
    {
        var (vm, gic) = Gic.V3(2, spis: 64);
        using var _ = vm;
        Assert.Throws<ArgumentOutOfRangeException>(() => gic.SetPrivateLine(0, 3, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => gic.SetPrivateLine(0, 32, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => gic.SetPrivateLine(2, 27, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => gic.GetSpiLine(64));
        Assert.Throws<ArgumentOutOfRangeException>(() => gic.InjectSpiEdge(-1));
        gic.SetPrivateLine(1, 27, true);
        Assert.True(gic.GetIrqInfo(1, 27).LineLevel);
    }

    [Fact]
    public void SystemRegistersOnlyClaimTheIccRegistersTheyImplement()
    {
        var (vm, gic) = Gic.V3(1);
        using var a = vm;
        Assert.Equal(0x7UL, Gic.SysRead(gic, 0, IccRegisters.Sre));
        Assert.False(gic.TryReadSystemRegister(0, IccRegisters.Eoir1, out _));     // write-only
        Assert.False(gic.TryWriteSystemRegister(0, IccRegisters.Iar1, 0));         // read-only
        Assert.False(gic.TryReadSystemRegister(0, SoftKvm.Arm64.Cpu.SysRegKey.Of(3, 0, 12, 9, 1), out _)); // AP1R1
        Assert.False(gic.TryReadSystemRegister(0, SoftKvm.Arm64.Cpu.SysRegKey.Of(3, 0, 1, 0, 0), out _));  // SCTLR_EL1
        Assert.False(gic.TryReadSystemRegister(5, IccRegisters.Pmr, out _));

        var (vm2, v2) = Gic.V2(1);
        using var b = vm2;
        Assert.False(v2.TryReadSystemRegister(0, IccRegisters.Sre, out _));    // no system register interface
        Assert.False(v2.TryWriteSystemRegister(0, IccRegisters.Sre, 1));
        Assert.False(v2.TryReadSystemRegister(0, IccRegisters.Iar1, out _));
        Assert.False(v2.TryWriteSystemRegister(0, IccRegisters.Sgi1r, 0));
    }

    [Fact]
    public void ConcurrentInjectionAndAcknowledgeKeepTheStateConsistent()
    {
        var (vm, gic) = OpenV3(4);
        using var _ = vm;
        for (int i = 0; i < 4; i++)
        {
            EnableSpi(vm, 32 + i, 0x10);
            RouteSpi(vm, 32 + i, (ulong)i);
            Gic.Write32(vm, 0, D3 + 0xc08, 0xaaaaaaaa);                   // SPIs 32..47 edge
        }

        var taken = new int[4];
        var threads = Enumerable.Range(0, 4).Select(v => new Thread(() =>
        {
            for (int n = 0; n < 2000; n++)
            {
                gic.InjectSpiEdge(v);
                Gic.SysWrite(gic, (v + 1) % 4, IccRegisters.Sgi1r, 1UL << v | 1UL << 24);
                ulong id = Gic.SysRead(gic, v, IccRegisters.Iar1);
                if (id != 1023)
                {
                    taken[v]++;
                    Gic.SysWrite(gic, v, IccRegisters.Eoir1, id);
                }
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        for (int v = 0; v < 4; v++)
        {
            Assert.True(taken[v] > 0);
            Assert.Equal(0xffUL, Gic.SysRead(gic, v, IccRegisters.Rpr));
            Assert.False(gic.GetIrqInfo(v, 32 + v).Active);
        }
    }
}
