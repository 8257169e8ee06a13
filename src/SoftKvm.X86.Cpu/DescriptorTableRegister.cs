namespace SoftKvm.X86.Cpu;

/// <summary>GDTR or IDTR: a linear base and a limit.</summary>
public struct DescriptorTableRegister
{
    /// <summary>The linear base address.</summary>
    public ulong Base;

    /// <summary>The limit (last valid byte offset).</summary>
    public ushort Limit;
}
