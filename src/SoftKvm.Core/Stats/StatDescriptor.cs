namespace SoftKvm.Core.Stats;

/// <summary>The type of a statistic, as KVM's binary stats (<c>KVM_STATS_TYPE_*</c>).</summary>
public enum StatKind
{
    /// <summary>A monotonic counter.</summary>
    Cumulative = 0,

    /// <summary>A current value (for example <c>blocking</c>).</summary>
    Instant = 1,

    /// <summary>The highest value seen.</summary>
    Peak = 2,
}

/// <summary>The unit of a statistic (<c>KVM_STATS_UNIT_*</c>).</summary>
public enum StatUnit
{
    /// <summary>A plain count.</summary>
    None = 0,

    /// <summary>Bytes.</summary>
    Bytes = 1,

    /// <summary>Seconds, scaled by <see cref="StatDescriptor.Exponent"/> (-9: nanoseconds).</summary>
    Seconds = 2,

    /// <summary>CPU cycles.</summary>
    Cycles = 3,

    /// <summary>0 or 1.</summary>
    Boolean = 4,
}

/// <summary>Where a statistic lives.</summary>
public enum StatScope
{
    /// <summary>Kept per vCPU; the VM view is the sum over the vCPUs.</summary>
    Vcpu,

    /// <summary>Kept per VM.</summary>
    Vm,
}

/// <summary>
/// Describes one statistic as KVM's binary stats descriptor does: name (KVM's spelling), type, unit,
/// power-of-ten exponent, and a one-line meaning.
/// </summary>
/// <param name="Name">KVM's name, for example <c>mmio_exit_user</c>.</param>
/// <param name="Kind">Cumulative, instant or peak.</param>
/// <param name="Unit">The unit.</param>
/// <param name="Exponent">Power of ten applied to the unit (-9 with seconds: nanoseconds).</param>
/// <param name="Description">When the counter moves.</param>
public sealed record StatDescriptor(
    string Name,
    StatKind Kind = StatKind.Cumulative,
    StatUnit Unit = StatUnit.None,
    int Exponent = 0,
    string Description = "");
