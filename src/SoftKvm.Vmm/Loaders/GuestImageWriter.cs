using SoftKvm.Core.Memory;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>Copies boot images into guest memory (the VMM's writes; read-only slots included).</summary>
public static class GuestImageWriter
{
    /// <summary>Writes <paramref name="kernel"/> where <paramref name="plan"/> says, then the initrd and device tree.</summary>
    /// <exception cref="MemoryTooSmallException">part of an image falls outside guest memory.</exception>
    public static void Write(GuestMemory memory, Arm64BootPlan plan, KernelImage kernel, ReadOnlySpan<byte> initrd, ReadOnlySpan<byte> deviceTree)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.Format == KernelFormat.Elf)
        {
            WriteElf(memory, kernel.Elf!, kernel.Data, kernel.Name);
        }
        else
        {
            Put(memory, plan.KernelStart, kernel.Data, $"kernel '{kernel.Name}'");
        }

        if (plan.InitrdStart is ulong initrdStart)
        {
            Put(memory, initrdStart, initrd, "initrd");
        }

        Arm64BootPlanner.CheckDeviceTreeFits(plan, deviceTree.Length);
        Put(memory, plan.DtbAddress, deviceTree, "device tree");
    }

    /// <summary>Writes every PT_LOAD segment of <paramref name="elf"/> at its physical address, zeroing past the file size.</summary>
    /// <exception cref="MemoryTooSmallException">a segment falls outside guest memory.</exception>
    public static void WriteElf(GuestMemory memory, ElfImage elf, ReadOnlySpan<byte> file, string name)
    {
        foreach (var s in elf.Segments)
        {
            Put(memory, s.PhysicalAddress, file.Slice((int)s.FileOffset, (int)s.FileSize), $"kernel '{name}'");
            Zero(memory, s.PhysicalAddress + s.FileSize, s.MemorySize - s.FileSize, $"kernel '{name}'");
        }
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="address"/>; <paramref name="what"/> names it in the error.</summary>
    /// <exception cref="MemoryTooSmallException">part of it falls outside guest memory.</exception>
    public static void Put(GuestMemory memory, ulong address, ReadOnlySpan<byte> data, string what)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (!memory.IsBacked(address, (ulong)data.Length))
        {
            throw new MemoryTooSmallException($"{what} ({SizeText.Of((ulong)data.Length)} at 0x{address:x}) does not fit in guest memory");
        }

        memory.Write(address, data);
    }

    /// <summary>Zeroes <paramref name="length"/> bytes from <paramref name="address"/> (a segment's bss); <paramref name="what"/> names it in the error.</summary>
    /// <exception cref="MemoryTooSmallException">part of it falls outside guest memory.</exception>
    public static void Zero(GuestMemory memory, ulong address, ulong length, string what)
    {
        var zeros = new byte[Math.Min(length, 64 * 1024)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, (ulong)zeros.Length);
            Put(memory, address, zeros.AsSpan(0, n), what);
            address += (ulong)n;
            length -= (ulong)n;
        }
    }
}
