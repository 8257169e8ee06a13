using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Arm64.Tests.Vgic;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#arm64-guest-debug: KVM_SET_GUEST_DEBUG on arm64 with real guest code: single-step
/// (also across an MMIO exit), BRK, host breakpoints and watchpoints reported as <c>Debug</c> exits with
/// their syndromes, and the guest's own BRK when the debugger does not claim it; stepping with an interrupt
/// pending (KVM's arm64 step is taken by the interrupt's entry; <see cref="Arm64GuestDebugFlags.BlockInterrupts"/>
/// holds it), and stepping across MMIO stores after translated code ran.
/// </summary>
public sealed class GuestDebugTests
{
    private const uint AddX2 = 0x91000442u; // add x2, x2, #1
    private const uint LdrW1X0 = 0xb9400001u; // ldr w1, [x0]
    private const uint StrX2X4 = 0xf9000082u; // str x2, [x4]
    private const uint Brk5 = 0xd42000a0u; // brk #5
    private const uint AddX3 = 0x91000463u; // add x3, x3, #1
    private const uint BackThree = 0x17fffffdu; // b .-12
    private const ulong IrqVector = VectorBase + 0x280; // IRQ from the current EL with SP_ELx
    private const ulong Data = RamBase + 0x8000;

    private static uint Ec(in DebugExit d) => Esr.Class(d.Esr);

    [Fact]
    public void Single_step_exits_after_every_instruction_with_a_software_step_syndrome()
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, AddX2, AddX2);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
            Assert.Equal(Esr.EcSoftStepLow, Ec(v.RunState.Debug));
            Assert.Equal(CodeBase + (ulong)(4 * i), v.RunState.Debug.Pc);
            Assert.Equal((ulong)i, X(v, 2));
        }
    }

    [Fact]
    public void Single_step_over_an_mmio_load_completed_by_the_vmm_stops_once_at_the_next_instruction()
    {
        using var m = new TestMachine();
        var v = m.Start(LdrW1X0, AddX2, AddX2);
        SetX(v, 0, MmioBase);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        v.RunState.Mmio.SetValue(0x1234);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(CodeBase + 4, v.RunState.Debug.Pc);
        Assert.Equal(0x1234UL, X(v, 1));
        Assert.Equal(0UL, X(v, 2)); // the step did not run the next instruction

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(CodeBase + 8, v.RunState.Debug.Pc);
        Assert.Equal(1UL, X(v, 2));
    }

    [Fact]
    public void Brk_is_a_debug_exit_at_the_brk_when_the_debugger_claims_software_breakpoints()
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, Brk5, AddX2);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.UseSoftwareBreakpoints);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(Esr.EcBrk64, Ec(v.RunState.Debug));
        Assert.Equal(5UL, v.RunState.Debug.Esr & 0xFFFF);
        Assert.Equal(CodeBase + 4, v.RunState.Debug.Pc);
        Assert.Equal(1UL, X(v, 2));
    }

    [Fact]
    public void Brk_goes_to_the_guest_when_the_debugger_only_steps()
    {
        using var m = new TestMachine();
        var v = m.Start(Brk5);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);

        // The step ends at the guest's synchronous vector (current EL, SP_ELx: VBAR + 0x200), ESR_EL1 = BRK.
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(VectorBase + 0x200, v.RunState.Debug.Pc);
        Assert.Equal(Esr.EcBrk64, Esr.Class(v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0))));

        v.SetGuestDebug(Arm64GuestDebugFlags.None);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
    }

    [Fact]
    public void A_host_breakpoint_fires_at_el1_with_debug_masked_and_the_guest_registers_untouched()
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, AddX2, AddX2);

        // Reset state: PSTATE.D set, MDSCR_EL1 = 0: the guest's own breakpoints could not fire here.
        var regs = new Arm64GuestDebugRegisters([(CodeBase + 8, 1UL | (3UL << 1) | (0xFUL << 5))], []);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.UseHardware, regs);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(Esr.EcBreakpointLow, Ec(v.RunState.Debug));
        Assert.Equal(CodeBase + 8, v.RunState.Debug.Pc);
        Assert.Equal(2UL, X(v, 2));
        Assert.Equal(0UL, v.GetSystemRegister(new SysRegKey((2 << 14) | 5)));

        // Stepping over it (as a debugger does: breakpoints off, one step) runs the instruction once.
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(CodeBase + 12, v.RunState.Debug.Pc);
        Assert.Equal(3UL, X(v, 2));
    }

    [Fact]
    public void A_host_watchpoint_stops_before_the_store_with_far_and_wnr()
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, StrX2X4, AddX2);
        SetX(v, 4, Data);
        m.Vm.Memory.Write<ulong>(new SoftKvm.Core.GuestPhysAddr(Data), 0xAA);

        // LSC = store (2 << 3), BAS = all eight bytes, PMC = EL0 and EL1.
        var regs = new Arm64GuestDebugRegisters([], [(Data, 1UL | (3UL << 1) | (2UL << 3) | (0xFFUL << 5))]);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.UseHardware, regs);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(Esr.EcWatchpointLow, Ec(v.RunState.Debug));
        Assert.NotEqual(0UL, v.RunState.Debug.Esr & Esr.IssWnR);
        Assert.Equal(Data, v.RunState.Debug.Far);
        Assert.Equal(CodeBase + 4, v.RunState.Debug.Pc);
        Assert.Equal(0xAAUL, m.Vm.Memory.Read<ulong>(new SoftKvm.Core.GuestPhysAddr(Data)));
    }

    [Fact]
    public void Too_many_host_breakpoints_are_refused()
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2);
        var bps = new (ulong, ulong)[Arm64Vcpu.HardwareBreakpoints + 1];
        Assert.Throws<SoftKvm.Core.Errors.VcpuException>(() =>
            v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.UseHardware, new Arm64GuestDebugRegisters(bps, [])));
    }

    /// <summary>
    /// vCPU 0 of <paramref name="m"/> runs <paramref name="code"/> at EL1 with interrupts unmasked, behind a GICv3
    /// whose CPU interface takes Group 1, with its virtual timer (PPI 27, enabled) past its compare value: an
    /// IRQ is pending before the first instruction and stays pending (the guest never acknowledges it).
    /// </summary>
    private static Arm64Vcpu StartWithTimerIrqPending(TestMachine m, params uint[] code)
    {
        var gic = new SoftKvm.Arm64.Vgic.Vgic(m.Vm, GicModel.V3, 1);
        gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
        gic.SetAddress(VgicAddressType.V3Redistributor, Gic.V3Redist);
        m.Vm.InterruptController = gic;
        var v = m.Start(code);
        gic.Init();
        const ulong Sgi = Gic.V3Redist + 0x10000;
        Gic.Write32(m.Vm, 0, Gic.V3Dist, 0x12);                 // GICD_CTLR: ARE, EnableGrp1
        Gic.Write32(m.Vm, 0, Gic.V3Redist + 0x14, 0);           // GICR_WAKER: awake
        Gic.Write32(m.Vm, 0, Sgi + 0x80, 1u << 27);             // GICR_IGROUPR0: PPI 27 in Group 1
        Gic.Write8(m.Vm, 0, Sgi + 0x400 + 27, 0x80);            // its priority
        Gic.Write32(m.Vm, 0, Sgi + 0x100, 1u << 27);            // GICR_ISENABLER0
        Gic.SysWrite(gic, 0, IccRegisters.Pmr, 0xff);
        Gic.SysWrite(gic, 0, IccRegisters.Igrpen1, 1);
        v.SetSystemRegister(SysRegKey.Of(3, 3, 14, 3, 2), 0);  // CNTV_CVAL_EL0 = 0: the condition holds
        v.SetSystemRegister(SysRegKey.Of(3, 3, 14, 3, 1), 1);  // CNTV_CTL_EL0.ENABLE
        v.SetRegister(Arm64CoreRegister.Pstate, 0x5);           // EL1h, D, A, I, F clear
        return v;
    }

    [Fact]
    public void Single_step_with_an_interrupt_pending_is_taken_by_its_entry_as_on_arm64_kvm()
    {
        using var m = new TestMachine();
        var v = StartWithTimerIrqPending(m, AddX2, AddX2);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(Esr.EcSoftStepLow, Ec(v.RunState.Debug));
        Assert.Equal(IrqVector, v.RunState.Debug.Pc);
        Assert.Equal(0UL, X(v, 2));
        Assert.Equal(CodeBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1))); // ELR_EL1
    }

    [Fact]
    public void Single_step_with_interrupts_blocked_runs_one_instruction_per_step_and_the_interrupt_comes_after()
    {
        using var m = new TestMachine();
        var v = StartWithTimerIrqPending(m, AddX2, AddX2, AddX2, AddX2);
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep | Arm64GuestDebugFlags.BlockInterrupts);
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
            Assert.Equal(Esr.EcSoftStepLow, Ec(v.RunState.Debug));
            Assert.Equal(CodeBase + (ulong)(4 * i), v.RunState.Debug.Pc);
            Assert.Equal((ulong)i, X(v, 2));
            Assert.Equal(1UL << 7, v.GetSystemRegister(SysRegKey.Of(3, 0, 12, 1, 0)) & (1UL << 7)); // ISR_EL1.I: still pending
        }

        // The debugger lets go: the held interrupt is taken before the next instruction (TestMachine's vectors
        // power off), with ELR_EL1 at the instruction the steps had reached.
        v.SetGuestDebug(Arm64GuestDebugFlags.None);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(CodeBase + 12, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
        Assert.Equal(3UL, X(v, 2));
    }

    [Fact]
    public void Blocked_interrupts_do_not_stop_a_step_over_wfi_which_still_wakes_on_them()
    {
        using var m = new TestMachine();
        var v = StartWithTimerIrqPending(m, 0xd503207fu, AddX2); // wfi; add x2, x2, #1
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep | Arm64GuestDebugFlags.BlockInterrupts);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
        Assert.Equal(CodeBase + 4, v.RunState.Debug.Pc);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(CodeBase + 8, v.RunState.Debug.Pc);
        Assert.Equal(1UL, X(v, 2));
    }

    [Fact]
    public void Stepping_after_translated_code_and_across_mmio_stores_runs_every_instruction_exactly_once()
    {
        // L0: add x2; L1: str x2, [x4] (a user-space MMIO exit); L2: add x3; L3: b L0. At every store x2 = x3 + 1.
        using var m = new TestMachine();
        var v = m.Start(AddX2, StrX2X4, AddX3, BackThree);
        SetX(v, 4, MmioBase);
        v.Cpu.TranslationEnabled = true; // native blocks from their first execution where the host has the native engine
        ulong stored = 0;
        void FreeRun(int stores)
        {
            for (int i = 0; i < stores; i++)
            {
                Assert.Equal(RunResult.Ok, m.Run());
                Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
                Assert.True(v.RunState.Mmio.IsWrite);
                Assert.Equal(++stored, v.RunState.Mmio.Value);
                Assert.Equal(stored - 1, X(v, 3));
            }
        }

        FreeRun(300);
        long translated = v.Cpu.Counters.TranslatedInstructions;
        if (Arm64Cpu.NativeSupported)
        {
            Assert.True(translated > 0, "the loop did not run as native code");
        }

        // Step from the pending store (the first step completes it, as KVM completes an MMIO access on the
        // next KVM_RUN) through three turns of the loop, two more stores included.
        v.SetGuestDebug(Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);
        ulong x2 = stored, x3 = stored - 1;
        int at = 1;
        bool storeCompleted = false;
        for (int step = 0; step < 13; step++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            if (at == 1 && storeCompleted)
            {
                Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
                Assert.Equal(++stored, v.RunState.Mmio.Value);
                Assert.Equal(x2, stored);
                Assert.Equal(RunResult.Ok, v.Run());
            }

            storeCompleted = true;
            Assert.Equal(ExitReason.Debug, v.RunState.ExitReason);
            x2 += at == 0 ? 1UL : 0;
            x3 += at == 2 ? 1UL : 0;
            at = (at + 1) % 4;
            Assert.Equal(CodeBase + (ulong)(4 * at), v.RunState.Debug.Pc);
            Assert.Equal(x2, X(v, 2));
            Assert.Equal(x3, X(v, 3));
        }

        // 13 steps from L1 end at L2 with the third store done; free-running again continues the count.
        Assert.Equal(2, at);
        v.SetGuestDebug(Arm64GuestDebugFlags.None);
        FreeRun(300);
        if (Arm64Cpu.NativeSupported)
        {
            Assert.True(v.Cpu.Counters.TranslatedInstructions > translated, "the loop did not run as native code after the steps");
        }
    }
}
