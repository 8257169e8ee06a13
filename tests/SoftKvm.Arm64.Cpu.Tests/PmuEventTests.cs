using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// The per-instruction PMU events of the CPU model (Arm64Cpu.PmuEvents.cs, docs/kvm-semantics.md#arm64-pmu):
/// which instructions are branches for BR_RETIRED and how many MEM_ACCESS events each load, store,
/// atomic, structure load and DC ZVA makes.
/// </summary>
public class PmuEventTests
{
    [Theory]
    [InlineData(0x14000002u, true)]  // b .+8
    [InlineData(0x94000002u, true)]  // bl .+8
    [InlineData(0x54000041u, true)]  // b.ne .+8
    [InlineData(0xB4000040u, true)]  // cbz x0, .+8
    [InlineData(0x35000040u, true)]  // cbnz w0, .+8
    [InlineData(0x36000040u, true)]  // tbz w0, #0, .+8
    [InlineData(0xB7F80040u, true)]  // tbnz x0, #63, .+8
    [InlineData(0xD61F0000u, true)]  // br x0
    [InlineData(0xD63F0000u, true)]  // blr x0
    [InlineData(0xD65F03C0u, true)]  // ret
    [InlineData(0xD69F03E0u, false)] // eret: an exception return
    [InlineData(0xD4000001u, false)] // svc #0: exception-generating
    [InlineData(0xD4000002u, false)] // hvc #0
    [InlineData(0xD5033FDFu, false)] // isb: context synchronization
    [InlineData(0xF1000400u, false)] // subs x0, x0, #1
    public void BranchesAreTheBranchInstructionsTakenOrNot(uint insn, bool branch)
    {
        A64Op op = A64Decoder.Decode(insn);
        Assert.NotEqual(A64Op.Undefined, op);
        Assert.Equal(branch, Arm64Cpu.IsBranch(op));
    }

    [Theory]
    [InlineData(0xF9400020u, 1)] // ldr x0, [x1]
    [InlineData(0x39000020u, 1)] // strb w0, [x1]
    [InlineData(0x3DC00020u, 1)] // ldr q0, [x1]
    [InlineData(0xF85F8020u, 1)] // ldur x0, [x1, #-8]
    [InlineData(0xF8616800u, 1)] // ldr x0, [x0, x1]
    [InlineData(0xF8408420u, 1)] // ldr x0, [x1], #8
    [InlineData(0x58000000u, 1)] // ldr x0, <literal>
    [InlineData(0xF9800020u, 0)] // prfm pldl1keep, [x1]
    [InlineData(0xF89F8020u, 0)] // prfum pldl1keep, [x1, #-8]
    [InlineData(0xD8000000u, 0)] // prfm pldl1keep, <literal>
    [InlineData(0xA9000440u, 2)] // stp x0, x1, [x2]
    [InlineData(0xA9400440u, 2)] // ldp x0, x1, [x2]
    [InlineData(0x69400440u, 2)] // ldpsw x0, x1, [x2]
    [InlineData(0xAD400440u, 2)] // ldp q0, q1, [x2]
    [InlineData(0xC85F7C20u, 1)] // ldxr x0, [x1]
    [InlineData(0xC8027C20u, 1)] // stxr w2, x0, [x1]
    [InlineData(0xC87F0440u, 2)] // ldxp x0, x1, [x2]
    [InlineData(0xC8DFFC20u, 1)] // ldar x0, [x1]
    [InlineData(0xC8A07C41u, 2)] // cas x0, x1, [x2]: one read, one write
    [InlineData(0x48207C82u, 2)] // casp x0, x1, x2, x3, [x4]
    [InlineData(0xF8200041u, 2)] // ldadd x0, x1, [x2]
    [InlineData(0xF8208041u, 2)] // swp x0, x1, [x2]
    [InlineData(0xF8BFC020u, 1)] // ldapr x0, [x1]: a load
    [InlineData(0x4C402000u, 4)] // ld1 {v0.16b-v3.16b}, [x0]
    [InlineData(0x4C407000u, 1)] // ld1 {v0.16b}, [x0]
    [InlineData(0x4C408000u, 2)] // ld2 {v0.16b, v1.16b}, [x0]
    [InlineData(0x4C404000u, 3)] // ld3 {v0.16b-v2.16b}, [x0]
    [InlineData(0x4C000000u, 4)] // st4 {v0.16b-v3.16b}, [x0]
    [InlineData(0x0D400000u, 1)] // ld1 {v0.b}[0], [x0]
    [InlineData(0x0D402000u, 3)] // ld3 {v0.b-v2.b}[0], [x0]
    [InlineData(0x4D60E000u, 4)] // ld4r {v0.16b-v3.16b}, [x0]
    [InlineData(0xD50B7420u, 1)] // dc zva, x0
    [InlineData(0xD50B7E20u, 0)] // dc civac, x0: maintenance
    [InlineData(0xD503201Fu, 0)] // nop
    [InlineData(0x8B020020u, 0)] // add x0, x1, x2
    public void MemoryAccessesAreOnePerRegisterTwoPerAtomic(uint insn, int accesses)
    {
        A64Op op = A64Decoder.Decode(insn);
        Assert.NotEqual(A64Op.Undefined, op);
        Assert.Equal(accesses, Arm64Cpu.MemoryAccesses(op, insn));
        Assert.InRange(accesses, 0, Arm64Cpu.MaxMemoryAccessesPerInstruction);
    }
}
