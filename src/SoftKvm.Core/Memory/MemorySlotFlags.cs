namespace SoftKvm.Core.Memory;

/// <summary>Flags of a memory slot, as KVM's <c>KVM_MEM_*</c> flags.</summary>
[Flags]
public enum MemorySlotFlags
{
    /// <summary>Read-write RAM.</summary>
    None = 0,

    /// <summary><c>KVM_MEM_LOG_DIRTY_PAGES</c>: writes mark pages in the slot's dirty bitmap.</summary>
    LogDirtyPages = 1,

    /// <summary><c>KVM_MEM_READONLY</c>: reads come from memory, writes are MMIO (they exit).</summary>
    ReadOnly = 2,
}
