using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Irqchip;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// KVM's hypercall ABI (Documentation/virt/kvm/x86/hypercalls.rst, <c>kvm_emulate_hypercall</c>): VMCALL
/// exits with the number in RAX and up to four arguments in RBX, RCX, RDX, RSI (32 bits each outside
/// 64-bit mode); the answer goes to RAX and the instruction is skipped, counted in <c>hypercalls</c>. A
/// hypercall above CPL 0 answers -KVM_EPERM, an unknown number -KVM_ENOSYS. VMMCALL (AMD's) is #UD on
/// this Intel model; the #UD intercept rewrites it to VMCALL and the guest re-executes it, as KVM's
/// <c>emulator_fix_hypercall</c> does with its default quirk.
/// </summary>
public sealed partial class X86Vcpu
{
    /// <summary>The hypercall numbers this layer answers (include/uapi/linux/kvm_para.h).</summary>
    public static class KvmHypercall
    {
        /// <summary>KVM_HC_VAPIC_POLL_IRQ: returns 0 (the pending interrupt is injected on entry anyway).</summary>
        public const ulong VapicPollIrq = 1;

        /// <summary>KVM_HC_KICK_CPU (flags, APIC id): wakes a vCPU halted in a paravirtual spinlock.</summary>
        public const ulong KickCpu = 5;

        /// <summary>KVM_HC_CLOCK_PAIRING: needs kvmclock, which SoftKvm does not offer: -KVM_EOPNOTSUPP.</summary>
        public const ulong ClockPairing = 9;

        /// <summary>KVM_HC_SEND_IPI (bitmap low, bitmap high, lowest APIC id, ICR): fixed IPIs to many vCPUs in one exit.</summary>
        public const ulong SendIpi = 10;

        /// <summary>KVM_HC_SCHED_YIELD (APIC id): yields the host CPU to the vCPU holding a lock.</summary>
        public const ulong SchedYield = 11;
    }

    /// <summary>The error answers (the guest sees the negated value), as kvm_para.h numbers them.</summary>
    public static class KvmHypercallError
    {
        /// <summary>KVM_ENOSYS: no such hypercall.</summary>
        public const long NoSys = 1000;

        /// <summary>KVM_EPERM: a hypercall above CPL 0.</summary>
        public const long Perm = 1;

        /// <summary>KVM_EINVAL: a bad argument.</summary>
        public const long Inval = 22;

        /// <summary>KVM_EOPNOTSUPP: the operation is not available here.</summary>
        public const long OpNotSupp = 95;
    }

    private const uint IcrDestinationLogical = 1u << 11;
    private const uint IcrShorthandMask = 3u << 18;

    private volatile bool _pvUnhalted;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int HandleVmcall()
    {
        ref var r = ref _cpu.Regs;
        bool op64 = _cpu.Bitness == 64;
        ulong mask = op64 ? ulong.MaxValue : 0xFFFF_FFFF;
        ulong nr = r.Gpr[Gpr.Rax] & mask;
        ulong a0 = r.Gpr[Gpr.Rbx] & mask, a1 = r.Gpr[Gpr.Rcx] & mask, a2 = r.Gpr[Gpr.Rdx] & mask, a3 = r.Gpr[Gpr.Rsi] & mask;
        long ret = _cpu.Cpl != 0 ? -KvmHypercallError.Perm : nr switch
        {
            KvmHypercall.VapicPollIrq => 0,
            KvmHypercall.KickCpu => KickCpu((uint)a1),
            KvmHypercall.ClockPairing => -KvmHypercallError.OpNotSupp,
            KvmHypercall.SendIpi => SendPvIpi(a0, a1, a2, a3, op64),
            KvmHypercall.SchedYield => Yield(),
            _ => -KvmHypercallError.NoSys,
        };
        r.Gpr[Gpr.Rax] = (ulong)ret & mask;
        Stats.Increment(X86Stat.Hypercalls);
        return SkipEmulatedInstruction(InstructionLengthOrUnknown());
    }

    // KVM's kvm_pv_kick_cpu_op: the vCPU with APIC id apicId leaves a halt even without an interrupt (pv_unhalted).
    private long KickCpu(uint apicId)
    {
        if (_vm.VcpuByApicId(apicId) is { } target)
        {
            target._pvUnhalted = true;
            ((IApicHost)target).NotifyEvent(true);
        }

        return Yield();
    }

    private static long Yield()
    {
        Thread.Yield();
        return 0;
    }

    // KVM's kvm_pv_send_ipi: bit i of each bitmap names APIC id min + i (64 ids per bitmap in 64-bit mode, 32
    // otherwise); the ICR gives vector, delivery mode and trigger; logical destinations and shorthands are refused.
    // Returns how many vCPUs were sent the interrupt.
    private long SendPvIpi(ulong low, ulong high, ulong min, ulong icr, bool op64)
    {
        if (_vm.Irqchip is not { } chip)
        {
            return -KvmHypercallError.NoSys;
        }

        if ((icr & (IcrDestinationLogical | IcrShorthandMask)) != 0)
        {
            return -KvmHypercallError.Inval;
        }

        var mode = (ApicDeliveryMode)((icr >> 8) & 7);
        bool level = (icr & (1u << 15)) != 0;
        int cluster = op64 ? 64 : 32;
        long count = 0;
        foreach (ulong bitmap in (ReadOnlySpan<ulong>)[low, high])
        {
            for (int i = 0; i < cluster && min + (ulong)i <= uint.MaxValue; i++)
            {
                if ((bitmap & (1UL << i)) != 0 && _vm.VcpuByApicId((uint)(min + (ulong)i)) is { Apic: { } apic })
                {
                    chip.Deliver(new ApicMessage((uint)apic.Id, false, mode, (int)(icr & 0xFF), level && mode == ApicDeliveryMode.Fixed), null);
                    count++;
                }
            }

            min += (ulong)cluster;
        }

        return count;
    }

    // KVM's emulator_fix_hypercall for VMMCALL under the #UD intercept: write VMCALL over it; the guest re-executes.
    private unsafe bool TryFixHypercall()
    {
        ReadOnlySpan<byte> vmmcall = [0x0F, 0x01, 0xD9];
        ReadOnlySpan<byte> vmcall = [0x0F, 0x01, 0xC1];
        Span<ulong> gpa = stackalloc ulong[3];
        ulong linear = LinearRip;
        for (int i = 0; i < vmmcall.Length; i++)
        {
            ulong at = _cpu.Bitness == 64 ? linear + (ulong)i : (linear + (ulong)i) & 0xFFFF_FFFF;
            byte* p = _cpu.TryTranslate(at, false, out gpa[i]) ? _vm.Memory.TryGetHostPointer(gpa[i], false, out _) : null;
            if (p == null || *p != vmmcall[i])
            {
                return false;
            }
        }

        Stats.Increment(X86Stat.InsnEmulation);
        for (int i = 0; i < vmcall.Length; i++)
        {
            _vm.Memory.Write(gpa[i], vmcall.Slice(i, 1));
        }

        return true;
    }
}
