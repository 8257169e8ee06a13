namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 21's PCIe guest through the command a user runs: guests/arm64/pci enumerates bus 0 of the virt
/// machine's ECAM host bridge, sizes and assigns pci-testdev's BARs; its output is the same under
/// `qemu-system-aarch64 -M virt,highmem=off -nic none -device pci-testdev` (guests/arm64/pci/pci.expected.txt).
/// </summary>
public sealed class PciGuestCommandTests
{
    // The guest runs on vCPU 0; the others stay off (the bus is the same with 1, 4 or 64 vCPUs).
    [Theory]
    [InlineData("v3", 1)]
    [InlineData("v3", 64)]
    [InlineData("v2", 4)]
    public void BusZeroHasTheHostBridgeAndPciTestdevAsOnQemu(string gic, int vcpus)
    {
        string dir = RealCli.GuestsDir("arm64/pci");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Path.Combine(dir, "pci.elf"), "--gic", gic, "--smp", vcpus.ToString(), "--memory", "64M");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "pci.expected.txt")), serial.Replace("\r", ""));
    }
}
