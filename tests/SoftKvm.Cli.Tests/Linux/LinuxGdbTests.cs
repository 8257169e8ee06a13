using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue #23's Linux session (docs/debugging.md): Debian's arm64 kernel booted with <c>nokaslr</c> and
/// <c>--gdb</c>; the address of <c>__arm64_sys_newuname</c> (the uname syscall) comes from /proc/kallsyms at the
/// initramfs shell (root, kptr_restrict 0); gdb-multiarch, with no symbol file, sets a hardware breakpoint there,
/// the shell runs uname, and gdb stops at the address, reads registers and the syscall's <c>struct pt_regs</c>
/// through the guest's MMU, steps one instruction (not into an interrupt), then a software breakpoint for the
/// second uname, and detaches; the shell finishes both. Gated like the boot tests (SOFTKVM_LINUX_TEST=1).
/// </summary>
[Collection(LinuxBootTests.Collection)]
public sealed class LinuxGdbTests
{
    [SkippableFact]
    public void Gdb_breaks_in_the_uname_syscall_of_a_nokaslr_kernel_at_its_kallsyms_address()
    {
        string outDir = LinuxBootTests.Inputs("arm64");
        Skip.If(!File.Exists("/usr/bin/gdb-multiarch"), "gdb-multiarch is not installed (Debian package gdb-multiarch)");
        int port = GdbSessionTests.FreePort();
        var console = new StringBuilder();
        using var vm = LinuxBootTests.StartSoftKvm(
            [
                "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"),
                "--append", "console=ttyAMA0 nokaslr", "--smp", "1", "--gdb", $"tcp::{port}",
            ],
            console);
        try
        {
            LinuxBootTests.WaitFor(console, "SOFTKVM-LINUX-BOOT-OK", TimeSpan.FromMinutes(10));
            LinuxBootTests.Send(vm, "cat /proc/sys/kernel/kptr_restrict; grep ' T __arm64_sys_newuname$' /proc/kallsyms");
            LinuxBootTests.WaitFor(console, " T __arm64_sys_newuname\n", TimeSpan.FromMinutes(5), normalise: true);
            string seen;
            lock (console)
            {
                seen = console.ToString().Replace("\r", "");
            }

            var m = Regex.Match(seen, @"\n([0-9a-f]{16}) T __arm64_sys_newuname\n");
            Assert.True(m.Success, "no kallsyms line for __arm64_sys_newuname: " + seen[Math.Max(0, seen.Length - 500)..]);
            ulong address = ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Assert.NotEqual(0UL, address); // kptr_restrict would show zeros
            Assert.Equal(0xffff_8000_0000_0000UL, address & 0xffff_8000_0000_0000UL); // nokaslr: the kernel's link address range

            // gdb attaches (which stops the VM) and continues; the shell's input waits in the UART meanwhile, so
            // the commands may be typed as soon as the debugger is attached: uname runs after gdb's continue.
            string a = $"0x{address:x}";
            var session = Task.Factory.StartNew(
                () => GdbSessionTests.Gdb(null, port, TimeSpan.FromMinutes(10),
                    "set architecture aarch64",
                    "target remote :PORT",
                    $"hbreak *{a}",
                    "continue",
                    "p $pc",
                    "p $cpsr & 0xf",
                    "p *(int *)($x0 + 0x118)",
                    "p/x *(unsigned long *)$x0",
                    "stepi",
                    "p $pc",
                    "delete",
                    $"break *{a}",
                    "continue",
                    "p $pc",
                    "p *(int *)($x0 + 0x118)",
                    "delete",
                    "detach"),
                TaskCreationOptions.LongRunning);
            LinuxBootTests.WaitFor(console, "debugger attached", TimeSpan.FromMinutes(2));
            LinuxBootTests.Send(vm, "uname -r; uname -m; echo UNAME-DONE");
            Assert.True(session.Wait(TimeSpan.FromMinutes(12)), "the gdb session did not end");
            string log = session.Result;
            void Has(string text) => Assert.True(log.Contains(text, StringComparison.Ordinal), $"'{text}' is not in the gdb session:\n{log}");

            Has($"Hardware assisted breakpoint 1 at {a}");
            Has($"$1 = (void (*)()) {a}");
            Has("$2 = 5");                             // EL1h: the kernel
            Has("$3 = 160");                           // pt_regs->syscallno: __NR_uname
            Assert.True(Regex.IsMatch(log, @"\$4 = 0xffff[0-9a-f]{8}\n"), log);          // pt_regs->regs[0]: the user's buffer
            Has($"$5 = (void (*)()) 0x{address + 4:x}"); // one instruction, not the IRQ vector
            Has($"Breakpoint 2 at {a}");
            Has($"$6 = (void (*)()) {a}");             // the software breakpoint, second uname
            Has("$7 = 160");
            Has("[Inferior 1 (Remote target) detached]");

            LinuxBootTests.WaitFor(console, "\nUNAME-DONE\n", TimeSpan.FromMinutes(3), normalise: true);
            lock (console)
            {
                seen = console.ToString().Replace("\r", "");
            }

            // Both unames finished (the stub's own messages on stderr may come between their lines).
            string tail = seen[seen.LastIndexOf("uname -r; uname -m", StringComparison.Ordinal)..];
            Assert.True(Regex.IsMatch(tail, @"\n\d+\.\d+\.\d+-[^\n]*arm64\n") && tail.Contains("\naarch64\n", StringComparison.Ordinal), tail);
            LinuxBootTests.PowerOff(vm);
        }
        finally
        {
            LinuxBootTests.KillIfRunning(vm);
        }
    }
}
