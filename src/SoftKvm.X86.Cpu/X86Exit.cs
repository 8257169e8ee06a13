namespace SoftKvm.X86.Cpu;

/// <summary>
/// The exit information of the last <see cref="X86Cpu.Run"/> or <see cref="X86Cpu.EmulateOne"/>,
/// modelled on the VMCS exit fields (exit qualification, guest-physical and linear address,
/// VM-exit instruction length, interruption information).
/// </summary>
public struct X86Exit
{
    /// <summary>The exit reason.</summary>
    public X86ExitReason Reason;

    /// <summary>The exit qualification, VMX format: for <see cref="X86ExitReason.IoInstruction"/> bits [2:0]
    /// size-1, bit 3 direction (1 = IN), bit 4 string, bit 5 REP, bit 6 immediate port, bits [31:16] port;
    /// for <see cref="X86ExitReason.EptViolation"/> bit 0 read, bit 1 write, bit 2 fetch, bit 7 linear address
    /// valid, bit 8 access to the final translation (0 = page-table walk);
    /// for a #DB <see cref="X86ExitReason.ExceptionOrNmi"/> the DR6 bits (B0-B3, BD, BS); for #PF the CR2 value.</summary>
    public ulong Qualification;

    /// <summary>The guest-physical address (EPT exits).</summary>
    public ulong GuestPhysicalAddress;

    /// <summary>The guest-linear address (EPT exits from a data access, #PF).</summary>
    public ulong GuestLinearAddress;

    /// <summary>The length of the exiting instruction; meaningful only when <see cref="InstructionLengthValid"/>.</summary>
    public int InstructionLength;

    /// <summary>False when the model withholds the length (see <see cref="X86TrapControls.WithholdEptInstructionLength"/>)
    /// or it is not known (a fault while fetching).</summary>
    public bool InstructionLengthValid;

    /// <summary>The access size in bytes (EPT exits, IO exits).</summary>
    public int AccessSize;

    /// <summary>Whether the access was a write (EPT exits, OUT/OUTS).</summary>
    public bool IsWrite;

    /// <summary>IO exits: the port.</summary>
    public ushort Port;

    /// <summary>IO exits: INS/OUTS.</summary>
    public bool IsString;

    /// <summary>IO exits: a REP prefix.</summary>
    public bool IsRep;

    /// <summary>Exception exits: the vector.</summary>
    public int Vector;

    /// <summary>Exception exits: the error code, when <see cref="ErrorCodeValid"/>.</summary>
    public uint ErrorCode;

    /// <summary>Exception exits: whether the exception pushes an error code.</summary>
    public bool ErrorCodeValid;

    /// <summary>A #DB exception exit: trap-class (the instruction retired, RIP is past it: data or I/O
    /// breakpoints, single-step, ICEBP) rather than a fault (a code breakpoint or general detect, RIP at the instruction).</summary>
    public bool DebugTrap;

    /// <summary>For <see cref="X86ExitReason.NeedsUserspace"/> writes: the data (little endian, up to 8 bytes).</summary>
    public ulong Data;

    /// <summary>EPT-violation exits of <see cref="X86Cpu.Run"/>: the data accesses of the same instruction the
    /// hypervisor's fast path completed before this one (<see cref="IX86FastExitHost.TryCompleteMmio"/>), which
    /// the emulator replays; 0 for the first device access of an instruction.</summary>
    public int FastAccesses;

    /// <summary>
    /// The hypervisor's fast path (<see cref="X86Cpu.FastExits"/>) was offered this access and declined it: a
    /// non-string IN or OUT whose port no in-kernel device serves (<see cref="X86ExitReason.IoInstruction"/>), or a
    /// data read no in-kernel device serves (<see cref="X86ExitReason.EptViolation"/>) of an instruction the
    /// interpreter executed exactly as <see cref="X86Cpu.EmulateOne"/> would: its earlier device accesses
    /// (<see cref="FastAccesses"/>) completed by the fast path, nothing committed, <see cref="X86Cpu.EmulatedAccess"/>
    /// the access's number. The hypervisor need not ask its in-kernel devices again, nor run the emulator to find
    /// the read.
    /// </summary>
    public bool FastPathDeclined;

    /// <summary>Unsupported exits: a fixed description (never allocated per exit).</summary>
    public string? Message;
}
