using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS with REP/REPE/REPNE. Each iteration commits RSI/RDI/RCX,
/// so a fault in the middle leaves the architectural progress and RIP at the instruction. A long REP
/// is split into chunks (the instruction restarts, as after an interrupt); with TF=1 every iteration
/// single-steps, as on hardware. Emulated (the hypervisor's emulator), INS reads a batch of elements
/// from its port at once, as KVM's emulator does; OUTS writes one element per pass, as KVM's does.
/// </summary>
internal static class StringOps
{
    private const int Chunk = 4096;

    /// <summary>KVM's PIO read-ahead buffer (<c>struct read_cache</c>): the most bytes one emulated INS batch reads.</summary>
    private const int PioReadAhead = 1024;

    private enum Kind
    {
        Movs,
        Stos,
        Lods,
        Cmps,
        Scas,
        Ins,
        Outs,
    }

    public static void Movs(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Movs);

    public static void Stos(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Stos);

    public static void Lods(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Lods);

    public static void Cmps(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Cmps);

    public static void Scas(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Scas);

    public static void Ins(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Ins);

    public static void Outs(X86Cpu c, ref Instruction i) => Run(c, ref i, Kind.Outs);

    private static int AddressSize(ref Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.MemorySegSI or OpKind.MemorySegDI or OpKind.MemoryESDI: return 2;
                case OpKind.MemorySegESI or OpKind.MemorySegEDI or OpKind.MemoryESEDI: return 4;
                case OpKind.MemorySegRSI or OpKind.MemorySegRDI or OpKind.MemoryESRDI: return 8;
            }
        }

        return 4;
    }

    private static void Run(X86Cpu c, ref Instruction i, Kind kind)
    {
        int asz = AddressSize(ref i);
        ulong amask = X86Cpu.SizeMask(asz);
        int size = kind switch
        {
            Kind.Stos => X86Cpu.RegSize(i.Op1Register),
            Kind.Lods or Kind.Scas => X86Cpu.RegSize(i.Op0Register),
            _ => X86Cpu.OpSize(ref i, kind == Kind.Outs ? 1 : 0) is int s && s > 0 ? s : 1,
        };
        if (kind == Kind.Ins)
        {
            size = i.MemorySize switch { MemorySize.UInt8 => 1, MemorySize.UInt16 => 2, _ => 4 };
        }
        else if (kind == Kind.Outs)
        {
            size = i.MemorySize switch { MemorySize.UInt8 => 1, MemorySize.UInt16 => 2, _ => 4 };
        }
        else if (kind is Kind.Movs or Kind.Cmps)
        {
            size = i.MemorySize switch { MemorySize.UInt8 => 1, MemorySize.UInt16 => 2, MemorySize.UInt32 => 4, _ => 8 };
        }

        bool rep = i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix;
        bool repne = i.HasRepnePrefix;
        int srcSeg = kind is Kind.Movs or Kind.Lods or Kind.Cmps or Kind.Outs ? X86Cpu.MemorySegment(ref i) : SegmentIndex.Ds;
        ulong delta = (c.Regs.Rflags & Rflags.DF) != 0 ? (ulong)(-size) : (ulong)size;
        ushort port = (ushort)c.GetReg(Register.DX);
        if (kind is Kind.Ins or Kind.Outs)
        {
            if (!c.CheckIoPermission(port, size))
            {
                return;
            }

            if (!c.IsEmulating)
            {
                if (!rep || c.GetGpr(Gpr.Rcx, asz) != 0)
                {
                    c.IoExit(port, size, kind == Kind.Ins, true, rep, false, 0);
                }

                return;
            }
        }

        if (kind == Kind.Ins)
        {
            InsBatch(c, rep, asz, size, port);
            return;
        }

        int limit = c.IsEmulating || kind == Kind.Outs || (c.Regs.Rflags & Rflags.TF) != 0 ? 1 : Chunk;
        for (int n = 0; ; n++)
        {
            if (rep)
            {
                if (c.GetGpr(Gpr.Rcx, asz) == 0)
                {
                    return;
                }

                if (n >= limit)
                {
                    c.NextRip = c.Regs.Rip;
                    return;
                }
            }

            ulong si = c.GetGpr(Gpr.Rsi, asz);
            ulong di = c.GetGpr(Gpr.Rdi, asz);
            switch (kind)
            {
                case Kind.Movs:
                    if (!c.Read(srcSeg, si, size, out ulong mv) || !c.Write(SegmentIndex.Es, di, size, mv))
                    {
                        return;
                    }

                    c.SetGpr(Gpr.Rsi, asz, (si + delta) & amask);
                    c.SetGpr(Gpr.Rdi, asz, (di + delta) & amask);
                    break;
                case Kind.Stos:
                    if (!c.Write(SegmentIndex.Es, di, size, c.GetGpr(Gpr.Rax, size)))
                    {
                        return;
                    }

                    c.SetGpr(Gpr.Rdi, asz, (di + delta) & amask);
                    break;
                case Kind.Lods:
                    if (!c.Read(srcSeg, si, size, out ulong lv))
                    {
                        return;
                    }

                    c.SetGpr(Gpr.Rax, size, lv);
                    c.SetGpr(Gpr.Rsi, asz, (si + delta) & amask);
                    break;
                case Kind.Cmps:
                {
                    if (!c.Read(srcSeg, si, size, out ulong a) || !c.Read(SegmentIndex.Es, di, size, out ulong b))
                    {
                        return;
                    }

                    Alu.Sub(a, b, 0, size, out ulong flags);
                    c.SetStatus(flags);
                    c.SetGpr(Gpr.Rsi, asz, (si + delta) & amask);
                    c.SetGpr(Gpr.Rdi, asz, (di + delta) & amask);
                    break;
                }

                case Kind.Scas:
                {
                    if (!c.Read(SegmentIndex.Es, di, size, out ulong b))
                    {
                        return;
                    }

                    Alu.Sub(c.GetGpr(Gpr.Rax, size), b, 0, size, out ulong flags);
                    c.SetStatus(flags);
                    c.SetGpr(Gpr.Rdi, asz, (di + delta) & amask);
                    break;
                }

                default:
                    if (!c.Read(srcSeg, si, size, out ulong ov) || !c.BusWritePort(port, size, ov))
                    {
                        return;
                    }

                    c.SetGpr(Gpr.Rsi, asz, (si + delta) & amask);
                    break;
            }

            if (!rep)
            {
                return;
            }

            c.SetGpr(Gpr.Rcx, asz, c.GetGpr(Gpr.Rcx, asz) - 1);
            if (kind is Kind.Cmps or Kind.Scas)
            {
                bool zf = (c.Regs.Rflags & Rflags.ZF) != 0;
                if (repne ? zf : !zf)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Emulated INS (KVM's <c>pio_in_emulated</c>): reads a batch of n elements from the port in one bus
    /// access (one userspace exit with <c>io.count</c> = n when no in-kernel device takes it), then stores
    /// them at ES:RDI onwards and moves RDI (and RCX under REP) by n. n is KVM's: the smallest of the REP
    /// count, 1024 bytes' worth of elements, and the bytes from RDI to the end of its page (DF=0) or from
    /// the start of the page to RDI (DF=1) -- KVM compares that byte count with an element count; at least 1.
    /// Every destination is checked before the port is read, so a fault consumes no port data. An
    /// unfinished REP leaves RIP at the instruction: the guest re-executes it, a new IO exit, the next batch
    /// (docs/kvm-semantics.md#x86-string-port-io).
    /// </summary>
    private static unsafe void InsBatch(X86Cpu c, bool rep, int asz, int size, ushort port)
    {
        ulong amask = X86Cpu.SizeMask(asz);
        ulong delta = (c.Regs.Rflags & Rflags.DF) != 0 ? (ulong)(-size) : (ulong)size;
        ulong count = rep ? c.GetGpr(Gpr.Rcx, asz) : 1;
        if (count == 0)
        {
            return;
        }

        ulong offset = c.Regs.Gpr[Gpr.Rdi] & 0xFFF;
        ulong inPage = (c.Regs.Rflags & Rflags.DF) != 0 ? offset : 0x1000 - offset;
        int n = (int)Math.Max(1, Math.Min(Math.Min(inPage, (ulong)(PioReadAhead / size)), count));
        ulong di = c.GetGpr(Gpr.Rdi, asz);
        for (int k = 0; k < n; k++)
        {
            if (!c.ProbeWrite(SegmentIndex.Es, (di + (ulong)k * delta) & amask, size))
            {
                return;
            }
        }

        byte* buffer = stackalloc byte[PioReadAhead];
        var data = new Span<byte>(buffer, n * size);
        if (!c.BusReadPorts(port, size, data))
        {
            return;
        }

        for (int k = 0; k < n; k++)
        {
            ulong v = size switch
            {
                1 => buffer[k],
                2 => *(ushort*)(buffer + 2 * k),
                _ => *(uint*)(buffer + 4 * k),
            };
            if (!c.Write(SegmentIndex.Es, (di + (ulong)k * delta) & amask, size, v))
            {
                return;
            }
        }

        c.SetGpr(Gpr.Rdi, asz, (di + (ulong)n * delta) & amask);
        if (rep)
        {
            c.SetGpr(Gpr.Rcx, asz, count - (ulong)n);
            if (count > (ulong)n)
            {
                c.NextRip = c.Regs.Rip;
            }
        }
    }
}
