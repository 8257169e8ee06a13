namespace SoftKvm.Core.Stats;

/// <summary>One statistic with its value, as the VM reports it.</summary>
/// <param name="Descriptor">What it is.</param>
/// <param name="Scope">Whether the value is a VM counter or the sum over vCPUs.</param>
/// <param name="Value">The value: for vCPU counters the sum over vCPUs (the maximum for peaks).</param>
public readonly record struct StatValue(StatDescriptor Descriptor, StatScope Scope, ulong Value)
{
    /// <summary>KVM's name.</summary>
    public string Name => Descriptor.Name;
}
