namespace SoftKvm.Devices.FwCfg;

/// <summary>
/// The selector keys of QEMU's firmware configuration items (QEMU's docs/specs/fw_cfg.rst and
/// include/standard-headers/linux/qemu_fw_cfg.h): generic items from 0x0000, files from 0x0020 (listed in
/// the directory at 0x0019), architecture-specific items from 0x8000.
/// </summary>
public static class FwCfgKeys
{
    /// <summary>"QEMU", four bytes.</summary>
    public const ushort Signature = 0x0000;

    /// <summary>The feature bitmap (32-bit LE): bit 0 traditional interface, bit 1 DMA.</summary>
    public const ushort Id = 0x0001;

    /// <summary>The VM's UUID, 16 bytes.</summary>
    public const ushort Uuid = 0x0002;

    /// <summary>The RAM size in bytes (64-bit LE).</summary>
    public const ushort RamSize = 0x0003;

    /// <summary>Whether the VM has no display (16-bit LE).</summary>
    public const ushort NoGraphic = 0x0004;

    /// <summary>The number of vCPUs at boot (16-bit LE).</summary>
    public const ushort NbCpus = 0x0005;

    /// <summary>The NUMA description (64-bit LE words: the node count, then a node per APIC id, then each node's memory).</summary>
    public const ushort Numa = 0x000D;

    /// <summary>Whether firmware shows a boot menu (16-bit LE).</summary>
    public const ushort BootMenu = 0x000E;

    /// <summary>The CPU limit (16-bit LE; on x86 the APIC id limit).</summary>
    public const ushort MaxCpus = 0x000F;

    /// <summary>The file directory.</summary>
    public const ushort FileDir = 0x0019;

    /// <summary>The first file's key.</summary>
    public const ushort FileFirst = 0x0020;

    /// <summary>x86: whether ISA IRQ 0 is routed to IOAPIC pin 2 (32-bit LE, 1 with an in-kernel irqchip).</summary>
    public const ushort Irq0Override = 0x8002;

    /// <summary>Bit 15 of a key: an architecture-specific item.</summary>
    public const ushort ArchLocal = 0x8000;

    /// <summary>Bit 14 of a key: the legacy write channel (ignored since QEMU 2.4).</summary>
    public const ushort WriteChannel = 0x4000;
}
