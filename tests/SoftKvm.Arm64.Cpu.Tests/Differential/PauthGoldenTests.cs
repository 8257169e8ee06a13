using System.Globalization;
using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// FEAT_PAuth against QEMU with fixed keys (qemu-aarch64 gives every process random keys, so these come from
/// QEMU's system emulator running guests/arm64/pauth.elf at EL1): Golden/a64-pauth.golden.txt, each case run
/// on the max model with QARMA5 (<c>--cpu max,pauth=qarma5</c>, QEMU's algorithm) in the interpreter and in native blocks.
/// </summary>
public sealed class PauthGoldenTests
{
    internal static readonly (uint Key, ulong Value)[] Keys =
    [
        (KeyRegister(1, 0), 0x0123456789abcdef), (KeyRegister(1, 1), 0xfedcba9876543210),
        (KeyRegister(1, 2), 0x1122334455667788), (KeyRegister(1, 3), 0x99aabbccddeeff00),
        (KeyRegister(2, 0), 0x0f1e2d3c4b5a6978), (KeyRegister(2, 1), 0x8796a5b4c3d2e1f0),
        (KeyRegister(2, 2), 0xdeadbeefcafef00d), (KeyRegister(2, 3), 0x0badc0de12345678),
        (KeyRegister(3, 0), 0xec2802d4e0a488e9), (KeyRegister(3, 1), 0x84be85ce9804e94b),
    ];

    private const ulong Results = RamBase + 0x80_0000;

    /// <summary>APxxKey{Lo,Hi}_EL1: op0 = 3, op1 = 0, CRn = 2, CRm, op2.</summary>
    private static uint KeyRegister(int crm, int op2) => (3u << 14) | (2u << 7) | ((uint)crm << 3) | (uint)op2;

    public static string GoldenPath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Golden", "a64-pauth.golden.txt");

    internal static List<(uint Insn, ulong Tcr, ulong X0, ulong X1, ulong Out)> ReadCases()
    {
        var cases = new List<(uint, ulong, ulong, ulong, ulong)>();
        foreach (string line in File.ReadLines(GoldenPath()))
        {
            if (!line.StartsWith("case ", StringComparison.Ordinal))
            {
                continue;
            }

            string[] f = line.Split(' ');
            static ulong Hex(string s) => ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            cases.Add(((uint)Hex(f[1]), Hex(f[2]), Hex(f[3]), Hex(f[4]), Hex(f[6])));
        }

        return cases;
    }

    /// <summary>MOVZ/MOVK of <paramref name="value"/> into X<paramref name="rd"/>.</summary>
    internal static IEnumerable<uint> Load(int rd, ulong value) =>
        Enumerable.Range(0, 4).Select(hw => (hw == 0 ? 0xD280_0000u : 0xF280_0000u) | ((uint)hw << 21) | ((uint)(value >> (16 * hw)) & 0xFFFF) << 5 | (uint)rd);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PauthGoldenVectors_SoftKvmMatchesQemuMax(bool native)
    {
        var cases = ReadCases();
        Assert.True(cases.Count > 1500);
        foreach (var group in cases.GroupBy(c => c.Tcr))
        {
            var list = group.ToList();
            // Per case: X0 and X1 loaded, the instruction, STR X0, [X2], #8; then an UNDEFINED word ends the run.
            var code = list.SelectMany(c => Load(0, c.X0).Concat(Load(1, c.X1)).Append(c.Insn).Append(0xF8008440u)).ToArray();
            using var m = new TestMachine(model: CpuModel.Parse("max,pauth=qarma5", out _));
            var v = m.Start(code);
            v.Cpu.TranslationEnabled = native;
            foreach (var (key, value) in Keys)
            {
                v.SetSystemRegister(new SysRegKey(key), value);
            }

            var sctlr = SysRegKey.Of(3, 0, 1, 0, 0);
            v.SetSystemRegister(sctlr, v.GetSystemRegister(sctlr) | (1UL << 31) | (1UL << 30) | (1UL << 27) | (1UL << 13));
            v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), group.Key);
            SetX(v, 2, Results);
            Assert.Equal(RunResult.Ok, m.Run(v));
            Assert.Equal(Results + (8UL * (ulong)list.Count), X(v, 2));
            for (int i = 0; i < list.Count; i++)
            {
                ulong got = m.Vm.Memory.Read<ulong>(new GuestPhysAddr(Results + (8UL * (ulong)i)));
                var c = list[i];
                Assert.True(c.Out == got, $"{(native ? "native" : "interpreter")}: {c.Insn:x8} tcr {c.Tcr:x} x0 {c.X0:x16} x1 {c.X1:x16}: QEMU {c.Out:x16}, SoftKvm {got:x16}");
            }
        }
    }
}
