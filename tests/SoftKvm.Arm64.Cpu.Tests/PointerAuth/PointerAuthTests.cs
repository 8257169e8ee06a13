using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.PointerAuth;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests.PointerAuth;

/// <summary>
/// FEAT_PAuth and FEAT_BTI where guests/arm64/pauth (compared with QEMU) does not reach: the Arm ARM's
/// AddPAC where QEMU 7.2 differs, the enables, a model without the features, ERET into a guarded page.
/// </summary>
public sealed class PointerAuthTests
{
    private static readonly SysRegKey Sctlr = SysRegKey.Of(3, 0, 1, 0, 0);
    private static readonly SysRegKey Tcr = SysRegKey.Of(3, 0, 2, 0, 2);
    private static readonly SysRegKey EsrEl1 = SysRegKey.Of(3, 0, 5, 2, 0);
    private static readonly SysRegKey SpsrEl1 = SysRegKey.Of(3, 0, 4, 0, 0);
    private static readonly SysRegKey ApiaKeyLo = SysRegKey.Of(3, 0, 2, 1, 0);
    private static readonly SysRegKey ApiaKeyHi = SysRegKey.Of(3, 0, 2, 1, 1);
    private const ulong EnIa = 1UL << 31;
    private const uint Pacia = 0xdac10020, Autia = 0xdac11020, Paciasp = 0xd503233f, MsrApiaKeyLo = 0xd5182100;
    private const uint MovX2X0 = 0xaa0003e2, MovX3X0 = 0xaa0003e3; // X0 is the PSCI function id when the run ends

    private static Arm64Vcpu Start(TestMachine m, bool native, ulong sctlrBits, params uint[] code)
    {
        var v = m.Start(code);
        v.Cpu.TranslationEnabled = native;
        if (v.Cpu.Model.Has(CpuFeatures.Pauth))
        {
            v.SetSystemRegister(ApiaKeyLo, 0x0123456789abcdef);
            v.SetSystemRegister(ApiaKeyHi, 0xfedcba9876543210);
        }

        v.SetSystemRegister(Sctlr, v.GetSystemRegister(Sctlr) | sctlrBits);
        return v;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InstructionPointerUnderTbid0WithTbi1_TakesTheHalfFromBit55(bool native)
    {
        // TBI0 = TBI1 = 1, TBID0 = 1: TBI does not apply to this instruction pointer (bit 55 = 0), yet the Arm ARM's
        // AddPAC takes its half from bit 55 because TBI1 applies to instruction addresses; bit 63 = 1 is an
        // extension bit that is not good, so the code is corrupted, and bit 55 stays 0. QEMU 7.2 takes bit 63.
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, native, EnIa, Pacia, MovX2X0, Autia, MovX3X0);
        v.SetSystemRegister(Tcr, 25 | (25UL << 16) | (1UL << 37) | (1UL << 38) | (1UL << 51));
        SetX(v, 0, 0x8000_0000_4000_0000);
        SetX(v, 1, 0x1234);
        Assert.Equal(RunResult.Ok, m.Run(v));
        ulong signed = X(v, 2);
        Assert.Equal(0UL, (signed >> 55) & 1);
        Assert.Equal(0x4000_0000UL, signed & ((1UL << 39) - 1));
        Assert.NotEqual(0x8000_0000_4000_0000UL, signed);
        // Authenticating it gives the pointer with good extension bits and the A key's error code (the code was corrupted).
        Assert.Equal(0x2000_0000_4000_0000UL, X(v, 3));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WithEnIaClear_PaciaAndAutiaLeaveThePointer(bool native)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, native, 0, Pacia, MovX2X0, Autia, MovX3X0, Paciasp);
        SetX(v, 0, 0x4008_1234);
        SetX(v, 30, 0x4008_5678);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0x4008_1234UL, X(v, 2));
        Assert.Equal(0x4008_1234UL, X(v, 3));
        Assert.Equal(0x4008_5678UL, X(v, 30));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Impdef_AutOfTheSignedPointerStripsTheCode_AWrongModifierOrKeyGivesTheErrorCode(bool native)
    {
        // pacia x0, x1; mov x7, x0; mov x2, x0; mov x3, x0; autia x2, x1; autia x3, x4; msr apiakeylo_el1, x5; mov x6, x0; autia x6, x1
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, native, EnIa, Pacia, 0xaa0003e7u, MovX2X0, MovX3X0, 0xdac11022u, 0xdac11083u, MsrApiaKeyLo | 5, 0xaa0003e6u, 0xdac11026u);
        const ulong Pointer = 0x4008_1234, ErrorA = 1UL << 61; // TCR_EL1 0: T0SZ 16 (the code in bits 48-54 and 56-63), no TBI
        SetX(v, 0, Pointer);
        SetX(v, 1, 0x7FFF_FFF0);
        SetX(v, 4, 0x7FFF_FFE0);
        SetX(v, 5, 0x0123456789abcdef ^ 1);
        Assert.Equal(RunResult.Ok, m.Run(v));
        ulong signed = X(v, 7);
        ulong code = PacImpdef.ComputePac(Pointer, 0x7FFF_FFF0, 0xfedcba9876543210, 0x0123456789abcdef);
        Assert.Equal(Pointer | (code & 0xFF7F_0000_0000_0000), signed);
        Assert.NotEqual(Pointer, signed);
        Assert.Equal(Pointer, X(v, 2));
        Assert.Equal(Pointer | ErrorA, X(v, 3));
        Assert.Equal(Pointer | ErrorA, X(v, 6));
        if (native)
        {
            // The failed authentications too ran in native code (their error code computed there).
            Assert.Equal(0, v.Cpu.NativeFallbacks[(int)A64Op.PacDataProcessing]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnCortexA57_TheHintsAreNopsAndTheRestUndefined(bool native)
    {
        using var m = new TestMachine(model: CpuModel.CortexA57);
        var v = Start(m, native, EnIa, Paciasp, 0xd2800021u /* mov x1, #1 */, Pacia);
        SetX(v, 30, 0x4008_5678);
        SetX(v, 0, 0x4008_1234);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0x4008_5678UL, X(v, 30)); // PACIASP: a NOP
        Assert.Equal(1UL, X(v, 1));
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26); // PACIA: UNDEFINED (EC 0)
        Assert.Equal(CodeBase + 8, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
        Assert.Equal(0UL, v.Cpu.Model.IdAa64Isar1 & 0xFF00_0FF0);
    }

    [Fact]
    public void OnCortexA57_TheKeyRegistersAreUndefined()
    {
        using var m = new TestMachine(model: CpuModel.CortexA57);
        var v = m.Start(MsrApiaKeyLo);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EretWithBtypeIntoAGuardedPageWithoutALandingPad_TakesTheBranchTargetException(bool native)
    {
        // RAM as one guarded 1 GiB block (GP = 1): straight-line code runs (BTYPE stays 0) until an ERET restores
        // BTYPE = 01 from SPSR_EL1 and returns to a MOV, which is no landing pad: EC 0x0D with ISS = BTYPE, and
        // SPSR_EL1 keeps BTYPE for the return.
        using var m = new TestMachine(model: CpuModel.Max);
        // msr spsr_el1, x6; msr elr_el1, x7; eret; mov x5, #5 (the ERET's target)
        var v = m.Start(0xd5184006u, 0xd5184027u, 0xd69f03e0u, 0xd28000a5u);
        v.Cpu.TranslationEnabled = native;
        m.EnableIdentityMmu(v);
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable + 8), (1UL << 30) | 1 | (3UL << 8) | (1UL << 10) | (1UL << 50));
        SetX(v, 6, 0x3C5 | (1UL << 10));
        SetX(v, 7, CodeBase + 12);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal((0x0DUL << 26) | (1UL << 25) | 1, v.GetSystemRegister(EsrEl1));
        Assert.Equal(1UL, (v.GetSystemRegister(SpsrEl1) >> 10) & 3);
        Assert.Equal(0UL, X(v, 5));
        Assert.Equal(0UL, (v.GetRegister(Arm64CoreRegister.Pstate) >> 10) & 3); // BTYPE = 0 in the handler
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Eretaa_AuthenticatesElrWithSp(bool native, bool corrupt)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        // pacia x7, sp; eor x7, x7, #(1 << 50) or nop; msr elr_el1, x7; msr spsr_el1, x6; eretaa; mov x5, #5
        var v = Start(m, native, EnIa, 0xdac103e7u, corrupt ? 0xd24e00e7u : 0xd503201fu, 0xd5184027u, 0xd5184006u, 0xd69f0bffu, 0xd28000a5u);
        SetX(v, 6, 0x3C5);
        SetX(v, 7, CodeBase + 20);
        Assert.Equal(RunResult.Ok, m.Run(v));
        if (corrupt)
        {
            // The failed authentication leaves the A key's error code in bits 62:61: an instruction abort, with the
            // MMU off an Address size fault at level 0 (guests/arm64/pauth shows the translation fault with it on).
            Assert.Equal(0UL, X(v, 5));
            Assert.Equal((0x21UL << 26) | (1UL << 25) | 0x00, v.GetSystemRegister(EsrEl1));
            Assert.Equal((1UL << 61) | (CodeBase + 20), v.GetSystemRegister(SysRegKey.Of(3, 0, 6, 0, 0)));
        }
        else
        {
            Assert.Equal(5UL, X(v, 5));
        }
    }
}
