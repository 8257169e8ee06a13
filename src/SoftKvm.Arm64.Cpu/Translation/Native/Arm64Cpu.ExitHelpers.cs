using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Arm64.Cpu.Translation.Native.X64;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The exit helper (<see cref="ExitHelper"/>): what native code calls for the instructions that exit to the hypervisor
/// most (issue 19), instead of running them through <see cref="InterpretHelper"/>: what the instruction does is decoded
/// at translation time and passed in a descriptor (<see cref="ExitHelperKind"/>: its word or syndrome, and the
/// instruction's offset in the block), so the helper neither looks the block up nor decodes nor dispatches.
/// <list type="bullet">
/// <item><see cref="ExitHelperKind.Access"/>: a single load or store of a general register with a valid syndrome (LDR,
/// LDRS*, STR, LDUR, STUR with an immediate or register offset, no writeback) whose software-TLB look-up
/// missed: the interpreter's own <c>Read</c>/<c>Write</c> (the slow path's fill, the IO TLB, an in-kernel
/// device completing the access, the stage-2 trap for the VMM, the guest's faults) with the same syndrome.</item>
/// <item><see cref="ExitHelperKind.Controller"/>: MRS and MSR of the GIC CPU-interface registers at EL1 (ICC_IAR1_EL1,
/// ICC_EOIR1_EL1, ICC_SGI1R_EL1, ICC_PMR_EL1 ...), straight to the hypervisor's controller; one it declines
/// runs the interpreter's handler (its UNDEFINED).</item>
/// <item><see cref="ExitHelperKind.Hypercall"/>: HVC and SMC at EL1, the interpreter's handlers called directly; a call the
/// hypervisor completes in place lets the block go on after it.</item>
/// </list>
/// Each leaves the state as the interpreter's handler would, exactly once: PC, NZCV and the retired count
/// for a fault or a trap, the register written, and the block goes on unless the access changed what the run
/// loop watches (a pending interrupt unmasked, a re-evaluation asked): then it retires there.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>Native single-register accesses that missed the TLB and ran through <see cref="ExitHelperKind.Access"/> (for the profile).</summary>
    internal long NativeAccessHelperCalls;

    /// <summary>Native HVC and SMC that ran through <see cref="ExitHelperKind.Hypercall"/> (for the profile).</summary>
    internal long NativeHypercallHelperCalls;

    /// <summary>Native GIC CPU-interface register accesses that ran through <see cref="ExitHelperKind.Controller"/> (for the profile).</summary>
    internal long NativeControllerHelperCalls;

    private void InitializeExitHelpers()
    {
        _context->Helpers[(int)NativeHelper.Exit] = (nint)(delegate* unmanaged<NativeContext*, ulong, ulong, ulong, long>)&ExitHelper;
        InitializeDeviceReads();
    }

    /// <summary>
    /// The one entry of the exit helpers: <paramref name="descriptor"/> says what completes (<see cref="ExitHelperKind"/>),
    /// <paramref name="va"/> is an access's guest address, <paramref name="blockPc"/> the block's PC. Returns
    /// <see cref="NativeExit.Next"/>, <see cref="NativeExit.Retired"/> (PC set), or the exit of a fault or trap.
    /// </summary>
    [UnmanagedCallersOnly]
    private static long ExitHelper(NativeContext* context, ulong va, ulong descriptor, ulong blockPc)
    {
        Arm64Cpu cpu = t_native!;
        try
        {
            ulong pc = blockPc + (ulong)(long)(short)(descriptor >> 32);
            return (ExitHelperKind)(descriptor >> 48) switch
            {
                ExitHelperKind.Access => cpu.AccessForNative(va, (uint)descriptor, pc),
                ExitHelperKind.Controller => cpu.ControllerAccessForNative((uint)descriptor, pc),
                _ => cpu.HypercallForNative((uint)descriptor, pc),
            };
        }
        catch (Exception e)
        {
            cpu._nativeFault = e;
            return (long)NativeExit.InternalError;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private long AccessForNative(ulong va, uint iss, ulong pc)
    {
        NativeContext* ctx = _context;
        NativeAccessHelperCalls++;
        State.Nzcv = NzcvOfImage(ctx->FlagsImage); // a fault saves PSTATE in SPSR_EL1
        State.Pc = pc;
        _retiredInFlight = _nativeLimit - ctx->BudgetLeft + (long)(ctx->Scratch >> 16) - 1; // as InterpretForNative
        bool write = (iss & Esr.IssWnR) != 0;
        iss &= ~Esr.IssWnR;
        int rt = (int)(iss >> Esr.IssSrtShift) & 31;
        int size = 1 << (int)((iss >> Esr.IssSasShift) & 3);
        bool done;
        ulong value = write ? X(rt) : 0;
        if (TryIoTlb(write ? AccessKind.Write : AccessKind.Read, va, (va & ~0xFFFUL) | _tagEl, size, out ulong ipa))
        {
            // A device page the IO TLB holds: what the slow path does on that hit, without Read/Write and their slow
            // paths in between (native code found the page in no RAM TLB entry, so Read's own check would miss too).
            if (write)
            {
                Counters.WriteSlowPaths++;
            }
            else
            {
                Counters.ReadSlowPaths++;
            }

            done = DeviceAccess(va, ipa, iss, write, ref value);
            if (done && !write && size == 4)
            {
                NoteDeviceRead(va, ipa); // native code may complete the next read of this page itself
            }
        }
        else
        {
            done = write ? Write(va, size, value, iss) : Read(va, size, out value, iss);
        }

        if (done && !write)
        {
            if ((iss & Esr.IssSse) != 0)
            {
                value = SignExtend(value, 8 * size);
            }

            SetReg(rt, value, (iss & Esr.IssSf) != 0);
        }

        _retiredInFlight = 0;
        if (done)
        {
            return GoOnAfter(pc);
        }

        if (_faultIsTrap)
        {
            ArmResume(pc); // a stage-2 abort for the hypervisor: once it has completed the access, the block goes on after it
        }

        return FaultExit(_faultIsTrap);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private long ControllerAccessForNative(uint word, ulong pc)
    {
        NativeContext* ctx = _context;
        NativeControllerHelperCalls++;
        State.Pc = pc;
        _retiredInFlight = _nativeLimit - ctx->BudgetLeft + (long)(ctx->Scratch >> 16) - 1;
        var key = new SysRegKey((word >> 5) & 0xFFFF);
        int rt = (int)word & 31;
        bool done;
        if ((word & (1u << 21)) != 0)
        {
            if (done = _host.TryReadControllerRegister(key, out ulong value))
            {
                SetX(rt, value);
            }
        }
        else
        {
            done = _host.TryWriteControllerRegister(key, X(rt));
        }

        _retiredInFlight = 0;
        if (!done)
        {
            // No controller has it: the interpreter's handler makes it UNDEFINED.
            return InterpretForNative(word, pc, (word & (1u << 21)) != 0 ? Decoder.A64Op.Mrs : Decoder.A64Op.MsrReg);
        }

        return GoOnAfter(pc);
    }

    /// <summary>
    /// HVC or SMC (<see cref="Hvc"/>, <see cref="Smc"/>): a trap the hypervisor completed in place that did nothing but
    /// retire the instruction (PSCI_VERSION and the other calls KVM answers next to the world switch) lets the block go
    /// on after it, as after any instruction: no jump-cache look-up and block entry as InterpretForNative's Jump does.
    /// The block counts the instruction, so the retirement the hypervisor counted is undone. A trap completed in place
    /// changes X0-X3 at most (never what the block was compiled for); else the interpreter's exits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private long HypercallForNative(uint word, ulong pc)
    {
        NativeContext* ctx = _context;
        NativeHypercallHelperCalls++;
        State.Nzcv = NzcvOfImage(ctx->FlagsImage);
        State.Pc = pc;
        _retiredInFlight = _nativeLimit - ctx->BudgetLeft + (long)(ctx->Scratch >> 16) - 1;
        _trapCompleted = false;
        Flow flow = (word & 3) == 2 ? Hvc(word) : Smc(word);
        _retiredInFlight = 0;
        if (flow == Flow.Exception && _trapCompleted && State.Pc == pc + 4)
        {
            Retired--;
            return GoOnAfter(pc);
        }

        return FaultExit(flow == Flow.Trap);
    }

    /// <summary>
    /// After an instruction a helper completed: the block goes on, unless it changed what the run loop watches (an
    /// interrupt to take, a re-evaluation asked): then it retires here (as <see cref="InterpretForNative"/>; neither
    /// kind of instruction changes the block's mode).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long GoOnAfter(ulong pc)
    {
        if (_reevaluate || !MayRunTranslated)
        {
            State.Pc = pc + 4;
            return (long)NativeExit.Retired;
        }

        return (long)NativeExit.Next;
    }

    /// <summary>After a fault (an exception taken in the guest, or a trap pending): the state native code and the run loop read.</summary>
    private long FaultExit(bool trap)
    {
        NativeContext* ctx = _context;
        ctx->FlagsImage = X64Lowering.ImageOf(State.Nzcv >> 28);
        ctx->TagEl = _tagEl;
        ctx->TagUnprivileged = _tagUnprivileged;
        return (long)(trap ? NativeExit.Trap : NativeExit.Exception);
    }
}
