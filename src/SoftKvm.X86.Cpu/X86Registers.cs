using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>The 16 general-purpose registers, indexed by <see cref="Gpr"/> numbers.</summary>
[InlineArray(16)]
public struct GprFile
{
    private ulong _element0;
}

/// <summary>The six segment registers, indexed by <see cref="SegmentIndex"/>.</summary>
[InlineArray(6)]
public struct SegmentFile
{
    private SegmentRegister _element0;
}

/// <summary>DR0-DR3.</summary>
[InlineArray(4)]
public struct BreakpointAddresses
{
    private ulong _element0;
}

/// <summary>General-purpose register numbers (the x86 encoding order).</summary>
public static class Gpr
{
    /// <summary>RAX.</summary>
    public const int Rax = 0;
    /// <summary>RCX.</summary>
    public const int Rcx = 1;
    /// <summary>RDX.</summary>
    public const int Rdx = 2;
    /// <summary>RBX.</summary>
    public const int Rbx = 3;
    /// <summary>RSP.</summary>
    public const int Rsp = 4;
    /// <summary>RBP.</summary>
    public const int Rbp = 5;
    /// <summary>RSI.</summary>
    public const int Rsi = 6;
    /// <summary>RDI.</summary>
    public const int Rdi = 7;
}

/// <summary>Segment register numbers (the x86 encoding order: ES, CS, SS, DS, FS, GS).</summary>
public static class SegmentIndex
{
    /// <summary>ES.</summary>
    public const int Es = 0;
    /// <summary>CS.</summary>
    public const int Cs = 1;
    /// <summary>SS.</summary>
    public const int Ss = 2;
    /// <summary>DS.</summary>
    public const int Ds = 3;
    /// <summary>FS.</summary>
    public const int Fs = 4;
    /// <summary>GS.</summary>
    public const int Gs = 5;
}

/// <summary>
/// The architectural register state of one x86 vCPU (the union of KVM's <c>kvm_regs</c>,
/// <c>kvm_sregs</c>, <c>kvm_debugregs</c> and the MSRs the model implements). One struct, reached by
/// <c>ref</c> through <see cref="X86Cpu.Regs"/>; the CPU model is its only owner.
/// After changing CR0/CR3/CR4/EFER or segment registers directly, call <see cref="X86Cpu.StateChanged"/>.
/// </summary>
public struct X86Registers
{
    /// <summary>RAX..R15.</summary>
    public GprFile Gpr;

    /// <summary>The instruction pointer.</summary>
    public ulong Rip;

    /// <summary>RFLAGS (bit 1 always reads as 1).</summary>
    public ulong Rflags;

    /// <summary>ES, CS, SS, DS, FS, GS with hidden parts. FS/GS bases are the FS_BASE/GS_BASE MSRs.</summary>
    public SegmentFile Seg;

    /// <summary>The LDT register.</summary>
    public SegmentRegister Ldtr;

    /// <summary>The task register.</summary>
    public SegmentRegister Tr;

    /// <summary>The GDT register.</summary>
    public DescriptorTableRegister Gdtr;

    /// <summary>The IDT register.</summary>
    public DescriptorTableRegister Idtr;

    /// <summary>Control registers.</summary>
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;

    /// <summary>IA32_EFER.</summary>
    public ulong Efer;

    /// <summary>DR0-DR3.</summary>
    public BreakpointAddresses Dr;

    /// <summary>DR6 and DR7.</summary>
    public ulong Dr6, Dr7;

    /// <summary>SYSCALL MSRs: STAR, LSTAR, CSTAR, SFMASK (FMASK).</summary>
    public ulong Star, Lstar, Cstar, Sfmask;

    /// <summary>IA32_KERNEL_GS_BASE (SWAPGS).</summary>
    public ulong KernelGsBase;

    /// <summary>SYSENTER MSRs.</summary>
    public ulong SysenterCs, SysenterEsp, SysenterEip;

    /// <summary>IA32_APIC_BASE.</summary>
    public ulong ApicBase;

    /// <summary>IA32_PAT.</summary>
    public ulong Pat;

    /// <summary>IA32_TSC_AUX (RDTSCP).</summary>
    public ulong TscAux;

    /// <summary>IA32_MISC_ENABLE.</summary>
    public ulong MiscEnable;

    /// <summary>XMM0-XMM15.</summary>
    public XmmFile Xmm;

    /// <summary>MXCSR (reset value 0x1F80: all SIMD exceptions masked, round to nearest).</summary>
    public uint Mxcsr;

    /// <summary>The x87 FPU.</summary>
    public X87State Fpu;

    /// <summary>The TSC offset added to the host-derived time stamp (IA32_TSC writes set it).</summary>
    public long TscOffset;

    /// <summary>Initial register state after RESET/INIT (SDM Vol. 3 table 9-1), real mode at F000:FFF0.</summary>
    public static X86Registers PowerOn()
    {
        var r = default(X86Registers);
        r.Rflags = 2;
        r.Rip = 0xFFF0;
        for (int i = 0; i < 6; i++)
        {
            r.Seg[i] = SegmentRegister.RealMode(0);
        }

        r.Seg[SegmentIndex.Cs] = new SegmentRegister { Selector = 0xF000, Base = 0xFFFF0000, Limit = 0xFFFF, Attributes = 0x9B };
        r.Gdtr.Limit = 0xFFFF;
        r.Idtr.Limit = 0xFFFF;
        r.Ldtr = new SegmentRegister { Limit = 0xFFFF, Attributes = 0x82 };
        r.Tr = new SegmentRegister { Limit = 0xFFFF, Attributes = 0x8B };
        r.Cr0 = 0x60000010;
        r.Dr6 = 0xFFFF0FF0;
        r.Dr7 = 0x400;
        r.Pat = 0x0007040600070406;
        r.ApicBase = 0xFEE00900;
        r.Mxcsr = 0x1F80;
        r.Fpu = X87State.Initial();
        r.Gpr[2] = 0x600; // EDX: family/model/stepping signature
        return r;
    }
}
