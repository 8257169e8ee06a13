using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// FEAT_PAN, FEAT_UAO and FEAT_E0PD on the max model, with RAM mapped read-only for EL0 and EL1 (AP = 11:
/// EL0 may read it, so PAN applies; EL1 may execute it): privileged loads fault under PSTATE.PAN,
/// LDTR does not unless PSTATE.UAO makes it privileged, exception entry sets PAN when SCTLR_EL1.SPAN = 0,
/// and TCR_EL1.E0PD0 makes every EL0 access to the lower half a level-0 translation fault.
/// </summary>
public sealed class PanUaoE0pdTests
{
    private const ulong Data = RamBase + 0x6000;
    private static readonly SysRegKey EsrEl1 = SysRegKey.Of(3, 0, 5, 2, 0);
    private static readonly SysRegKey FarEl1 = SysRegKey.Of(3, 0, 6, 0, 0);

    private static Arm64Vcpu Start(TestMachine m, ulong tcrExtra, params uint[] code)
    {
        var v = m.Start(code);
        // Level-1 blocks: 0-1 GiB EL1 read/write and never executable; 1-2 GiB (RAM) read-only at EL0 and EL1.
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable), 1UL | (3UL << 8) | (1UL << 10) | (3UL << 53));
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable + 8), (1UL << 30) | 1 | (3UL << 6) | (3UL << 8) | (1UL << 10));
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23) | tcrExtra);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 0), IdentityTable);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0), v.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 0)) | 1);
        m.Vm.Memory.Write(new GuestPhysAddr(Data), 0x1234UL);
        SetX(v, 0, Data);
        return v;
    }

    [Fact]
    public void PrivilegedLoadUnderPan_IsAPermissionFault()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, 0, 0xd500419fu, 0xf9400001u); // msr pan,#1; ldr x1,[x0]
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal((0x25UL << 26) | (1UL << 25) | 0x0D, v.GetSystemRegister(EsrEl1)); // DABT current EL, permission level 1
        Assert.Equal(Data, v.GetSystemRegister(FarEl1));
        Assert.Equal(0UL, X(v, 1));
    }

    [Fact]
    public void CacheMaintenanceUnderPan_Passes_AndALoadAfterItStillFaults()
    {
        // DC CIVAC of a page PAN keeps from EL1 loads is not a fault; what it leaves in the read TLB must not let the
        // load after it through.
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, 0, 0xd500419fu, 0xd50b7e20u, 0xf9400001u); // msr pan,#1; dc civac,x0; ldr x1,[x0]
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal((0x25UL << 26) | (1UL << 25) | 0x0D, v.GetSystemRegister(EsrEl1));
        Assert.Equal(CodeBase + 8, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
        Assert.Equal(0UL, X(v, 1));
    }

    [Fact]
    public void CacheMaintenanceWithoutPan_ThenALoad_Reads()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, 0, 0xd50b7e20u, 0xf9400001u, 0xd500419fu, 0xf9400002u); // dc civac,x0; ldr x1,[x0]; msr pan,#1; ldr x2,[x0]
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0x1234UL, X(v, 1));
        Assert.Equal((0x25UL << 26) | (1UL << 25) | 0x0D, v.GetSystemRegister(EsrEl1)); // the fill without PAN does not serve PAN
        Assert.Equal(CodeBase + 12, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
    }

    [Fact]
    public void LdtrPassesUnderPan_UntilUaoMakesItPrivileged()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, 0, 0xd500419fu, 0xf8400801u, 0xd500417fu, 0xf8400802u); // msr pan,#1; ldtr x1; msr uao,#1; ldtr x2
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0x1234UL, X(v, 1));
        Assert.Equal((0x25UL << 26) | (1UL << 25) | 0x0D, v.GetSystemRegister(EsrEl1));
        Assert.Equal(CodeBase + 12, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
    }

    [Fact]
    public void ExceptionEntryWithSpanClear_SetsPan()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        // mrs x10,sctlr_el1; and x10,x10,#~(1<<23); msr sctlr_el1,x10; svc #0 (the vector powers off)
        var v = Start(m, 0, 0xd538100au, 0x9268f94au, 0xd518100au, 0xd4000001u);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.NotEqual(0UL, v.GetRegister(Arm64CoreRegister.Pstate) & (1UL << 22));
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 0)) & (1UL << 22)); // SPSR: PAN was clear before
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void E0pd0_MakesEl0AccessesToTheLowerHalfFault(bool e0pd)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        // msr spsr_el1,xzr; adr x11,1f; msr elr_el1,x11; eret; 1: ldr x1,[x0]; then an EL0 svc ends the run.
        var v = Start(m, e0pd ? 1UL << 55 : 0, 0xd518401fu, 0x1000006bu, 0xd518402bu, 0xd69f03e0u, 0xf9400001u, 0xd4000001u);
        Assert.Equal(RunResult.Ok, m.Run(v));
        ulong esr = v.GetSystemRegister(EsrEl1);
        if (e0pd)
        {
            // The EL0 instruction fetch is already an access through TTBR0: an instruction abort, level-0 translation fault.
            Assert.Equal((0x20UL << 26) | (1UL << 25) | 0x04, esr);
            Assert.Equal(CodeBase + 16, v.GetSystemRegister(FarEl1));
        }
        else
        {
            Assert.Equal(0x15UL, esr >> 26); // the SVC from EL0
            Assert.Equal(0x1234UL, X(v, 1));
        }
    }

    [Fact]
    public void CortexA57_MsrPanIsUndefined()
    {
        using var m = new TestMachine();
        var v = Start(m, 0, 0xd500419fu, 0xf9400001u);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26);
    }
}
