using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// The part of <see cref="NativeContext"/> with which native code completes an in-kernel device read itself (issue 19,
/// Arm64Cpu.DeviceReads.cs): a word-aligned 32-bit load whose page the read IO TLB holds, of a word the device's
/// fixed-value table marks, is the table's word, counted in the vCPU's statistics as the hypervisor counts it, with no call
/// out of native code. <see cref="Slots"/> parallel the read IO TLB's entries: each says which device page (the IPA page
/// the IO TLB entry held when it was filled) has which table.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeDeviceReads
{
    /// <summary>The read IO TLB (pinned array of <see cref="Arm64Cpu"/>): its tag says the page is still mapped, its delta to which IPA page.</summary>
    public TlbEntry* ReadIoTlb;

    /// <summary>The in-kernel MMIO bus's generation (null until a table is taken).</summary>
    public long* BusGeneration;

    /// <summary>The generation every slot was filled at (slots are cleared when it moves).</summary>
    public long BusGenerationSeen;

    /// <summary>The vCPU's <c>exits</c> statistic.</summary>
    public long* Exits;

    /// <summary>The vCPU's <c>mmio_exit_kernel</c> statistic.</summary>
    public long* MmioExitKernel;

    /// <summary>The value of the last read native code completed, for the run state's MMIO data (<see cref="MmioPending"/>).</summary>
    public ulong MmioValue;

    /// <summary>Non-zero when native code completed a read whose value the run state does not show yet.</summary>
    public int MmioPending;

    /// <summary>Reads native code completed (for the profile).</summary>
    public long Count;

    /// <summary>
    /// The interrupt controller's EOI slot of this PE, or null (Arm64Cpu.DeviceReads.cs, <see cref="Arm64Cpu.SetNativeEoiSlot"/>):
    /// an MSR ICC_EOIR1_EL1 of the INTID the slot is armed with completes by turning it from armed to completed.
    /// </summary>
    public ulong* EoiSlot;

    /// <summary>One slot per read IO TLB entry.</summary>
    public DeviceReadSlots Slots;
}

/// <summary>A slot of <see cref="NativeDeviceReads.Slots"/>: the IPA page (1: empty) and its table (null: the page has none).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DeviceReadSlot
{
    /// <summary>The IPA page the read IO TLB entry held at the fill; 1 (never a page) when the slot is empty.</summary>
    public ulong Ipa;

    /// <summary>The page's fixed-value table (1,024 entries), or null.</summary>
    public ulong* Words;
}

/// <summary>The slots, as many as the IO TLB has entries (<see cref="Arm64Cpu.IoTlbEntries"/>).</summary>
[InlineArray(64)]
internal struct DeviceReadSlots
{
    private DeviceReadSlot _element0;
}

/// <summary>Byte offsets of the <see cref="NativeDeviceReads"/> fields from its start.</summary>
internal static unsafe class DeviceReadOffsets
{
    /// <summary><see cref="NativeDeviceReads.ReadIoTlb"/>.</summary>
    public static readonly int ReadIoTlb = Of(d => (byte*)&d->ReadIoTlb);

    /// <summary><see cref="NativeDeviceReads.BusGeneration"/>.</summary>
    public static readonly int BusGeneration = Of(d => (byte*)&d->BusGeneration);

    /// <summary><see cref="NativeDeviceReads.BusGenerationSeen"/>.</summary>
    public static readonly int BusGenerationSeen = Of(d => (byte*)&d->BusGenerationSeen);

    /// <summary><see cref="NativeDeviceReads.Exits"/>.</summary>
    public static readonly int Exits = Of(d => (byte*)&d->Exits);

    /// <summary><see cref="NativeDeviceReads.MmioExitKernel"/>.</summary>
    public static readonly int MmioExitKernel = Of(d => (byte*)&d->MmioExitKernel);

    /// <summary><see cref="NativeDeviceReads.MmioValue"/>.</summary>
    public static readonly int MmioValue = Of(d => (byte*)&d->MmioValue);

    /// <summary><see cref="NativeDeviceReads.MmioPending"/>.</summary>
    public static readonly int MmioPending = Of(d => (byte*)&d->MmioPending);

    /// <summary><see cref="NativeDeviceReads.Count"/>.</summary>
    public static readonly int Count = Of(d => (byte*)&d->Count);

    /// <summary><see cref="NativeDeviceReads.EoiSlot"/>.</summary>
    public static readonly int EoiSlot = Of(d => (byte*)&d->EoiSlot);

    /// <summary><see cref="NativeDeviceReads.Slots"/> (16 bytes a slot: <see cref="DeviceReadSlot.Ipa"/>, then <see cref="DeviceReadSlot.Words"/>).</summary>
    public static readonly int Slots = Of(d => (byte*)&d->Slots);

    private delegate byte* FieldOf(NativeDeviceReads* reads);

    private static int Of(FieldOf field)
    {
        NativeDeviceReads reads = default;
        return (int)(field(&reads) - (byte*)&reads);
    }
}
