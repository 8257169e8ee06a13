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
    /// <summary>The handler of each op, indexed by <see cref="Decoder.A64Op"/>.</summary>
    public static readonly OpHandler[] Handlers = Arm64Cpu.CreateOpHandlers();
}
