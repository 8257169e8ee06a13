using System.Globalization;
using System.Text.RegularExpressions;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue #8 "Done when" through the real <c>softkvm run --arch x86_64</c> (<see cref="MachineWiring"/>):
/// the guests of guests/x86/kvm on the PC machine with its virtio-mmio devices, PASS/FAIL lines on the
/// 16550A, isa-debug-exit code 1 when every check passed.
/// </summary>
public sealed class X86KvmGuestTests : IDisposable
{
    private readonly string _disk = Path.Combine(Path.GetTempPath(), $"softkvm-x86kvm-{Guid.NewGuid():N}.img");

    public X86KvmGuestTests()
    {
        File.WriteAllBytes(_disk, new byte[64 * 1024]);
    }

    public void Dispose() => File.Delete(_disk);

    private static string Guest(string name) => Path.Combine(RealCli.GuestsDir(Path.Combine("x86", "kvm")), name + ".elf");

    private static (int Code, string Serial, string Out, string Error) Softkvm(params string[] args) => RealCli.Run(args);

    private static Dictionary<string, ulong> Stats(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .Where(p => p.Length == 2 && ulong.TryParse(p[1], CultureInfo.InvariantCulture, out _))
            .ToDictionary(p => p[0], p => ulong.Parse(p[1], CultureInfo.InvariantCulture));

    private static void AssertAllPassed(int code, string serial, string error)
    {
        Assert.DoesNotContain("FAIL", serial);
        Assert.EndsWith("ALL PASS\n", serial);
        Assert.Equal(1, code);
        Assert.DoesNotContain("unhandled", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void LongModeExitBenchmarkRunsEveryRow()
    {
        // guests/x86/kvm/exits64quick.elf: the exit micro-benchmark (exits.c) built for long mode, 64-bit code on the
        // native x86-64 engine, a few rounds of each row (bench/compare/compare-qemu.sh exits x86 times exits64.elf).
        var (code, serial, output, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Guest("exits64quick"), "--memory", "128M",
            "--smp", "2", "--x86-virtio", "mmio", "--stats");
        AssertAllPassed(code, serial, error);
        Assert.StartsWith("exit round trips: 256 each after 64 untimed; median of 4 batches; TSC at ", serial);
        Assert.Contains(" MHz (PIT), 2 vCPUs, long mode\n", serial);
        foreach (string key in new[] { "out-vmm", "in-kernel", "mmio-ioapic", "mmio-vmm", "eoi", "ipi", "vmcall" })
        {
            Assert.Matches(new Regex($@"(?m)^  {key} +\S.* +[0-9]+\.[0-9] ns$"), serial);
        }

        Assert.Contains("MMIO read served by a VMM device (virtio-mmio)", serial);
        Assert.Contains("hypercall: VMCALL, unknown number (-KVM_ENOSYS)", serial); // answered by the hypervisor, no #UD
        var stats = Stats(output);
        Assert.InRange(stats["hypercalls"], 320UL, 330UL); // 64 untimed and 256 timed, and the probe
        Assert.Equal(stats["vmm_mmio_exits_seen"], stats["mmio_exits"]);
        Assert.InRange(stats["mmio_exits"], 320UL, 330UL);
        Assert.Equal(0UL, stats["insn_emulation_fail"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SingleStepShadowsMovsAndSyscallScenariosPass(bool withholdLength)
    {
        string[] args = ["run", "--arch", "x86_64", "--kernel", Guest("pcstep"), "--disk", _disk, "--memory", "64M", "--stats", "--x86-virtio", "mmio"];
        var (code, serial, output, error) = Softkvm(withholdLength ? [.. args, "--x86-withhold-insn-length"] : args);
        AssertAllPassed(code, serial, error);
        foreach (string line in new[]
        {
            "PASS step over OUT", "PASS step over CPUID", "PASS step over MMIO load", "PASS step over fast-MMIO doorbell",
            "PASS STI shadow with TF", "PASS MOV SS shadow with TF", "PASS STI shadow: interrupt after the OUT",
            "PASS STI shadow: interrupt after the doorbell", "PASS STI and MOV SS shadows: interrupt after the CPUID",
            "PASS MOVS: one #PF", "PASS MOVS: no #DB before the #PF", "PASS MOVS: one retirement", "PASS MOVS: one #DB after the retirement",
            "PASS SYSCALL #UD with TF and RF",
        })
        {
            Assert.Contains(line, serial);
        }

        var stats = Stats(output);
        Assert.Equal(stats["vmm_mmio_exits_seen"], stats["mmio_exits"]);
        Assert.Equal(stats["vmm_io_exits_seen"], stats["io_exits"]);
        Assert.True(stats["mmio_exits"] > 0);
        Assert.Equal(0UL, stats["insn_emulation_fail"]);

        // The guest's local-APIC accesses (SVR, ICR, EOI) are emulated and answered in the kernel: they
        // show in insn_emulation but not in mmio_exits, which only counts what reached the VMM.
        Assert.True(stats["insn_emulation"] > stats["mmio_exits"] + 10, $"insn_emulation {stats["insn_emulation"]}, mmio_exits {stats["mmio_exits"]}");
    }

    [Fact]
    public void TrapClassExceptionsFromTheEmulatorUnderTfSingleStepAsKvm()
    {
        // Issue #16 point 1: INTO and INT3 sent to the emulator (KVM's forced emulation prefix) with TF=1
        // retire and single-step; the #DB replaces the #BP/#OF. A fault (#UD) comes alone.
        var (code, serial, output, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Guest("trapstep"), "--memory", "16M",
            "--x86-force-emulation-prefix", "--stats");
        AssertAllPassed(code, serial, error);
        foreach (string line in new[]
        {
            "PASS forced INTO, OF=1, TF=1: one #DB past it, no #OF", "PASS forced INTO, OF=0, TF=1: one #DB past it",
            "PASS forced INT3, TF=1: one #DB past it, no #BP", "PASS forced INT3: one #BP past it",
            "PASS forced INTO, OF=1: one #OF past it", "PASS forced UD2, TF=1: one #UD at it, no #DB",
        })
        {
            Assert.Contains(line, serial);
        }

        var stats = Stats(output);
        Assert.Equal(6UL, stats["insn_emulation"]);
        Assert.Equal(0UL, stats["insn_emulation_fail"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DebugExceptionsFollowTheSdm(bool withholdLength)
    {
        // Issue #23 point 3: the debug rules of SDM Vol. 3 6.8.3 and 17.2-17.3, each scenario's event log
        // (vector, EIP, DR6) compared in the guest with what the rules give (guests/x86/kvm/dbgrules.c).
        string[] args = ["run", "--arch", "x86_64", "--kernel", Guest("dbgrules"), "--memory", "16M"];
        var (code, serial, _, error) = Softkvm(withholdLength ? [.. args, "--x86-withhold-insn-length"] : args);
        AssertAllPassed(code, serial, error);
        foreach (string line in new[]
        {
            "PASS single-step and data breakpoint: one #DB, BS with B0",
            "PASS single-step onto a code breakpoint: BS with B1, then the breakpoint's fault",
            "PASS code breakpoint rewrites B0-B3 and keeps BS",
            "PASS DR7.GD: #DB with BD at MOV DR, GD clear in the handler",
            "PASS DR7.GD inside a MOV SS shadow: BD, the held #DB dropped",
            "PASS MOV SS data breakpoint: #DB after the next instruction",
            "PASS MOV SS with TF: one #DB after the next instruction, BS with B0",
            "PASS POP SS data breakpoint: #DB after the next instruction",
            "PASS MOV SS; INT3: #DB before the #BP handler's first instruction",
            "PASS MOV SS; INT n: #DB before the handler's first instruction",
            "PASS MOV SS; ICEBP: ICEBP's #DB only, no breakpoint reported",
            "PASS MOV SS; UD2: #UD alone",
            "PASS MOV SS; code breakpoint: inhibited, one #DB with B0",
            "PASS MOV SS; OUT to the VMM: the held #DB after it",
            "PASS MOV SS with TF; OUT: one #DB, BS with B0",
            "PASS MOV SS; emulated MMIO load: the held #DB after it",
        })
        {
            Assert.Contains(line, serial);
        }
    }

    [Fact]
    public void RepInsIsOneIoExitPerBatchThroughTheVmm()
    {
        // Issue #16 point 5: REP INSB exits with io.count elements (200; then 1024 and 476: KVM's 1024-byte
        // read-ahead), REP OUTSB one element per exit; the VMM serves each element from the 16550A.
        string trace = Path.Combine(Path.GetTempPath(), $"softkvm-strio-{Guid.NewGuid():N}.json");
        try
        {
            var (code, serial, output, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Guest("strio"), "--memory", "16M",
                "--stats", "--trace", trace);
            AssertAllPassed(code, serial, error);
            Assert.Contains("PASS REP INSB: 200 bytes from the VMM's device", serial);
            Assert.Contains("PASS REP INSB: 1500 bytes in two batches", serial);
            Assert.Contains("PASS REP OUTSB: 5 bytes to the VMM's device", serial);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(trace));
            var lengths = doc.RootElement.GetProperty("traceEvents").EnumerateArray()
                .Where(e => e.GetProperty("name").GetString() == "KVM_EXIT_IO" && e.GetProperty("args").GetProperty("addr").GetString() == "0x3ff")
                .Select(e => e.GetProperty("args").GetProperty("len").GetInt32())
                .ToList();
            Assert.Equal([200, 1024, 476], lengths.Where(l => l > 1));
            Assert.Equal(8, lengths.Count(l => l == 1)); // 2 OUTs and 1 IN of the scratch register, 5 OUTSB elements
            var stats = Stats(output);
            Assert.Equal(stats["vmm_io_exits_seen"], stats["io_exits"]);
        }
        finally
        {
            File.Delete(trace);
        }
    }

    [Fact]
    public void ForceEmulationPrefixIsShownInHelpAndRefusedForArm64()
    {
        var (code, _, output, _) = Softkvm("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--x86-force-emulation-prefix", output);
        var (code2, _, _, error) = Softkvm("run", "--arch", "arm64", "--kernel", Guest("trapstep"), "--x86-force-emulation-prefix");
        Assert.Equal(2, code2);
        Assert.Contains("x86_64 option", error);
    }

    [Fact]
    public void EmulationFailureEndsTheRunAndAddsNothingToMmioExits()
    {
        var (code, serial, output, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Guest("emufail"), "--memory", "16M", "--stats", "--x86-virtio", "mmio");
        Assert.Contains("PASS MMIO and local APIC reads\ncalling into MMIO\n", serial);
        Assert.Equal(3, code);
        Assert.Contains("KVM_EXIT_INTERNAL_ERROR (emulation failure)", error);
        var stats = Stats(output);
        Assert.Equal(1UL, stats["insn_emulation_fail"]);

        // virtio_find reads MagicValue and DeviceID of the console's window, then 3 MagicValue loads: 5 MMIO
        // exits. The 3 local-APIC reads, the SVR write and the failed fetch add nothing.
        Assert.Equal(5UL, stats["vmm_mmio_exits_seen"]);
        Assert.Equal(stats["vmm_mmio_exits_seen"], stats["mmio_exits"]);
        Assert.Equal(stats["vmm_io_exits_seen"], stats["io_exits"]);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public void SmpGuestBringsUpTheApsExchangesFixedIpisAndUsesX2Apic(int cpus)
    {
        var (code, serial, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Guest("smp"), "--smp", cpus.ToString(CultureInfo.InvariantCulture), "--memory", "64M");
        AssertAllPassed(code, serial, error);
        Assert.Contains($"MP table processors: {cpus}\n", serial);
        Assert.Contains($"BSP fixed IPIs received: {cpus - 1}\n", serial);
        for (int ap = 1; ap < cpus; ap++)
        {
            Assert.Contains($"AP {ap} fixed IPIs received: 1\n", serial);
        }

        Assert.Contains("x2APIC self IPIs received: 2\n", serial);
        Assert.Contains("PASS two x2APIC IPIs through ICR 0x830, EOI through 0x80B", serial);
    }

    [Fact]
    public void WithholdOptionIsShownInHelpAndRefusedForArm64()
    {
        var (code, _, output, _) = Softkvm("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--x86-withhold-insn-length", output);
        Assert.Contains("nested VMX EPT misconfig", output);

        var (code2, _, _, error) = Softkvm("run", "--arch", "arm64", "--kernel", Guest("pcstep"), "--x86-withhold-insn-length");
        Assert.Equal(2, code2);
        Assert.Contains("x86_64 option", error);
    }
}
