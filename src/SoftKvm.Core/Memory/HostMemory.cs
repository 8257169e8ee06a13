using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SoftKvm.Core.Memory;

/// <summary>
/// The host memory behind guest RAM. On Linux a slot is an anonymous private mapping (page-aligned, zero pages
/// allocated by the kernel on first touch), so that a snapshot's restore can put pages of the snapshot file in
/// its place with <c>mmap(MAP_PRIVATE | MAP_FIXED)</c>: copy-on-write, nothing read until the guest touches it
/// and nothing copied until it writes (docs/snapshots.md). Elsewhere, and where the host's page size is not
/// 4 KiB, a slot is zeroed native memory and a restore reads the pages. libc through P/Invoke, as the native
/// engine's code memory.
/// </summary>
internal static unsafe partial class HostMemory
{
    private const int ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapFixed = 0x10, MapAnonymous = 0x20;
    private static readonly nint MapFailed = -1;

    /// <summary>Whether slots are mappings that file pages can replace (Linux with 4 KiB pages).</summary>
    public static bool CanMapFiles { get; } = OperatingSystem.IsLinux() && Environment.SystemPageSize == (int)GuestMemory.PageSize;

    /// <summary>Allocates <paramref name="size"/> zeroed bytes; <paramref name="mapped"/> says whether they are a mapping (free with <see cref="Free"/> alike).</summary>
    public static byte* Allocate(ulong size, out bool mapped)
    {
        if (CanMapFiles)
        {
            nint p = Mmap(0, (nuint)size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (p != MapFailed)
            {
                mapped = true;
                return (byte*)p;
            }
        }

        mapped = false;
        return (byte*)NativeMemory.AllocZeroed((nuint)size);
    }

    /// <summary>Frees what <see cref="Allocate"/> returned.</summary>
    public static void Free(byte* memory, ulong size, bool mapped)
    {
        if (mapped)
        {
            Munmap((nint)memory, (nuint)size);
        }
        else
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>
    /// Replaces <paramref name="length"/> bytes at <paramref name="at"/> (inside a mapped slot, page-aligned) with a
    /// private copy-on-write mapping of <paramref name="file"/> from <paramref name="offset"/> (page-aligned); false
    /// when the host refuses (the memory there is unchanged then).
    /// </summary>
    public static bool MapFilePrivate(byte* at, ulong length, SafeFileHandle file, long offset)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            nint p = Mmap((nint)at, (nuint)length, ProtRead | ProtWrite, MapPrivate | MapFixed, (int)file.DangerousGetHandle(), offset);
            return p == (nint)at;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
