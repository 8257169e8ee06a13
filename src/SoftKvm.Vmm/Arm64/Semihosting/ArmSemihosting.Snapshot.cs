using SoftKvm.Core.Errors;

namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// Semihosting in a snapshot (docs/snapshots.md): the nanoseconds SYS_ELAPSED and SYS_CLOCK have counted, errno,
/// SYS_HEAPINFO's layout, the operations reported as unsupported, and every open handle: a console end by its kind,
/// ":semihosting-features" by its read position, a host file by the name the guest opened, its SYS_OPEN mode and its
/// position. A restore opens each file again by that name under the root (never creating or truncating it) and seeks
/// to the position; a file that is gone makes the restore fail with one line.
/// </summary>
internal sealed partial class ArmSemihosting
{
    private const int MaxHandles = 1024;

    /// <summary>Writes the state (every vCPU stopped).</summary>
    public void SaveState(BinaryWriter w)
    {
        lock (_lock)
        {
            w.Write(ElapsedTicks());
            w.Write(_errno);
            w.Write(_layout.HeapBase);
            w.Write(_layout.HeapLimit);
            w.Write(_layout.StackBase);
            w.Write(_layout.StackLimit);
            w.Write(_reported.Count);
            foreach (uint op in _reported.Order())
            {
                w.Write(op);
            }

            w.Write(_handles.Count);
            foreach (var (number, handle) in _handles.OrderBy(h => h.Key))
            {
                w.Write(number);
                w.Write((byte)handle.Kind);
                w.Write(handle.Name ?? "");
                w.Write(handle.Mode);
                w.Write(handle.Stream?.Position ?? 0);
            }
        }
    }

    /// <summary>Reads what <see cref="SaveState"/> wrote into this semihosting, which has no open handle yet.</summary>
    /// <exception cref="SoftKvmException">the state is inconsistent, or a file the guest had open cannot be opened again.</exception>
    public void RestoreState(BinaryReader r)
    {
        lock (_lock)
        {
            _elapsedBefore = r.ReadInt64();
            _clock.Restart();
            _errno = r.ReadInt32();
            _layout = new SemihostingLayout(r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64());
            int reported = r.ReadInt32();
            CheckCount(reported, "unsupported operations");
            for (int i = 0; i < reported; i++)
            {
                _reported.Add(r.ReadUInt32());
            }

            int count = r.ReadInt32();
            CheckCount(count, "open handles");
            for (int i = 0; i < count; i++)
            {
                ulong number = r.ReadUInt64();
                var kind = (HandleKind)r.ReadByte();
                string name = r.ReadString();
                int mode = r.ReadInt32();
                long position = r.ReadInt64();
                if (number is 0 or >= MaxHandles || _handles.ContainsKey(number) || !Enum.IsDefined(kind) || (uint)mode >= OpenModes.Count || position < 0)
                {
                    throw new SoftKvmException($"semihosting handle {number} ({kind}, mode {mode}, position {position}) is not a handle SYS_OPEN makes");
                }

                _handles.Add(number, kind == HandleKind.File ? Reopen(name, mode, position) : new SemihostingHandle(kind));
            }
        }
    }

    private static void CheckCount(int count, string what)
    {
        if (count is < 0 or > MaxHandles)
        {
            throw new SoftKvmException($"semihosting state lists {count} {what}");
        }
    }

    private SemihostingHandle Reopen(string name, int mode, long position)
    {
        if (name == ":semihosting-features")
        {
            return new SemihostingHandle(HandleKind.File, new MemoryStream(s_features, writable: false) { Position = position }) { Name = name };
        }

        var (_, access, append) = OpenModes.Of(mode);
        string path = _root?.Resolve(name) ?? throw new SoftKvmException($"the guest had semihosting file '{name}' open, which is not under this machine's --semihosting-root");
        try
        {
            var stream = new FileStream(path, FileMode.Open, access, FileShare.ReadWrite | FileShare.Delete) { Position = position };
            return new SemihostingHandle(HandleKind.File, stream, append) { Name = name, Mode = mode };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SoftKvmException($"the guest had semihosting file {path} open, which cannot be opened again: {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}
