namespace SoftKvm.Core.Hooks;

/// <summary>
/// Called on the vCPU's thread before the instruction at <paramref name="address"/> (arm64: the PC; x86: the
/// linear address of CS:RIP) executes; <paramref name="size"/> is its length in bytes. The vCPU's
/// registers may be read and written from the hook (<c>GetRegister</c>/<c>SetRegister</c> work on the
/// vCPU's own thread); a changed PC is where execution goes on, and <see cref="Vcpu.Kick"/> stops the vCPU
/// before this instruction.
/// </summary>
public delegate void InstructionHook(Vcpu vcpu, ulong address, int size);

/// <summary>
/// Called on the vCPU's thread when control arrives at a basic block (a branch target, the start of
/// <see cref="Vcpu.Run"/>, an exception vector), before its first instruction, with the block's address
/// and its length in bytes: the straight-line code from there up to and including the first instruction
/// that can change the flow of control, within the page (docs/hooks.md#blocks).
/// </summary>
public delegate void BlockHook(Vcpu vcpu, ulong address, int size);

/// <summary>
/// Called on the vCPU's thread for a guest data access to memory in the hook's range: a read after it
/// completed (<paramref name="value"/> is what was read), a write before it happens (the value written).
/// <paramref name="address"/> is the address the instruction used (arm64 virtual address, x86 linear
/// address); <paramref name="size"/> is 1, 2, 4 or 8 bytes, or the block size of a cache-zeroing write.
/// </summary>
public delegate void MemoryHook(Vcpu vcpu, MemoryAccessKind kind, ulong address, int size, ulong value);

/// <summary>
/// Called on the vCPU's thread after the guest took an exception or an interrupt inside the guest (the
/// architectural entry is done: the registers show the handler's first instruction and the saved state).
/// </summary>
public delegate void ExceptionHook(Vcpu vcpu, in GuestException exception);
