using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Device accesses inside translated blocks (docs/kvm-semantics.md#x86-exit-fast-paths). A block reaches memory
/// through the software TLB's RAM entries only; a MOV whose operand has none used to leave the block, and the
/// interpreter decoded the instruction and executed it there, offering a device access to the exit fast path.
/// When the TLB holds the page as a device page, the block now makes the access itself, its operand decoded at
/// translation time (<see cref="BlockDeviceLoad"/>, <see cref="BlockDeviceStore"/>), exactly as the interpreter's
/// execution would offer it, and goes on after it; an access no in-kernel device serves (for the VMM) ends the run
/// with its exit at once, as the interpreter's execution would have ended it. IN and OUT likewise
/// (<see cref="BlockPort"/>). Other instructions with a device operand still leave the block for the interpreter.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>The block's last device access stopped at an exit (<see cref="TakesBlockExit"/>).</summary>
    private bool _blockAccessExit;

    /// <summary>The destination of the MOV whose read a block's <see cref="BlockDeviceLoad"/> sent to the VMM in this run's exit (None: no such exit).</summary>
    private Register _declinedLoad;
    private ulong _declinedLoadRip;
    private ulong _declinedLoadNext;

    /// <summary>
    /// Completes the MOV whose read the last run's exit sent to the VMM from a translated block, with the VMM's
    /// <paramref name="value"/>: the register written and the instruction retired, as the emulator's execution of
    /// it with the read's data would leave them (KVM completes a pending MMIO read without decoding the instruction
    /// again). False, with nothing changed, unless that exit was such a load, RIP is still at it and nothing debugs
    /// the guest (no TF, RF or armed breakpoint): the emulator executes the instruction then.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryCompleteDeclinedLoad(ulong value)
    {
        Register r = _declinedLoad;
        _declinedLoad = Register.None;
        if (r == Register.None || _regs.Rip != _declinedLoadRip || (_regs.Rflags & (Rflags.TF | Rflags.RF)) != 0 || (_regs.Dr7 & 0xFF) != 0)
        {
            return false;
        }

        SetReg(r, value);
        _shadow = InterruptShadow.None;
        _keepRf = false;
        _nextRip = _declinedLoadNext;
        Retire(_regs.Rflags);
        return true;
    }

    /// <summary><see cref="BlockDeviceLoad"/> and <see cref="BlockDeviceStore"/>: no device page in the TLB; the block leaves for the interpreter.</summary>
    internal const int NoDevicePage = 3;

    /// <summary>
    /// MOV from memory whose operand missed the TLB's RAM entries, pre-decoded: when the TLB holds the page as a
    /// device page (<c>TlbDevice</c>), the read goes to the exit fast path at once, with nothing of the block
    /// written back (as the interpreter's execution of the instruction would offer it: the instruction's first
    /// data access). 1: done, the value in <paramref name="value"/>; 2: done, a request is waiting (the block
    /// stores the register and leaves after the instruction); 0: declined, the instruction's EPT-violation exit is
    /// set as the interpreter's would be and the block leaves before it; <see cref="NoDevicePage"/>: not a device
    /// page in the TLB (a miss, a page crossing), or memory hooks watch: the block leaves for the interpreter.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    internal static int BlockDeviceLoad(X86Cpu c, ref Instruction i, ulong linear, int size, out ulong value)
    {
        value = 0;
        if (!c.DevicePage(AccessKind.Read, linear, size, out ulong gpa))
        {
            return NoDevicePage;
        }

        if (c.TryBlockPublishedLoad(gpa, size, out value))
        {
            return 1; // (X86Cpu.BlockPublished.cs: nothing of the instruction's state set, as a native block's published load)
        }

        c.BeginBlockAccess();
        if (c.TryFastMmio(gpa, size, false, ref value, out bool declined))
        {
            return c.EndBlockAccess();
        }

        c.DeclineBlockLoad(ref i, gpa, linear, size, declined);
        return 0;
    }

    /// <summary>The EPT-violation exit of a MOV load <paramref name="i"/> of a block that the fast path did not complete (the run
    /// returns it: <see cref="TakesBlockExit"/>), completed later into its register (<see cref="TryCompleteDeclinedLoad"/>).</summary>
    private void DeclineBlockLoad(ref Instruction i, ulong gpa, ulong linear, int size, bool declined)
    {
        _insn = i;
        EptExit(gpa, linear, AccessKind.Read, true, size, 0);
        _exit.FastPathDeclined = declined;
        _blockAccessExit = true;
        _declinedLoad = i.Op0Register;
        _declinedLoadRip = i.IP;
        _declinedLoadNext = MaskIp(i.NextIP);
    }

    /// <summary>The EPT-violation exit of a MOV store <paramref name="i"/> of <paramref name="value"/> of a block that the fast path did not complete.</summary>
    private void DeclineBlockStore(ref Instruction i, ulong gpa, ulong linear, int size, ulong value)
    {
        _insn = i;
        EptExit(gpa, linear, AccessKind.Write, true, size, value);
        _blockAccessExit = true;
    }

    /// <summary>MOV to memory whose operand missed the TLB's RAM entries: as <see cref="BlockDeviceLoad"/>, a write of <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    internal static int BlockDeviceStore(X86Cpu c, ref Instruction i, ulong linear, int size, ulong value)
    {
        if (!c.DevicePage(AccessKind.Write, linear, size, out ulong gpa))
        {
            return NoDevicePage;
        }

        c.BeginBlockAccess();
        if (c.TryFastMmio(gpa, size, true, ref value, out _))
        {
            return c.EndBlockAccess();
        }

        c.DeclineBlockStore(ref i, gpa, linear, size, value);
        return 0;
    }

    /// <summary>
    /// IN (<paramref name="write"/> false) or OUT of AL, AX or EAX (<paramref name="i"/>, <paramref name="size"/> bytes) at
    /// <paramref name="port"/>, pre-decoded: after the IOPL / I/O bitmap check, offered to the exit fast path as the handler would
    /// (<c>PortIo</c>); OUT's data, and IN's bytes after it, in <paramref name="value"/>. 1: done; 2: done, a request
    /// waits (the block leaves after the instruction); 0: a fault (the interpreter executes it again) or the IO exit,
    /// set as the handler's (the run returns it: <see cref="TakesBlockExit"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    internal static int BlockPort(X86Cpu c, ref Instruction i, ushort port, int size, bool write, ref ulong value)
    {
        if (!write && c.TryBlockPublishedIn(port, size, ref value))
        {
            return 1; // (X86Cpu.BlockPublished.cs)
        }

        c._faulted = false;
        c._exitPending = false;

        // A block runs protected-mode code outside virtual-8086 mode (BlocksAllowed): the I/O bitmap is read only when
        // CPL > IOPL, as CheckIoPermission decides.
        if ((ulong)c._cpl > ((c._regs.Rflags >> 12) & 3) && !c.CheckIoPermission(port, size))
        {
            return 0;
        }

        if (c.TryFastPortIo(port, size, write, ref value, out bool declined))
        {
            return Volatile.Read(ref c._exitRequested) != 0 ? 2 : 1;
        }

        c._insn = i;
        c.IoExit(port, size, !write, false, false, (write ? i.Op0Kind : i.Op1Kind) != OpKind.Register, write ? value : 0, declined);
        return 0;
    }

    /// <summary>Whether the TLB holds the page of an access of <paramref name="size"/> bytes at <paramref name="linear"/> (not crossing it) as a device page; its guest-physical address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool DevicePage(AccessKind kind, ulong linear, int size, out ulong gpa)
    {
        gpa = 0;
        if ((linear & 0xFFF) > (ulong)(0x1000 - size) || _hooks is { HasMemoryHooks: true })
        {
            return false;
        }

        bool user = UserAccess();
        ref var e = ref TlbSlot(kind, user, linear);
        if (e.Tag != (TlbTag(linear, user) | TlbDevice))
        {
            return false;
        }

        gpa = (ulong)e.Addend | (linear & 0xFFF);
        return true;
    }

    /// <summary>The state of an instruction's execution at its first data access, as <c>Execute</c> and <c>BeginSlowAccess</c> leave it.</summary>
    private void BeginBlockAccess()
    {
        _faulted = false;
        _exitPending = false;
        _fastAccesses = 0;
        _accessSerial = 1;
        _wideAccess = false;
    }

    /// <summary>A device access of a block completed: 2 when a request waits for the run loop (the block leaves after the instruction), else 1.</summary>
    private int EndBlockAccess()
    {
        _fastAccesses = -1;
        return Volatile.Read(ref _exitRequested) != 0 ? 2 : 1;
    }

    /// <summary>
    /// After a translated block: whether it stopped at an exit the run returns as it is — an IN or OUT whose port
    /// the fast path declined (the IO exit), or a MOV of <see cref="BlockDeviceLoad"/> or <see cref="BlockDeviceStore"/>
    /// that needs the VMM. RIP is at the instruction and the instructions before it retired; the interpreter would
    /// decode the instruction and find the same exit again (nothing else ran between: the block runs its
    /// instructions without a boundary check between them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TakesBlockExit()
    {
        if (_blockAccessExit)
        {
            _blockAccessExit = false; // (set only by the block that just ran: taken here, at once)
            return _exitPending;
        }

        return _exitPending && _exit.Reason == X86ExitReason.IoInstruction && _exit.FastPathDeclined;
    }
}
