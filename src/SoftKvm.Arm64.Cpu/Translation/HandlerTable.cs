using System.Reflection;
using System.Reflection.Emit;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// The handler of every op, from the <see cref="A64HandlerAttribute"/>s of <see cref="Arm64Cpu"/>,
/// and the IL that executes one instruction through it.
/// </summary>
internal static class HandlerTable
{
    /// <summary>The handler method of each op, indexed by <see cref="A64Op"/>.</summary>
    public static MethodInfo[] ByOp { get; } = Build();

    /// <summary>Arm64Cpu's last-was-load-exclusive note, which every instruction clears first.</summary>
    private static readonly FieldInfo s_lastWasLoadExclusive =
        typeof(Arm64Cpu).GetField("_lastWasLoadExclusive", BindingFlags.Instance | BindingFlags.NonPublic)!;

    private static MethodInfo[] Build()
    {
        var table = new MethodInfo?[(int)A64Op.Count];
        foreach (MethodInfo method in typeof(Arm64Cpu).GetMethods(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public))
        {
            foreach (A64Op op in method.GetCustomAttribute<A64HandlerAttribute>()?.Ops ?? [])
            {
                if (table[(int)op] is { } other)
                {
                    throw new InvalidOperationException($"A64 op {op} has two handlers: {other.Name} and {method.Name}");
                }

                if (method.ReturnType != typeof(Flow) || !HasHandlerParameters(method))
                {
                    throw new InvalidOperationException($"{method.Name} is not a handler: Flow Name([uint insn[, A64Op op]])");
                }

                table[(int)op] = method;
            }
        }

        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] is null)
            {
                throw new InvalidOperationException($"A64 op {(A64Op)i} has no handler");
            }
        }

        return table!;
    }

    private static bool HasHandlerParameters(MethodInfo method)
    {
        ParameterInfo[] p = method.GetParameters();
        return p.Length switch
        {
            0 => true,
            1 => p[0].ParameterType == typeof(uint),
            2 => p[0].ParameterType == typeof(uint) && p[1].ParameterType == typeof(A64Op),
            _ => false,
        };
    }

    /// <summary>
    /// Emits the execution of one instruction of <paramref name="op"/>: clears the
    /// last-was-load-exclusive note (unless the caller knows it is clear), then calls the handler on the CPU in argument
    /// <paramref name="cpuArgument"/> with the word <paramref name="loadWord"/> pushes, leaving the
    /// <see cref="Flow"/> on the stack.
    /// </summary>
    public static void EmitExecute(ILGenerator il, short cpuArgument, Action<ILGenerator> loadWord, A64Op op, bool clearLoadExclusive = true)
    {
        if (clearLoadExclusive)
        {
            il.Emit(OpCodes.Ldarg, cpuArgument);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stfld, s_lastWasLoadExclusive);
        }

        MethodInfo handler = ByOp[(int)op];
        int parameters = handler.GetParameters().Length;
        il.Emit(OpCodes.Ldarg, cpuArgument);
        if (parameters >= 1)
        {
            loadWord(il);
        }

        if (parameters == 2)
        {
            il.Emit(OpCodes.Ldc_I4, (int)op);
        }

        il.Emit(OpCodes.Call, handler);
    }
}
