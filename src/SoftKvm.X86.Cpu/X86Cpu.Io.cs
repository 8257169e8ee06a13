using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>Port IO plumbing: the IOPL / TSS bitmap check, IO exits and the emulation-bus port accesses.</summary>
public sealed unsafe partial class X86Cpu
{
    internal bool CheckIoPermission(ushort port, int size)
    {
        bool needBitmap = (_regs.Rflags & Rflags.VM) != 0 || (ProtectedMode && (ulong)_cpl > ((_regs.Rflags >> 12) & 3));
        if (!needBitmap)
        {
            return true;
        }

        ref var tr = ref _regs.Tr;
        if ((tr.Type & 9) != 9 || tr.Limit < 0x67)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        if (!ReadSystem(tr.Base + 0x66, 2, out ulong mapBase))
        {
            return false;
        }

        ulong byteOffset = mapBase + (ulong)(port >> 3);
        if (byteOffset + 1 > tr.Limit)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        if (!ReadSystem(tr.Base + byteOffset, 2, out ulong bits))
        {
            return false;
        }

        ulong mask = ((1UL << size) - 1) << (port & 7);
        return (bits & mask) == 0 || Fault(ExceptionVector.GP, 0, true);
    }

    /// <summary>Ends the instruction with a VMX-style IO exit (RIP at the instruction); <paramref name="declined"/>: see <see cref="X86Exit.FastPathDeclined"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    internal bool IoExit(ushort port, int size, bool isIn, bool isString, bool isRep, bool immediate, ulong data, bool declined = false)
    {
        ExitWith(X86ExitReason.IoInstruction);
        _exit.Port = port;
        _exit.AccessSize = size;
        _exit.IsWrite = !isIn;
        _exit.IsString = isString;
        _exit.IsRep = isRep;
        _exit.Data = data;
        _exit.FastPathDeclined = declined;
        _exit.Qualification = (ulong)(uint)(size - 1) | (isIn ? 8UL : 0) | (isString ? 16UL : 0) | (isRep ? 32UL : 0)
            | (immediate ? 64UL : 0) | ((ulong)port << 16);
        return false;
    }

    internal bool BusReadPort(ushort port, int size, out ulong value)
    {
        ulong buffer = 0;
        value = 0;
        if (!BusReadPorts(port, size, new Span<byte>(&buffer, size)))
        {
            return false;
        }

        value = buffer;
        return true;
    }

    /// <summary>Reads <paramref name="data"/>.Length / <paramref name="size"/> elements from <paramref name="port"/> through the emulation bus.</summary>
    internal bool BusReadPorts(ushort port, int size, Span<byte> data)
    {
        if (_bus!.ReadPort(port, size, data) == X86BusResult.NeedsUserspace)
        {
            ExitWith(X86ExitReason.NeedsUserspace);
            _exit.Port = port;
            _exit.AccessSize = size;
            _exit.IsWrite = false;
            return false;
        }

        return true;
    }

    internal bool BusWritePort(ushort port, int size, ulong value)
    {
        if (_bus!.WritePort(port, new ReadOnlySpan<byte>(&value, size)) == X86BusResult.NeedsUserspace)
        {
            ExitWith(X86ExitReason.NeedsUserspace);
            _exit.Port = port;
            _exit.AccessSize = size;
            _exit.IsWrite = true;
            _exit.Data = value;
            return false;
        }

        return true;
    }
}
