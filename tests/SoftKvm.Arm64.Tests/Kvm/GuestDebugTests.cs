using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#arm64-guest-debug: KVM_SET_GUEST_DEBUG on arm64 with real guest code: single-step
/// (also across an MMIO exit), BRK, host breakpoints and watchpoints reported as <c>Debug</c> exits with
/// their syndromes, and the guest's own BRK when the debugger does not claim it.
/// </summary>
public sealed class GuestDebugTests
{
    private const uint AddX2 = 0x91000442u; // add x2, x2, #1
    private const uint LdrW1X0 = 0xb9400001u; // ldr w1, [x0]
    private const uint StrX2X4 = 0xf9000082u; // str x2, [x4]
    private const uint Brk5 = 0xd42000a0u; // brk #5
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
}
