using SoftKvm.Arm64.Cpu;
using SoftKvm.Core;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu.Tests.Harness;

/// <summary>
/// Runs EL0 code the way Linux runs user space: the MMU on, the low 1 GiB identity-mapped by one
/// Normal-memory block that EL0 may read, write and execute. The tables live in their own memory slot.
/// With the MMU off every data access would be Device-nGnRnE, where an unaligned access faults.
/// </summary>
internal static class UserIdentityMap
{
    /// <summary>Where the level-1 table lives (a slot of its own, inside the mapped gigabyte).</summary>
    public const ulong TableBase = 0x3FFF_F000;

    /// <summary>Adds the table's slot to <paramref name="memory"/> and writes the table.</summary>
    public static void Install(GuestMemory memory, int slot)
    {
        memory.SetRegion(slot, new GuestPhysAddr(TableBase), 4096, MemorySlotFlags.None);
        const ulong Block = 1UL | (1UL << 6) | (3UL << 8) | (1UL << 10); // block, AP = EL0 RW, inner shareable, AF
        memory.Write(new GuestPhysAddr(TableBase), Block);
    }

    /// <summary>Turns the MMU on for <paramref name="cpu"/> (after its reset): TCR T0SZ = 25, 4K granule, EPD1.</summary>
    public static void Enable(Arm64Cpu cpu)
    {
        Assert.True(cpu.TryWriteSystemRegister(SysReg.TcrEl1, 25 | (1UL << 23)));
        Assert.True(cpu.TryWriteSystemRegister(SysReg.Ttbr0El1, TableBase));
        Assert.True(cpu.TryWriteSystemRegister(SysReg.SctlrEl1, 0x00C5_0078UL | 1));
    }
}
