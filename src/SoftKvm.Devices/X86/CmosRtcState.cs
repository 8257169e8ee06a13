namespace SoftKvm.Devices.X86;

/// <summary>The saved state of a <see cref="CmosRtc"/>.</summary>
public sealed record CmosRtcState
{
    /// <summary>The guest clock minus the host clock.</summary>
    public TimeSpan Offset { get; init; }

    /// <summary>The selected index (port 0x70, without the NMI bit).</summary>
    public byte Index { get; init; }

    /// <summary>Whether the guest disabled NMIs (port 0x70 bit 7).</summary>
    public bool NmiDisabled { get; init; }

    /// <summary>The 128 bytes of CMOS RAM (the clock fields in it are recomputed on each read).</summary>
    public byte[] Ram { get; init; } = new byte[CmosRtcRegisters.RamSize];

    /// <summary>The host time of the last read of register C (for its update-ended flag).</summary>
    public DateTimeOffset LastFlagsRead { get; init; }
}
