using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>EL0/EL1 exceptions: vectors, ESR classes, SVC, ERET, alignment, UNDEFINED, debug (issue 3 step 3).</summary>
public sealed class ExceptionTests
{
    private static readonly SysRegKey EsrEl1 = SysRegKey.Of(3, 0, 5, 2, 0);
    private static readonly SysRegKey FarEl1 = SysRegKey.Of(3, 0, 6, 0, 0);
    private static readonly SysRegKey SctlrEl1 = SysRegKey.Of(3, 0, 1, 0, 0);
    private static readonly SysRegKey MdscrEl1 = SysRegKey.Of(2, 0, 0, 2, 2);

    private static void RunToVector(TestMachine m, Arm64Vcpu v)
    {
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
    }

    [Fact]
    public void Undefined_TakesEc0AtTheInstruction_AndIsCounted()
    {
        using var m = new TestMachine();
        var v = m.Start(0x00000000u);
        RunToVector(m, v);
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(1UL << 25, v.GetSystemRegister(EsrEl1));
        Assert.Equal(CodeBase, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(0x3C5UL, v.GetRegister(Arm64CoreRegister.SpsrEl1));
        Assert.Equal(1UL, v.Stats["undef_insn"]);
    }

    [Fact]
    public void SvcFromEl0_GoesToLowerElVector_WithImmediate()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd4000841u);
        v.SetRegister(Arm64CoreRegister.Pstate, 0); // EL0t
        RunToVector(m, v);
        Assert.Equal((0x15UL << 26) | (1UL << 25) | 0x42, v.GetSystemRegister(EsrEl1));
        Assert.Equal(CodeBase + 4, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(0UL, v.GetRegister(Arm64CoreRegister.SpsrEl1));

        // The lower-EL synchronous vector (VBAR + 0x400) ran at EL1h with everything masked.
        Assert.Equal(0x3C5UL, v.GetRegister(Arm64CoreRegister.Pstate));
        Assert.Equal(VectorBase + 0x400 + 12, TestMachine.Pc(v));
    }

    [Fact]
    public void Eret_ReturnsToEl0_AndHvcThereIsUndefined()
    {
        using var m = new TestMachine();
        m.Load(CodeBase + 0x100, 0xd4000002u); // hvc #0 at EL0
        var v = m.Start(0xd5184025u, 0xd5184006u, 0xd69f03e0u);
        SetX(v, 5, CodeBase + 0x100);
        SetX(v, 6, 0x0); // SPSR: EL0t, nothing masked
        RunToVector(m, v);
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase + 0x100, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(0UL, v.GetRegister(Arm64CoreRegister.SpsrEl1));
    }

    [Theory]
    [InlineData(0x3C9UL)] // EL2h: not implemented, so the return is illegal
    [InlineData(0x3C6UL)] // M[3:0] = 0b0110: EL1 with the reserved M[1] set, not a mode (KVM_SET_ONE_REG refuses it too)
    public void IllegalExceptionReturn_SetsIl_AndTheNextInstructionTakesEc0E(ulong spsr)
    {
        using var m = new TestMachine();
        m.Load(CodeBase + 0x100, 0xd503201fu);
        var v = m.Start(0xd5184025u, 0xd5184006u, 0xd69f03e0u);
        SetX(v, 5, CodeBase + 0x100);
        SetX(v, 6, spsr);
        RunToVector(m, v);
        Assert.Equal(0x0EUL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase + 0x100, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.NotEqual(0UL, v.GetRegister(Arm64CoreRegister.SpsrEl1) & (1UL << 20));
        Assert.Equal(0x3C5UL, v.GetRegister(Arm64CoreRegister.Pstate));
    }

    [Fact]
    public void AlignmentCheck_FaultsWithDfsc21AndFar()
    {
        using var m = new TestMachine();
        var v = m.Start(0xf9400001u);
        v.SetSystemRegister(SctlrEl1, v.GetSystemRegister(SctlrEl1) | 2);
        SetX(v, 0, RamBase + 0x2003);
        RunToVector(m, v);
        ulong esr = v.GetSystemRegister(EsrEl1);
        Assert.Equal(0x25UL, esr >> 26);
        Assert.Equal(0x21UL, esr & 0x3F);
        Assert.Equal(RamBase + 0x2003, v.GetSystemRegister(FarEl1));
    }

    [Fact]
    public void UnalignedRamAccess_WithTheMmuOnAndNoCheck_Works()
    {
        using var m = new TestMachine();
        var v = m.Start(0xf9400001u, 0xf9000401u, 0xf9000062u);
        m.EnableIdentityMmu(v);
        SetX(v, 0, RamBase + 0x2FFD); // crosses a page
        SetX(v, 3, MarkerBase);
        m.Vm.Memory.Write(new SoftKvm.Core.GuestPhysAddr(RamBase + 0x2FFD), 0x0102030405060708UL);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(0x0102030405060708UL, X(v, 1));
        Assert.Equal(0x0102030405060708UL, m.Vm.Memory.Read<ulong>(new SoftKvm.Core.GuestPhysAddr(RamBase + 0x3005)));
    }

    [Theory]
    [InlineData(0xf9400001u, 1UL, false, "ldr x1, [x0]")]
    [InlineData(0xb9000001u, 2UL, true, "str w1, [x0]")]
    [InlineData(0x79400001u, 1UL, false, "ldrh w1, [x0]")]
    [InlineData(0xa9400801u, 8UL, false, "ldp x1, x2, [x0] (8-aligned is not enough for the first, 4 off)")]
    [InlineData(0x3dc00000u, 8UL, false, "ldr q0, [x0] (16 bytes, 8-aligned)")]
    [InlineData(0x3d800000u, 8UL, true, "str q0, [x0] (16 bytes, 8-aligned)")]
    [InlineData(0x4c407800u, 2UL, false, "ld1 {v0.4s}, [x0] (4-byte elements)")]
    public void UnalignedDataAccess_WithTheMmuOff_IsAnAlignmentFault(uint insn, ulong offset, bool write, string asm)
    {
        using var m = new TestMachine();
        var v = m.Start(insn, 0xf9000062u); // the access; str x2, [x3] (not reached)
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 2), 3UL << 20); // CPACR_EL1.FPEN: no FP trap
        ulong address = RamBase + 0x3000 + offset + (asm.StartsWith("ldp", StringComparison.Ordinal) ? 4UL : 0);
        SetX(v, 0, address);
        SetX(v, 3, MarkerBase);
        RunToVector(m, v);
        ulong esr = v.GetSystemRegister(EsrEl1);
        Assert.True(esr >> 26 == 0x25, $"{asm}: ESR 0x{esr:x}");
        Assert.Equal(0x21UL, esr & 0x3F);                       // DFSC: alignment fault
        Assert.Equal(write, (esr & (1 << 6)) != 0);             // WnR
        Assert.Equal(address, v.GetSystemRegister(FarEl1));
        Assert.Equal(CodeBase, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }

    [Theory]
    [InlineData(0x39400001u, 3UL, "ldrb w1, [x0] (a byte is always aligned)")]
    [InlineData(0xf9400001u, 8UL, "ldr x1, [x0] (aligned)")]
    [InlineData(0x3dc00000u, 16UL, "ldr q0, [x0] (aligned)")]
    public void AlignedDataAccess_WithTheMmuOff_Works(uint insn, ulong offset, string asm)
    {
        using var m = new TestMachine();
        var v = m.Start(insn, 0xf9000062u); // the access; str x2, [x3]
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 2), 3UL << 20); // CPACR_EL1.FPEN: no FP trap
        SetX(v, 0, RamBase + 0x3000 + offset);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.True(v.RunState.ExitReason == ExitReason.Mmio, asm);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
    }

    [Fact]
    public void DcZva_WithTheMmuOff_IsAnAlignmentFault()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd50b7420u); // dc zva, x0
        SetX(v, 0, RamBase + 0x7000);
        RunToVector(m, v);
        ulong esr = v.GetSystemRegister(EsrEl1);
        Assert.Equal(0x25UL, esr >> 26);
        Assert.Equal(0x21UL, esr & 0x3F);
        Assert.Equal(RamBase + 0x7000, v.GetSystemRegister(FarEl1));
    }

    [Fact]
    public void UnalignedAccess_AfterTheGuestTurnsTheMmuOn_Works()
    {
        // ldr x1,[x0] faults with the MMU off, works after the VMM-side identity map; the TLB entry
        // filled by an aligned access with the MMU off must not let an unaligned one through either.
        using var m = new TestMachine();
        var v = m.Start(0xf94000a5u, 0xf9400001u, 0xf9000062u); // ldr x5,[x5]; ldr x1,[x0]; str x2,[x3]
        SetX(v, 5, RamBase + 0x3000);                             // aligned: fills the read TLB for the page
        SetX(v, 0, RamBase + 0x3003);                             // unaligned, same page
        SetX(v, 3, MarkerBase);
        RunToVector(m, v);
        Assert.Equal(0x21UL, v.GetSystemRegister(EsrEl1) & 0x3F);
        Assert.Equal(CodeBase + 4, v.GetRegister(Arm64CoreRegister.ElrEl1));

        var w = m.Init(m.Vcpu, CodeBase);
        m.EnableIdentityMmu(w);
        SetX(w, 5, RamBase + 0x3000);
        SetX(w, 0, RamBase + 0x3003);
        SetX(w, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run(w));
        Assert.Equal(ExitReason.Mmio, w.RunState.ExitReason);
    }

    [Fact]
    public void InstructionFetchOutsideRam_IsAPrefetchAbortInTheGuest()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd61f0000u); // br x0
        SetX(v, 0, 0x0800_0000);
        RunToVector(m, v);
        ulong esr = v.GetSystemRegister(EsrEl1);
        Assert.Equal(0x21UL, esr >> 26);
        Assert.Equal(0x10UL, esr & 0x3F);
        Assert.Equal(0x0800_0000UL, v.GetSystemRegister(FarEl1));
        Assert.Equal(0x0800_0000UL, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }

    [Fact]
    public void SoftwareStep_StepsOneEl0Instruction()
    {
        using var m = new TestMachine();
        var v = m.Start(0x91000442u, 0x91000442u, 0x91000442u);
        v.SetSystemRegister(MdscrEl1, 1);
        v.SetRegister(Arm64CoreRegister.Pstate, 1UL << 21); // EL0t, PSTATE.SS = 1
        RunToVector(m, v);
        Assert.Equal(0x32UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase + 4, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(1UL, X(v, 2));
    }

    [Fact]
    public void SoftwareStep_AnInstructionSkippedAfterMmioCompletion_StepsLikeOneExecuted()
    {
        using var m = new TestMachine();
        var v = m.Start(0xb9400001u, 0x91000442u, 0x91000442u);
        v.SetSystemRegister(MdscrEl1, 1);
        v.SetRegister(Arm64CoreRegister.Pstate, 1UL << 21);
        SetX(v, 0, MmioBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        v.RunState.Mmio.SetValue(0x99);
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        v.RunState.ImmediateExit = false;
        RunToVector(m, v);
        Assert.Equal(0x32UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase + 4, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(0x99UL, X(v, 1));
        Assert.Equal(0UL, X(v, 2));
    }

    [Fact]
    public void Brk_TakesEc3C()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd4200020u); // brk #1
        RunToVector(m, v);
        Assert.Equal((0x3CUL << 26) | (1UL << 25) | 1, v.GetSystemRegister(EsrEl1));
        Assert.Equal(CodeBase, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }

    [Fact]
    public void HardwareBreakpoint_AtEl0_TakesEc30()
    {
        using var m = new TestMachine();
        var v = m.Start(0x91000442u, 0x91000442u, 0x91000442u);
        v.SetSystemRegister(SysRegKey.Of(2, 0, 0, 0, 4), CodeBase + 8); // DBGBVR0_EL1
        v.SetSystemRegister(SysRegKey.Of(2, 0, 0, 0, 5), 0x1E7);        // DBGBCR0_EL1: E, PMC=11, BAS=1111
        v.SetSystemRegister(MdscrEl1, 1UL << 15);                       // MDE
        v.SetRegister(Arm64CoreRegister.Pstate, 0);
        RunToVector(m, v);
        Assert.Equal(0x30UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase + 8, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(2UL, X(v, 2));
    }

    [Fact]
    public void Watchpoint_OnStore_TakesEc34WithFar()
    {
        using var m = new TestMachine();
        var v = m.Start(0xf9000041u);
        SetX(v, 2, RamBase + 0x3000);
        v.SetSystemRegister(SysRegKey.Of(2, 0, 0, 0, 6), RamBase + 0x3000); // DBGWVR0_EL1
        v.SetSystemRegister(SysRegKey.Of(2, 0, 0, 0, 7), 0x1FF7);           // E, PAC=11, LSC=10 (store), BAS=0xFF
        v.SetSystemRegister(MdscrEl1, 1UL << 15);
        v.SetRegister(Arm64CoreRegister.Pstate, 0);
        RunToVector(m, v);
        ulong esr = v.GetSystemRegister(EsrEl1);
        Assert.Equal(0x34UL, esr >> 26);
        Assert.NotEqual(0UL, esr & (1 << 6));
        Assert.Equal(RamBase + 0x3000, v.GetSystemRegister(FarEl1));
    }

    [Fact]
    public void CpacrTrap_FpLoadTakesEc07()
    {
        using var m = new TestMachine();
        var v = m.Start(0xfd400001u); // ldr d1,[x0]
        SetX(v, 0, RamBase);
        RunToVector(m, v);
        Assert.Equal(0x07UL, v.GetSystemRegister(EsrEl1) >> 26);
    }
}
