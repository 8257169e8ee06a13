using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Tests.Pci;
using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

public class ResetControlTests
{
    [Fact]
    public void SystemResetBitReadsBackWithoutResetting()
    {
        int resets = 0;
        var dev = new ResetControl(() => resets++);
        Io.Write8(dev, 0, ResetControl.SystemReset | 0x01);
        Assert.Equal(ResetControl.SystemReset, Io.Read8(dev, 0)); // only SRST is kept
        Assert.Equal(0, resets);
    }

    [Fact]
    public void FadtResetValueResets()
    {
        int resets = 0;
        var dev = new ResetControl(() => resets++);
        Io.Write8(dev, 0, ResetControl.FadtResetValue);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void SharesTheAddressPortsWithMechanism1()
    {
        int resets = 0;
        var host = new FakePciHost();
        var bytes = new CompositeRegion().Add(ResetControl.Port - PciConfigMechanism1.AddressPort, 1, new ResetControl(() => resets++));
        var cf8 = new PciConfigMechanism1(new PciBus(host), bytes);

        Io.Write32(cf8, 0, 0x8000_0000); // CONFIG_ADDRESS: a doubleword, not the reset register
        Assert.Equal(0x8000_0000u, Io.Read32(cf8, 0));
        Assert.Equal(0, resets);
        Io.Write8(cf8, 1, ResetControl.FadtResetValue); // a byte at 0xCF9
        Assert.Equal(1, resets);
        Assert.Equal(0x8000_0000u, Io.Read32(cf8, 0));
    }
}
