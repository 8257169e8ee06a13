using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Iced.Intel;
using SoftKvm.X86.Cpu.Translation.Native;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The exit helper of native blocks (issue 19): what a 64-bit guest's device access costs inside a native block. A MOV
/// whose operand the TLB holds as a device page (<see cref="TlbDevice"/>), IN and OUT, WRMSR at CPL 0, VMCALL, RDTSC and RDTSCP call
/// <see cref="ExitHelper"/> from the block (<see cref="X86NativeTranslator"/>'s exit stubs) instead of leaving for the
/// interpreter: a MOV's operands and IN/OUT's port and size come decoded at translation time (<see cref="NativeMov"/>,
/// <see cref="NativePort"/>) and go to the exit fast paths as the IL tier's device paths send them (<see cref="BlockDeviceLoad"/>,
/// <see cref="BlockDeviceStore"/>, <see cref="BlockPort"/>); the others are taken from the decoded-instruction cache: the WRMSR
/// fast path of an x2APIC register (<see cref="TryFastMsrWrite"/>), VMCALL's exit, the TSC. An access an in-kernel device completed lets
/// the block go on after the instruction (or return after it when a request waits); one for the VMM, VMCALL and a
/// declined WRMSR end the run with their exit at once (<see cref="TakesBlockExit"/>: completion by the run loop, exactly
/// once; a VMM read completes into the MOV's register, <see cref="TryCompleteDeclinedLoad"/>); anything else (no device
/// page, the code changed under the block, a fault) leaves before the instruction for the interpreter, with nothing done.
/// <para>
/// The call goes from native code into managed code, so native blocks are entered with the GC transition (a plain
/// <c>delegate* unmanaged</c>): the thread is in preemptive mode while a block runs, the helper's reverse transition
/// waits for a collection in progress, and everything a block touches is pinned for the call (the registers and the
/// exit-request flag in this object, the TLB, the jump cache) or native memory.
/// </para>
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>The vCPU whose native block runs on this thread (the helper's way back to it).</summary>
    [ThreadStatic]
    private static X86Cpu? t_native;

    /// <summary>An exception a helper caught (it cannot unwind through native code): thrown again after the block returns.</summary>
    private Exception? _nativeFault;

    /// <summary>Device accesses, port IO, WRMSR and VMCALL of native blocks the exit helper took (for the profile and the tests).</summary>
    internal long NativeExitHelperCalls { get; private set; }

    /// <summary>IO exits from native code whose instruction was known by its bytes (no decode: <see cref="SameBytesAtRip"/>).</summary>
    internal long NativePortExitsUndecoded { get; private set; }

    /// <summary>The helper's address, for the frame.</summary>
    private static readonly nint s_exitHelper = (nint)(delegate* unmanaged<X86NativeFrame*, ulong, ulong, ulong, long>)&ExitHelper;

    /// <summary>
    /// The one entry of the exit helper: the instruction at <paramref name="rip"/>, what it is in
    /// <paramref name="descriptor"/> (its low byte a <see cref="NativeExitKind"/>; a MOV's operands, <see cref="NativeMov"/>),
    /// a MOV's linear address <paramref name="linear"/> (the block's TLB look-up found a device page there). Returns <see cref="NativeExitGoOn"/>, <see cref="NativeExitGoOnThenReturn"/> or
    /// <see cref="NativeExitLeave"/>.
    /// </summary>
    [UnmanagedCallersOnly]
    private static long ExitHelper(X86NativeFrame* frame, ulong linear, ulong rip, ulong descriptor)
    {
        X86Cpu cpu = t_native!;
        try
        {
            return cpu.ExitForNative(linear, rip, descriptor);
        }
        catch (Exception e)
        {
            cpu._nativeFault = e;
            cpu._blockAccessExit = false;
            return NativeExitLeave;
        }
    }

    /// <summary>The helper completed the instruction: the block goes on after it.</summary>
    internal const int NativeExitGoOn = 1;

    /// <summary>The helper completed the instruction and a request waits (<see cref="RequestFastExitReturn"/>): the block returns after it.</summary>
    internal const int NativeExitGoOnThenReturn = 2;

    /// <summary>The device bit of a TLB tag (<see cref="TlbDevice"/>), for the native blocks' device stubs.</summary>
    internal const ulong TlbDeviceBit = TlbDevice;

    /// <summary>Nothing completed: the block leaves before the instruction (the run loop takes the exit set, else the interpreter runs it).</summary>
    internal const int NativeExitLeave = 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private long ExitForNative(ulong linear, ulong rip, ulong descriptor)
    {
        NativeExitHelperCalls++;
        _faulted = false;
        _exitPending = false;
        _regs.Rip = rip;
        var kind = (NativeExitKind)(descriptor & 0xFF);
        if (kind == NativeExitKind.DeviceMov)
        {
            return DeviceMovForNative(linear, descriptor);
        }

        if (kind == NativeExitKind.Port)
        {
            return PortForNative(descriptor);
        }

        if (!Fetch(out _))
        {
            _faulted = false;
            _exitPending = false;
            return NativeExitLeave;
        }

        ref Instruction i = ref _insn;
        switch (kind)
        {
            case NativeExitKind.Wrmsr when i.Mnemonic == Mnemonic.Wrmsr:
                return WrmsrForNative();
            case NativeExitKind.Rdtsc when i.Mnemonic is Mnemonic.Rdtsc or Mnemonic.Rdtscp:
                return RdtscForNative(ref i);
            case NativeExitKind.Vmcall when i.Mnemonic == Mnemonic.Vmcall:
                ExitWith(X86ExitReason.Vmcall);
                _blockAccessExit = true;
                return NativeExitLeave;
            default:
                return NativeExitLeave; // the code changed under the block: the interpreter runs what is there now
        }
    }

    /// <summary>
    /// A MOV to or from a device page, decoded at translation time (<see cref="NativeMov"/>): offered to the exit fast path as
    /// the IL tier's <see cref="BlockDeviceLoad"/> and <see cref="BlockDeviceStore"/> offer it, a load's bytes into its
    /// register. One the fast path does not complete ends the run with its EPT-violation exit, set from the instruction as
    /// the code holds it now (the decoded-instruction cache; should the code have changed under the block, the interpreter
    /// runs it instead). Not a device page in the TLB (memory hooks watch, a crossing): the interpreter's.
    /// </summary>
    private long DeviceMovForNative(ulong linear, ulong descriptor)
    {
        var mov = new NativeMov(descriptor);
        bool store = mov.Store;
        int size = mov.Size;
        if (!DevicePage(store ? AccessKind.Write : AccessKind.Read, linear, size, out ulong gpa))
        {
            return NativeExitLeave;
        }

        ulong value = !store ? 0 : mov.HasImmediate ? mov.Immediate & SizeMask(size) : _regs.Gpr[mov.Register] & SizeMask(size);
        BeginBlockAccess();
        if (TryFastMmio(gpa, size, store, ref value, out bool declined))
        {
            int r = EndBlockAccess();
            if (!store)
            {
                SetGpr(mov.Register, size, value);
            }

            return r;
        }

        _fastAccesses = -1;
        if (!Fetch(out _) || _insn.Mnemonic != Mnemonic.Mov)
        {
            _faulted = false;
            _exitPending = false;
            return NativeExitLeave;
        }

        if (store)
        {
            DeclineBlockStore(ref _insn, gpa, linear, size, value);
        }
        else
        {
            DeclineBlockLoad(ref _insn, gpa, linear, size, declined);
        }

        return NativeExitLeave;
    }

    /// <summary>
    /// IN or OUT of AL, AX or EAX, decoded at translation time (<see cref="NativePort"/>): as the IL tier's <see cref="BlockPort"/>,
    /// after the IOPL / I/O bitmap check (a fault: the interpreter's) offered to the exit fast path, IN's bytes into the
    /// register; one the fast path does not complete ends the run with the IO exit set from the instruction as the code holds
    /// it now (<see cref="TakesBlockExit"/>).
    /// </summary>
    private long PortForNative(ulong descriptor)
    {
        var io = new NativePort(descriptor);
        bool write = io.Write;
        int size = io.Size;
        ushort port = io.FromDx ? (ushort)_regs.Gpr[Gpr.Rdx] : io.Port;
        if (!CheckIoPermission(port, size))
        {
            _faulted = false;
            return NativeExitLeave;
        }

        ulong value = write ? _regs.Gpr[Gpr.Rax] & SizeMask(size) : 0;
        if (TryFastPortIo(port, size, write, ref value, out bool declined))
        {
            if (!write)
            {
                SetGpr(Gpr.Rax, size, value);
            }

            return Volatile.Read(ref _exitRequested) != 0 ? NativeExitGoOnThenReturn : NativeExitGoOn;
        }

        if (SameBytesAtRip(io))
        {
            // The instruction's bytes are those it was translated from: the same IN or OUT, its length known (no decode).
            IoExit(port, size, !write, false, false, !io.FromDx, write ? value : 0, declined);
            _exit.InstructionLength = io.Length;
            NativePortExitsUndecoded++;
        }
        else if (Fetch(out _) && _insn.Mnemonic is Mnemonic.In or Mnemonic.Out)
        {
            IoExit(port, size, !write, false, false, !io.FromDx, write ? value : 0, declined);
        }
        else
        {
            _faulted = false;
            _exitPending = false;
        }

        return NativeExitLeave;
    }

    /// <summary>
    /// Whether the bytes at RIP are still those of the IN or OUT the translator saw (<see cref="NativePort.Length"/>: up to
    /// three, in the descriptor): then they decode as it did (64-bit code, the block's mode), and the IO exit needs no decode.
    /// A short instruction (the usual forms: E4-E7, EC-EF with 66) on one page; anything else, a changed byte or a fetch
    /// that misses the TLB takes the decoder's way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // once per VMM port exit from native code
    private bool SameBytesAtRip(NativePort io)
    {
        int length = io.Length;
        ulong rip = _regs.Rip;
        if (length == 0 || (int)(0x1000 - (rip & 0xFFF)) < length || !IsCanonical(rip))
        {
            return false;
        }

        byte* p = TranslateFetch(rip);
        if (p == null)
        {
            _faulted = false;
            _exitPending = false;
            return false;
        }

        uint bytes = length switch
        {
            1 => p[0],
            2 => *(ushort*)p,
            _ => *(ushort*)p | ((uint)p[2] << 16),
        };
        return bytes == io.Bytes;
    }

    /// <summary>
    /// WRMSR at CPL 0 of an x2APIC register (0x800-0x8FF, none of the model's own MSRs): as the interpreter's WRMSR
    /// (<see cref="Instructions.SystemOps.Wrmsr"/>), offered to the fast path (<see cref="TryFastMsrWrite"/>), and one it
    /// does not complete ends the run with the WRMSR exit at once (its #GP or the hypervisor's handling). Any other MSR,
    /// CPL 1 or 2 (a supervisor block runs there too) or intercepted MSRs leave for the interpreter.
    /// </summary>
    private long WrmsrForNative()
    {
        uint index = (uint)_regs.Gpr[Gpr.Rcx];
        if (_cpl != 0 || Controls.InterceptMsrs || index is < 0x800 or > 0x8FF)
        {
            return NativeExitLeave;
        }

        ulong v = (_regs.Gpr[Gpr.Rax] & 0xFFFFFFFF) | (_regs.Gpr[Gpr.Rdx] << 32);
        if (!TryFastMsrWrite(index, v))
        {
            ExitWith(X86ExitReason.Wrmsr);
            _blockAccessExit = true;
            return NativeExitLeave;
        }

        return Volatile.Read(ref _exitRequested) != 0 ? NativeExitGoOnThenReturn : NativeExitGoOn;
    }

    /// <summary>
    /// RDTSC and RDTSCP as the interpreter's (<see cref="Instructions.SystemOps.Rdtsc"/>), the block going on after them;
    /// CR4.TSD above CPL 0 (#GP) and a deterministic TSC (the instructions retired, which the block counts only at its
    /// end) leave for the interpreter.
    /// </summary>
    private long RdtscForNative(ref Instruction i)
    {
        if (DeterministicTsc || ((_regs.Cr4 & 4) != 0 && _cpl != 0))
        {
            return NativeExitLeave;
        }

        Instructions.SystemOps.Rdtsc(this, ref i); // no #GP left to raise: the handler only reads the TSC
        return NativeExitGoOn;
    }

    /// <summary>After a native block: an exception a helper caught, thrown again here (on managed frames).</summary>
    private void RethrowNativeFault()
    {
        if (_nativeFault is { } e)
        {
            _nativeFault = null;
            ExceptionDispatchInfo.Throw(e);
        }
    }
}

/// <summary>
/// A MOV between a general register (not AH..BH) or an immediate and memory, as a native block passes it to the exit helper:
/// bits 0-7 <see cref="NativeExitKind.DeviceMov"/>, bit 8 a store, bits 9-12 the size in bytes, bits 16-19 the register's
/// number, bit 20 an immediate (a store's, sign-extended from bits 32-63).
/// </summary>
internal readonly struct NativeMov(ulong descriptor)
{
    public bool Store => (descriptor & 0x100) != 0;

    public int Size => (int)(descriptor >> 9) & 0xF;

    public int Register => (int)(descriptor >> 16) & 0xF;

    public bool HasImmediate => (descriptor & 0x10_0000) != 0;

    public ulong Immediate => (ulong)(long)(int)(descriptor >> 32);

    /// <summary>The descriptor of a MOV: <paramref name="register"/> its register operand's number (-1: an immediate store).</summary>
    public static ulong Of(bool store, int size, int register, long immediate) =>
        (ulong)NativeExitKind.DeviceMov | (store ? 0x100UL : 0) | ((ulong)size << 9)
        | (register >= 0 ? (ulong)register << 16 : 0x10_0000UL | ((ulong)(uint)(int)immediate << 32));
}

/// <summary>
/// IN or OUT of AL, AX or EAX as a native block passes it to the exit helper: bits 0-7 <see cref="NativeExitKind.Port"/>,
/// bit 8 OUT, bits 9-12 the size in bytes, bit 13 the port in DX, else bits 16-31 the port.
/// </summary>
internal readonly struct NativePort(ulong descriptor)
{
    public bool Write => (descriptor & 0x100) != 0;

    public int Size => (int)(descriptor >> 9) & 0xF;

    public bool FromDx => (descriptor & 0x2000) != 0;

    public ushort Port => (ushort)(descriptor >> 16);

    /// <summary>The instruction's bytes as translated (bits 32-55, little-endian), when <see cref="Length"/> is not 0.</summary>
    public uint Bytes => (uint)(descriptor >> 32) & 0xFFFFFF;

    /// <summary>The instruction's length (bits 56-59): 1 to 3 with its <see cref="Bytes"/>, 0 when longer or not recorded.</summary>
    public int Length => (int)(descriptor >> 56) & 0xF;

    /// <summary>The descriptor of IN (<paramref name="write"/> false) or OUT of <paramref name="size"/> bytes at <paramref name="port"/> (-1: DX),
    /// with the instruction's bytes when there are at most three (<paramref name="bytes"/> empty: not recorded).</summary>
    public static ulong Of(bool write, int size, int port, ReadOnlySpan<byte> bytes = default)
    {
        ulong d = (ulong)NativeExitKind.Port | (write ? 0x100UL : 0) | ((ulong)size << 9) | (port < 0 ? 0x2000UL : (ulong)(ushort)port << 16);
        if (bytes.Length is >= 1 and <= 3)
        {
            ulong b = 0;
            for (int k = bytes.Length - 1; k >= 0; k--)
            {
                b = (b << 8) | bytes[k];
            }

            d |= (b << 32) | ((ulong)bytes.Length << 56);
        }

        return d;
    }
}

/// <summary>What a native block's call of the exit helper is for (<see cref="X86NativeTranslator"/> passes it).</summary>
internal enum NativeExitKind
{
    /// <summary>A MOV whose memory operand the TLB holds as a device page.</summary>
    DeviceMov,

    /// <summary>IN or OUT of AL, AX or EAX.</summary>
    Port,

    /// <summary>WRMSR (a supervisor block).</summary>
    Wrmsr,

    /// <summary>VMCALL.</summary>
    Vmcall,

    /// <summary>RDTSC or RDTSCP.</summary>
    Rdtsc,
}
