using Iced.Intel;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// Generates random SSE/SSE2 sequences (64-bit mode) as raw encodings: a table of (mandatory prefix,
/// opcode, operand form) rows, random XMM registers 0-15, general registers other than RSP and R15,
/// and memory operands [R15 + disp32] inside the data page (16-byte aligned for the aligned forms,
/// with an occasional misaligned one to check the #GP). Every sequence is decoded by Iced to check it.
///
/// Do-not-test list (why):
///  - RCPPS/RCPSS/RSQRTPS/RSQRTSS: approximations whose exact bits are processor-specific.
///  - MASKMOVDQU: stores through RDI, which can point anywhere.
///  - FXSAVE/FXRSTOR: the image holds the host's x87 pointers (FIP/FDP) of whatever ran before; covered by unit tests.
///  - MMX cases (a quarter) load MM0-7 from the data page first and store them back at the end (the host's
///    MMX registers alias x87 registers FNINIT leaves stale); they mix MMX-register forms with SSE and no x87.
///  - x87 (about a third of the instructions) runs with a random FCW precision control (extended, double or
///    single) and rounding control, all exceptions masked. Not generated: FLDCW and FNINIT (FCW comes from the
///    seed), the transcendentals (the model uses double-precision library math), FXAM (on an empty register
///    its C1 is the sign of stale register contents FNINIT does not clear).
/// </summary>
internal static class SseDiffGenerator
{
    private enum Form
    {
        /// <summary>xmm, xmm/m (reg = xmm destination).</summary>
        XX,
        /// <summary>xmm, xmm/m, imm8.</summary>
        XXI,
        /// <summary>xmm, r/m32|64 (REX.W random).</summary>
        XG,
        /// <summary>xmm, r/m32, imm8 (PINSRW).</summary>
        XGI,
        /// <summary>r32|64, xmm/m (reg = general destination).</summary>
        GX,
        /// <summary>r32, xmm register only (PMOVMSKB, MOVMSKPS/PD).</summary>
        GXR,
        /// <summary>r32, xmm register, imm8 (PEXTRW).</summary>
        GXRI,
        /// <summary>xmm/m, xmm (reg = xmm source; store forms).</summary>
        MX,
        /// <summary>r/m32|64, xmm (MOVD/MOVQ store to a general register or memory).</summary>
        GMX,
        /// <summary>m, xmm memory only (MOVNTPS, MOVHPS store, ...).</summary>
        MXM,
        /// <summary>xmm, m memory only (MOVLPD/MOVHPD loads).</summary>
        XM,
        /// <summary>xmm register with a /digit opcode extension and imm8 (shifts).</summary>
        SHI,
        /// <summary>m32 with a /digit extension (LDMXCSR /2, STMXCSR /3).</summary>
        M,
        /// <summary>m32|64, r (MOVNTI).</summary>
        MG,
    }

    private readonly record struct Row(byte Prefix, byte Op, Form Form, int MemSize, bool Aligned, int Digit = 0, bool RegMm = false, bool RmMm = false);

    private static Row R(int prefix, int op, Form f, int mem = 16, bool aligned = true, int digit = 0) =>
        new((byte)prefix, (byte)op, f, mem, aligned && mem == 16, digit);

    private static Row M(int prefix, int op, Form f, bool regMm, bool rmMm, int digit = 0, bool aligned = false) =>
        new((byte)prefix, (byte)op, f, aligned ? 16 : 8, aligned, digit, regMm, rmMm);

    /// <summary>The MMX-register forms (MMX, SSE and SSE2 instructions on mm registers).</summary>
    private static readonly Row[] MmxRows = BuildMmxRows();

    private static Row[] BuildMmxRows()
    {
        var rows = new List<Row>();
        foreach (int op in new[]
        {
            0xD4, 0xFC, 0xFD, 0xFE, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9, 0x74, 0x75, 0x76, 0x64,
            0x65, 0x66, 0xDA, 0xDE, 0xEA, 0xEE, 0xE0, 0xE3, 0xF6, 0xD5, 0xE5, 0xE4, 0xF4, 0xF5, 0xDB, 0xDF, 0xEB, 0xEF, 0xF1, 0xF2,
            0xF3, 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0x60, 0x61, 0x62, 0x68, 0x69, 0x6A, 0x63, 0x67, 0x6B, 0x6F,
        })
        {
            rows.Add(M(0x00, op, Form.XX, true, true));
        }

        rows.Add(M(0x00, 0x70, Form.XXI, true, true));                 // PSHUFW
        foreach (var (op, digit) in new[] { (0x71, 2), (0x71, 4), (0x71, 6), (0x72, 2), (0x72, 4), (0x72, 6), (0x73, 2), (0x73, 6) })
        {
            rows.Add(M(0x00, op, Form.SHI, false, true, digit));
        }

        rows.Add(M(0x00, 0x6E, Form.XG, true, false));                 // MOVD/MOVQ mm, r/m
        rows.Add(M(0x00, 0x7E, Form.GMX, true, false));                // MOVD/MOVQ r/m, mm
        rows.Add(M(0x00, 0x7F, Form.MX, true, true));                  // MOVQ mm/m64, mm
        rows.Add(M(0x00, 0xE7, Form.MXM, true, false));                // MOVNTQ
        rows.Add(M(0x00, 0xD7, Form.GXR, false, true));                // PMOVMSKB r, mm
        rows.Add(M(0x00, 0xC5, Form.GXRI, false, true));               // PEXTRW r, mm
        rows.Add(M(0x00, 0xC4, Form.XGI, true, false));                // PINSRW mm, r/m
        rows.Add(M(0x00, 0x2A, Form.XX, false, true));                 // CVTPI2PS xmm, mm/m64
        rows.Add(M(0x66, 0x2A, Form.XX, false, true));                 // CVTPI2PD xmm, mm/m64
        rows.Add(M(0x00, 0x2D, Form.XX, true, false));                 // CVTPS2PI mm, xmm/m64
        rows.Add(M(0x00, 0x2C, Form.XX, true, false));                 // CVTTPS2PI
        rows.Add(M(0x66, 0x2D, Form.XX, true, false, aligned: true));  // CVTPD2PI mm, xmm/m128
        rows.Add(M(0x66, 0x2C, Form.XX, true, false, aligned: true));  // CVTTPD2PI
        rows.Add(M(0xF3, 0xD6, Form.GXR, false, true));                // MOVQ2DQ xmm, mm (reg = xmm, see Emit)
        rows.Add(M(0xF2, 0xD6, Form.GXR, true, false));                // MOVDQ2Q mm, xmm
        return [.. rows];
    }

    private static readonly Row[] Rows = BuildRows();

    private static Row[] BuildRows()
    {
        var rows = new List<Row>();
        // Packed integer, 66 0F xx, xmm, xmm/m128.
        foreach (int op in new[]
        {
            0xD4, 0xFC, 0xFD, 0xFE, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9, 0x74, 0x75, 0x76, 0x64,
            0x65, 0x66, 0xDA, 0xDE, 0xEA, 0xEE, 0xE0, 0xE3, 0xF6, 0xD5, 0xE5, 0xE4, 0xF4, 0xF5, 0xDB, 0xDF, 0xEB, 0xEF, 0xF1, 0xF2,
            0xF3, 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0x60, 0x61, 0x62, 0x6C, 0x68, 0x69, 0x6A, 0x6D, 0x63, 0x67, 0x6B, 0x6F,
        })
        {
            rows.Add(R(0x66, op, Form.XX));
        }

        rows.Add(R(0xF3, 0x6F, Form.XX, 16, false));            // MOVDQU load
        rows.Add(R(0x66, 0x70, Form.XXI));                       // PSHUFD
        rows.Add(R(0xF2, 0x70, Form.XXI));                       // PSHUFLW
        rows.Add(R(0xF3, 0x70, Form.XXI));                       // PSHUFHW
        rows.Add(R(0x00, 0xC6, Form.XXI));                       // SHUFPS
        rows.Add(R(0x66, 0xC6, Form.XXI));                       // SHUFPD
        rows.Add(R(0x00, 0xC2, Form.XXI));                       // CMPPS
        rows.Add(R(0x66, 0xC2, Form.XXI));                       // CMPPD
        rows.Add(R(0xF3, 0xC2, Form.XXI, 4));                    // CMPSS
        rows.Add(R(0xF2, 0xC2, Form.XXI, 8));                    // CMPSD
        foreach (var (op, digit) in new[] { (0x71, 2), (0x71, 4), (0x71, 6), (0x72, 2), (0x72, 4), (0x72, 6), (0x73, 2), (0x73, 3), (0x73, 6), (0x73, 7) })
        {
            rows.Add(R(0x66, op, Form.SHI, 0, false, digit));
        }

        // Packed FP: none = PS, 66 = PD.
        foreach (int p in new[] { 0x00, 0x66 })
        {
            foreach (int op in new[] { 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51, 0x54, 0x55, 0x56, 0x57, 0x14, 0x15, 0x28 })
            {
                rows.Add(R(p, op, Form.XX));
                if (op is 0x58 or 0x59 or 0x5C or 0x5E or 0x51)
                {
                    rows.Add(R(p, op, Form.XX)); // weight the arithmetic
                }
            }

            rows.Add(R(p, 0x10, Form.XX, 16, false));            // MOVUPS/MOVUPD load
            rows.Add(R(p, 0x29, Form.MX));                       // MOVAPS/MOVAPD store
            rows.Add(R(p, 0x11, Form.MX, 16, false));            // MOVUPS/MOVUPD store
            rows.Add(R(p, 0x2B, Form.MXM));                      // MOVNTPS/MOVNTPD
            rows.Add(R(p, 0x2F, Form.XX, p == 0 ? 4 : 8));       // COMISS/COMISD
            rows.Add(R(p, 0x2E, Form.XX, p == 0 ? 4 : 8));       // UCOMISS/UCOMISD
            rows.Add(R(p, 0x50, Form.GXR));                      // MOVMSKPS/PD
            rows.Add(R(p, 0x13, Form.MXM, 8));                   // MOVLPS/MOVLPD store
            rows.Add(R(p, 0x17, Form.MXM, 8));                   // MOVHPS/MOVHPD store
        }

        rows.Add(R(0x00, 0x12, Form.XX, 8));                     // MOVLPS load / MOVHLPS
        rows.Add(R(0x00, 0x16, Form.XX, 8));                     // MOVHPS load / MOVLHPS
        rows.Add(R(0x66, 0x12, Form.XM, 8));                     // MOVLPD load
        rows.Add(R(0x66, 0x16, Form.XM, 8));                     // MOVHPD load

        // Scalar FP: F3 = SS, F2 = SD.
        foreach (int p in new[] { 0xF3, 0xF2 })
        {
            int size = p == 0xF3 ? 4 : 8;
            foreach (int op in new[] { 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51, 0x10, 0x5A, 0x58, 0x59, 0x5E, 0x51 })
            {
                rows.Add(R(p, op, Form.XX, size));
            }

            rows.Add(R(p, 0x11, Form.MX, size));                 // MOVSS/MOVSD store
            rows.Add(R(p, 0x2A, Form.XG, 0));                    // CVTSI2SS/SD
            rows.Add(R(p, 0x2D, Form.GX, size));                 // CVTSS2SI/CVTSD2SI
            rows.Add(R(p, 0x2C, Form.GX, size));                 // CVTTSS2SI/CVTTSD2SI
        }

        // Conversions.
        rows.Add(R(0x00, 0x5A, Form.XX, 8));                     // CVTPS2PD
        rows.Add(R(0x66, 0x5A, Form.XX));                        // CVTPD2PS
        rows.Add(R(0x00, 0x5B, Form.XX));                        // CVTDQ2PS
        rows.Add(R(0x66, 0x5B, Form.XX));                        // CVTPS2DQ
        rows.Add(R(0xF3, 0x5B, Form.XX));                        // CVTTPS2DQ
        rows.Add(R(0xF3, 0xE6, Form.XX, 8));                     // CVTDQ2PD
        rows.Add(R(0xF2, 0xE6, Form.XX));                        // CVTPD2DQ
        rows.Add(R(0x66, 0xE6, Form.XX));                        // CVTTPD2DQ

        // Moves between XMM and general registers / memory.
        rows.Add(R(0x66, 0x6E, Form.XG, 0));                     // MOVD/MOVQ xmm, r/m
        rows.Add(R(0x66, 0x7E, Form.GMX, 0));                    // MOVD/MOVQ r/m, xmm
        rows.Add(R(0xF3, 0x7E, Form.XX, 8));                     // MOVQ xmm, xmm/m64
        rows.Add(R(0x66, 0xD6, Form.MX, 8));                     // MOVQ xmm/m64, xmm
        rows.Add(R(0x66, 0x7F, Form.MX));                        // MOVDQA store
        rows.Add(R(0xF3, 0x7F, Form.MX, 16, false));             // MOVDQU store
        rows.Add(R(0x66, 0xE7, Form.MXM));                       // MOVNTDQ
        rows.Add(R(0x66, 0xD7, Form.GXR));                       // PMOVMSKB
        rows.Add(R(0x66, 0xC5, Form.GXRI));                      // PEXTRW
        rows.Add(R(0x66, 0xC4, Form.XGI, 2));                    // PINSRW
        rows.Add(R(0x00, 0xC3, Form.MG, 0));                     // MOVNTI
        rows.Add(R(0x00, 0xAE, Form.M, 4, false, 3));            // STMXCSR
        return [.. rows];
    }

    private static readonly int[] Gprs = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

    public static byte[] Generate(int index, out (ulong Offset, ulong Mask)[] masks)
    {
        var rng = new Random(index ^ 0x55E0000);
        int count = 1 + rng.Next(8);
        var code = new List<byte>();
        var boundaries = new List<(ulong, ulong)>();
        bool mmx = rng.Next(4) == 0;
        if (mmx)
        {
            // MM0-7 start from the data page (after FNINIT they hold stale x87 contents on the host).
            for (int k = 0; k < 8; k++)
            {
                boundaries.Add(((ulong)code.Count, 0x8D5UL));
                code.AddRange(Encode(M(0x00, 0x6F, Form.XX, true, true), k, 0, 8 * k - 0x200, true, 0));
            }
        }

        for (int n = 0; n < count; n++)
        {
            for (int attempt = 0; attempt < 50; attempt++)
            {
                byte[] bytes = mmx ? (rng.Next(2) == 0 ? EmitMmx(rng) : EmitSse(rng)) : Emit(rng);
                var d = Decoder.Create(64, new ByteArrayCodeReader(bytes));
                d.IP = DiffCase.CodeAddress;
                d.Decode(out var insn);
                if (insn.IsInvalid || insn.Length != bytes.Length)
                {
                    continue;
                }

                boundaries.Add(((ulong)code.Count, 0x8D5UL));
                code.AddRange(bytes);
                break;
            }
        }

        if (mmx)
        {
            for (int k = 0; k < 8; k++)
            {
                boundaries.Add(((ulong)code.Count, 0x8D5UL));
                code.AddRange(Encode(M(0x00, 0x7F, Form.MX, true, true), k, 0, 0x100 + 8 * k, true, 0));
            }
        }

        // Now and then an LDMXCSR of a value the sequence stored (a valid MXCSR) or of random data (#GP when reserved bits are set).
        if (rng.Next(16) == 0)
        {
            boundaries.Add(((ulong)code.Count, 0x8D5UL));
            code.AddRange(Encode(new Row(0, 0xAE, Form.M, 4, false, 2), 0, 0, rng.Next(-128, 124), false, 0));
        }

        boundaries.Add(((ulong)code.Count, 0x8D5UL));
        masks = [.. boundaries];
        return [.. code];
    }

    private static readonly (byte Op, byte Base)[] X87Reg =
    [
        (0xD8, 0xC0), (0xD8, 0xC8), (0xD8, 0xE0), (0xD8, 0xE8), (0xD8, 0xF0), (0xD8, 0xF8), // FADD..FDIVR ST0, STi
        (0xDC, 0xC0), (0xDC, 0xC8), (0xDC, 0xE0), (0xDC, 0xE8), (0xDC, 0xF0), (0xDC, 0xF8), // STi, ST0
        (0xDE, 0xC0), (0xDE, 0xC8), (0xDE, 0xE0), (0xDE, 0xE8), (0xDE, 0xF0), (0xDE, 0xF8), // P forms
        (0xD9, 0xC0), (0xD9, 0xC8), (0xDD, 0xD0), (0xDD, 0xD8), (0xDD, 0xC0),               // FLD, FXCH, FST, FSTP, FFREE
        (0xD8, 0xD0), (0xD8, 0xD8), (0xDD, 0xE0), (0xDD, 0xE8),                             // FCOM, FCOMP, FUCOM, FUCOMP
        (0xDB, 0xF0), (0xDB, 0xE8), (0xDF, 0xF0), (0xDF, 0xE8),                             // FCOMI, FUCOMI, FCOMIP, FUCOMIP
        (0xDA, 0xC0), (0xDA, 0xC8), (0xDA, 0xD0), (0xDA, 0xD8), (0xDB, 0xC0), (0xDB, 0xC8), (0xDB, 0xD0), (0xDB, 0xD8), // FCMOVcc
    ];

    private static readonly (byte Op, byte Digit)[] X87Mem =
    [
        (0xDF, 0), (0xDB, 0), (0xDF, 0), (0xDB, 0),                                         // FILD m16, m32 (twice: sources)
        (0xD8, 0), (0xD8, 1), (0xD8, 2), (0xD8, 3), (0xD8, 4), (0xD8, 5), (0xD8, 6), (0xD8, 7), // m32fp arithmetic and FCOM(P)
        (0xDE, 0), (0xDE, 1), (0xDE, 2), (0xDE, 3), (0xDE, 4), (0xDE, 5), (0xDE, 6), (0xDE, 7), // m16int
        (0xDA, 0), (0xDA, 1), (0xDA, 2), (0xDA, 3), (0xDA, 4), (0xDA, 5), (0xDA, 6), (0xDA, 7), // m32int
        (0xDF, 2), (0xDF, 3), (0xDB, 2), (0xDB, 3), (0xDF, 7), (0xDF, 1), (0xDB, 1), (0xDD, 1), // FIST(P), FISTTP
        (0xD9, 2), (0xD9, 3), (0xDD, 2), (0xDD, 3), (0xDB, 7), (0xD9, 0),                   // FST(P) m32/m64, FSTP m80, FLD m32
        (0xDD, 0), (0xDB, 5), (0xDF, 5), (0xDC, 0), (0xDC, 1), (0xDC, 4), (0xDC, 5), (0xDC, 6), (0xDC, 7), // FLD m64/m80, FILD m64, m64fp arithmetic
        (0xDF, 4), (0xDF, 6),                                                               // FBLD, FBSTP
        (0xDD, 7), (0xD9, 7),                                                               // FNSTSW m16, FNSTCW m16
    ];

    private static readonly ushort[] X87Fixed =
    [
        0xD9E8, 0xD9EE, 0xD9E0, 0xD9E1, 0xD9E4, 0xD9FA, 0xD9FC, 0xDFE0, 0xDFE0, 0xDED9, 0xDAE9, 0xD9F7, 0xD9F6, 0xDBE2, 0xD9D0,
        0xD9F8, 0xD9F5, 0xD9FD, 0xD9F4, // FPREM, FPREM1, FSCALE, FXTRACT
        0xD9EB, 0xD9E9, 0xD9EA, 0xD9EC, 0xD9ED, // FLDPI, FLDL2T, FLDL2E, FLDLG2, FLDLN2
    ];

    private static byte[] EmitX87(Random r)
    {
        int kind = r.Next(3);
        if (kind == 0)
        {
            var (op, b) = X87Reg[r.Next(X87Reg.Length)];
            return [op, (byte)(b + r.Next(8))];
        }

        if (kind == 1)
        {
            var (op, digit) = X87Mem[r.Next(X87Mem.Length)];
            var bytes = new List<byte> { 0x41, op, (byte)(0x80 | (digit << 3) | 7) };
            bytes.AddRange(BitConverter.GetBytes(r.Next(-512, 496)));
            return [.. bytes];
        }

        ushort f = X87Fixed[r.Next(X87Fixed.Length)];
        return [(byte)(f >> 8), (byte)f];
    }

    private static byte[] Emit(Random r) => r.Next(3) == 0 ? EmitX87(r) : EmitSse(r);

    private static byte[] EmitMmx(Random r)
    {
        if (r.Next(24) == 0)
        {
            return [0x0F, 0x77]; // EMMS
        }

        return EmitRow(r, MmxRows[r.Next(MmxRows.Length)]);
    }

    private static byte[] EmitSse(Random r) => EmitRow(r, Rows[r.Next(Rows.Length)]);

    private static byte[] EmitRow(Random r, Row row)
    {
        int reg = r.Next(16);
        bool useMem = row.Form switch
        {
            Form.GXR or Form.GXRI or Form.SHI => false,
            Form.MXM or Form.XM or Form.M or Form.MG => true,
            _ => r.Next(3) == 0,
        };
        int rm = row.Form switch
        {
            Form.XG or Form.XGI or Form.GMX => Gprs[r.Next(Gprs.Length)],
            _ => r.Next(16),
        };
        if (row.Form is Form.GX or Form.GXR or Form.GXRI or Form.MG)
        {
            reg = Gprs[r.Next(Gprs.Length)];
        }

        if (row.RegMm || (row.Form == Form.GXR && row.Prefix == 0xF3))
        {
            reg = r.Next(row.RegMm ? 8 : 16); // an mm register (or the xmm of MOVQ2DQ)
        }

        if (row.RmMm || (row.Form == Form.GXR && row.Prefix == 0xF2))
        {
            rm = r.Next(row.RmMm ? 8 : 16);
        }

        int disp;
        if (row.Aligned)
        {
            disp = r.Next(32) == 0 ? r.Next(-512, 496) : 16 * r.Next(-32, 31);
        }
        else
        {
            disp = r.Next(-512, 496);
        }

        bool w = row.Form is Form.XG or Form.GX or Form.GMX or Form.MG && r.Next(2) == 0;
        int imm = r.Next(4) == 0 ? r.Next(256) : row.Form == Form.SHI ? r.Next(20) : r.Next(256);
        return Encode(row, reg, rm, disp, useMem, imm, w);
    }

    private static byte[] Encode(Row row, int reg, int rm, int disp, bool useMem, int imm, bool w = false)
    {
        var b = new List<byte>(16);
        if (row.Prefix != 0)
        {
            b.Add(row.Prefix);
        }

        if (row.Form is Form.SHI or Form.M)
        {
            reg = row.Digit;
        }

        int rmReg = useMem ? 15 : rm;
        int rex = 0x40 | (w ? 8 : 0) | ((reg & 8) != 0 ? 4 : 0) | ((rmReg & 8) != 0 ? 1 : 0);
        if (rex != 0x40)
        {
            b.Add((byte)rex);
        }

        b.Add(0x0F);
        b.Add(row.Op);
        if (useMem)
        {
            b.Add((byte)(0x80 | ((reg & 7) << 3) | 7));
            b.AddRange(BitConverter.GetBytes(disp));
        }
        else
        {
            b.Add((byte)(0xC0 | ((reg & 7) << 3) | (rmReg & 7)));
        }

        if (row.Form is Form.XXI or Form.XGI or Form.GXRI or Form.SHI)
        {
            b.Add((byte)imm);
        }

        return [.. b];
    }
}
