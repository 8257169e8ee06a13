using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 21 end to end: Debian's arm64 kernel on `softkvm run --gic v3 --virtio-pci --smp 4` finds the PMU,
/// the ITS and the PCIe bus, drives the disk as virtio-pci function 00:02.0 with its MSI-X vectors as LPIs
/// through the ITS (ITS-MSI interrupts in /proc/interrupts that count), and round-trips a file through ext4
/// on it. Gated like the other Linux boots (SOFTKVM_LINUX_TEST=1).
/// </summary>
public sealed partial class LinuxBootTests
{
    [SkippableFact]
    public void DebianKernelUsesAVirtioPciDiskWithMsisThroughTheIts()
    {
        string outDir = Inputs("arm64");
        var console = new StringBuilder();
        using var vm = StartSoftKvm(
            [
                "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"),
                "--append", "console=ttyAMA0", "--smp", "4", "--gic", "v3", "--virtio-pci", "--disk", Path.Combine(outDir, "disk.img"),
            ],
            console);
        try
        {
            WaitFor(console, Marker, TimeSpan.FromMinutes(10));
            foreach (string found in (string[])
            [
                "hw perfevents: enabled with armv8_pmuv3 PMU driver, 7 counters available",
                "ITS@0x0000000008080000: allocated",
                "PCI/MSI: /intc@8000000/its@8080000 domain created",
                "pci-host-generic 3f000000.pcie: ECAM at [mem 0x3f000000-0x3fffffff] for [bus 00-0f]",
                "pci 0000:00:02.0: [1af4:1042] type 00 class 0x010000",
                "virtio_blk virtio0: [vda] 131072 512-byte logical blocks",
            ])
            {
                WaitFor(console, found, TimeSpan.FromSeconds(1));
            }

            Send(vm, "mount -t ext4 /dev/vda /mnt && echo softkvm-pci > /mnt/pci.txt && sync && umount /mnt && echo PCI-DISK-DONE");
            WaitFor(console, "\nPCI-DISK-DONE\n", TimeSpan.FromMinutes(3), normalise: true);

            // The request queue's vector: an LPI from the ITS, taken more than once by the round trip.
            Send(vm, "set -- $(grep virtio0-req /proc/interrupts); echo REQ-MSIS $6 $(( $2 + $3 + $4 + $5 > 1 ))");
            WaitFor(console, "\nREQ-MSIS ITS-MSI 1\n", TimeSpan.FromMinutes(2), normalise: true);

            PowerOff(vm);
        }
        finally
        {
            KillIfRunning(vm);
        }

        var debugfs = RunProcess("debugfs", ["-R", "cat /pci.txt", Path.Combine(outDir, "disk.img")], TimeSpan.FromMinutes(1));
        Assert.Contains("softkvm-pci", debugfs.Output);
    }
}
