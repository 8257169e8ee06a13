using System.Reflection.Emit;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>Executes one instruction of a known op: the interpreter's dispatch target.</summary>
internal delegate Flow OpHandler(Arm64Cpu cpu, uint insn);

/// <summary>
/// The interpreter's dispatch table: for each op, a host method that calls the op's handler
/// (<see cref="HandlerTable"/>) and, since the handlers are marked for inlining, contains just that
/// handler. An op's method is compiled the first time the guest executes that op.
/// </summary>
internal static class OpDispatch
{
    private static readonly Type[] s_parameters = [typeof(object), typeof(Arm64Cpu), typeof(uint)];
    private static readonly object s_closure = new();
    private static readonly DynamicMethod?[] s_methods = new DynamicMethod?[(int)A64Op.Count];
    private static readonly Lock s_lock = new();

    /// <summary>The handler of each op, indexed by <see cref="A64Op"/>.</summary>
    public static readonly OpHandler[] Handlers = CreateTable();

    /// <summary>The closure object the methods take as their first argument.</summary>
    public static object Closure => s_closure;

    /// <summary>
    /// The method of <paramref name="op"/>: static, <c>Flow (object closure, Arm64Cpu cpu, uint insn)</c>,
    /// called with <see cref="Closure"/>.
    /// </summary>
    public static DynamicMethod Method(A64Op op)
    {
        lock (s_lock)
        {
            if (s_methods[(int)op] is { } existing)
            {
                return existing;
            }

            var method = new DynamicMethod($"a64_{op}", typeof(Flow), s_parameters, typeof(Arm64Cpu), skipVisibility: false);
            ILGenerator il = method.GetILGenerator();
            HandlerTable.EmitExecute(il, 1, g => g.Emit(OpCodes.Ldarg_2), op);
            il.Emit(OpCodes.Ret);
            s_methods[(int)op] = method;
            return method;
        }
    }

    private static OpHandler[] CreateTable()
    {
        var table = new OpHandler[(int)A64Op.Count];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = new PendingOp((A64Op)i).CompileAndExecute;
        }

        return table;
    }

    /// <summary>The table entry of an op not executed yet: compiles the op's method and installs it.</summary>
    private sealed class PendingOp(A64Op op)
    {
        public Flow CompileAndExecute(Arm64Cpu cpu, uint insn)
        {
            var handler = (OpHandler)Method(op).CreateDelegate(typeof(OpHandler), s_closure);
            Volatile.Write(ref Handlers[(int)op], handler);
            return handler(cpu, insn);
        }
    }
}
