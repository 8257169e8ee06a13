using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// Register dispatch inside a VGIC device (docs/kvm-semantics.md#gic-register-access): look the offset
/// up in the frame's <see cref="RegisterMap"/>; the access must have a width the register allows, be
/// naturally aligned and lie inside the register; per-IRQ arrays are split into one field per INTID (so byte accesses to
/// IPRIORITYR and ITARGETSR touch one interrupt). Anything invalid is RAZ/WI: the device always
/// handles the access. Allocation-free; called with the VGIC lock held.
/// </summary>
internal static class GicMmio
{
    public static void Read(IGicRegisterFile file, RegisterMap map, ulong offset, Span<byte> data, int vcpu) =>
        Store(ValueAt(file, map, Locate(map, offset, data.Length, out uint rel), rel, data.Length, vcpu), data);

    /// <summary>
    /// A read of <paramref name="size"/> bytes of the register <see cref="Locate"/> found (-1: RAZ/WI), <paramref name="rel"/>
    /// bytes into it: the value zero-extended from its <paramref name="size"/> bytes (what <see cref="Store"/> stores).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // with the register file's type known where it is inlined: a direct call
    public static ulong ValueAt(IGicRegisterFile file, RegisterMap map, int index, uint rel, int size, int vcpu)
    {
        if (index < 0)
        {
            return 0;
        }

        ref readonly GicRegister reg = ref map.At(index);
        if (reg.IsPerIrq)
        {
            return ReadIrqs(file, reg, rel, size, vcpu);
        }

        return reg.Id == GicReg.RazWi ? 0 : (file.ReadRegister(reg.Id, vcpu) >> (int)(rel * 8)) & Mask(size * 8);
    }

    /// <summary>
    /// Whether a read of the register <see cref="Locate"/> found reads nothing a write or an interrupt changes: RAZ/WI
    /// space (-1), an access the register does not allow, or an identification register (GICD_TYPER, IIDR, PIDR2).
    /// Such a read needs no lock and changes no output, as KVM reads them (<c>vgic_mmio_read_v3_misc</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ReadsFixedValue(RegisterMap map, int index) =>
        index < 0 || map.At(index).Id is GicReg.RazWi or GicReg.DistTyper or GicReg.Iidr or GicReg.Pidr2;

    public static void Write(IGicRegisterFile file, RegisterMap map, ulong offset, ReadOnlySpan<byte> data, int vcpu) =>
        WriteValue(file, map, offset, data.Length, Load(data), vcpu);

    /// <summary>A write of the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="offset"/> (as <see cref="Write"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // with the register file's type known where it is inlined: a direct call
    public static void WriteValue(IGicRegisterFile file, RegisterMap map, ulong offset, int size, ulong value, int vcpu)
    {
        int index = Locate(map, offset, size, out uint rel);
        if (index < 0)
        {
            return;
        }

        ref readonly GicRegister reg = ref map.At(index);
        if (reg.IsPerIrq)
        {
            WriteIrqs(file, reg, rel, size, value, vcpu);
        }
        else if (reg.Id != GicReg.RazWi)
        {
            if (size < reg.Length)
            {
                int shift = (int)(rel * 8);
                ulong mask = Mask(size * 8) << shift;
                value = (file.ReadRegister(reg.Id, vcpu) & ~mask) | ((value << shift) & mask);
            }

            file.WriteRegister(reg.Id, value, vcpu);
        }
    }

    /// <summary>
    /// The index of the register an access of <paramref name="size"/> bytes at <paramref name="offset"/> may touch
    /// (allowed width, naturally aligned, inside the register), with the offset relative to the register; -1 for RAZ/WI.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Locate(RegisterMap map, ulong offset, int size, out uint rel)
    {
        rel = 0;
        int index = map.IndexOf(offset);
        if (index < 0 || (offset & (ulong)(size - 1)) != 0)
        {
            return -1;
        }

        ref readonly GicRegister reg = ref map.At(index);
        rel = (uint)(offset - reg.Offset);
        return reg.Allows(size) && rel + (uint)size <= reg.Length ? index : -1;
    }

    private static ulong ReadIrqs(IGicRegisterFile file, in GicRegister reg, uint rel, int size, int vcpu)
    {
        int bits = reg.BitsPerIrq;
        int firstBit = (int)rel * 8;
        int intId = reg.FirstIntId + firstBit / bits;
        if (bits >= size * 8)
        {
            var irq = file.ResolveIrq(intId, vcpu);
            return irq is null ? 0 : (file.Vgic.ReadIrqField(reg.Id, irq, vcpu) >> (firstBit % bits)) & Mask(size * 8);
        }

        ulong value = 0;
        ulong fieldMask = Mask(bits);
        int count = size * 8 / bits;
        if (bits == 1 && intId >= Vgic.NrPrivateIrqs && file is Distributor
            && file.Vgic.TryReadSpiBits(reg.Id, intId, count, out value))
        {
            return value; // the distributor's SPI bit registers: the SPIs' fields directly (no call per interrupt)
        }

        for (int k = 0; k < count; k++)
        {
            var irq = file.ResolveIrq(intId + k, vcpu);
            if (irq is not null)
            {
                value |= (file.Vgic.ReadIrqField(reg.Id, irq, vcpu) & fieldMask) << (k * bits);
            }
        }

        return value;
    }

    private static void WriteIrqs(IGicRegisterFile file, in GicRegister reg, uint rel, int size, ulong value, int vcpu)
    {
        int bits = reg.BitsPerIrq;
        int firstBit = (int)rel * 8;
        int intId = reg.FirstIntId + firstBit / bits;
        if (bits > size * 8)
        {
            var irq = file.ResolveIrq(intId, vcpu);
            if (irq is not null)
            {
                int shift = firstBit % bits;
                ulong mask = Mask(size * 8) << shift;
                ulong field = (file.Vgic.ReadIrqField(reg.Id, irq, vcpu) & ~mask) | ((value << shift) & mask);
                file.Vgic.WriteIrqField(reg.Id, irq, field, vcpu);
            }

            return;
        }

        ulong fieldMask = Mask(bits);
        int count = size * 8 / bits;
        for (int k = 0; k < count; k++)
        {
            var irq = file.ResolveIrq(intId + k, vcpu);
            if (irq is not null)
            {
                file.Vgic.WriteIrqField(reg.Id, irq, (value >> (k * bits)) & fieldMask, vcpu);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mask(int bits) => bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;

    private static ulong Load(ReadOnlySpan<byte> data) => data.Length switch
    {
        1 => data[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(data),
        _ => 0,
    };

    /// <summary>Stores <paramref name="value"/> little-endian in <paramref name="data"/> (zeros past its 8 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ulong value, Span<byte> data)
    {
        switch (data.Length)
        {
            case 1: data[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(data, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)value); break;
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(data, value); break;
            default:
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = i < 8 ? (byte)(value >> (i * 8)) : (byte)0;
                }

                break;
        }
    }
}
