using System.Runtime.InteropServices;

namespace SoftKvm.Core.CodeGen;

/// <summary>
/// Memory for generated code, W^X without flipping protections: one anonymous file (memfd) mapped twice,
/// once readable and executable (<see cref="Executable"/>, where the code runs) and once readable and
/// writable (<see cref="Writable"/>, where it is written and its link slots are patched). No page is ever
/// writable and executable in the same mapping, and nothing is remapped after creation, so publishing
/// a block or linking two costs no system call and no TLB shootdown. Linux only (libc through DllImport).
/// </summary>
internal sealed unsafe partial class ExecutableMemory : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapShared = 1;
    private const uint MfdCloexec = 1;
    private static readonly nint MapFailed = -1;

    /// <summary>The mapping code runs from.</summary>
    public byte* Executable { get; }

    /// <summary>The mapping code is written through (same memory as <see cref="Executable"/>).</summary>
    public byte* Writable { get; }

    /// <summary>The size of each mapping in bytes.</summary>
    public long Size { get; }

    private bool _disposed;

    /// <summary>Maps <paramref name="size"/> bytes twice (pages are allocated by the kernel as they are first written).</summary>
    /// <exception cref="InvalidOperationException">the host refused (memfd, ftruncate or mmap failed).</exception>
    public ExecutableMemory(long size)
    {
        Size = size;
        int fd = MemfdCreate("softkvm-a64-code", MfdCloexec);
        if (fd < 0)
        {
            throw new InvalidOperationException($"memfd_create failed (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Ftruncate(fd, size) != 0)
            {
                throw new InvalidOperationException($"ftruncate of the code memory failed (errno {Marshal.GetLastPInvokeError()})");
            }

            nint rx = Mmap(0, (nuint)size, ProtRead | ProtExec, MapShared, fd, 0);
            if (rx == MapFailed)
            {
                throw new InvalidOperationException($"mmap of the code memory (r-x) failed (errno {Marshal.GetLastPInvokeError()})");
            }

            nint rw = Mmap(0, (nuint)size, ProtRead | ProtWrite, MapShared, fd, 0);
            if (rw == MapFailed)
            {
                Munmap(rx, (nuint)size);
                throw new InvalidOperationException($"mmap of the code memory (rw-) failed (errno {Marshal.GetLastPInvokeError()})");
            }

            Executable = (byte*)rx;
            Writable = (byte*)rw;
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>The writable alias of executable address <paramref name="executable"/>.</summary>
    public byte* WritableOf(byte* executable) => Writable + (executable - Executable);

    /// <summary>Whether <paramref name="address"/> lies in the executable mapping.</summary>
    public bool Contains(nint address) => address >= (nint)Executable && address < (nint)Executable + (nint)Size;

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Munmap((nint)Executable, (nuint)Size);
            Munmap((nint)Writable, (nuint)Size);
        }
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
