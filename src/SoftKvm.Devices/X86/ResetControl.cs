using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.X86;

/// <summary>
/// The PIIX3 reset control register (port 0xCF9, Intel 82371SB datasheet section 4.1.5; QEMU's
/// piix3-reset-control): a write with RST_CPU (bit 2) set resets the system; otherwise the register keeps
/// SRST (bit 1, hard or soft reset), which reads back. The FADT names it as the ACPI reset register. One
/// port; on the PC it shares the doubleword at 0xCF8 with CONFIG_ADDRESS (a byte access at 0xCF9 reaches it).
/// </summary>
/// <param name="reset">What a reset does (the VMM stops the run).</param>
public sealed class ResetControl(Action reset) : IIoDevice
{
    /// <summary>The register's port.</summary>
    public const ushort Port = 0xCF9;

    /// <summary>RST_CPU: writing it resets.</summary>
    public const byte ResetCpu = 1 << 2;

    /// <summary>SRST: the kind of reset RST_CPU performs (hard when set).</summary>
    public const byte SystemReset = 1 << 1;

    /// <summary>The value the FADT's RESET_VALUE writes (a hard reset).</summary>
    public const byte FadtResetValue = ResetCpu | SystemReset;

    private int _value;

    /// <summary>The register's value: SRST as the guest last wrote it (set by a snapshot's restore; other bits stay 0).</summary>
    public byte Value
    {
        get => (byte)Volatile.Read(ref _value);
        set => Volatile.Write(ref _value, value & SystemReset);
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => RegisterAccess.StoreByte((byte)Volatile.Read(ref _value), data);

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = RegisterAccess.LoadByte(data);
        if ((v & ResetCpu) != 0)
        {
            reset();
            return;
        }

        Volatile.Write(ref _value, v & SystemReset);
    }
}
