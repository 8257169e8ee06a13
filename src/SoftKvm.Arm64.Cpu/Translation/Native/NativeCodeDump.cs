using System.Text;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// With <c>SOFTKVM_CODE_DUMP=DIR</c>, every block translated leaves two files in DIR, named by its guest
/// address and its offset in the code region (the offset <c>SOFTKVM_PERF_MAP</c> names and perf reports):
/// <c>a64_PC_OFFSET.bin</c>, the block's x86-64 code, and <c>a64_PC_OFFSET.ir</c>, its guest words (each with the offset where its code in the
/// body ends) and IR after the passes. <c>objdump -D -b binary -m i386:x86-64 --adjust-vma=0xOFFSET FILE.bin</c> disassembles
/// the code (docs/performance.md, "Host profiles"). For looking at the code, never on by default.
/// </summary>
internal static unsafe class NativeCodeDump
{
    private static readonly string? s_directory = Create(Environment.GetEnvironmentVariable("SOFTKVM_CODE_DUMP"));

    /// <summary>Whether dumping is on.</summary>
    public static bool Enabled => s_directory is not null;

    private static string? Create(string? directory)
    {
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Writes the code of block <paramref name="ir"/> (at <paramref name="offset"/> in the region) and the IR it came from; <paramref name="ends"/>: per instruction, the offset in the code where its body ends.</summary>
    public static void Write(IrBlock ir, nint code, int size, long offset, int[] ends)
    {
        if (s_directory is null)
        {
            return;
        }

        string name = Path.Combine(s_directory, $"a64_{ir.Pc:x}_{offset:x}");
        File.WriteAllBytes(name + ".bin", new ReadOnlySpan<byte>((void*)code, size).ToArray());
        var text = new StringBuilder();
        text.Append($"block {ir.Pc:x} mode {ir.Mode} code offset {offset:x} size {size}\n");
        for (int k = 0; k < ir.Indices.Length; k++)
        {
            text.Append($"{ir.PcOf(ir.Indices[k]):x} {ir.Words[k]:x8} @{ends[k]:x} {ir.Decoded[k]}{(ir.IsEntry[k] ? " entry" : ir.IsLabel[k] ? " label" : "")}\n");
            for (int i = ir.FirstOp[k]; i < ir.FirstOp[k + 1]; i++)
            {
                text.Append($"    {(ir.FlagsLiveIn[i] ? 'f' : ' ')} {ir.Ops[i]}\n");
            }
        }

        File.WriteAllText(name + ".ir", text.ToString());
    }

    /// <summary>Writes the code of a shared routine (PAC, landing pad) placed at <paramref name="offset"/>: <c>routine_NAME_OFFSET.bin</c>.</summary>
    public static void WriteRoutine(string routine, nint code, int size, long offset)
    {
        if (s_directory is not null)
        {
            File.WriteAllBytes(Path.Combine(s_directory, $"routine_{routine}_{offset:x}.bin"), new ReadOnlySpan<byte>((void*)code, size).ToArray());
        }
    }
}
