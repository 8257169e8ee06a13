using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace SoftKvm.Core.Run;

/// <summary>Eight data bytes of an MMIO exit, inline (no allocation per exit).</summary>
[InlineArray(8)]
public struct MmioData
{
    private byte _element0;
}

/// <summary>Sixteen data words of an internal-error exit, inline.</summary>
[InlineArray(16)]
public struct InternalErrorData
{
    private ulong _element0;
}

/// <summary>The x86 PIO data page (mmap page 1 of <c>kvm_run</c>, <c>data_offset</c> = 4096).</summary>
[InlineArray(4096)]
public struct PioDataPage
{
    private byte _element0;
}

/// <summary>The <c>mmio</c> member of the exit union.</summary>
public struct MmioExit
{
    /// <summary>The guest-physical address accessed.</summary>
    public ulong PhysAddr;

    /// <summary>The bytes, little-endian in guest-memory order: filled by the hypervisor for a write, by the VMM for a read.</summary>
    public MmioData Data;

    /// <summary>The access length: 1, 2, 4 or 8.</summary>
    public uint Length;

    /// <summary>Whether the guest wrote.</summary>
    public bool IsWrite;

    /// <summary>The first <see cref="Length"/> bytes of <see cref="Data"/> as a little-endian integer.</summary>
    public readonly ulong Value
    {
        get
        {
            ReadOnlySpan<byte> d = Data;
            return Io.BusData.ToUInt64(d[..(int)Math.Min(Length, 8u)]);
        }
    }

    /// <summary>Stores <paramref name="value"/> little-endian in the first <see cref="Length"/> bytes of <see cref="Data"/> (the VMM answering a read).</summary>
    public void SetValue(ulong value)
    {
        Span<byte> d = Data;
        BinaryPrimitives.WriteUInt64LittleEndian(d, value);
    }
}

/// <summary>The <c>io</c> member of the exit union (x86); the data is in <see cref="RunState.PioData"/>.</summary>
public struct IoExit
{
    /// <summary>In or out.</summary>
    public IoDirection Direction;

    /// <summary>The access size: 1, 2 or 4.</summary>
    public byte Size;

    /// <summary>The port.</summary>
    public ushort Port;

    /// <summary>The number of repetitions (string instructions), at least 1.</summary>
    public uint Count;

    /// <summary>The byte offset of the data from the start of the run area (4096: the PIO page).</summary>
    public ulong DataOffset;
}

/// <summary>The <c>debug</c> member of the exit union.</summary>
public struct DebugExit
{
    /// <summary>x86: the exception vector (1 = #DB, 3 = #BP).</summary>
    public uint Exception;

    /// <summary>The guest PC/RIP of the event.</summary>
    public ulong Pc;

    /// <summary>x86: DR6 at the event.</summary>
    public ulong Dr6;

    /// <summary>x86: DR7 at the event.</summary>
    public ulong Dr7;

    /// <summary>arm64: the syndrome (ESR_EL2 style) of the debug exception.</summary>
    public ulong Esr;

    /// <summary>arm64: the fault address for watchpoints.</summary>
    public ulong Far;
}

/// <summary>
/// The <c>hypercall</c> member of the exit union (<c>KVM_EXIT_HYPERCALL</c>), as arm64 KVM fills it when it
/// forwards a call to userspace: <see cref="Nr"/> the call's number, <see cref="Flags"/> what kind of call;
/// the guest's PC is already past the calling instruction, and the VMM reads the remaining arguments and
/// writes the results with the vCPU's register accessors before it runs the vCPU again.
/// </summary>
public struct HypercallExit
{
    /// <summary>The call number (for <see cref="HypercallFlags.ArmSemihosting"/>: the operation, W0).</summary>
    public ulong Nr;

    /// <summary>The first argument (for <see cref="HypercallFlags.ArmSemihosting"/>: X1, the parameter or the parameter block's address).</summary>
    public ulong Arg0;

    /// <summary>What kind of call this is.</summary>
    public HypercallFlags Flags;
}

/// <summary>The <c>flags</c> of a <see cref="HypercallExit"/>.</summary>
[Flags]
public enum HypercallFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>
    /// SoftKvm's own kind (bit 32; KVM's flags use the low bits): an Arm semihosting call, A64
    /// <c>HLT #0xF000</c> at EL1 on a vCPU initialised with semihosting (docs/architecture.md#arm-semihosting).
    /// The result goes to X0.
    /// </summary>
    ArmSemihosting = 1UL << 32,
}

/// <summary>The <c>system_event</c> member of the exit union.</summary>
public struct SystemEventExit
{
    /// <summary>Shutdown, reset or crash.</summary>
    public SystemEventType Type;

    /// <summary>Flags or the first data word (for example the PSCI function that caused it).</summary>
    public ulong Data;
}

/// <summary>The <c>internal</c> member of the exit union.</summary>
public struct InternalErrorExit
{
    /// <summary>The sub-error.</summary>
    public InternalErrorSuberror Suberror;

    /// <summary>How many words of <see cref="Data"/> are valid.</summary>
    public uint NData;

    /// <summary>Extra data: for emulation failures the instruction bytes and the PC.</summary>
    public InternalErrorData Data;

    /// <summary>A one-line description naming the instruction or state (SoftKvm addition; set on the error path only).</summary>
    public string? Message;
}

/// <summary>The <c>arm_nisv</c> member of the exit union.</summary>
public struct ArmNisvExit
{
    /// <summary>The ISS bits of the syndrome (ISV = 0).</summary>
    public ulong EsrIss;

    /// <summary>The guest-physical fault address.</summary>
    public ulong FaultIpa;
}

/// <summary>The <c>fail_entry</c> member of the exit union: the hardware refused to enter the guest.</summary>
public struct FailEntryExit
{
    /// <summary>Why the entry failed, architecture specific (x86: the VMX exit reason with bit 31 set, for example 0x80000021 for an invalid guest state).</summary>
    public ulong HardwareEntryFailureReason;

    /// <summary>The host processor the entry was tried on (KVM's <c>last_vmentry_cpu</c>).</summary>
    public uint Cpu;

    /// <summary>The guest-state check that failed, in one line (SoftKvm addition: KVM prints the VMCS to the kernel log instead).</summary>
    public string? Message;
}
