using System.Diagnostics;
using System.Text;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.Vmm.Runner;
using static SoftKvm.Vmm.Arm64.Semihosting.SemihostingErrno;
using static SoftKvm.Vmm.Arm64.Semihosting.SemihostingOperation;

namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// Arm semihosting in the VMM ("Semihosting for AArch32 and AArch64", release 2.0; docs/architecture.md#arm-semihosting).
/// The vCPU exits with <c>KVM_EXIT_HYPERCALL</c> and <see cref="HypercallFlags.ArmSemihosting"/> (the operation in
/// <c>Nr</c>, X1 in <c>Arg0</c>, PC past the HLT); this handler does the operation, reading and writing guest memory
/// at virtual addresses through the vCPU's MMU, and puts the result in X0. Files exist only under the root
/// (<see cref="SemihostingRoot"/>; without one SYS_OPEN of a file fails with EACCES); ":tt" is the console and
/// ":semihosting-features" the spec's feature file (SH_EXT_EXIT_EXTENDED, SH_EXT_STDOUT_STDERR). SYS_EXIT and
/// SYS_EXIT_EXTENDED end the run: ADP_Stopped_ApplicationExit with the subcode's low 8 bits as the exit code (a
/// process's exit status holds 8 bits), any other reason with exit code 1 and a line naming it, as QEMU does.
/// SYS_REMOVE and SYS_RENAME work on files under the root. An operation this handler does not implement (SYS_TMPNAM, SYS_SYSTEM, unknown numbers)
/// returns -1 with errno ENOSYS and is logged once. errno is one value for the VM, as in QEMU's system mode.
/// </summary>
internal sealed partial class ArmSemihosting : IHypercallHandler, IDisposable
{
    /// <summary>The exit code of SYS_EXIT with a reason other than ADP_Stopped_ApplicationExit (QEMU's).</summary>
    public const int AbnormalStopExitCode = 1;

    /// <summary>SYS_TICKFREQ: SYS_ELAPSED counts nanoseconds.</summary>
    public const ulong TickFrequency = 1_000_000_000;

    private const int MaxName = 4096;
    private const int MaxWrite0 = 1 << 20;
    private const ulong Failure = ulong.MaxValue; // -1

    private static readonly byte[] s_features = [(byte)'S', (byte)'H', (byte)'F', (byte)'B', 0b11];

    private readonly SemihostingRoot? _root;
    private readonly byte[] _commandLine;
    private SemihostingLayout _layout;
    private readonly TextWriter _log;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<ulong, SemihostingHandle> _handles = [];
    private readonly HashSet<uint> _reported = [];
    private readonly Lock _lock = new();
    private readonly byte[] _buffer = new byte[64 << 10];
    private int _errno;
    private long _elapsedBefore; // nanoseconds counted before this process (a restored snapshot's)

    /// <summary>
    /// Semihosting with files under <paramref name="root"/> (null: none), SYS_GET_CMDLINE answering
    /// <paramref name="commandLine"/>, SYS_HEAPINFO <paramref name="layout"/>, the console <paramref name="console"/>
    /// and one-time notes (unsupported operations) to <paramref name="log"/>.
    /// </summary>
    public ArmSemihosting(string? root, string commandLine, SemihostingLayout layout, SemihostingConsole console, TextWriter log)
    {
        _root = root is null ? null : new SemihostingRoot(root);
        _commandLine = Encoding.UTF8.GetBytes(commandLine);
        _layout = layout;
        Console = console;
        _log = log;
    }

    /// <summary>The console the calls read and write.</summary>
    public SemihostingConsole Console { get; }

    /// <inheritdoc />
    public bool OnHypercall(Vcpu vcpu, in HypercallExit exit, VmRunner runner, CancellationToken stopping)
    {
        if ((exit.Flags & HypercallFlags.ArmSemihosting) == 0 || vcpu is not Arm64Vcpu cpu)
        {
            runner.RequestStop(RunOutcome.InternalErrorExitCode, StopReason.InternalError, $"vCPU {vcpu.Id}: KVM_EXIT_HYPERCALL with flags 0x{(ulong)exit.Flags:x} is no semihosting call", vcpu.Id);
            return false;
        }

        var memory = new GuestVirtualMemory(cpu);
        uint op = (uint)exit.Nr;
        ulong arg = exit.Arg0;
        switch (op)
        {
            case SysExit:
            case SysExitExtended:
                return Exit(cpu, memory, arg, runner);
            case SysReadc:
                return ReadConsoleChar(cpu, stopping);
            case SysRead:
                return Read(cpu, memory, arg, stopping);
            default:
                ulong result;
                lock (_lock)
                {
                    result = Call(op, arg, memory);
                }

                if (op is not (SysWritec or SysWrite0))
                {
                    cpu.SetRegister(Arm64CoreRegister.X0, result); // the spec leaves X0 corrupted after these two: it stays
                }

                return true;
        }
    }

    /// <summary>Closes every file the guest left open.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var h in _handles.Values)
            {
                h.Stream?.Dispose();
            }

            _handles.Clear();
        }
    }

    // Every operation that neither blocks nor ends the run; under the lock.
    private ulong Call(uint op, ulong arg, GuestVirtualMemory memory)
    {
        switch (op)
        {
            case SysOpen: return Open(memory, arg);
            case SysClose: return Close(memory, arg);
            case SysWritec: return WriteConsoleChar(memory, arg);
            case SysWrite0: return WriteConsoleString(memory, arg);
            case SysWrite: return Write(memory, arg);
            case SysIserror: return memory.TryReadField(arg, out ulong status) ? ((long)status < 0 ? 1UL : 0) : Fault();
            case SysIstty: return IsTty(memory, arg);
            case SysSeek: return Seek(memory, arg);
            case SysRemove: return Remove(memory, arg);
            case SysRename: return Rename(memory, arg);
            case SysFlen: return Length(memory, arg);
            case SysClock: return ElapsedTicks() / (TickFrequency / 100);
            case SysTime: return (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            case SysErrno: return (ulong)_errno;
            case SysGetCmdline: return GetCommandLine(memory, arg);
            case SysHeapinfo: return HeapInfo(memory, arg);
            case SysElapsed: return memory.TryWriteField(arg, ElapsedTicks()) ? 0 : Fault();
            case SysTickfreq: return TickFrequency;
            case SysSynccache: return 0; // the CPU sees code written through its stale checks: nothing to clean or invalidate
            default:
                if (_reported.Add(op))
                {
                    _log.WriteLine($"softkvm: semihosting {Name(op)} is not supported; it returns -1 with errno ENOSYS (reported once)");
                }

                return Error(Enosys);
        }
    }

    // Nanoseconds since the run started (a restored run goes on from its snapshot's count).
    private ulong ElapsedTicks() => (ulong)_elapsedBefore + (ulong)(_clock.ElapsedTicks * (double)TickFrequency / Stopwatch.Frequency);

    private ulong Error(int errno)
    {
        _errno = errno;
        return Failure;
    }

    private ulong Fault() => Error(Efault);

    private ulong Open(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block, out ulong namePointer) || !memory.TryReadField(block + 8, out ulong mode) || !memory.TryReadField(block + 16, out ulong length))
        {
            return Fault();
        }

        if (!TryReadName(memory, namePointer, length, out string name, out ulong error))
        {
            return error;
        }

        if (mode >= OpenModes.Count)
        {
            return Error(Einval);
        }

        if (name == ":tt")
        {
            return Add(new SemihostingHandle(OpenModes.ConsoleOf((int)mode)));
        }

        if (name == ":semihosting-features")
        {
            return mode > 1 ? Error(Eacces) : Add(new SemihostingHandle(HandleKind.File, new MemoryStream(s_features, writable: false)) { Name = name });
        }

        if (HostPath(name) is not { } path)
        {
            return Failure;
        }

        if (Directory.Exists(path))
        {
            return Error(Eisdir);
        }

        var (fileMode, access, append) = OpenModes.Of((int)mode);
        FileStream? stream = null;
        ulong result = HostFileCall(() => stream = new FileStream(path, fileMode, access, FileShare.ReadWrite | FileShare.Delete));
        return stream is null ? result : Add(new SemihostingHandle(HandleKind.File, stream, append) { Name = name, Mode = (int)mode });
    }

    // A name of the guest's: length bytes at pointer (no NUL needed); false with errno set and -1 in error.
    private bool TryReadName(GuestVirtualMemory memory, ulong pointer, ulong length, out string name, out ulong error)
    {
        name = "";
        error = 0;
        if (length > MaxName)
        {
            error = Error(Enametoolong);
            return false;
        }

        var bytes = new byte[(int)length];
        if (!memory.TryRead(pointer, bytes))
        {
            error = Fault();
            return false;
        }

        name = Encoding.UTF8.GetString(bytes);
        return true;
    }

    // The host path of a guest file name under the root; null with errno EACCES (no root, or the name leaves it).
    private string? HostPath(string name)
    {
        if (_root?.Resolve(name) is { } path)
        {
            return path;
        }

        Error(Eacces);
        return null;
    }

    // SYS_REMOVE: [name, length]; 0, or -1 with errno.
    private ulong Remove(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block, out ulong pointer) || !memory.TryReadField(block + 8, out ulong length))
        {
            return Fault();
        }

        if (!TryReadName(memory, pointer, length, out string name, out ulong error))
        {
            return error;
        }

        if (HostPath(name) is not { } path)
        {
            return Failure;
        }

        return Directory.Exists(path) ? Error(Eisdir) : !File.Exists(path) ? Error(Enoent) : HostFileCall(() => File.Delete(path));
    }

    // SYS_RENAME: [old name, length, new name, length]; 0, or -1 with errno. An existing new name is replaced, as rename(2) does.
    private ulong Rename(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block, out ulong oldPointer) || !memory.TryReadField(block + 8, out ulong oldLength)
            || !memory.TryReadField(block + 16, out ulong newPointer) || !memory.TryReadField(block + 24, out ulong newLength))
        {
            return Fault();
        }

        if (!TryReadName(memory, oldPointer, oldLength, out string oldName, out ulong error)
            || !TryReadName(memory, newPointer, newLength, out string newName, out error))
        {
            return error;
        }

        if (HostPath(oldName) is not { } from || HostPath(newName) is not { } to)
        {
            return Failure;
        }

        return !File.Exists(from) ? Error(Enoent) : Directory.Exists(to) ? Error(Eisdir) : HostFileCall(() => File.Move(from, to, overwrite: true));
    }

    private ulong HostFileCall(Action call)
    {
        try
        {
            call();
            return 0;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Error(Enoent);
        }
        catch (UnauthorizedAccessException)
        {
            return Error(Eacces);
        }
        catch (IOException)
        {
            return Error(Eio);
        }
    }

    private ulong Add(SemihostingHandle handle)
    {
        for (ulong h = 1; h < 1024; h++)
        {
            if (_handles.TryAdd(h, handle))
            {
                return h;
            }
        }

        handle.Stream?.Dispose();
        return Error(Emfile);
    }

    // The handle named by the block's first field; false with errno set (EFAULT, EBADF) and -1 in error.
    private bool TryHandleAt(GuestVirtualMemory memory, ulong block, out ulong h, out SemihostingHandle handle, out ulong error)
    {
        handle = null!;
        error = 0;
        if (!memory.TryReadField(block, out h))
        {
            error = Fault();
            return false;
        }

        if (!_handles.TryGetValue(h, out handle!))
        {
            error = Error(Ebadf);
            return false;
        }

        return true;
    }

    private ulong Close(GuestVirtualMemory memory, ulong block)
    {
        if (!TryHandleAt(memory, block, out ulong h, out var handle, out ulong error))
        {
            return error;
        }

        _handles.Remove(h);
        handle.Stream?.Dispose();
        return 0;
    }

    private ulong WriteConsoleChar(GuestVirtualMemory memory, ulong address)
    {
        Span<byte> c = stackalloc byte[1];
        if (!memory.TryRead(address, c))
        {
            return Fault();
        }

        Console.Write(c);
        return 0;
    }

    private ulong WriteConsoleString(GuestVirtualMemory memory, ulong address)
    {
        if (!memory.TryReadCString(address, MaxWrite0, out byte[] text))
        {
            return Fault();
        }

        Console.Write(text);
        return 0;
    }

    // SYS_WRITE: [handle, buffer, length]; returns the number of bytes NOT written.
    private ulong Write(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block, out ulong h) || !memory.TryReadField(block + 8, out ulong buffer) || !memory.TryReadField(block + 16, out ulong length))
        {
            return Fault();
        }

        if (!_handles.TryGetValue(h, out var handle) || handle.Kind == HandleKind.ConsoleIn || handle.Stream is { CanWrite: false })
        {
            Error(Ebadf);
            return length;
        }

        ulong done = 0;
        while (done < length)
        {
            int n = (int)Math.Min((ulong)_buffer.Length, length - done);
            var chunk = _buffer.AsSpan(0, n);
            if (!memory.TryRead(buffer + done, chunk))
            {
                Fault();
                break;
            }

            try
            {
                switch (handle.Kind)
                {
                    case HandleKind.ConsoleOut: Console.Write(chunk); break;
                    case HandleKind.ConsoleErr: Console.WriteError(chunk); break;
                    default:
                        if (handle.Append)
                        {
                            handle.Stream!.Seek(0, SeekOrigin.End);
                        }

                        handle.Stream!.Write(chunk);
                        handle.Stream.Flush();
                        break;
                }
            }
            catch (IOException)
            {
                Error(Eio);
                break;
            }

            done += (ulong)n;
        }

        return length - done;
    }

    // SYS_READ: [handle, buffer, length]; returns the number of bytes NOT read (length at end of file).
    private bool Read(Arm64Vcpu cpu, GuestVirtualMemory memory, ulong block, CancellationToken stopping)
    {
        ulong result;
        if (!memory.TryReadField(block, out ulong h) || !memory.TryReadField(block + 8, out ulong buffer) || !memory.TryReadField(block + 16, out ulong length))
        {
            lock (_lock)
            {
                result = Fault();
            }
        }
        else
        {
            SemihostingHandle? handle;
            lock (_lock)
            {
                _handles.TryGetValue(h, out handle);
            }

            if (handle?.Kind == HandleKind.ConsoleIn)
            {
                var chunk = new byte[(int)Math.Min(length, (ulong)_buffer.Length)];
                int n = Console.Read(chunk, stopping);
                if (stopping.IsCancellationRequested)
                {
                    return false;
                }

                lock (_lock)
                {
                    result = length - (ulong)n;
                    if (!memory.TryWrite(buffer, chunk.AsSpan(0, n)))
                    {
                        Fault();
                        result = length;
                    }
                }
            }
            else
            {
                lock (_lock)
                {
                    result = ReadFile(memory, handle, buffer, length);
                }
            }
        }

        cpu.SetRegister(Arm64CoreRegister.X0, result);
        return true;
    }

    private ulong ReadFile(GuestVirtualMemory memory, SemihostingHandle? handle, ulong buffer, ulong length)
    {
        if (handle is null || handle.Stream is not { CanRead: true } stream)
        {
            Error(Ebadf);
            return length;
        }

        ulong done = 0;
        try
        {
            while (done < length)
            {
                int n = stream.Read(_buffer, 0, (int)Math.Min((ulong)_buffer.Length, length - done));
                if (n == 0)
                {
                    break;
                }

                if (!memory.TryWrite(buffer + done, _buffer.AsSpan(0, n)))
                {
                    Fault();
                    break;
                }

                done += (ulong)n;
            }
        }
        catch (IOException)
        {
            Error(Eio);
        }

        return length - done;
    }

    private bool ReadConsoleChar(Arm64Vcpu cpu, CancellationToken stopping)
    {
        Span<byte> c = stackalloc byte[1];
        if (Console.Read(c, stopping) == 0)
        {
            return false; // the run is stopping
        }

        cpu.SetRegister(Arm64CoreRegister.X0, c[0]);
        return true;
    }

    private ulong IsTty(GuestVirtualMemory memory, ulong block)
    {
        if (!TryHandleAt(memory, block, out _, out var handle, out ulong error))
        {
            return error;
        }

        if (handle.Kind == HandleKind.File)
        {
            _errno = Enotty;
            return 0;
        }

        return 1;
    }

    // SYS_SEEK: [handle, absolute position]; 0 or -1.
    private ulong Seek(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block + 8, out ulong position))
        {
            return Fault();
        }

        if (!TryHandleAt(memory, block, out _, out var handle, out ulong error))
        {
            return error;
        }

        if (handle.Stream is not { } stream)
        {
            return Error(Espipe);
        }

        if ((long)position < 0)
        {
            return Error(Einval);
        }

        try
        {
            stream.Seek((long)position, SeekOrigin.Begin);
            return 0;
        }
        catch (IOException)
        {
            return Error(Eio);
        }
    }

    private ulong Length(GuestVirtualMemory memory, ulong block)
    {
        if (!TryHandleAt(memory, block, out _, out var handle, out ulong error))
        {
            return error;
        }

        return handle.Stream is { } stream ? (ulong)stream.Length : 0; // a console is empty, as fstat says of a terminal
    }

    // SYS_GET_CMDLINE: [buffer, size]; the command line and its NUL into the buffer, its length into the block.
    private ulong GetCommandLine(GuestVirtualMemory memory, ulong block)
    {
        if (!memory.TryReadField(block, out ulong buffer) || !memory.TryReadField(block + 8, out ulong size))
        {
            return Fault();
        }

        if ((ulong)_commandLine.Length + 1 > size)
        {
            return Error(E2big);
        }

        byte[] text = [.. _commandLine, 0];
        return memory.TryWrite(buffer, text) && memory.TryWriteField(block + 8, (ulong)_commandLine.Length) ? 0 : Fault();
    }

    // SYS_HEAPINFO: X1 points to the address of a four-field block.
    private ulong HeapInfo(GuestVirtualMemory memory, ulong pointer)
    {
        if (!memory.TryReadField(pointer, out ulong block))
        {
            return Fault();
        }

        bool ok = memory.TryWriteField(block, _layout.HeapBase)
            && memory.TryWriteField(block + 8, _layout.HeapLimit)
            && memory.TryWriteField(block + 16, _layout.StackBase)
            && memory.TryWriteField(block + 24, _layout.StackLimit);
        return ok ? 0 : Fault();
    }

    // SYS_EXIT (A64: a block of reason and subcode, as SYS_EXIT_EXTENDED takes everywhere).
    private bool Exit(Arm64Vcpu cpu, GuestVirtualMemory memory, ulong block, VmRunner runner)
    {
        if (!memory.TryReadField(block, out ulong reason) || !memory.TryReadField(block + 8, out ulong subcode))
        {
            lock (_lock)
            {
                cpu.SetRegister(Arm64CoreRegister.X0, Fault());
            }

            return true;
        }

        if (reason == StoppedReason.ApplicationExit)
        {
            runner.RequestStop((int)(subcode & 0xFF), StopReason.GuestExit, $"vCPU {cpu.Id}: semihosting exit with code {(long)subcode}", cpu.Id);
        }
        else
        {
            string name = StoppedReason.Name(reason) is { } known ? $"{known} (0x{reason:x})" : $"unknown reason 0x{reason:x}";
            runner.RequestStop(AbnormalStopExitCode, StopReason.GuestStoppedAbnormally, $"vCPU {cpu.Id}: the guest stopped through semihosting with {name}, subcode {(long)subcode}", cpu.Id);
        }

        return false;
    }
}
