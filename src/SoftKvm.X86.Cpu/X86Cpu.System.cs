using System.Diagnostics;

namespace SoftKvm.X86.Cpu;

/// <summary>Control and debug registers, MSRs, CPUID and the time stamp counter.</summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>MSR numbers the model implements.</summary>
    public static class Msr
    {
        /// <summary>IA32_TIME_STAMP_COUNTER.</summary>
        public const uint Tsc = 0x10;
        /// <summary>IA32_APIC_BASE.</summary>
        public const uint ApicBase = 0x1B;
        /// <summary>IA32_SYSENTER_CS.</summary>
        public const uint SysenterCs = 0x174;
        /// <summary>IA32_SYSENTER_ESP.</summary>
        public const uint SysenterEsp = 0x175;
        /// <summary>IA32_SYSENTER_EIP.</summary>
        public const uint SysenterEip = 0x176;
        /// <summary>IA32_MISC_ENABLE.</summary>
        public const uint MiscEnable = 0x1A0;
        /// <summary>IA32_PAT.</summary>
        public const uint Pat = 0x277;
        /// <summary>IA32_EFER.</summary>
        public const uint Efer = 0xC0000080;
        /// <summary>IA32_STAR.</summary>
        public const uint Star = 0xC0000081;
        /// <summary>IA32_LSTAR.</summary>
        public const uint Lstar = 0xC0000082;
        /// <summary>IA32_CSTAR.</summary>
        public const uint Cstar = 0xC0000083;
        /// <summary>IA32_FMASK.</summary>
        public const uint Sfmask = 0xC0000084;
        /// <summary>IA32_FS_BASE.</summary>
        public const uint FsBase = 0xC0000100;
        /// <summary>IA32_GS_BASE.</summary>
        public const uint GsBase = 0xC0000101;
        /// <summary>IA32_KERNEL_GS_BASE.</summary>
        public const uint KernelGsBase = 0xC0000102;
        /// <summary>IA32_TSC_AUX.</summary>
        public const uint TscAux = 0xC0000103;
    }

    private const ulong Cr0Pe = 1, Cr0Wp = 1UL << 16, Cr0Pg = 1UL << 31, Cr0Cd = 1UL << 30, Cr0Nw = 1UL << 29;
    private const ulong Cr4Pae = 1UL << 5;
    private const ulong EferLme = 1UL << 8, EferLma = 1UL << 10, EferNxe = 1UL << 11, EferSce = 1;

    /// <summary>IA32_MISC_ENABLE bits a write leaves alone: BTS unavailable (11), PEBS unavailable (12).</summary>
    private const ulong MiscEnableReadOnly = (1UL << 11) | (1UL << 12);

    /// <summary>CR4 bits the model accepts: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT.</summary>
    private const ulong Cr4Supported = 0x7FF;

    internal bool WriteControlRegister(int n, ulong v)
    {
        ref var r = ref _regs;
        switch (n)
        {
            case 0:
                if (_bitness != 64)
                {
                    v &= 0xFFFFFFFF;
                }

                if ((v >> 32) != 0 || ((v & Cr0Pg) != 0 && (v & Cr0Pe) == 0) || ((v & Cr0Nw) != 0 && (v & Cr0Cd) == 0))
                {
                    return Fault(ExceptionVector.GP, 0, true);
                }

                if ((v & Cr0Pg) != 0 && (r.Cr0 & Cr0Pg) == 0 && (r.Efer & EferLme) != 0)
                {
                    if ((r.Cr4 & Cr4Pae) == 0)
                    {
                        return Fault(ExceptionVector.GP, 0, true);
                    }

                    r.Efer |= EferLma;
                }
                else if ((v & Cr0Pg) == 0 && (r.Cr0 & Cr0Pg) != 0)
                {
                    if (_bitness == 64)
                    {
                        return Fault(ExceptionVector.GP, 0, true);
                    }

                    r.Efer &= ~EferLma;
                }

                r.Cr0 = v | 0x10;
                StateChanged();
                return true;
            case 2:
                r.Cr2 = v;
                return true;
            case 3:
                r.Cr3 = _bitness == 64 ? v : v & 0xFFFFFFFF;
                FlushTlb();
                return true;
            case 4:
                if ((v & ~Cr4Supported) != 0 || ((r.Efer & EferLma) != 0 && (v & Cr4Pae) == 0))
                {
                    return Fault(ExceptionVector.GP, 0, true);
                }

                r.Cr4 = v;
                FlushTlb();
                return true;
            case 8:
                if ((v & ~0xFUL) != 0)
                {
                    return Fault(ExceptionVector.GP, 0, true);
                }

                r.Cr8 = v;
                return true;
            default:
                return Fault(ExceptionVector.UD);
        }
    }

    internal bool WriteDebugRegister(int n, ulong v)
    {
        ref var r = ref _regs;
        if (n is 4 or 5 && (r.Cr4 & 8) != 0 || n > 7)
        {
            return Fault(ExceptionVector.UD);
        }

        if (_bitness == 64 && n >= 6 && (v >> 32) != 0)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        switch (n)
        {
            case < 4:
                r.Dr[n] = v;
                break;
            case 4 or 6:
                r.Dr6 = (v & 0x1E00F) | 0xFFFF0FF0;
                break;
            default:
                r.Dr7 = (v & 0xFFFF2BFF) | 0x400;
                        break;
        }

        return true;
    }

    /// <summary>Reads an MSR the model implements; false for any other MSR (the instruction exits).</summary>
    public bool TryReadMsr(uint index, out ulong value)
    {
        ref var r = ref _regs;
        switch (index)
        {
            case Msr.Tsc: value = ReadTsc(); return true;
            case Msr.ApicBase: value = r.ApicBase; return true;
            case Msr.SysenterCs: value = r.SysenterCs; return true;
            case Msr.SysenterEsp: value = r.SysenterEsp; return true;
            case Msr.SysenterEip: value = r.SysenterEip; return true;
            case Msr.MiscEnable: value = r.MiscEnable; return true;
            case Msr.Pat: value = r.Pat; return true;
            case Msr.Efer: value = r.Efer; return true;
            case Msr.Star: value = r.Star; return true;
            case Msr.Lstar: value = r.Lstar; return true;
            case Msr.Cstar: value = r.Cstar; return true;
            case Msr.Sfmask: value = r.Sfmask; return true;
            case Msr.FsBase: value = r.Seg[SegmentIndex.Fs].Base; return true;
            case Msr.GsBase: value = r.Seg[SegmentIndex.Gs].Base; return true;
            case Msr.KernelGsBase: value = r.KernelGsBase; return true;
            case Msr.TscAux: value = r.TscAux; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>Writes an MSR the model implements (raising #GP in the guest for invalid values); false for any other MSR.</summary>
    public bool TryWriteMsr(uint index, ulong v)
    {
        ref var r = ref _regs;
        bool addressMsr = index is Msr.Lstar or Msr.Cstar or Msr.FsBase or Msr.GsBase or Msr.KernelGsBase or Msr.SysenterEip or Msr.SysenterEsp;
        if (addressMsr && !IsCanonical(v))
        {
            Fault(ExceptionVector.GP, 0, true);
            return true;
        }

        switch (index)
        {
            case Msr.Tsc: r.TscOffset = (long)v - (long)RawTsc(); break;
            case Msr.ApicBase: r.ApicBase = v & 0xFFFFFFFFFFD00UL; break; // base, EN (11), EXTD (10: x2APIC), BSP (8)
            case Msr.SysenterCs: r.SysenterCs = v & 0xFFFF; break;
            case Msr.SysenterEsp: r.SysenterEsp = v; break;
            case Msr.SysenterEip: r.SysenterEip = v; break;
            case Msr.MiscEnable: r.MiscEnable = (v & ~MiscEnableReadOnly) | (r.MiscEnable & MiscEnableReadOnly); break;
            case Msr.Pat: r.Pat = v; break;
            case Msr.Efer:
            {
                ulong allowed = EferSce | EferLme | EferNxe;
                if ((v & ~(allowed | EferLma)) != 0 || (((v ^ r.Efer) & EferLme) != 0 && (r.Cr0 & Cr0Pg) != 0))
                {
                    Fault(ExceptionVector.GP, 0, true);
                    return true;
                }

                r.Efer = (v & allowed) | (r.Efer & EferLma);
                StateChanged();
                break;
            }

            case Msr.Star: r.Star = v; break;
            case Msr.Lstar: r.Lstar = v; break;
            case Msr.Cstar: r.Cstar = v; break;
            case Msr.Sfmask: r.Sfmask = v & 0xFFFFFFFF; break;
            case Msr.FsBase: r.Seg[SegmentIndex.Fs].Base = v; break;
            case Msr.GsBase: r.Seg[SegmentIndex.Gs].Base = v; break;
            case Msr.KernelGsBase: r.KernelGsBase = v; break;
            case Msr.TscAux: r.TscAux = v & 0xFFFFFFFF; break;
            default: return false;
        }

        return true;
    }

    /// <summary>The TSC before its offset; <paramref name="retiredUncounted"/>: instructions a translated block retired that
    /// <see cref="InstructionsRetired"/> does not count yet (the deterministic TSC counts them).</summary>
    private ulong RawTsc(long retiredUncounted = 0)
    {
        if (DeterministicTsc)
        {
            return (ulong)(InstructionsRetired + retiredUncounted);
        }

        long ticks = Timestamp?.Invoke() ?? Stopwatch.GetTimestamp();
        return (ulong)(long)((double)ticks * TscFrequency / Stopwatch.Frequency);
    }

    /// <summary>The guest TSC: host monotonic time scaled to <see cref="TscFrequency"/> (or retired
    /// instructions in deterministic mode) plus the offset IA32_TSC writes set.</summary>
    public ulong ReadTsc() => RawTsc() + (ulong)_regs.TscOffset;

    /// <summary><see cref="ReadTsc()"/> inside a translated block, after <paramref name="retiredUncounted"/> of its instructions.</summary>
    internal ulong ReadTsc(long retiredUncounted) => RawTsc(retiredUncounted) + (ulong)_regs.TscOffset;

    /// <summary>Answers CPUID for leaf EAX / subleaf ECX into EAX, EBX, ECX, EDX (the honest feature set).</summary>
    internal void ExecuteCpuid()
    {
        GetCpuid((uint)_regs.Gpr[Gpr.Rax], (uint)_regs.Gpr[Gpr.Rcx], out uint a, out uint b, out uint c, out uint d);
        SetGpr(Gpr.Rax, 4, a);
        SetGpr(Gpr.Rbx, 4, b);
        SetGpr(Gpr.Rcx, 4, c);
        SetGpr(Gpr.Rdx, 4, d);
    }

    /// <summary>The highest basic CPUID leaf (0x16: the frequency leaf).</summary>
    public const uint MaxBasicLeaf = 0x16;

    /// <summary>
    /// The CPUID values the model reports: only what it implements (SDM Vol. 2A, CPUID). Leaf 1: x87, VME-less
    /// protected mode with DE (I/O breakpoints), PSE and PSE-36, TSC, MSRs, PAE, CX8, SYSENTER, PGE, CMOV,
    /// PAT, CLFLUSH, MMX, FXSR, SSE, SSE2, CMPXCHG16B, MOVBE, POPCNT and the hypervisor bit, no SSE3+, no
    /// MCE/MCA, no MONITOR, no XSAVE; leaf 7: none of its features; extended leaves: LAHF in 64-bit mode,
    /// LZCNT, SYSCALL, NX, 1 GiB pages, RDTSCP, long mode, the invariant TSC (the TSC is the host's
    /// monotonic clock, scaled); leaf 0x16: the TSC frequency as base and maximum frequency. The local APIC
    /// bit, x2APIC, TSC-deadline, MTRRs and the TSC/crystal leaf 0x15 belong to the hypervisor layer, which
    /// owns the APIC and those MSRs; leaves it does not answer are zero.
    /// </summary>
    public void GetCpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        eax = ebx = ecx = edx = 0;
        switch (leaf)
        {
            case 0:
                eax = MaxBasicLeaf;
                ebx = 0x756E6547; // "Genu"
                edx = 0x49656E69; // "ineI"
                ecx = 0x6C65746E; // "ntel"
                break;
            case 1:
                eax = 0x000306A9;
                ebx = (8u << 8) | (1u << 16);
                // ECX: CMPXCHG16B (13), MOVBE (22), POPCNT (23), hypervisor (31).
                ecx = (1u << 13) | (1u << 22) | (1u << 23) | (1u << 31);
                // EDX: FPU (0), DE (2), PSE (3), TSC (4), MSR (5), PAE (6), CX8 (8), SEP (11), PGE (13), CMOV (15), PAT (16),
                // PSE-36 (17), CLFSH (19), MMX (23), FXSR (24), SSE (25), SSE2 (26).
                edx = 1u | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 11) | (1u << 13) | (1u << 15)
                    | (1u << 16) | (1u << 17) | (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
                break;
            case 0x16:
                eax = ebx = (uint)(TscFrequency / 1_000_000);
                break;
            case 0x80000000:
                eax = 0x80000008;
                break;
            case 0x80000001:
                // ECX: LAHF/SAHF in 64-bit mode (0), LZCNT (5). EDX: SYSCALL (11), NX (20), 1 GiB pages (26), RDTSCP (27), LM (29).
                ecx = 1u | (1u << 5);
                edx = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
                break;
            case 0x80000002:
                eax = 0x74666F53; ebx = 0x206D764B; ecx = 0x20363878; edx = 0x20555043; // "SoftKvm x86 CPU "
                break;
            case 0x80000003:
                eax = 0x65646F6D; ebx = 0x0000006C; // "model"
                break;
            case 0x80000007:
                edx = 1u << 8; // invariant TSC
                break;
            case 0x80000008:
                eax = (uint)PhysAddrBits | (48u << 8);
                break;
        }
    }

    /// <summary>LLDT / LTR: loads a system segment from the GDT.</summary>
    internal bool LoadSystemSegment(ushort selector, bool task)
    {
        if ((selector & 0xFFFC) == 0)
        {
            if (task)
            {
                return Fault(ExceptionVector.GP, 0, true);
            }

            _regs.Ldtr = new SegmentRegister { Selector = selector, Attributes = SegmentRegister.Unusable };
            return true;
        }

        if ((selector & 4) != 0)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        if (!ReadDescriptor(selector, out ulong d))
        {
            return false;
        }

        var s = SegmentRegister.FromDescriptor(selector, d);
        uint type = s.Type;
        bool ok = (s.Attributes & SegmentRegister.CodeOrData) == 0 && (task ? type is 1 or 9 : type == 2);
        if (!ok)
        {
            return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
        }

        if ((s.Attributes & SegmentRegister.Present) == 0)
        {
            return Fault(ExceptionVector.NP, (uint)(selector & 0xFFFC), true);
        }

        if (LongModeActive)
        {
            ulong tableBase = _regs.Gdtr.Base + (ulong)(selector & 0xFFF8);
            if ((ulong)(selector & 0xFFF8) + 15 > _regs.Gdtr.Limit)
            {
                return Fault(ExceptionVector.GP, (uint)(selector & 0xFFFC), true);
            }

            if (!ReadSystem(tableBase + 8, 8, out ulong high))
            {
                return false;
            }

            s.Base |= (high & 0xFFFFFFFF) << 32;
        }

        if (task)
        {
            // Mark the TSS busy.
            if (!WriteSystem(_regs.Gdtr.Base + (ulong)(selector & 0xFFF8) + 5, 1, (d >> 40) | 2))
            {
                return false;
            }

            s.Attributes |= 2;
            _regs.Tr = s;
        }
        else
        {
            _regs.Ldtr = s;
        }

        return true;
    }
}
