using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using Xunit.Abstractions;

namespace SoftKvm.Arm64.Tests.Guests;

/// <summary>
/// The guest programs of guests/arm64 (C, built with Debian's cross gcc) print exactly what they print
/// under <c>qemu-system-aarch64 -M virt -cpu cortex-a57</c> (the committed *.expected.txt files).
/// </summary>
public sealed class GuestProgramTests
{
    private readonly ITestOutputHelper _log;

    public GuestProgramTests(ITestOutputHelper log) => _log = log;

    [Theory]
    [InlineData("compute", 1, 0)]
    [InlineData("mmio", 1, 0)]
    [InlineData("psci", 4, 0)]
    [InlineData("mmu", 1, 1)] // one deliberate MSR VBAR_EL1 at EL0
    public void Guest_PrintsWhatQemuPrints(string name, int vcpus, int undefined)
    {
        var result = GuestRunner.Run(name + ".elf", vcpus);
        string expected = File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, name + ".expected.txt"));
        _log.WriteLine($"{name}: {result.Instructions} instructions in {result.Elapsed.TotalMilliseconds:F0} ms "
            + $"({result.Instructions / Math.Max(result.Elapsed.TotalSeconds, 1e-9) / 1e6:F1} MIPS)");
        Assert.Equal(expected, result.Output);
        Assert.Equal(SystemEventType.Shutdown, result.Event);
        Assert.Equal((ulong)undefined, result.Stats["undef_insn"]);
    }

    /// <summary>
    /// guests/arm64/pauth on the max model with QARMA5 (QEMU's algorithm): PAC codes of fixed keys, signed returns, faults after failed
    /// authentication, BTI landing pads and Branch Target exceptions, as QEMU's -cpu max gives them, in the
    /// interpreter and in native blocks.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PauthGuest_PrintsWhatQemuMaxPrints_InEachEngine(bool native)
    {
        var result = GuestRunner.Run("pauth.elf", model: CpuModel.Parse("max,pauth=qarma5", out _), translate: native);
        string expected = File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, "pauth.expected.txt"));
        Assert.Equal(expected, result.Output);
        Assert.Equal(SystemEventType.Shutdown, result.Event);
    }

    /// <summary>
    /// guests/arm64/mte (FEAT_MTE2/MTE3 at EL1) prints its expected output in the interpreter and in native
    /// blocks: the tag checks happen on the slow path of Tagged pages, which both engines share.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MteGuest_PrintsItsExpectedOutputInEveryEngine(bool translate)
    {
        var result = GuestRunner.Run(Path.Combine("mte", "mte.elf"), model: CpuModel.Max, translate: translate);
        string expected = File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, "mte", "mte.expected.txt"));
        Assert.Equal(expected, result.Output.Replace("\r", ""));
        Assert.Equal(SystemEventType.Shutdown, result.Event);
    }

    [Fact]
    public void Fp16Guest_OnCpuMax_PrintsWhatQemuMaxPrints()
    {
        // gcc -march=armv8.2-a+fp16 code (scalar and 8H vector half precision) under every rounding mode, with and
        // without FZ16: the same result hashes and FPSR as qemu-system-aarch64 -M virt -cpu max.
        var result = GuestRunner.Run("fp16.elf", model: SoftKvm.Arm64.Cpu.CpuModel.Max);
        Assert.Equal(File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, "fp16.expected.txt")), result.Output);
        Assert.Equal(SystemEventType.Shutdown, result.Event);
        Assert.Equal(0UL, result.Stats["undef_insn"]);
    }

    [Fact]
    public void TimerGuest_TakesTimerAndSgiInterruptsThroughTheVgic()
    {
        var result = GuestRunner.Run("timer.elf", gicV3: true);
        string expected = File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, "timer.expected.txt"));
        Assert.Equal(expected, result.Output);
        Assert.True(result.Stats["wfi_exit_stat"] >= 1);
        Assert.True(result.Stats["mmio_exit_kernel"] >= 6);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IrqMaskGuest_TakesAPendingMaskedInterruptRightAfterTheUnmaskingInstruction(bool translate)
    {
        // An SGI (and the timer) pending through a long masked section: taken once, with ELR_EL1 at the instruction
        // after MSR DAIFClr, MSR DAIF, ERET or the ICC_PMR_EL1 write, in native code as in the interpreter (as QEMU).
        var result = GuestRunner.Run("irqmask.elf", gicV3: true, translate: translate);
        Assert.Equal(File.ReadAllText(Path.Combine(GuestRunner.GuestsDirectory, "irqmask.expected.txt")), result.Output);
        Assert.Equal(SystemEventType.Shutdown, result.Event);
    }

    [Fact]
    public void MmioGuest_CountsUserExits()
    {
        var result = GuestRunner.Run("mmio.elf");
        Assert.Equal((ulong)result.Output.Length + 14, result.Stats["mmio_exit_user"]);
        Assert.Equal(0UL, result.Stats["mmio_exit_kernel"]);
        Assert.Equal(1UL, result.Stats["hvc_exit_stat"]);
    }
}
