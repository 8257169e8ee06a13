using System.Runtime.CompilerServices;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// The instruction emulator entry (KVM's <c>x86_emulate_instruction</c>) and its MMIO/PIO completion
/// state machine. The CPU model executes the instruction with <see cref="EmulationBus"/> as its memory
/// interface for unbacked guest-physical addresses and ports. Reads are logged in order: one that
/// needs the VMM stops the instruction (nothing committed) and exits; on completion the instruction
/// re-executes and the log replays the data (KVM's read cache). Writes no in-kernel device takes are
/// buffered as fragments (at most 8 bytes, never crossing a page) and exit one by one after the
/// instruction retired. Retirement follows docs/kvm-semantics.md#x86-faulting-emulation: RIP, RFLAGS and
/// single-step only without exception or with a trap-class one.
/// </summary>
public sealed partial class X86Vcpu
{
    private const int LogCapacity = 64;

    /// <summary>The largest port-read batch (an emulated REP INS: KVM's 1024-byte PIO read-ahead).</summary>
    private const int PortBatchCapacity = 1024;

    private readonly EmulationBus _bus;
    private readonly AccessRecord[] _log = new AccessRecord[LogCapacity];
    private readonly byte[] _portBatch = new byte[PortBatchCapacity];
    private readonly AccessRecord[] _fragments = new AccessRecord[LogCapacity];
    private int _logCount;
    private int _logPos;
    private int _missIndex;
    private int _lastTrigger;
    private int _fragmentCount;
    private int _fragmentPos;
    private bool _overflow;
    private bool _deferredSingleStep;
    private EmulationKind _emulationKind;

    /// <summary>Why the emulator is called (KVM's emulation types that matter here).</summary>
    private enum EmulationKind
    {
        /// <summary>An EPT violation on an unbacked guest-physical address (the MMU page-fault path).</summary>
        Mmio,

        /// <summary>A #UD intercept (EMULTYPE_TRAP_UD): a failure becomes a #UD for the guest.</summary>
        TrapUd,

        /// <summary>INS/OUTS.</summary>
        StringIo,
    }

    /// <summary>
    /// One logged read or one buffered write: <see cref="Length"/> bytes in elements of <see cref="Size"/>
    /// (a port-read batch of an emulated REP INS has several; everything else one). Up to 8 bytes are kept
    /// in <see cref="Data"/>; a longer port batch in <see cref="_portBatch"/> (one per instruction).
    /// </summary>
    private struct AccessRecord
    {
        public ulong Address;
        public ulong Data;
        public int Length;
        public int Size;
        public int Access;
        public bool IsPort;
        public bool Valid;

        /// <summary>A write the fast path performed (replayed, not repeated); everything else in the log is a read.</summary>
        public bool IsWrite;
    }

    /// <summary>
    /// A fresh emulation: counts <c>insn_emulation</c>, empties the log. With <paramref name="fastAccesses"/>, the
    /// instruction's first device accesses were completed by the fast path, which counted the emulation and kept
    /// them in the log: the emulator replays them (X86Vcpu.FastPath.cs).
    /// </summary>
    private int Emulate(EmulationKind kind, int fastAccesses = 0)
    {
        if (fastAccesses == 0)
        {
            Stats.Increment(X86Stat.InsnEmulation);
        }

        _emulationKind = kind;
        _logCount = fastAccesses;
        _lastTrigger = -1;
        return RunEmulator(fresh: true);
    }

    /// <summary>
    /// <c>handle_ud</c> with <see cref="X86Vm.ForceEmulationPrefix"/>: when the five bytes at RIP are the
    /// forced-emulation signature (<c>ud2; .ascii "kvm"</c>), RIP moves past them, so the emulator runs the
    /// instruction after them. The bytes are read as the guest would read them; unreadable means no signature.
    /// </summary>
    private unsafe void SkipForcedEmulationPrefix()
    {
        if (!_vm.ForceEmulationPrefix)
        {
            return;
        }

        ReadOnlySpan<byte> signature = [0x0F, 0x0B, (byte)'k', (byte)'v', (byte)'m'];
        ulong linear = LinearRip;
        for (int i = 0; i < signature.Length; i++)
        {
            ulong at = _cpu.Bitness == 64 ? linear + (ulong)i : (linear + (ulong)i) & 0xFFFF_FFFF;
            byte* p = _cpu.TryTranslate(at, false, out ulong gpa) ? _vm.Memory.TryGetHostPointer(gpa, false, out _) : null;
            if (p == null || *p != signature[i])
            {
                return;
            }
        }

        _cpu.Regs.Rip = MaskIp(_cpu.Regs.Rip + (ulong)signature.Length);
    }

    /// <summary>
    /// KVM's <c>kvm_emulate_instruction</c> for the instruction at RIP, as the hypervisor's own callers use
    /// it (1 = go on, 0 = the run state holds an exit). Only while the vCPU is not running.
    /// </summary>
    internal int EmulateInstruction()
    {
        ThrowIfRunning();
        return Emulate(EmulationKind.Mmio);
    }

    /// <summary>
    /// One pass of the emulator over the instruction at RIP, and the writeback rules of
    /// docs/kvm-semantics.md#x86-faulting-emulation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int RunEmulator(bool fresh)
    {
        _logPos = 0;
        _missIndex = -1;
        _fragmentCount = 0;
        _fragmentPos = 0;
        _overflow = false;
        var result = _cpu.EmulateOne(_bus);
        if (_overflow)
        {
            result = X86EmulationResult.Failed;
        }

        switch (result)
        {
            case X86EmulationResult.Retired:
            {
                _logCount = 0;
                bool step = _cpu.LastSingleStep || GuestSingleStep;
                if (_fragmentCount > 0)
                {
                    // The write goes to the VMM after retirement (RIP already past the instruction); the
                    // single-step the retirement owes is raised when the last fragment completes.
                    _deferredSingleStep = step;
                    return BeginWriteExit();
                }

                return step ? DoSingleStep() : 1;
            }

            case X86EmulationResult.Exception:
                _logCount = 0;
                _fragmentCount = 0;
                return InjectEmulatorException();
            case X86EmulationResult.NeedsUserspace:
                return BeginReadExit(fresh);
            default:
                _logCount = 0;
                _fragmentCount = 0;
                if (_emulationKind == EmulationKind.TrapUd)
                {
                    Stats.Increment(X86Stat.UndefinedInstructions);
                    _cpu.InjectException(ExceptionVector.UD);
                    return 1;
                }

                return HandleEmulationFailure("the instruction emulator cannot emulate the instruction");
        }
    }

    /// <summary>
    /// An emulation failure (docs/kvm-semantics.md#x86-mmio-exit-statistic): counts
    /// <c>insn_emulation_fail</c> only; at CPL 0 an <c>InternalError</c>/<c>Emulation</c> exit, above
    /// CPL 0 a #UD for the guest (as KVM).
    /// </summary>
    private int HandleEmulationFailure(string message)
    {
        Stats.Increment(X86Stat.InsnEmulationFail);
        if (_cpu.Cpl != 0)
        {
            _cpu.InjectException(ExceptionVector.UD);
            return 1;
        }

        ref readonly var e = ref _cpu.Exit;
        int r = InternalError(InternalErrorSuberror.Emulation, message);
        ref var i = ref RunState.Internal;
        i.Data[1] = e.GuestPhysicalAddress;
        i.NData = 2;
        return r;
    }

    /// <summary>
    /// The emulator raised an exception (docs/kvm-semantics.md#x86-faulting-emulation): a fault (and an
    /// emulator #DB, fault-like since 2022) left RIP, RFLAGS and registers as before and is injected alone:
    /// no single-step, whose #DB would replace it (the SYSCALL #UD loop). A trap (#BP, #OF) retired the
    /// instruction: RIP and RFLAGS are written and, as KVM's <c>x86_emulate_instruction</c> does for "no
    /// exception or a trap", single-step follows when TF was set: the #DB is queued after the trap and, both
    /// being benign, replaces it (<c>kvm_multiple_exception</c>), so the guest takes one #DB past the
    /// instruction; under guest single-step it is a <c>Debug</c> exit and the trap stays queued for the next run
    /// (docs/kvm-semantics.md#x86-trap-class-emulator-exceptions).
    /// </summary>
    private int InjectEmulatorException()
    {
        ref readonly var e = ref _cpu.Exit;
        int vector = e.Vector;
        ulong dr6 = 0;
        if (vector == ExceptionVector.PF)
        {
            _cpu.Regs.Cr2 = e.Qualification;
        }
        else if (vector == ExceptionVector.DB)
        {
            dr6 = e.Qualification;
        }

        bool trap = vector is ExceptionVector.BP or ExceptionVector.OF;
        _cpu.InjectException(vector, e.ErrorCode, e.ErrorCodeValid, dr6, software: trap);
        return trap && (_cpu.LastSingleStep || GuestSingleStep) ? DoSingleStep() : 1;
    }

    /// <summary>
    /// A read needs the VMM. Counts <c>mmio_exits</c> once per emulation pass
    /// (docs/kvm-semantics.md#x86-mmio-exit-statistic), except when the read is the next piece of the same
    /// data access as the read that caused the previous exit (an operand split at a page boundary or into
    /// 8-byte pieces: KVM sends those as fragments of one pass). Which access a piece belongs to is the
    /// emulator's own record (<see cref="X86Cpu.EmulatedAccess"/>), never a guess from addresses: two
    /// operands that happen to be adjacent are two passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int BeginReadExit(bool fresh)
    {
        if (_missIndex < 0)
        {
            return HandleEmulationFailure("the emulator stopped for an access it did not report");
        }

        ref var miss = ref _log[_missIndex];
        if (miss.IsPort)
        {
            // KVM's emulator_pio_in_out: the whole batch in one exit, io.count elements, the data area zeroed.
            BeginPioExit(IoDirection.In, miss.Size, (ushort)miss.Address, 0, miss.Length / miss.Size);
            RunState.PioData[..miss.Length].Clear();
            SetPendingCompletion(CompleteEmulatedPioIn);
            return 0;
        }

        if (fresh || !IsContinuation())
        {
            Stats.Increment(X86Stat.MmioExits);
        }

        _lastTrigger = _missIndex;
        ref var mmio = ref RunState.Mmio;
        mmio.PhysAddr = miss.Address;
        mmio.Length = (uint)miss.Length;
        mmio.IsWrite = false;
        mmio.SetValue(0);
        RunState.ExitReason = ExitReason.Mmio;
        SetPendingCompletion(CompleteMmioRead);
        return 0;
    }

    private bool IsContinuation()
    {
        if (_lastTrigger < 0 || _missIndex != _lastTrigger + 1)
        {
            return false;
        }

        ref var previous = ref _log[_lastTrigger];
        return !previous.IsPort && previous.Access == _log[_missIndex].Access;
    }

    /// <summary>The first buffered write fragment goes to the VMM; counts <c>mmio_exits</c> once for the instruction.</summary>
    private int BeginWriteExit()
    {
        ref var f = ref _fragments[0];
        if (!f.IsPort)
        {
            Stats.Increment(X86Stat.MmioExits);
        }

        return EmitFragment();
    }

    private int EmitFragment()
    {
        ref var f = ref _fragments[_fragmentPos];
        if (f.IsPort)
        {
            BeginPioExit(IoDirection.Out, f.Length, (ushort)f.Address, 0, 1);
            Span<byte> page = RunState.PioData;
            for (int i = 0; i < f.Length; i++)
            {
                page[i] = (byte)(f.Data >> (8 * i));
            }

            SetPendingCompletion(CompleteEmulatedPioOut);
            return 0;
        }

        ref var mmio = ref RunState.Mmio;
        mmio.PhysAddr = f.Address;
        mmio.Length = (uint)f.Length;
        mmio.IsWrite = true;
        mmio.SetValue(f.Data);
        RunState.ExitReason = ExitReason.Mmio;
        SetPendingCompletion(CompleteMmioWrite);
        return 0;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    protected override bool CompletePending(int kind, out RunResult result)
    {
        result = RunResult.Ok;
        int r;
        switch (kind)
        {
            case CompleteMmioRead:
            {
                ref var rec = ref _log[_missIndex];
                ulong mask = rec.Length == 8 ? ulong.MaxValue : (1UL << (8 * rec.Length)) - 1;
                rec.Data = RunState.Mmio.Value & mask;
                rec.Valid = true;
                if (_missIndex == 0 && _logCount == 1 && _guestStateChecked && _debugFlags == 0 && _cpu.TryCompleteDeclinedLoad(rec.Data))
                {
                    // A translated block's MOV from the VMM's device, the register access of the VMM none: completed
                    // without executing the instruction again (X86Cpu.BlockDevice.cs), as the emulator's pass would.
                    _logCount = 0;
                    r = 1;
                    break;
                }

                r = RunEmulator(fresh: false);
                break;
            }

            case CompleteEmulatedPioIn:
            {
                ref var rec = ref _log[_missIndex];
                ReadOnlySpan<byte> page = RunState.PioData;
                StoreRecordData(ref rec, page[..rec.Length]);
                rec.Valid = true;
                r = RunEmulator(fresh: false);
                break;
            }

            case CompleteMmioWrite or CompleteEmulatedPioOut:
                _fragmentPos++;
                if (_fragmentPos < _fragmentCount)
                {
                    r = EmitFragment();
                    break;
                }

                _fragmentCount = 0;
                r = _deferredSingleStep ? DoSingleStep() : 1;
                _deferredSingleStep = false;
                break;
            case CompleteFastPioIn:
                return CompleteFastPio(true, out result);
            case CompleteFastPioOut:
                return CompleteFastPio(false, out result);
            default:
                r = InternalError(InternalErrorSuberror.UnexpectedExitReason, "unknown pending completion");
                break;
        }

        return r > 0;
    }

    /// <summary>
    /// A read of <paramref name="data"/>.Length bytes in elements of <paramref name="size"/> at
    /// <paramref name="address"/> (a port batch has several elements, everything else one): the log when
    /// replaying, else the in-kernel devices, else the VMM.
    /// </summary>
    private X86BusResult BusRead(ulong address, int size, Span<byte> data, bool port)
    {
        if (_logPos < _logCount)
        {
            ref var rec = ref _log[_logPos];
            if (rec.Valid && !rec.IsWrite && rec.IsPort == port && rec.Address == address && rec.Length == data.Length && rec.Size == size)
            {
                LoadRecordData(in rec, data);
                _logPos++;
                return X86BusResult.Done;
            }

            _logCount = _logPos; // the instruction took another path: forget the rest
        }

        bool handled = port ? ReadKernelPorts((ushort)address, size, data) : ReadKernelMmio(address, data);
        if (handled)
        {
            if (_logCount < LogCapacity)
            {
                Record(address, size, data, port, true);
            }

            return X86BusResult.Done;
        }

        if (_logCount >= LogCapacity)
        {
            _overflow = true;
            return X86BusResult.NeedsUserspace;
        }

        _missIndex = _logCount;
        Record(address, size, data, port, false);
        return X86BusResult.NeedsUserspace;
    }

    private void Record(ulong address, int size, ReadOnlySpan<byte> data, bool port, bool valid)
    {
        ref var rec = ref _log[_logCount++];
        rec = new AccessRecord { Address = address, Length = data.Length, Size = size, Access = _cpu.EmulatedAccess, IsPort = port, Valid = valid };
        if (valid)
        {
            StoreRecordData(ref rec, data);
        }

        _logPos = _logCount;
    }

    private void StoreRecordData(ref AccessRecord rec, ReadOnlySpan<byte> data)
    {
        if (data.Length > 8)
        {
            data.CopyTo(_portBatch);
            return;
        }

        rec.Data = Pack(data);
    }

    private void LoadRecordData(in AccessRecord rec, Span<byte> data)
    {
        if (data.Length > 8)
        {
            _portBatch.AsSpan(0, data.Length).CopyTo(data);
            return;
        }

        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(rec.Data >> (8 * i));
        }
    }

    /// <summary>
    /// The in-kernel port devices for a batch, element by element (KVM's <c>emulator_pio_in_out</c>): false
    /// when none takes the first element (the batch goes to userspace); should one stop answering part way
    /// (a device unregistered meanwhile), the rest of the batch reads as zero.
    /// </summary>
    private bool ReadKernelPorts(ushort port, int size, Span<byte> data)
    {
        for (int i = 0; i < data.Length; i += size)
        {
            if (!_vm.PioBus.Read(this, port, data.Slice(i, size)))
            {
                if (i == 0)
                {
                    return false;
                }

                data[i..].Clear();
                break;
            }
        }

        return true;
    }

    /// <summary>A write: the in-kernel devices, else a fragment buffered for the VMM.</summary>
    private X86BusResult BusWrite(ulong address, ReadOnlySpan<byte> data, bool port)
    {
        if (_logPos < _logCount && _log[_logPos].IsWrite)
        {
            // A write the fast path made before a later access of the instruction needed the VMM: done already.
            ref var rec = ref _log[_logPos];
            if (!port && rec.Address == address && rec.Length == data.Length && rec.Data == Pack(data))
            {
                _logPos++;
                return X86BusResult.Done;
            }

            _logCount = _logPos; // the instruction took another path: forget the rest
        }

        bool handled = port ? _vm.PioBus.Write(this, address, data) : WriteKernelMmio(address, data);
        if (handled)
        {
            return X86BusResult.Done;
        }

        if (_fragmentCount >= LogCapacity)
        {
            _overflow = true;
            return X86BusResult.NeedsUserspace;
        }

        _fragments[_fragmentCount++] = new AccessRecord { Address = address, Length = data.Length, Size = data.Length, Data = Pack(data), IsPort = port, Valid = true };
        return X86BusResult.Done;
    }

    /// <summary>Up to 8 bytes, little-endian.</summary>
    private static ulong Pack(ReadOnlySpan<byte> data)
    {
        ulong v = 0;
        for (int i = 0; i < data.Length; i++)
        {
            v |= (ulong)data[i] << (8 * i);
        }

        return v;
    }

    /// <summary>The in-kernel MMIO path of KVM: the vCPU's own local APIC page first, then the MMIO bus.</summary>
    private bool ReadKernelMmio(ulong address, Span<byte> data)
    {
        if (InApicPage(address))
        {
            Apic!.Read(this, address & 0xFFF, data);
            return true;
        }

        return _vm.MmioBus.Read(this, address, data, ref _kernelMmio);
    }

    private bool WriteKernelMmio(ulong address, ReadOnlySpan<byte> data)
    {
        if (InApicPage(address))
        {
            Apic!.Write(this, address & 0xFFF, data);
            return true;
        }

        return _vm.MmioBus.Write(this, address, data, ref _kernelMmio);
    }

    /// <summary>
    /// Whether <paramref name="address"/> is in the local APIC's page: enabled in xAPIC mode (IA32_APIC_BASE bit 11
    /// set, bit 10 clear), read from the vCPU's own register once (the APIC's properties would ask the vCPU for it
    /// three times, on every device access).
    /// </summary>
    private bool InApicPage(ulong address)
    {
        ulong apicBase = _cpu.Regs.ApicBase;
        return Apic is not null && (apicBase & 0xC00) == 0x800 && (address & ~0xFFFUL) == (apicBase & 0x000F_FFFF_FFFF_F000UL);
    }

    /// <summary>The CPU model's view of the hypervisor during emulation.</summary>
    private sealed class EmulationBus(X86Vcpu vcpu) : IX86EmulationBus
    {
        public X86BusResult ReadMemory(ulong gpa, Span<byte> data) => vcpu.BusRead(gpa, data.Length, data, false);

        public X86BusResult WriteMemory(ulong gpa, ReadOnlySpan<byte> data) => vcpu.BusWrite(gpa, data, false);

        public X86BusResult ReadPort(ushort port, int size, Span<byte> data) => vcpu.BusRead(port, size, data, true);

        public X86BusResult WritePort(ushort port, ReadOnlySpan<byte> data) => vcpu.BusWrite(port, data, true);
    }
}
