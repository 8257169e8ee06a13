using System.Buffers.Binary;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Errors;

namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// Guest memory at the virtual addresses a semihosting call passes, through the calling vCPU's MMU at its
/// current EL (<c>KVM_TRANSLATE</c>, page by page) and then guest-physical memory. Used on the vCPU's thread
/// between runs. Every method returns false, having done nothing further, when an address is unmapped or not RAM.
/// </summary>
internal readonly struct GuestVirtualMemory(Arm64Vcpu vcpu)
{
    private const ulong PageSize = 4096;

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="va"/>.</summary>
    public bool TryRead(ulong va, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = (int)Math.Min((ulong)destination.Length, PageSize - (va & (PageSize - 1)));
            if (!TryPhysical(va, out ulong pa, (ulong)n))
            {
                return false;
            }

            vcpu.Vm.Memory.Read(new GuestPhysAddr(pa), destination[..n]);
            destination = destination[n..];
            va += (ulong)n;
        }

        return true;
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="va"/>.</summary>
    public bool TryWrite(ulong va, ReadOnlySpan<byte> source)
    {
        // Every page first, so that a fault writes nothing.
        for (ulong p = va & ~(PageSize - 1); p < va + (ulong)source.Length; p += PageSize)
        {
            if (!TryPhysical(Math.Max(p, va), out _, 1))
            {
                return false;
            }
        }

        while (!source.IsEmpty)
        {
            int n = (int)Math.Min((ulong)source.Length, PageSize - (va & (PageSize - 1)));
            TryPhysical(va, out ulong pa, (ulong)n);
            vcpu.Vm.Memory.Write(new GuestPhysAddr(pa), source[..n]);
            source = source[n..];
            va += (ulong)n;
        }

        return true;
    }

    /// <summary>Reads a 64-bit field (the A64 parameter blocks' field size).</summary>
    public bool TryReadField(ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = TryRead(va, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    /// <summary>Writes a 64-bit field.</summary>
    public bool TryWriteField(ulong va, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return TryWrite(va, b);
    }

    /// <summary>Reads the NUL-terminated string at <paramref name="va"/> (at most <paramref name="max"/> bytes before the NUL).</summary>
    public bool TryReadCString(ulong va, int max, out byte[] text)
    {
        var bytes = new List<byte>();
        Span<byte> page = stackalloc byte[(int)PageSize];
        while (bytes.Count <= max)
        {
            var chunk = page[..(int)(PageSize - (va & (PageSize - 1)))];
            if (!TryRead(va, chunk))
            {
                break;
            }

            int nul = chunk.IndexOf((byte)0);
            if (nul >= 0)
            {
                bytes.AddRange(chunk[..nul]);
                text = bytes.Count <= max ? [.. bytes] : [];
                return bytes.Count <= max;
            }

            bytes.AddRange(chunk);
            va += (ulong)chunk.Length;
        }

        text = [];
        return false;
    }

    private bool TryPhysical(ulong va, out ulong pa, ulong length)
    {
        pa = 0;
        try
        {
            return vcpu.TranslateAddress(va, out pa) && vcpu.Vm.Memory.IsBacked(new GuestPhysAddr(pa), length);
        }
        catch (VcpuException)
        {
            return false;
        }
    }
}
