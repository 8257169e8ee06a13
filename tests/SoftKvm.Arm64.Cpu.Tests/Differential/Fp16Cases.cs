namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The FEAT_FP16 differential cases (golden file <c>Golden/a64-fp16.golden.txt</c>): every half-precision
/// instruction form, and the ARMv8.0 conversions to and from half precision (FCVT, FCVTL, FCVTN: FPCR.AHP),
/// with operands from a pool of special values (±0, subnormals, the normal range's ends, ±infinity, quiet
/// and signalling NaNs with payloads, values one ulp apart and at rounding midpoints) and random ones,
/// under every combination of FPCR.RMode, FZ16 and DN (FZ and AHP set at random: half-precision
/// arithmetic ignores them, the conversions do not). The harness compares registers and NZCV only, so each case reads FPSR back into X10:
/// <code>
/// b over; pad; data: V0..V2 (8 half lanes each) and X0, X1 | ldr q0..q2, (x0, x1) literal;
/// movz x9, #FPCR&lt;31:16&gt;, lsl #16; msr fpcr, x9; msr fpsr, xzr; INSTRUCTION; mrs x10, fpsr; msr fpcr, xzr
/// </code>
/// Register fields of the forms (letters d, n, m, a) take V0-V2 (X0-X2 for general registers), 'x' bits are random.
/// </summary>
internal static class Fp16Cases
{
    /// <summary>Name, pattern (bit 31 first; d n m a register fields, x random bits), whether it reads general registers.</summary>
    public static readonly (string Name, string Pattern, bool General)[] Forms = BuildForms();

    private static (string, string, bool)[] BuildForms()
    {
        const string N = "nnnnn", D = "ddddd", M = "mmmmm";
        var f = new List<(string, string, bool)>();

        // Scalar data processing, ftype = 11.
        string[] dp1 = ["FMOV", "FABS", "FNEG", "FSQRT"];
        for (int o = 0; o < 4; o++)
        {
            f.Add(($"{dp1[o]} (scalar)", "00011110111" + Bin(o, 6) + "10000" + N + D, false));
        }

        string[] frint = ["FRINTN", "FRINTP", "FRINTM", "FRINTZ", "FRINTA", "", "FRINTX", "FRINTI"];
        for (int o = 0; o < 8; o++)
        {
            if (frint[o].Length > 0)
            {
                f.Add(($"{frint[o]} (scalar)", "00011110111" + Bin(8 + o, 6) + "10000" + N + D, false));
            }
        }

        string[] dp2 = ["FMUL", "FDIV", "FADD", "FSUB", "FMAX", "FMIN", "FMAXNM", "FMINNM", "FNMUL"];
        for (int o = 0; o < 9; o++)
        {
            f.Add(($"{dp2[o]} (scalar)", "00011110111" + M + Bin(o, 4) + "10" + N + D, false));
        }

        string[] dp3 = ["FMADD", "FMSUB", "FNMADD", "FNMSUB"];
        for (int o = 0; o < 4; o++)
        {
            f.Add((dp3[o], "0001111111" + Bin(o >> 1, 1) + M + Bin(o & 1, 1) + "aaaaa" + N + D, false));
        }

        f.Add(("FCMP/FCMPE", "00011110111" + M + "001000" + N + "xx000", false));
        f.Add(("FCCMP/FCCMPE", "00011110111" + M + "xxxx01" + N + "xxxxx", false));
        f.Add(("FCSEL", "00011110111" + M + "xxxx11" + N + D, false));
        f.Add(("FMOV (scalar, immediate)", "00011110111xxxxxxxx10000000" + D, false));

        // Conversions with general registers.
        f.Add(("FCVT[NPMZ][SU] (scalar, integer)", "x0011110111xx00x000000" + N + D, false));
        f.Add(("FCVTA[SU] (scalar, integer)", "x00111101110010x000000" + N + D, false));
        f.Add(("SCVTF/UCVTF (scalar, integer)", "x00111101110001x000000" + N + D, true));
        f.Add(("FMOV (Wd/Xd, Hn)", "x001111011100110000000" + N + D, false));
        f.Add(("FMOV (Hd, Wn/Xn)", "x001111011100111000000" + N + D, true));
        f.Add(("FCVTZ[SU] (scalar, fixed-point, W)", "00011110110" + "1100x" + "1xxxxx" + N + D, false));
        f.Add(("FCVTZ[SU] (scalar, fixed-point, X)", "10011110110" + "1100x" + "xxxxxx" + N + D, false));
        f.Add(("SCVTF/UCVTF (scalar, fixed-point, W)", "00011110110" + "0001x" + "1xxxxx" + N + D, true));
        f.Add(("SCVTF/UCVTF (scalar, fixed-point, X)", "10011110110" + "0001x" + "xxxxxx" + N + D, true));

        // Advanced SIMD three same (FP16), U:a:opcode; scalar forms.
        string[] threeSame =
        [
            "FMAXNM", "FMLA", "FADD", "FMULX", "FCMEQ", "", "FMAX", "FRECPS",
            "FMINNM", "FMLS", "FSUB", "", "", "", "FMIN", "FRSQRTS",
            "FMAXNMP", "", "FADDP", "FMUL", "FCMGE", "FACGE", "FMAXP", "FDIV",
            "FMINNMP", "", "FABD", "", "FCMGT", "FACGT", "FMINP", "",
        ];
        string[] scalarThreeSame = ["FMULX", "FCMEQ", "FRECPS", "FRSQRTS", "FCMGE", "FACGE", "FABD", "FCMGT", "FACGT"];
        for (int op = 0; op < 32; op++)
        {
            if (threeSame[op].Length == 0)
            {
                continue;
            }

            string fields = Bin(op >> 4, 1) + "01110" + Bin((op >> 3) & 1, 1) + "10" + M + "00" + Bin(op & 7, 3) + "1" + N + D;
            f.Add(($"{threeSame[op]} (vector, half)", "0x" + fields, false));
            if (scalarThreeSame.Contains(threeSame[op]))
            {
                f.Add(($"{threeSame[op]} (scalar, half)", "01" + Bin(op >> 4, 1) + "11110" + fields[6..], false));
            }
        }

        // Two-register miscellaneous (FP16): U:a:opcode, vector-only and scalar-only forms marked.
        (int Op, string Name, int Where)[] misc =
        [
            (0b0_0_11000, "FRINTN", 1), (0b0_0_11001, "FRINTM", 1), (0b0_0_11010, "FCVTNS", 3), (0b0_0_11011, "FCVTMS", 3),
            (0b0_0_11100, "FCVTAS", 3), (0b0_0_11101, "SCVTF", 3), (0b0_1_01100, "FCMGT (zero)", 3), (0b0_1_01101, "FCMEQ (zero)", 3),
            (0b0_1_01110, "FCMLT (zero)", 3), (0b0_1_01111, "FABS", 1), (0b0_1_11000, "FRINTP", 1), (0b0_1_11001, "FRINTZ", 1),
            (0b0_1_11010, "FCVTPS", 3), (0b0_1_11011, "FCVTZS", 3), (0b0_1_11101, "FRECPE", 3), (0b0_1_11111, "FRECPX", 2),
            (0b1_0_11000, "FRINTA", 1), (0b1_0_11001, "FRINTX", 1), (0b1_0_11010, "FCVTNU", 3), (0b1_0_11011, "FCVTMU", 3),
            (0b1_0_11100, "FCVTAU", 3), (0b1_0_11101, "UCVTF", 3), (0b1_1_01100, "FCMGE (zero)", 3), (0b1_1_01101, "FCMLE (zero)", 3),
            (0b1_1_01111, "FNEG", 1), (0b1_1_11001, "FRINTI", 1), (0b1_1_11010, "FCVTPU", 3), (0b1_1_11011, "FCVTZU", 3),
            (0b1_1_11101, "FRSQRTE", 3), (0b1_1_11111, "FSQRT", 1),
        ];
        foreach (var (op, name, where) in misc)
        {
            string tail = Bin((op >> 5) & 1, 1) + "111100" + Bin(op & 31, 5) + "10" + N + D;
            if ((where & 1) != 0)
            {
                f.Add(($"{name} (vector, half)", "0x" + Bin(op >> 6, 1) + "01110" + tail, false));
            }

            if ((where & 2) != 0)
            {
                f.Add(($"{name} (scalar, half)", "01" + Bin(op >> 6, 1) + "11110" + tail, false));
            }
        }

        // Across lanes, scalar pairwise.
        f.Add(("FMAXNMV/FMINNMV (half)", "0x001110x0110000110010" + N + D, false));
        f.Add(("FMAXV/FMINV (half)", "0x001110x0110000111110" + N + D, false));
        f.Add(("FMAXNMP/FMINNMP (scalar, half)", "01011110x0110000110010" + N + D, false));
        f.Add(("FADDP (scalar, half)", "0101111000110000110110" + N + D, false));
        f.Add(("FMAXP/FMINP (scalar, half)", "01011110x0110000111110" + N + D, false));

        // By element (size = 00: index H:L:M, Rm V0-V15).
        foreach (var (u, opcode, name) in new[] { ("0", "0001", "FMLA"), ("0", "0101", "FMLS"), ("0", "1001", "FMUL"), ("1", "1001", "FMULX") })
        {
            f.Add(($"{name} (by element, half)", "0x" + u + "0111100xx" + "mmmm" + opcode + "x0" + N + D, false));
            f.Add(($"{name} (scalar, by element, half)", "01" + u + "1111100xx" + "mmmm" + opcode + "x0" + N + D, false));
        }

        // Shift by immediate, immh = 001x: fixed-point conversions; FMOV (vector, immediate).
        foreach (var (opcode, name) in new[] { ("11100", "SCVTF/UCVTF"), ("11111", "FCVTZS/FCVTZU") })
        {
            f.Add(($"{name} (vector, fixed-point, half)", "0xx011110001xxxx" + opcode + "1" + N + D, false));
        }

        // Scalar FCVTZS Hd, Hn, #fbits is left out: qemu 7.2 writes its result sign-extended to 32 bits (the Arm
        // ARM writes 16 bits and clears the rest); HalfFloatTests pins it.
        f.Add(("SCVTF/UCVTF (scalar, fixed-point, half)", "01x111110001xxxx111001" + N + D, false));
        f.Add(("FCVTZU (scalar, fixed-point, half)", "011111110001xxxx111111" + N + D, false));

        f.Add(("FMOV (vector, immediate, half)", "0x00111100000xxx111111xxxxx" + D, false));

        // FEAT_FCMA, half: FCADD, FCMLA (vector), FCMLA (by element: H = 0 with Q = 0).
        // The ARMv8.0 conversions to and from half precision, under FPCR.AHP (the alternative format) and DN.
        f.Add(("FCVT (Sd, Hn)", "00011110111000100" + "10000" + N + D, false));
        f.Add(("FCVT (Dd, Hn)", "00011110111000101" + "10000" + N + D, false));
        f.Add(("FCVT (Hd, Sn)", "00011110001000111" + "10000" + N + D, false));
        f.Add(("FCVT (Hd, Dn)", "00011110011000111" + "10000" + N + D, false));
        f.Add(("FCVTL{2} (half)", "0x00111000100001011110" + N + D, false));
        f.Add(("FCVTN{2} (half)", "0x00111000100001011010" + N + D, false));

        f.Add(("FCADD (half)", "0x101110010" + M + "111x01" + N + D, false));
        f.Add(("FCMLA (vector, half)", "0x101110010" + M + "110xx1" + N + D, false));
        f.Add(("FCMLA (by element, half, Q = 0)", "00101111" + "01" + "x0" + "mmmm" + "0xx1" + "00" + N + D, false));
        f.Add(("FCMLA (by element, half, Q = 1)", "01101111" + "01" + "x0" + "mmmm" + "0xx1" + "x0" + N + D, false));
        return [.. f];
    }

    private static string Bin(int value, int width) => Convert.ToString(value, 2).PadLeft(width, '0');

    /// <summary>Special half-precision values.</summary>
    private static readonly ushort[] s_special =
    [
        0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0200, 0x0400, 0x8400, 0x0401, 0x3C00, 0xBC00, 0x3C01, 0x3BFF,
        0x4000, 0xC000, 0x4200, 0x3800, 0x3E00, 0x7BFF, 0xFBFF, 0x7BFE, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7E55, 0x7C01,
        0xFD55, 0x7D00, 0x5BFF, 0x5C00, 0x7800, 0x1000, 0x0800, 0x2E66, 0x3555, 0x4900, 0x4901, 0x6400, 0x77FF,
    ];

    private static ushort HalfValue(ref SplitMix64 rng) => rng.Below(4) switch
    {
        0 or 1 => (ushort)(s_special[rng.Below(s_special.Length)] ^ (rng.Chance(20) ? 0x8000 : 0)),
        2 => (ushort)rng.Next(),
        _ => (ushort)((rng.Next() & 0x83FF) | ((ulong)rng.Between(8, 22) << 10)),
    };

    private static readonly ulong[] s_integers =
    [
        0, 1, ulong.MaxValue, 2, 3, 65504, 65519, 65520, 65535, 65536, 0x7FFF, 0x8000, 0xFFFF_8000, 2049, 2051, 4097,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_F001,
    ];

    /// <summary>
    /// The case of form <paramref name="form"/> from <paramref name="seed"/>; <paramref name="setting"/> 0-15 picks
    /// FPCR.RMode (bits 1:0), FZ16 (bit 2) and DN (bit 3), so 16 cases of a form see every combination.
    /// </summary>
    public static DiffCase Make(int form, ulong seed, int setting)
    {
        var rng = new SplitMix64(seed);
        var (_, pattern, general) = Forms[form];
        var words = new List<uint> { 0, 0, 0, 0 };
        for (int v = 0; v < 3; v++)
        {
            for (int w = 0; w < 4; w++)
            {
                words.Add(HalfValue(ref rng) | ((uint)HalfValue(ref rng) << 16));
            }
        }

        for (int x = 0; x < 2; x++)
        {
            ulong value = rng.Below(3) switch
            {
                0 => s_integers[rng.Below(s_integers.Length)],
                1 => (ulong)(long)(short)rng.Next(),
                _ => rng.Next() >> rng.Below(64),
            };
            words.Add((uint)value);
            words.Add((uint)(value >> 32));
        }

        int code = words.Count;
        words[0] = 0x1400_0000u | (uint)code;                               // b over the data
        for (int v = 0; v < 3; v++)
        {
            words.Add(0x9C00_0000u | ((uint)((4 + (4 * v) - words.Count) & 0x7FFFF) << 5) | (uint)v); // ldr qv, literal
        }

        if (general)
        {
            for (int x = 0; x < 2; x++)
            {
                words.Add(0x5800_0000u | ((uint)((16 + (2 * x) - words.Count) & 0x7FFFF) << 5) | (uint)x); // ldr xx, literal
            }
        }

        uint fpcr = ((uint)(setting & 3) << 22) | ((setting & 4) != 0 ? 1u << 19 : 0) | ((setting & 8) != 0 ? 1u << 25 : 0)
            | (rng.Chance(20) ? 1u << 24 : 0) | (rng.Chance(30) ? 1u << 26 : 0);
        words.Add(0xD2A0_0000u | ((fpcr >> 16) << 5) | 9);                 // movz x9, #fpcr<31:16>, lsl #16
        words.Add(0xD51B_4409u);                                            // msr fpcr, x9
        words.Add(0xD51B_443Fu);                                            // msr fpsr, xzr
        words.Add(Encode(pattern, ref rng));
        words.Add(0xD53B_442Au);                                            // mrs x10, fpsr
        words.Add(0xD51B_441Fu);                                            // msr fpcr, xzr
        return new DiffCase(seed, [.. words], 1);
    }

    private static uint Encode(string pattern, ref SplitMix64 rng)
    {
        var regs = new Dictionary<char, int>();
        uint word = 0;
        for (int i = 0; i < 32; i++)
        {
            char c = pattern[i];
            uint bit;
            if (c is '0' or '1')
            {
                bit = (uint)(c - '0');
            }
            else if (c == 'x')
            {
                bit = (uint)(rng.Next() & 1);
            }
            else
            {
                if (!regs.TryGetValue(c, out int reg))
                {
                    reg = rng.Below(3);
                    regs[c] = reg;
                }

                int width = pattern.Count(p => p == c);
                int position = width - 1 - (i - pattern.IndexOf(c));
                bit = (uint)(reg >> position) & 1;
            }

            word |= bit << (31 - i);
        }

        return word;
    }

    /// <summary><paramref name="perForm"/> cases of every form, seeds derived from <paramref name="seed"/>.</summary>
    public static List<DiffCase> All(ulong seed, int perForm)
    {
        var rng = new SplitMix64(seed);
        var cases = new List<DiffCase>();
        for (int k = 0; k < perForm; k++)
        {
            for (int form = 0; form < Forms.Length; form++)
            {
                cases.Add(Make(form, rng.Next(), k & 15));
            }
        }

        return cases;
    }
}
