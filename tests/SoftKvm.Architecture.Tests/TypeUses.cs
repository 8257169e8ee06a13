using System.Reflection;
using System.Reflection.Emit;

namespace SoftKvm.Architecture.Tests;

/// <summary>
/// The types a type uses: its base type and interfaces, the types of its fields, method signatures and
/// locals, and every type, method and field its IL names (casts, calls, field accesses, <c>typeof</c>).
/// Generic arguments, array elements and pointers count as used.
/// </summary>
internal static class TypeUses
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    private static readonly OpCode[] OneByte = new OpCode[256];
    private static readonly OpCode[] TwoByte = new OpCode[256];

    static TypeUses()
    {
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)f.GetValue(null)!;
            ushort v = (ushort)op.Value;
            if (op.Size == 1)
            {
                OneByte[v] = op;
            }
            else
            {
                TwoByte[v & 0xFF] = op;
            }
        }
    }

    /// <summary>Every type <paramref name="type"/> uses, with the member that uses it.</summary>
    public static IEnumerable<(Type Used, string Where)> Of(Type type)
    {
        var found = new List<(Type, string)>();
        void Add(Type? t, string where)
        {
            foreach (var u in Expand(t))
            {
                found.Add((u, where));
            }
        }

        Add(type.BaseType, "base type");
        foreach (var i in type.GetInterfaces())
        {
            Add(i, "interface");
        }

        foreach (var f in type.GetFields(Declared))
        {
            Add(f.FieldType, $"field {f.Name}");
        }

        foreach (var m in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            string where = $"{type.Name}.{m.Name}";
            if (m is MethodInfo mi)
            {
                Add(mi.ReturnType, where);
            }

            foreach (var p in m.GetParameters())
            {
                Add(p.ParameterType, where);
            }

            var body = m.GetMethodBody();
            if (body is null)
            {
                continue;
            }

            foreach (var l in body.LocalVariables)
            {
                Add(l.LocalType, where);
            }

            foreach (var t in IlTypes(m, body.GetILAsByteArray() ?? []))
            {
                Add(t, where);
            }
        }

        return found;
    }

    // Walks the IL and resolves every type, method and field token to the type it names or belongs to.
    private static IEnumerable<Type> IlTypes(MethodBase method, byte[] il)
    {
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int i = 0;
        while (i < il.Length)
        {
            OpCode op = il[i] == 0xFE ? TwoByte[il[++i]] : OneByte[il[i]];
            i++;
            int token = op.OperandType is OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok
                ? BitConverter.ToInt32(il, i)
                : 0;
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, i)),
                _ => 4,
            };
            if (token == 0)
            {
                continue;
            }

            MemberInfo member = method.Module.ResolveMember(token, typeArgs, methodArgs)!;
            switch (member)
            {
                case Type t:
                    yield return t;
                    break;
                case MethodBase mb:
                    yield return mb.DeclaringType!;
                    if (mb.IsGenericMethod)
                    {
                        foreach (var a in mb.GetGenericArguments())
                        {
                            yield return a;
                        }
                    }

                    break;
                default:
                    yield return member.DeclaringType!;
                    break;
            }
        }
    }

    private static IEnumerable<Type> Expand(Type? t)
    {
        if (t is null || t.IsGenericParameter)
        {
            yield break;
        }

        if (t.HasElementType)
        {
            foreach (var e in Expand(t.GetElementType()))
            {
                yield return e;
            }

            yield break;
        }

        yield return t;
        if (t.IsGenericType)
        {
            foreach (var a in t.GetGenericArguments())
            {
                foreach (var e in Expand(a))
                {
                    yield return e;
                }
            }
        }
    }
}
