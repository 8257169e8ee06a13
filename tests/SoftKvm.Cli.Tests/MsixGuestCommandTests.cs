namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 21's MSI-X guest through the command a user runs: guests/arm64/msix enables MSI-X on the
/// virtio-pci console that `softkvm run --virtio-pci --console virtio` puts at 00:02.0, maps the ITS's
/// DeviceID = the function's requester ID (0x0010) as the device tree's msi-map says, and checks that the
/// transmit queue's vector reaches vCPU 0 and, after MOVI, each other vCPU as the LPI; that a masked vector
/// waits in the Pending Bit Array; and that a discarded translation drops the write. Without the requester
/// ID in the PCI core's MSI delivery no LPI arrives. The output is QEMU's too (guests/arm64/msix/Makefile:
/// virt with pci-testdev at 00.1 and virtio-serial-pci at 00.2), which msix.expected.txt records for 4 vCPUs.
/// </summary>
public sealed class MsixGuestCommandTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void VirtioPciMsixReachesEveryVcpuThroughTheIts(int vcpus)
    {
        string dir = RealCli.GuestsDir("arm64/msix");
        var (code, serial, _, error) = RealCli.Run(
            "run", "--kernel", Path.Combine(dir, "msix.elf"), "--smp", vcpus.ToString(), "--gic", "v3", "--memory", "64M", "--virtio-pci", "--console", "virtio");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        string expected = File.ReadAllText(Path.Combine(dir, "msix.expected.txt"))
            .Replace("4 vCPUs", $"{vcpus} vCPUs")
            .Replace("collection: ...", "collection: " + new string('.', vcpus - 1));
        Assert.Equal(expected, serial.Replace("\r", ""));
    }
}
