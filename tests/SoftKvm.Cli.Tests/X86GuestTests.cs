namespace SoftKvm.Cli.Tests;

/// <summary>
/// The Multiboot guests of guests/x86 run through <c>softkvm run --arch x86_64</c> with the real PC
/// machine (<see cref="MachineWiring"/>): serial output equal to QEMU's and QEMU's isa-debug-exit code
/// ((value &lt;&lt; 1) | 1: the guests write 0 on success, so 1).
/// </summary>
public sealed class X86GuestTests
{
    private static string Guests() => RealCli.GuestsDir("x86");

    private static (int Code, string Serial, string Out, string Error) Softkvm(params string[] args) => RealCli.Run(args);

    [Theory]
    [InlineData("compute32", "1", "128M")]
    [InlineData("longmode", "1", "64M")]
    [InlineData("compute32", "4", "64M")]
    [InlineData("pcplat", "2", "64M")]
    public void GuestPrintsWhatQemuPrintsAndExitsThroughIsaDebugExit(string name, string smp, string memory)
    {
        var (code, serial, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), name + ".elf"), "--smp", smp, "--memory", memory);
        Assert.Equal(File.ReadAllText(Path.Combine(Guests(), name + ".expected")), serial);
        Assert.Equal(1, code);
        Assert.DoesNotContain("Unhandled", error);
    }

    // pcplat's command line says how it ends after its checks: ACPI S5 through the FADT's PM1a control block
    // and the DSDT's \_S5, or the FADT's reset register (QEMU with -no-reboot exits with 0 for both, as SoftKvm does).
    [Theory]
    [InlineData("poweroff")]
    [InlineData("reset")]
    public void PcplatPowersOffOrResetsThroughAcpiAsUnderQemu(string how)
    {
        var (code, serial, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "pcplat.elf"), "--smp", "2", "--memory", "64M", "--append", how);
        Assert.Equal(File.ReadAllText(Path.Combine(Guests(), "pcplat.expected")), serial);
        Assert.Equal(0, code);
        Assert.DoesNotContain("Unhandled", error);
    }

    // virtiopci drives the console as a modern virtio-pci function (capabilities, common configuration,
    // queue 1, notify, ISR); QEMU runs it with virtio-serial-pci,disable-legacy=on (guests/x86/Makefile).
    // The PC's default; --x86-virtio pci and --virtio-pci (the arm64 machine's switch) say the same.
    [Theory]
    [InlineData("")]
    [InlineData("--x86-virtio pci")]
    [InlineData("--virtio-pci")]
    public void VirtioPciConsoleWorksAsUnderQemu(string option)
    {
        string[] args = ["run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "virtiopci.elf"), "--memory", "64M"];
        var (code, serial, _, error) = Softkvm(option.Length == 0 ? args : [.. args, .. option.Split(' ')]);
        Assert.Equal(File.ReadAllText(Path.Combine(Guests(), "virtiopci.expected")), serial);
        Assert.Equal(1, code);
        Assert.DoesNotContain("Unhandled", error);
    }

    [Fact]
    public void X86VirtioIsAnX86OptionTakingPciOrMmio()
    {
        var (code, _, _, error) = Softkvm("run", "--arch", "arm64", "--kernel", Path.Combine(Guests(), "virtiopci.elf"), "--x86-virtio", "pci");
        Assert.Equal(2, code);
        Assert.Contains("--x86-virtio is an x86_64 option", error);
        (code, _, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "virtiopci.elf"), "--x86-virtio", "isa");
        Assert.Equal(2, code);
        Assert.Contains("unknown --x86-virtio 'isa' (expected pci or mmio)", error);
    }

    // With --x86-virtio mmio the virtio-console is a virtio-mmio window: virtiopci finds no virtio-pci function.
    [Fact]
    public void X86VirtioMmioTakesTheDevicesOffThePciBus()
    {
        var (code, serial, _, _) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "virtiopci.elf"), "--memory", "64M", "--x86-virtio", "mmio");
        Assert.Contains("virtio-pci console 1af4:1043 on bus 0: FAIL", serial);
        Assert.Equal(3, code); // isa-debug-exit with the guest's failure: (1 << 1) | 1
    }

    [Fact]
    public void StatsCountThePortExits()
    {
        var (code, serial, output, _) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "compute32.elf"), "--stats");
        Assert.Equal(1, code);
        var stats = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Where(p => p.Length == 2 && ulong.TryParse(p[1], out _)).ToDictionary(p => p[0], p => ulong.Parse(p[1]));
        Assert.Equal((ulong)serial.Length + 1, stats["io_exits"]);
        Assert.True(stats["exits"] >= stats["io_exits"]);
    }

    [Fact]
    public void GicOptionIsIgnoredForX86()
    {
        var (code, serial, _, _) = Softkvm("run", "--arch", "x86_64", "--gic", "v2", "--kernel", Path.Combine(Guests(), "compute32.elf"));
        Assert.Equal(1, code);
        Assert.EndsWith("PASS\n", serial);
    }

    [Fact]
    public void NonMultibootKernelIsOneLineExit2()
    {
        var (code, _, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "longmode", "main64.c"));
        Assert.Equal(2, code);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Multiboot", error);
    }

    // A Multiboot a.out-kludge kernel (flat binary loaded at 1 MiB, assembled with `as --32` and
    // `ld -m elf_i386 -Ttext=0x100000 --oformat=binary`): the BSP reads the number of APs to expect from
    // the first character of the Multiboot command line, copies a real-mode trampoline to 0x10000, sends
    // INIT and two SIPIs (vector 0x10) to all other CPUs through the xAPIC ICR, waits (bounded) until that
    // many APs incremented a counter, prints "APs=N" and exits through isa-debug-exit with N. Source:
    //     .code32
    //     .org 0
    //     .long 0x1BADB002
    //     .long 0x00010002
    //     .long -(0x1BADB002 + 0x00010002)
    //     .long 0x100000
    //     .long 0x100000
    //     .long 0
    //     .long 0
    //     .long 0x100020
    //     .org 0x20
    // start:
    //     mov 16(%ebx), %esi
    //     movzbl (%esi), %ebp
    //     sub $'0', %ebp
    //     mov $(tramp - start + 0x100020), %esi
    //     mov $0x10000, %edi
    //     mov $(tramp_end - tramp), %ecx
    //     rep movsb
    //     movl $0, 0x10100
    //     movl $0x1FF, 0xFEE000F0
    //     movl $0x000C4500, 0xFEE00300
    //     movl $0x000C4610, 0xFEE00300
    //     movl $0x000C4610, 0xFEE00300
    //     mov $20000000, %ecx
    // 1:  cmpw %bp, 0x10100
    //     je 2f
    //     pause
    //     loop 1b
    // 2:  mov $0x3f8, %dx
    //     mov $'A', %al
    //     out %al, %dx
    //     mov $'P', %al
    //     out %al, %dx
    //     mov $'s', %al
    //     out %al, %dx
    //     mov $'=', %al
    //     out %al, %dx
    //     movb 0x10100, %al
    //     add $'0', %al
    //     out %al, %dx
    //     mov $'\n', %al
    //     out %al, %dx
    //     movzbl 0x10100, %eax
    //     mov $0xf4, %dx
    //     out %eax, %dx
    // 3:  cli
    //     hlt
    //     jmp 3b
    // tramp:
    //     .code16
    //     mov %cs, %ax
    //     mov %ax, %ds
    //     lock incw 0x100
    // 4:  cli
    //     hlt
    //     jmp 4b
    // tramp_end:
    private static readonly byte[] SmpBringUp =
    [
        0x02, 0xb0, 0xad, 0x1b, 0x02, 0x00, 0x01, 0x00, 0xfc, 0x4f, 0x51, 0xe4, 0x00, 0x00, 0x10, 0x00, 0x00,
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x10, 0x00, 0x8b, 0x73,
        0x10, 0x0f, 0xb6, 0x2e, 0x83, 0xed, 0x30, 0xbe, 0xa9, 0x00, 0x10, 0x00, 0xbf, 0x00, 0x00, 0x01, 0x00,
        0xb9, 0x0d, 0x00, 0x00, 0x00, 0xf3, 0xa4, 0xc7, 0x05, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00,
        0x45, 0x0c, 0x00, 0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x10, 0x46, 0x0c, 0x00, 0xc7, 0x05, 0x00, 0x03,
        0xe0, 0xfe, 0x10, 0x46, 0x0c, 0x00, 0xb9, 0x00, 0x2d, 0x31, 0x01, 0x66, 0x39, 0x2d, 0x00, 0x01, 0x01,
        0x00, 0x74, 0x04, 0xf3, 0x90, 0xe2, 0xf3, 0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xb0, 0x50, 0xee,
        0xb0, 0x73, 0xee, 0xb0, 0x3d, 0xee, 0xa0, 0x00, 0x01, 0x01, 0x00, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee,
        0x0f, 0xb6, 0x05, 0x00, 0x01, 0x01, 0x00, 0x66, 0xba, 0xf4, 0x00, 0xef, 0xfa, 0xf4, 0xeb, 0xfc, 0x8c,
        0xc8, 0x8e, 0xd8, 0xf0, 0xff, 0x06, 0x00, 0x01, 0xfa, 0xf4, 0xeb, 0xfc
    ];

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void AoutKludgeKernelBringsUpTheApsByInitSipi(int cpus)
    {
        string path = Path.Combine(Path.GetTempPath(), $"softkvm-smp-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, SmpBringUp);
        try
        {
            var (code, serial, _, _) = Softkvm("run", "--arch", "x86_64", "--kernel", path, "--smp", cpus.ToString(System.Globalization.CultureInfo.InvariantCulture), "--memory", "16M", "--append", (cpus - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal($"APs={cpus - 1}\n", serial);
            Assert.Equal(((cpus - 1) << 1) | 1, code);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
