using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The exit fast paths (<see cref="IX86FastExitHost"/>): a device access or a port IO the hypervisor completes
/// inside the run, at the access, exactly once; the instruction then retires as any other.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary><see cref="_exitRequested"/>: a kick (<see cref="RequestExit"/>).</summary>
    private const int ExitKick = 1;

    /// <summary><see cref="_exitRequested"/>: back to the run loop after a fast-path exit (<see cref="RequestFastExitReturn"/>).</summary>
    private const int ExitFastReturn = 2;

    private IX86FastExitHost? _fastExits;

    /// <summary>
    /// The device accesses of the instruction executing in the interpreter that the fast path completed (-1:
    /// no fast path now: between instructions, in event delivery, in a translated block's call of a handler,
    /// whose failure the interpreter would execute again).
    /// </summary>
    private int _fastAccesses = -1;

    /// <summary>
    /// Where the CPU offers device accesses and port IO before it exits for them (null: it always exits). The
    /// hypervisor clears it while it debugs the guest.
    /// </summary>
    public IX86FastExitHost? FastExits
    {
        get => _fastExits;
        set => _fastExits = value;
    }

    /// <summary>
    /// From the fast path, on the CPU's own thread: return <see cref="X86ExitReason.FastExitReturn"/> at the next
    /// instruction boundary (a translated block at its next check), unless a kick stops the run first.
    /// </summary>
    public void RequestFastExitReturn() => Interlocked.CompareExchange(ref _exitRequested, ExitFastReturn, 0);

    /// <summary>Whether nothing debugs the instruction: no TF, no armed breakpoint (those exits keep the hypervisor's own retirement).</summary>
    private bool FastExitAllowed => (_regs.Rflags & Rflags.TF) == 0 && (_regs.Dr7 & 0xFF) == 0;

    /// <summary>
    /// A data access to an unbacked guest-physical address, offered to the fast path before the EPT exit;
    /// <paramref name="declined"/>: the host was asked and declined (<see cref="X86Exit.FastPathDeclined"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryFastMmio(ulong gpa, int size, bool write, ref ulong value, out bool declined)
    {
        declined = false;
        if (_fastExits is not { } host || _fastAccesses < 0 || !FastExitAllowed)
        {
            return false;
        }

        if (!host.TryCompleteMmio(gpa, size, write, ref value, _fastAccesses))
        {
            declined = true;
            return false;
        }

        _fastAccesses++;
        _lookUp = true; // the code after the access: a translated block there runs (a cold look-up: no heat of its own)
        _lookUpCold = true;
        return true;
    }

    /// <summary>
    /// A non-string IN or OUT, offered to the fast path before the IO exit; also from a translated block (its one
    /// access is all the instruction does: declined, nothing happened, and the block's run ends with the IO exit,
    /// see <see cref="TakesBlockExit"/>). <paramref name="declined"/>: the host was asked and declined.
    /// </summary>
    internal bool TryFastPortIo(ushort port, int size, bool write, ref ulong value, out bool declined)
    {
        declined = false;
        if (_fastExits is not { } host || !FastExitAllowed)
        {
            return false;
        }

        if (!host.TryCompletePortIo(port, size, write, ref value))
        {
            declined = true;
            return false;
        }

        _lookUp = true;
        _lookUpCold = true;
        return true;
    }

    /// <summary>A WRMSR the model leaves to the hypervisor, offered to the fast path before the WRMSR exit (the interpreter only).</summary>
    internal bool TryFastMsrWrite(uint msr, ulong value) =>
        _bus is null && _fastExits is { } host && FastExitAllowed && host.TryCompleteMsrWrite(msr, value);
}
