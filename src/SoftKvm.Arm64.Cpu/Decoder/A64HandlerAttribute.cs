namespace SoftKvm.Arm64.Cpu.Decoder;

/// <summary>
/// Marks the method of <see cref="Arm64Cpu"/> that executes the listed ops. A handler takes the
/// instruction word, the word and its op, or nothing, and returns a <see cref="Flow"/>. The
/// interpreter's dispatch table (<see cref="Translation.OpDispatch"/>) is generated from these attributes
/// (Translation/Arm64Cpu.OpHandlers.cs, checked by a test), so there is one list of handlers.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class A64HandlerAttribute(params A64Op[] ops) : Attribute
{
    /// <summary>The ops the method executes.</summary>
    public A64Op[] Ops { get; } = ops;
}
