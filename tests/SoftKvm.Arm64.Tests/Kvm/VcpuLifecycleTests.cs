using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>vCPU creation, reset state, Init, the register API, WFI and kicks (issue 4).</summary>
public sealed class VcpuLifecycleTests
{
    [Fact]
    public void RunBeforeInit_IsNotInitialized()
    {
        using var m = new TestMachine();
        Assert.Equal(RunResult.NotInitialized, m.Vcpu.Run());
    }

    [Fact]
    public void ResetState_IsEl1hMaskedWithKvmMpidr()
    {
        using var m = new TestMachine(vcpus: 1);
        var v = m.Vm.CreateVcpu(37);
        v.Init();
        Assert.Equal(0x3C5UL, v.GetRegister(Arm64CoreRegister.Pstate));
        Assert.Equal(0UL, v.GetRegister(Arm64CoreRegister.Pc));
        Assert.Equal(Mpidr.FromVcpuId(37), v.GetSystemRegister(SysRegKey.Of(3, 0, 0, 0, 5)));
        Assert.Equal((1UL << 31) | 5 | (2 << 8), v.Mpidr);
        Assert.Equal(0x00C5_0078UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0)));
    }

    [Fact]
    public void FiveHundredTwelveVcpus_CanBeCreated_AndNotMore()
    {
        using var vm = new Arm64Vm();
        for (int i = 0; i < 512; i++)
        {
            vm.CreateVcpu(i);
        }

        Assert.Equal(512, vm.Vcpus.Count);
        Assert.Throws<VcpuException>(() => vm.CreateVcpu(512));
        Assert.Same(vm.GetVcpu(300), vm.FindVcpuByMpidr(Mpidr.FromVcpuId(300)));
    }

    [Fact]
    public void InvalidPstate_IsRejected()
    {
        using var m = new TestMachine();
        m.Vcpu.Init();
        var e = Assert.Throws<VcpuException>(() => m.Vcpu.SetRegister(Arm64CoreRegister.Pstate, 0x3C9)); // EL2h
        Assert.Equal(KvmErrno.InvalidArgument, e.Errno);
    }

    [Theory]
    [InlineData(0x3C6UL)] // M[3:0] = 0b0110: EL1 with the reserved M[1] set
    [InlineData(0x3C7UL)] // 0b0111
    [InlineData(0x002UL)] // 0b0010: EL0 with M[1]
    [InlineData(0x3CDUL)] // EL3h
    [InlineData(0x3D3UL)] // AArch32 SVC: no AArch32 at EL1
    [InlineData(0x010UL)] // AArch32 USR: no AArch32 at EL0
    public void PstateWithAModeKvmRefuses_IsRejectedWithEinvalAndChangesNothing(ulong pstate)
    {
        // KVM_SET_ONE_REG of regs.pstate checks M[4:0] against the modes the vCPU has: EL0t, EL1t, EL1h
        // for an AArch64-only vCPU; anything else is -EINVAL and the register keeps its value.
        using var m = new TestMachine();
        m.Vcpu.Init();
        var e = Assert.Throws<VcpuException>(() => m.Vcpu.SetRegister(Arm64CoreRegister.Pstate, pstate));
        Assert.Equal(KvmErrno.InvalidArgument, e.Errno);
        Assert.Equal(0x3C5UL, m.Vcpu.GetRegister(Arm64CoreRegister.Pstate));
    }

    [Theory]
    [InlineData(0x0UL)]
    [InlineData(0x3C4UL)]
    [InlineData(0xF00003C5UL)] // NZCV and DAIF are kept with the mode
    public void PstateWithAnAArch64Mode_IsAccepted(ulong pstate)
    {
        using var m = new TestMachine();
        m.Vcpu.Init();
        m.Vcpu.SetRegister(Arm64CoreRegister.Pstate, pstate);
        Assert.Equal(pstate, m.Vcpu.GetRegister(Arm64CoreRegister.Pstate));
    }

    [Fact]
    public void SpEl0_IsReachableThroughTheRegisterApi_WhileItIsTheCurrentStackPointer()
    {
        var spEl0 = SysRegKey.Of(3, 0, 4, 1, 0);
        using var m = new TestMachine();
        m.Vcpu.Init();
        m.Vcpu.SetRegister(Arm64CoreRegister.Pstate, 0x3C4); // EL1t: PSTATE.SP = 0
        m.Vcpu.SetSystemRegister(spEl0, 0x4000_8000);
        Assert.Equal(0x4000_8000UL, m.Vcpu.GetSystemRegister(spEl0));
        Assert.Equal(0x4000_8000UL, m.Vcpu.GetRegister(Arm64CoreRegister.Sp));
    }

    [Fact]
    public void MrsSpEl0_WhileItIsTheCurrentStackPointer_IsUndefined()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd50040bfu, 0xd5384101u); // msr spsel,#0; mrs x1,sp_el0
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(CodeBase + 4, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1))); // ELR_EL1: the MRS
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26); // ESR_EL1.EC = 0 (UNDEFINED)
    }

    [Fact]
    public void Wfi_IsWokenByKick()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd503207fu, 0x91000442u, 0xf9000062u);
        SetX(v, 3, MarkerBase);
        var kicker = new Thread(() =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (v.Stats["blocking"] == 0 && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(1);
            }

            v.Kick();
        });
        kicker.Start();
        Assert.Equal(RunResult.Interrupted, v.Run());
        kicker.Join();
        Assert.Equal(ExitReason.Intr, v.RunState.ExitReason);
        Assert.Equal(1UL, v.Stats["wfi_exit_stat"]);
        Assert.Equal(1UL, v.Stats["halt_wakeup"]);
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(1UL, X(v, 2));
    }

    private sealed class FakeController : IArm64InterruptController
    {
        private volatile bool _irq;

        public Arm64Vcpu? Target { get; set; }

        public List<(int Vcpu, int IntId, bool Level)> Lines { get; } = [];

        public void Raise()
        {
            _irq = true;
            Target!.MakeRequest(SoftKvm.Core.VcpuRequest.Event);
        }

        public RunResult OnFirstRun(int vcpuId) => RunResult.Ok;

        public bool HasPendingIrq(int vcpuId) => _irq;

        public bool HasPendingFiq(int vcpuId) => false;

        public bool TryReadSystemRegister(int vcpuId, SysRegKey register, out ulong value)
        {
            // ICC_IAR1_EL1 acknowledges: the line drops.
            value = 27;
            if (register == SysRegKey.Of(3, 0, 12, 12, 0))
            {
                _irq = false;
                return true;
            }

            return register == SysRegKey.Of(3, 0, 12, 12, 5);
        }

        public bool TryWriteSystemRegister(int vcpuId, SysRegKey register, ulong value) => false;

        public void SetPrivateLine(int vcpuId, int intId, bool level)
        {
            lock (Lines)
            {
                Lines.Add((vcpuId, intId, level));
            }

            if (RouteTimer && level)
            {
                _irq = true;
            }
        }

        public bool RouteTimer { get; set; }

        public SoftKvm.Core.Io.MsiResult SignalMsi(ulong address, uint data, uint deviceId) => SoftKvm.Core.Io.MsiResult.NoController;
    }

    [Fact]
    public void Wfi_IsWokenByInterrupt_AndIrqIsTakenWhenUnmasked()
    {
        using var m = new TestMachine();
        var ctl = new FakeController { Target = m.Vcpu };
        m.Vm.InterruptController = ctl;

        // IRQ vector (VBAR+0x280, current EL SPx): mrs x5, icc_iar1_el1; str x5,[x3]
        m.Load(VectorBase + 0x280, 0xd538cc05u, 0xf9000065u);

        // msr daifclr,#2; wfi; add x2,x2,#1; b .-4
        var v = m.Start(0xd50342ffu, 0xd503207fu, 0x91000442u, 0x17ffffffu);
        SetX(v, 3, MarkerBase);
        var raiser = new Thread(() =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (v.Stats["blocking"] == 0 && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(1);
            }

            ctl.Raise();
        });
        raiser.Start();
        Assert.Equal(RunResult.Ok, m.Run());
        raiser.Join();
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(27UL, v.RunState.Mmio.Value);
        Assert.Equal(1UL, v.Stats["wfi_exit_stat"]);
        Assert.Equal(0x1UL << 24, v.GetSystemRegister(SysRegKey.Of(3, 0, 0, 4, 0)) & (0xFUL << 24));
    }

    [Fact]
    public void VirtualTimer_DrivesPpi27()
    {
        using var m = new TestMachine();
        var ctl = new FakeController { Target = m.Vcpu, RouteTimer = true };
        m.Vm.InterruptController = ctl;

        // mov x0,#1000; msr cntv_tval_el0,x0; mov x0,#1; msr cntv_ctl_el0,x0; wfi; str x0,[x3]
        var v = m.Start(0xd2807d00u, 0xd51be300u, 0xd2800020u, 0xd51be320u, 0xd503207fu, 0xf9000060u);
        SetX(v, 3, MarkerBase);
        var r = m.Run(timeoutMs: 2000);
        Assert.True(r == RunResult.Ok, $"{r} pc=0x{Pc(v):x} esr=0x{v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)):x} elr=0x{v.GetRegister(Arm64CoreRegister.ElrEl1):x}");
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        lock (ctl.Lines)
        {
            Assert.Contains((0, 27, true), ctl.Lines);
        }
    }
}
