using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>Executes one instruction of a known op: the interpreter's dispatch target.</summary>
internal delegate Flow OpHandler(Arm64Cpu cpu, uint insn);

/// <summary>
/// The interpreter's dispatch table: for each op, a method that contains just the op's handler (the handlers are
/// marked for inlining). The table is generated from the <see cref="Decoder.A64HandlerAttribute"/>s into
/// Arm64Cpu.OpHandlers.cs as plain code, so a ReadyToRun build has every entry precompiled.
/// </summary>
internal static class OpDispatch
{
    /// <summary>
    /// How the table's methods are compiled. Precompiled (a ReadyToRun or NativeAOT publish defines
    /// SOFTKVM_PRECOMPILED): as the rest, the precompiled code first. Compiled by the JIT: fully optimized at the first
    /// call, as the hot paths are (docs/performance.md, "Exit paths and tiering"); at tier 0 the handlers would run
    /// un-inlined, and their loops would be compiled again on the vCPU's thread (on-stack replacement) in the middle
    /// of a guest's hot loop.
    /// </summary>
#if SOFTKVM_PRECOMPILED
    public const MethodImplOptions Compilation = 0;
#else
    public const MethodImplOptions Compilation = MethodImplOptions.AggressiveOptimization;
#endif

    /// <summary>The handler of each op, indexed by <see cref="Decoder.A64Op"/>.</summary>
    public static readonly OpHandler[] Handlers = Arm64Cpu.CreateOpHandlers();
}
