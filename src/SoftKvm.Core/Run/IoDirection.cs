namespace SoftKvm.Core.Run;

/// <summary>The direction of an x86 port access (<c>KVM_EXIT_IO_IN/OUT</c>).</summary>
public enum IoDirection : byte
{
    /// <summary>IN: the VMM supplies the data.</summary>
    In = 0,

    /// <summary>OUT: the guest supplied the data.</summary>
    Out = 1,
}
