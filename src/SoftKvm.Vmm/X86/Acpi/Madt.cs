using System.Buffers.Binary;

namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The Multiple APIC Description Table ("APIC", ACPI 6.5 section 5.2.12) of the PC, as QEMU's <c>pc</c>
/// builds it: the local APIC address and PCAT_COMPAT (the 8259 pair is there), one Processor Local APIC
/// entry per vCPU (processor UID = APIC id = vCPU index, enabled), the IOAPIC with GSI base 0, the
/// interrupt source overrides (ISA IRQ 0 to GSI 2; each level-triggered ISA IRQ to itself, level, active
/// high) and a Local APIC NMI entry (LINT1 of every processor). Linux finds its CPUs here and starts them
/// with INIT/SIPI.
/// </summary>
public static class Madt
{
    /// <summary>The revision (ACPI 6.5's MADT revision 5; no entry here changed since revision 1).</summary>
    public const byte Revision = 5;

    /// <summary>Entry type 0: Processor Local APIC.</summary>
    public const byte ProcessorLocalApic = 0;

    /// <summary>Entry type 1: I/O APIC.</summary>
    public const byte IoApic = 1;

    /// <summary>Entry type 2: Interrupt Source Override.</summary>
    public const byte InterruptSourceOverride = 2;

    /// <summary>Entry type 4: Local APIC NMI.</summary>
    public const byte LocalApicNmi = 4;

    /// <summary>MPS INTI flags: active high, level-triggered (QEMU's override flags for PCI IRQs).</summary>
    public const ushort LevelActiveHigh = 0x000D;

    /// <summary>
    /// Builds the MADT for <paramref name="cpus"/> vCPUs (APIC ids 0-254) and the IOAPIC with id
    /// <paramref name="ioApicId"/>; ISA IRQs whose bit is set in <paramref name="levelIrqs"/> get a
    /// level-triggered, active-high override (IRQ 0 and 2 bits are ignored).
    /// </summary>
    public static byte[] Build(int cpus, byte ioApicId, ushort levelIrqs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpus, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpus, 255);
        levelIrqs &= unchecked((ushort)~0b101);
        int overrides = 1 + System.Numerics.BitOperations.PopCount(levelIrqs);
        int length = AcpiTable.HeaderSize + 8 + (cpus * 8) + 12 + (overrides * 10) + 6;
        var t = AcpiTable.New("APIC", length, Revision);
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], PcMemoryMap.LocalApicBase);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], 1); // PCAT_COMPAT
        int at = 44;
        for (int i = 0; i < cpus; i++)
        {
            s[at] = ProcessorLocalApic;
            s[at + 1] = 8;
            s[at + 2] = (byte)i; // ACPI processor UID
            s[at + 3] = (byte)i; // APIC id
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], 1); // Enabled
            at += 8;
        }

        s[at] = IoApic;
        s[at + 1] = 12;
        s[at + 2] = ioApicId;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], PcMemoryMap.IoApicBase);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 8)..], 0); // GSI base
        at += 12;

        at = Override(s, at, 0, 2, 0);
        for (int irq = 1; irq < 16; irq++)
        {
            if ((levelIrqs & (1 << irq)) != 0)
            {
                at = Override(s, at, (byte)irq, (uint)irq, LevelActiveHigh);
            }
        }

        s[at] = LocalApicNmi;
        s[at + 1] = 6;
        s[at + 2] = 0xFF; // all processors
        BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 3)..], 0); // flags: conforming
        s[at + 5] = 1; // LINT1
        return AcpiTable.Seal(t);
    }

    private static int Override(Span<byte> s, int at, byte source, uint gsi, ushort flags)
    {
        s[at] = InterruptSourceOverride;
        s[at + 1] = 10;
        s[at + 2] = 0; // bus: ISA
        s[at + 3] = source;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], gsi);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 8)..], flags);
        return at + 10;
    }
}
