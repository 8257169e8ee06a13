namespace SoftKvm.Devices.Arm;

/// <summary>The saved state of a <see cref="Pl031"/>.</summary>
public sealed record Pl031State
{
    /// <summary>Seconds added to the host clock (set by writes to RTCLR).</summary>
    public long OffsetSeconds { get; init; }

    /// <summary>RTCMR.</summary>
    public uint Match { get; init; }

    /// <summary>RTCLR, the last value loaded.</summary>
    public uint Load { get; init; }

    /// <summary>RTCIMSC.</summary>
    public uint Imsc { get; init; }

    /// <summary>RTCRIS.</summary>
    public uint Ris { get; init; }
}
