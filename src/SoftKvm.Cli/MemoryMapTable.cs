using Spectre.Console;
using SoftKvm.Vmm.Arm64;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Cli;

/// <summary>Prints the arm64 virt memory map as a table (<c>softkvm memory-map</c>).</summary>
internal static class MemoryMapTable
{
    /// <summary>Writes the table to <paramref name="output"/>; returns the exit code.</summary>
    public static int Write(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 120;
        var table = new Table().Title("arm64 virt (QEMU-compatible)");
        table.AddColumn("Region");
        table.AddColumn(new TableColumn("Base").RightAligned());
        table.AddColumn(new TableColumn("Size").RightAligned());
        table.AddColumn(new TableColumn("INTID").RightAligned());
        Row(table, "GIC distributor", GicDistributorBase, GicDistributorSize, null);
        Row(table, "GICv2 CPU interface", GicCpuInterfaceBase, GicCpuInterfaceSize, null);
        Row(table, $"GICv3 redistributors (vCPU 0..{GicRedistributorsInFirstRegion - 1})", GicRedistributorBase, GicRedistributorSize, null);
        Row(table, $"GICv3 redistributors (vCPU {GicRedistributorsInFirstRegion}..)", GicRedistributor2Base, GicRedistributor2Size, null);
        Row(table, "PL011 UART", UartBase, UartSize, UartIntId);
        Row(table, "PL031 RTC", RtcBase, RtcSize, RtcIntId);
        Row(table, $"virtio-mmio 0..{VirtioMmioCount - 1} (n·0x200)", VirtioMmioBase, VirtioMmioStride * VirtioMmioCount, VirtioMmioFirstIntId);
        Row(table, "RAM", RamBase, RamMaxSize, null);
        console.Write(table);
        console.WriteLine($"Timer PPIs: secure {TimerSecureIntId}, non-secure {TimerNonSecureIntId}, virtual {TimerVirtualIntId}, hypervisor {TimerHypervisorIntId}; vCPUs: GICv2 up to {MaxCpus(GicVersion.V2)}, GICv3 up to {MaxCpus(GicVersion.V3)}");
        return ExitCodes.Success;
    }

    private static void Row(Table table, string name, ulong address, ulong size, int? intId) =>
        table.AddRow(Markup.Escape(name), $"0x{address:x}", $"0x{size:x}", intId is null ? "-" : intId.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
