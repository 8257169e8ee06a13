using System.Runtime.InteropServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// A segment register with its hidden (descriptor cache) part, as KVM's <c>kvm_segment</c> and the
/// VMCS guest segment fields hold it. <see cref="Attributes"/> uses the VMX access-rights layout:
/// type [3:0], S [4], DPL [6:5], P [7], AVL [12], L [13], D/B [14], G [15], unusable [16].
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SegmentRegister
{
    /// <summary>The visible selector.</summary>
    public ushort Selector;

    /// <summary>The cached base address.</summary>
    public ulong Base;

    /// <summary>The cached limit in bytes (already scaled by G).</summary>
    public uint Limit;

    /// <summary>The cached access rights (VMX layout).</summary>
    public uint Attributes;

    /// <summary>Attribute bit: present.</summary>
    public const uint Present = 1u << 7;

    /// <summary>Attribute bit: code/data (not system) descriptor.</summary>
    public const uint CodeOrData = 1u << 4;

    /// <summary>Attribute bit: 64-bit code segment.</summary>
    public const uint LongMode = 1u << 13;

    /// <summary>Attribute bit: default operand size 32 (D/B).</summary>
    public const uint DefaultBig = 1u << 14;

    /// <summary>Attribute bit: granularity 4 KiB.</summary>
    public const uint Granularity = 1u << 15;

    /// <summary>Attribute bit: unusable (null selector loaded in protected mode).</summary>
    public const uint Unusable = 1u << 16;

    /// <summary>The descriptor type field [3:0].</summary>
    public readonly uint Type => Attributes & 0xF;

    /// <summary>The descriptor privilege level.</summary>
    public readonly int Dpl => (int)((Attributes >> 5) & 3);

    /// <summary>Whether the L bit is set.</summary>
    public readonly bool IsLong => (Attributes & LongMode) != 0;

    /// <summary>Whether the D/B bit is set.</summary>
    public readonly bool IsBig => (Attributes & DefaultBig) != 0;

    /// <summary>A real-mode style segment: base = selector * 16, limit 64 KiB, data read/write present.</summary>
    public static SegmentRegister RealMode(ushort selector, uint type = 3) => new()
    {
        Selector = selector,
        Base = (ulong)selector << 4,
        Limit = 0xFFFF,
        Attributes = type | CodeOrData | Present,
    };

    /// <summary>A flat segment with the given type, DPL and flags (for tests and loaders).</summary>
    public static SegmentRegister Flat(ushort selector, uint type, int dpl, bool big, bool longMode) => new()
    {
        Selector = selector,
        Base = 0,
        Limit = 0xFFFFFFFF,
        Attributes = type | CodeOrData | Present | ((uint)dpl << 5) | Granularity
            | (big ? DefaultBig : 0) | (longMode ? LongMode : 0),
    };

    /// <summary>Builds the hidden part from an 8-byte GDT/LDT descriptor.</summary>
    public static SegmentRegister FromDescriptor(ushort selector, ulong d)
    {
        uint limit = (uint)(d & 0xFFFF) | (uint)((d >> 32) & 0xF0000);
        uint attr = (uint)((d >> 40) & 0xFF) | (uint)((d >> 40) & 0xF000);
        if ((attr & Granularity) != 0)
        {
            limit = (limit << 12) | 0xFFF;
        }

        return new SegmentRegister
        {
            Selector = selector,
            Base = ((d >> 16) & 0xFFFFFF) | ((d >> 32) & 0xFF000000),
            Limit = limit,
            Attributes = attr,
        };
    }

    /// <inheritdoc />
    public override readonly string ToString() => $"{Selector:x4} base={Base:x} limit={Limit:x} ar={Attributes:x}";
}
