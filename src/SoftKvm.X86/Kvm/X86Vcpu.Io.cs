using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// Port IO exits (docs/kvm-semantics.md#x86-port-io): the PIO bus, else an <c>Io</c> exit completed on the
/// next Run.
/// </summary>
public sealed partial class X86Vcpu
{
    private const ulong PioDataOffset = 4096;

    private int _pioSize;
    private int _pioInstructionLength;
    private ulong _pioLinearRip;

    /// <summary>
    /// An IN/OUT/INS/OUTS VM exit: counts <c>io_exits</c>; string forms go to the emulator. A port the fast path
    /// has just offered to the in-kernel devices (<see cref="X86Exit.FastPathDeclined"/>) goes to the VMM at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private int HandleIo()
    {
        Stats.Increment(X86Stat.IoExits);
        ref readonly var e = ref _cpu.Exit;
        if (e.IsString)
        {
            return Emulate(EmulationKind.StringIo);
        }

        int size = e.AccessSize;
        ushort port = e.Port;
        uint buffer = 0; // (a local, not a stackalloc: no stack cookie to check at every exit)
        Span<byte> data = MemoryMarshal.AsBytes(new Span<uint>(ref buffer));
        int length = InstructionLengthOrUnknown();
        bool kernel = !e.FastPathDeclined;
        if (e.IsWrite)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)e.Data);
            if (kernel && _vm.PioBus.Write(this, port, data[..size], ref _kernelPio))
            {
                return SkipEmulatedInstruction(length);
            }

            BeginPioExit(IoDirection.Out, size, port, length, 1);
            data[..size].CopyTo(RunState.PioData);
            SetPendingCompletion(CompleteFastPioOut);
            return 0;
        }

        if (kernel && _vm.PioBus.Read(this, port, data[..size], ref _kernelPio))
        {
            MergeIn(size, BinaryPrimitives.ReadUInt32LittleEndian(data));
            return SkipEmulatedInstruction(length);
        }

        BeginPioExit(IoDirection.In, size, port, length, 1);
        SetPendingCompletion(CompleteFastPioIn);
        return 0;
    }

    /// <summary>Fills the <c>io</c> exit: <paramref name="count"/> elements of <paramref name="size"/> bytes in the PIO data page (a batch only for an emulated REP INS).</summary>
    private void BeginPioExit(IoDirection direction, int size, ushort port, int length, int count)
    {
        ref var io = ref RunState.Io;
        io.Direction = direction;
        io.Size = (byte)size;
        io.Port = port;
        io.Count = (uint)count;
        io.DataOffset = PioDataOffset;
        _pioSize = size;
        _pioInstructionLength = length;
        _pioLinearRip = LinearRip;
        RunState.ExitReason = ExitReason.Io;
    }

    /// <summary>
    /// The non-string IN merge rule (docs/kvm-semantics.md#x86-port-io): below 4 bytes only the low bytes of
    /// RAX change; 4 bytes zero-extend.
    /// </summary>
    private void MergeIn(int size, uint value)
    {
        ref ulong rax = ref _cpu.Regs.Gpr[Gpr.Rax];
        rax = size switch
        {
            1 => (rax & ~0xFFUL) | (value & 0xFF),
            2 => (rax & ~0xFFFFUL) | (value & 0xFFFF),
            _ => value,
        };
    }

    /// <summary>complete_fast_pio_in/out: only when RIP was not moved behind the hypervisor's back; then the common skip.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool CompleteFastPio(bool isIn, out RunResult result)
    {
        result = RunResult.Ok;
        if (LinearRip != _pioLinearRip)
        {
            return true;
        }

        if (isIn)
        {
            ReadOnlySpan<byte> page = RunState.PioData;
            uint value = 0;
            Span<byte> bytes = MemoryMarshal.AsBytes(new Span<uint>(ref value));
            page[.._pioSize].CopyTo(bytes);
            MergeIn(_pioSize, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        }

        return SkipEmulatedInstruction(_pioInstructionLength) > 0;
    }
}
