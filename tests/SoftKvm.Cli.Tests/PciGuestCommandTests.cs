namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 21's PCIe guest through the command a user runs: guests/arm64/pci enumerates bus 0 of the virt
/// machine's ECAM host bridge, sizes and assigns pci-testdev's BARs; its output is the same under
/// `qemu-system-aarch64 -M virt,highmem=off -nic none -device pci-testdev` (guests/arm64/pci/pci.expected.txt).
/// </summary>
public sealed class PciGuestCommandTests
{
    [Theory]
    [InlineData("v3")]
    [InlineData("v2")]
    public void BusZeroHasTheHostBridgeAndPciTestdevAsOnQemu(string gic)
    {
        string dir = RealCli.GuestsDir("arm64/pci");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Path.Combine(dir, "pci.elf"), "--gic", gic, "--memory", "64M");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "pci.expected.txt")), serial.Replace("\r", ""));
    }
}
