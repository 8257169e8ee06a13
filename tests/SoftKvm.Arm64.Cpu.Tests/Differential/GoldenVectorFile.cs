using System.Globalization;
using System.Text;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The committed golden vectors: one case per line, the reference's result stored as differences from
/// the case's initial state (which <see cref="DiffState.Initial"/> derives from the seed), so the file
/// stays small and the test needs no QEMU. Line format (fields separated by one space):
/// <code>seed words tested signal faultpc nzcv sp regs vregs mem</code>
/// seed, faultpc and sp in hex; words: comma-separated hex words; nzcv: one hex digit; regs: changed
/// registers as <c>n:value</c> (hex) joined by commas, or '-'; vregs: changed 64-bit halves of
/// V0..V31 as <c>i:value</c> (i = 2n for the low half of Vn, 2n + 1 for the high half), or '-'; mem: changed scratch runs as
/// <c>offset:hexbytes</c> joined by commas, or '-'.
/// </summary>
internal static class GoldenVectorFile
{
    public static void Write(string path, string header, IReadOnlyList<DiffCase> cases, IReadOnlyList<DiffState> expected)
    {
        var sb = new StringBuilder();
        foreach (var line in header.Split('\n'))
        {
            sb.Append("# ").Append(line).Append('\n');
        }

        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var e = expected[i];
            var initial = DiffState.Initial(c.Seed);
            sb.Append(CultureInfo.InvariantCulture, $"{c.Seed:x16} {c.WordsText} {c.Tested} {e.Signal} {e.FaultPc:x} {e.Nzcv >> 28:x} {e.Sp:x} ");
            var regs = Enumerable.Range(0, 31).Where(r => e.X[r] != initial.X[r]).Select(r => $"{r}:{e.X[r]:x}").ToList();
            sb.Append(regs.Count == 0 ? "-" : string.Join(",", regs)).Append(' ');
            var vregs = Enumerable.Range(0, 64).Where(r => e.V[r] != initial.V[r]).Select(r => $"{r}:{e.V[r]:x}").ToList();
            sb.Append(vregs.Count == 0 ? "-" : string.Join(",", vregs)).Append(' ');
            var runs = new List<string>();
            for (int o = 0; o < DiffLayout.ScratchSize; o++)
            {
                if (e.Scratch[o] == initial.Scratch[o])
                {
                    continue;
                }

                int start = o;
                while (o < DiffLayout.ScratchSize && e.Scratch[o] != initial.Scratch[o])
                {
                    o++;
                }

                runs.Add($"{start:x}:{Convert.ToHexString(e.Scratch, start, o - start).ToLowerInvariant()}");
            }

            sb.Append(runs.Count == 0 ? "-" : string.Join(",", runs)).Append('\n');
        }

        File.WriteAllText(path, sb.ToString());
    }

    public static List<(DiffCase Case, DiffState Expected)> Read(string path)
    {
        var result = new List<(DiffCase, DiffState)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var f = line.Split(' ');
            if (f.Length != 10)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: expected 10 fields, found {f.Length}");
            }

            ulong seed = Hex(f[0]);
            var words = f[1].Split(',').Select(w => (uint)Hex(w)).ToArray();
            var e = DiffState.Initial(seed);
            e.Signal = int.Parse(f[3], CultureInfo.InvariantCulture);
            e.FaultPc = Hex(f[4]);
            e.Nzcv = (uint)Hex(f[5]) << 28;
            e.Sp = Hex(f[6]);
            if (f[7] != "-")
            {
                foreach (var reg in f[7].Split(','))
                {
                    var parts = reg.Split(':');
                    e.X[int.Parse(parts[0], CultureInfo.InvariantCulture)] = Hex(parts[1]);
                }
            }

            if (f[8] != "-")
            {
                foreach (var reg in f[8].Split(','))
                {
                    var parts = reg.Split(':');
                    e.V[int.Parse(parts[0], CultureInfo.InvariantCulture)] = Hex(parts[1]);
                }
            }

            if (f[9] != "-")
            {
                foreach (var run in f[9].Split(','))
                {
                    var parts = run.Split(':');
                    Convert.FromHexString(parts[1]).CopyTo(e.Scratch, (int)Hex(parts[0]));
                }
            }

            result.Add((new DiffCase(seed, words, int.Parse(f[2], CultureInfo.InvariantCulture)), e));
        }

        return result;
    }

    private static ulong Hex(string s) => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
