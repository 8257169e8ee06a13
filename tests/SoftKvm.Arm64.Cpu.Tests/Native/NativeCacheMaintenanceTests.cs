using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// DC CVAC/CVAU/CIVAC in native code (a read-TLB probe, A64IrBuilder.System.cs): the first line of a page not in the
/// read TLB runs in the interpreter, whose translation puts the page in the read TLB, so the page's other lines stay in
/// native code, as the kernel's line-by-line cleaning of a range (alternatives patching, flush_icache_range) needs.
/// </summary>
public sealed class NativeCacheMaintenanceTests
{
    private const ulong Page = EnginePair.Ram + 0x8000;

    [Theory]
    [InlineData(0xD50B7E20u)] // DC CIVAC, X0
    [InlineData(0xD50B7B20u)] // DC CVAU, X0
    [InlineData(0xD50B7A20u)] // DC CVAC, X0
    public void CleaningAPageLineByLine_RunsTheInterpreterOnce(uint dc)
    {
        using var pair = new EnginePair(CpuModel.Max);
        // 1: dc x0; add x0, x0, #64; subs x1, x1, #1; b.ne 1b; b .
        pair.Load(EnginePair.Code, dc, 0x91010000u, 0xF1000421u, 0x54FFFFA1u, 0x14000000u);
        pair.Reset(el0MmuOn: false, cpu =>
        {
            cpu.State.X[0] = Page;
            cpu.State.X[1] = 64;
        });

        pair.RunAndCompare(64 * 4 + 50, "a page cleaned line by line");
        Assert.Equal(Page + 4096, pair.Native.State.X[0]);
        Assert.True(pair.Native.Counters.TranslatedInstructions >= 64 * 3, $"{pair.Native.Counters.TranslatedInstructions} ran natively");
        Assert.Equal(1, pair.Native.NativeFallbacks[(int)A64Op.Sys]);
    }
}
