using System.Reflection;
using Iced.Intel;
using SoftKvm.Core.CodeGen;

namespace SoftKvm.Core.Tests.CodeGen;

/// <summary>
/// The native code generator's encoder against Iced's assembler as the oracle: every instruction method
/// of <see cref="X64Assembler"/>, called with registers, memory operands (every base, SIB index and
/// scale, displacements of 0, 8 and 32 bits), immediates at their size boundaries and every condition,
/// must decode (with Iced's decoder) to the same instruction as the same call on <see cref="IcedX64Assembler"/>.
/// </summary>
public sealed unsafe class X64AssemblerTests
{
    private static readonly Reg[] Registers = [.. Enum.GetValues<Reg>().Where(r => r != Reg.None)];
    private static readonly int[] Displacements = [0, 8, -8, 0x7F, 0x80, -0x80, -0x81, 0x658, 0x12345678, -0x1000000];
    private static readonly int[] Immediates = [0, 1, -1, 0x7F, 0x80, -0x80, -0x81, 0x3FF0, 0x7FFFFFFF, int.MinValue, -4096];
    private static readonly ulong[] Wide = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1_0000_0000, ulong.MaxValue, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_7FFF_FFFF, 0x1234_5678_9ABC_DEF0];

    private static readonly string[] Skipped =
    [
        nameof(X64Assembler.Reset), nameof(X64Assembler.NewLabel), nameof(X64Assembler.Bind), nameof(X64Assembler.Assemble),
        nameof(X64Assembler.AddressOf), nameof(X64Assembler.Jcc), nameof(X64Assembler.Jmp), nameof(X64Assembler.JmpAbsolute),
        nameof(X64Assembler.JmpThroughSlot), nameof(X64Assembler.DataQword), nameof(X64Assembler.Call), nameof(X64Assembler.CallAbsolute),
        nameof(X64Assembler.Encoded),
    ];

    public static TheoryData<string> Methods()
    {
        var data = new TheoryData<string>();
        foreach (string name in typeof(X64Assembler).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName && !Skipped.Contains(m.Name)).Select(m => m.Name).Distinct())
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryForm_DecodesAsIcedsEncodingDoes(string method)
    {
        MethodInfo mine = typeof(X64Assembler).GetMethod(method)!;
        MethodInfo oracle = typeof(IcedX64Assembler).GetMethod(method, [.. mine.GetParameters().Select(p => p.ParameterType)])!;
        Assert.NotNull(oracle);
        var random = new Random(method.GetHashCode() & 0x7FFF);
        int compared = 0;
        for (int n = 0; n < 400; n++)
        {
            object[] args = [.. mine.GetParameters().Select(p => Argument(method, p, random))];
            if (!Valid(method, args))
            {
                continue;
            }

            var a = new X64Assembler();
            var b = new IcedX64Assembler();
            mine.Invoke(a, args);
            oracle.Invoke(b, args);
            string expected = Decode(buffer => b.Assemble(buffer, 0x1_0000_0000, 64));
            string actual = Decode(buffer => a.Assemble(buffer, 0x1_0000_0000, 64));
            Assert.True(expected == actual, $"{method}({string.Join(", ", args)}): {actual} instead of {expected}");
            compared++;
        }

        Assert.True(compared > 50, $"only {compared} valid argument sets for {method}");
    }

    [Fact]
    public void Jumps_ReachTheirLabels_ShortBackwardAndLongForward()
    {
        var a = new X64Assembler();
        AsmLabel back = a.NewLabel(), forward = a.NewLabel();
        a.Bind(back);
        a.Ret();
        a.Jcc(Cc.NE, back);   // bound, near: rel8
        a.Jmp(back);
        a.Jcc(Cc.E, forward); // not bound yet: rel32
        a.Jmp(forward);
        for (int i = 0; i < 200; i++)
        {
            a.Int3();
        }

        a.Bind(forward);
        a.Ret();
        a.JmpAbsolute(0x1_0000_0000);   // to the start
        a.JmpThroughSlot(0x1_0000_0008);
        a.CallAbsolute(0x1_0000_0000);
        a.Call(back);
        string text = Decode(buffer => a.Assemble(buffer, 0x1_0000_0000, 4096));
        string[] lines = text.Split('\n');
        Assert.Equal("ret", lines[0]);
        Assert.Equal("jne short 0000000100000000h", lines[1]);
        Assert.Equal("jmp short 0000000100000000h", lines[2]);
        Assert.Equal($"je near 00000001{0x3 + 2 + 6 + 5 + 200:X8}h", lines[3]);
        Assert.Equal($"jmp 00000001{0x3 + 2 + 6 + 5 + 200:X8}h", lines[4]);
        Assert.Contains("jmp 0000000100000000h", text);
        Assert.Contains("jmp qword [rel 100000008h]", text);
        Assert.Equal("call 0000000100000000h", lines[^2]);
        Assert.Equal("call 0000000100000000h", lines[^1]);
        Assert.Equal(0x1_0000_0000UL + 3 + 2 + 6 + 5 + 200, a.AddressOf(forward));
    }

    [Fact]
    public void Encoded_CopiesTheInstructionBetweenItsNeighbours()
    {
        var a = new X64Assembler();
        a.Ret();
        a.Encoded([0xC4, 0x42, 0x83, 0xF7, 0xFE]); // shrx r15, r14, r15
        a.Ret();
        string[] lines = Decode(buffer => a.Assemble(buffer, 0x1_0000_0000, 64)).Split('\n');
        Assert.Equal(["ret", "shrx r15,r14,r15", "ret"], lines.Take(3));
        Assert.Equal(3, a.Count);
        Assert.Throws<ArgumentException>(() => a.Encoded(new byte[16]));
    }

    private static object Argument(string method, ParameterInfo p, Random r)
    {
        Type t = p.ParameterType;
        if (t == typeof(Reg))
        {
            return Registers[r.Next(Registers.Length)];
        }

        if (t == typeof(Mem))
        {
            Reg b = Registers[r.Next(Registers.Length)];
            Reg index = r.Next(3) == 0 ? Registers.Where(x => x != Reg.Rsp).ElementAt(r.Next(15)) : Reg.None;
            return new Mem(b, Displacements[r.Next(Displacements.Length)], index, (byte)(1 << r.Next(4)));
        }

        if (t == typeof(bool))
        {
            return r.Next(2) == 0;
        }

        if (t == typeof(Cc))
        {
            return (Cc)r.Next(16);
        }

        if (t == typeof(Alu))
        {
            return (Alu)r.Next(8);
        }

        if (t == typeof(Shift))
        {
            return new[] { Shift.Rol, Shift.Ror, Shift.Shl, Shift.Shr, Shift.Sar }[r.Next(5)];
        }

        if (t == typeof(byte))
        {
            return (byte)r.Next(256);
        }

        if (t == typeof(ulong))
        {
            return Wide[r.Next(Wide.Length)];
        }

        return p.Name switch
        {
            "size" when method is "StoreImm" or "Load" or "Store" or "Crc32" or "LockXadd" or "Xchg" or "LockCmpxchg" => new[] { 1, 2, 4, 8 }[r.Next(4)],
            "size" when method is "LoadSigned" => new[] { 1, 2, 4 }[r.Next(3)],
            "size" when method is "AluMemImm" => new[] { 1, 4, 8 }[r.Next(3)],
            "size" => new[] { 4, 8 }[r.Next(2)],
            "fromSize" => new[] { 1, 2, 4 }[r.Next(3)],
            "count" => r.Next(64),
            "bit" => r.Next(64),
            _ => Immediates[r.Next(Immediates.Length)],
        };
    }

    /// <summary>Argument sets the emitter never produces (and x86 cannot encode).</summary>
    private static bool Valid(string method, object[] args)
    {
        bool w64 = args.OfType<bool>().FirstOrDefault(true);
        return method switch
        {
            "ShiftImm" => (int)args[2] < (w64 ? 64 : 32),
            "Bt" => (int)args[1] < (w64 ? 64 : 32),
            "BtcImm" => (int)args[1] is >= 0 and < 64,
            "StoreImm" when (int)args[2] == 1 => (int)args[1] == (sbyte)(int)args[1] || (int)args[1] == (byte)(int)args[1],
            "AluMemImm" when (int)args[3] == 1 => (int)args[2] == (sbyte)(int)args[2],
            _ => true,
        };
    }

    private delegate int AssembleInto(byte* buffer);

    private static string Decode(AssembleInto assemble)
    {
        var buffer = new byte[4096];
        int size;
        fixed (byte* p = buffer)
        {
            size = assemble(p);
        }

        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(buffer, 0, size));
        decoder.IP = 0x1_0000_0000;
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        var lines = new List<string>();
        while (decoder.IP < 0x1_0000_0000UL + (ulong)size)
        {
            Instruction insn = decoder.Decode();
            formatter.Format(insn, output);
            lines.Add(output.ToStringAndReset());
        }

        return string.Join("\n", lines);
    }
}
