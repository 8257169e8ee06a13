using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The Intel MultiProcessor Specification 1.4 tables (chapter 4): the MP floating pointer structure
/// ("_MP_", 16 bytes) followed by the MP configuration table ("PCMP") with one processor entry per vCPU
/// (local APIC id = vCPU id, the bootstrap processor flagged), the ISA bus, the IOAPIC, the I/O interrupt
/// assignments of ISA IRQs 0-15 (IRQ 0 to INTIN 2, as the PIT override of QEMU's PC) and the local
/// interrupt assignments (ExtINT to LINT0, NMI to LINT1). Both checksums make their bytes sum to zero.
/// </summary>
public static class MpTable
{
    /// <summary>The local APIC version the processor entries report (KVM's 0x14).</summary>
    public const byte LocalApicVersion = 0x14;

    /// <summary>The IOAPIC version (0x11, as the IOAPIC model's version register).</summary>
    public const byte IoApicVersion = 0x11;

    /// <summary>The ISA bus id.</summary>
    public const byte IsaBusId = 0;

    /// <summary>Entry type 0: processor.</summary>
    public const byte EntryProcessor = 0;

    /// <summary>Entry type 1: bus.</summary>
    public const byte EntryBus = 1;

    /// <summary>Entry type 2: I/O APIC.</summary>
    public const byte EntryIoApic = 2;

    /// <summary>Entry type 3: I/O interrupt assignment.</summary>
    public const byte EntryIoInterrupt = 3;

    /// <summary>Entry type 4: local interrupt assignment.</summary>
    public const byte EntryLocalInterrupt = 4;

    private const int FloatingSize = 16;
    private const int HeaderSize = 44;

    /// <summary>The size of the tables for <paramref name="cpus"/> vCPUs.</summary>
    public static int Size(int cpus) => FloatingSize + HeaderSize + (cpus * 20) + 8 + 8 + (16 * 8) + (2 * 8);

    /// <summary>
    /// Builds the floating pointer and configuration table to place at <paramref name="address"/> (16-byte
    /// aligned, inside the BIOS area); <paramref name="ioApicId"/> is the IOAPIC's id. ISA IRQs whose bit is
    /// set in <paramref name="levelIrqs"/> are announced level-triggered, active high (the virtio-mmio lines).
    /// </summary>
    public static byte[] Build(uint address, int cpus, byte ioApicId, ushort levelIrqs = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpus, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpus, 255);
        if ((address & 15) != 0)
        {
            throw new ArgumentException("the MP floating pointer must be 16-byte aligned", nameof(address));
        }

        var blob = new byte[Size(cpus)];
        var fp = blob.AsSpan(0, FloatingSize);
        Encoding.ASCII.GetBytes("_MP_", fp);
        Put32(fp, 4, address + FloatingSize);
        fp[8] = 1; // length in 16-byte paragraphs
        fp[9] = 4; // spec revision 1.4
        fp[10] = Checksum(fp);

        var table = blob.AsSpan(FloatingSize);
        Encoding.ASCII.GetBytes("PCMP", table);
        BinaryPrimitives.WriteUInt16LittleEndian(table[4..], (ushort)table.Length);
        table[6] = 4;
        Encoding.ASCII.GetBytes("SOFTKVM ", table[8..]);
        Encoding.ASCII.GetBytes("PC          ", table[16..]);
        BinaryPrimitives.WriteUInt16LittleEndian(table[34..], (ushort)(cpus + 1 + 1 + 16 + 2));
        Put32(table, 36, PcMemoryMap.LocalApicBase);

        int at = HeaderSize;
        for (int i = 0; i < cpus; i++)
        {
            var e = table.Slice(at, 20);
            e[0] = EntryProcessor;
            e[1] = (byte)i;
            e[2] = LocalApicVersion;
            e[3] = (byte)(1 | (i == 0 ? 2 : 0)); // EN, BP
            Put32(e, 4, 0x600); // family 6
            Put32(e, 8, (1u << 0) | (1u << 9)); // FPU, APIC
            at += 20;
        }

        var bus = table.Slice(at, 8);
        bus[0] = EntryBus;
        bus[1] = IsaBusId;
        Encoding.ASCII.GetBytes("ISA   ", bus[2..]);
        at += 8;

        var ioapic = table.Slice(at, 8);
        ioapic[0] = EntryIoApic;
        ioapic[1] = ioApicId;
        ioapic[2] = IoApicVersion;
        ioapic[3] = 1; // EN
        Put32(ioapic, 4, PcMemoryMap.IoApicBase);
        at += 8;

        // ISA IRQ 0 (ExtINT from the PIC) on INTIN 0, then IRQs 1-15 identity except IRQ 0 on INTIN 2.
        for (int irq = 0; irq < 16; irq++)
        {
            var e = table.Slice(at, 8);
            e[0] = EntryIoInterrupt;
            e[1] = (byte)(irq == 2 ? 3 : 0); // INT, or ExtINT for the PIC cascade pin
            e[2] = (byte)((levelIrqs & (1 << irq)) != 0 ? 0x0D : 0); // level (3 << 2), active high (1); else conforms to the bus
            e[4] = IsaBusId;
            e[5] = (byte)(irq == 2 ? 0 : irq);
            e[6] = ioApicId;
            e[7] = (byte)(irq == 0 ? 2 : irq == 2 ? 0 : irq);
            at += 8;
        }

        for (int lint = 0; lint < 2; lint++)
        {
            var e = table.Slice(at, 8);
            e[0] = EntryLocalInterrupt;
            e[1] = (byte)(lint == 0 ? 3 : 1); // ExtINT, NMI
            e[4] = IsaBusId;
            e[5] = 0;
            e[6] = 0xFF; // all local APICs
            e[7] = (byte)lint;
            at += 8;
        }

        table[7] = Checksum(table);
        return blob;
    }

    /// <summary>The byte that makes <paramref name="data"/> (with that byte zero) sum to 0 modulo 256.</summary>
    public static byte Checksum(ReadOnlySpan<byte> data)
    {
        byte sum = 0;
        foreach (byte b in data)
        {
            sum += b;
        }

        return (byte)-sum;
    }

    private static void Put32(Span<byte> s, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], value);
}
