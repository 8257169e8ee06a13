using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>A fact that is skipped, saying why, when gdb-multiarch is not installed.</summary>
public sealed class GdbFactAttribute : FactAttribute
{
    public GdbFactAttribute()
    {
        if (!File.Exists("/usr/bin/gdb-multiarch"))
        {
            Skip = "gdb-multiarch is not installed (Debian package gdb-multiarch): the real-client sessions cannot run";
        }
    }
}

/// <summary>
/// Issue #23: <c>softkvm run --gdb</c> with a real client, Debian's gdb-multiarch in batch mode, on the
/// gdbtarget guests of guests/arm64 and guests/x86/kvm (two vCPUs each): a breakpoint on a symbol, continue,
/// registers, stepi, memory read and write, a watchpoint, two vCPUs as two threads, detach and kill; and the
/// protocol's edges through a raw socket (a second debugger refused, malformed packets, no-ack mode).
/// </summary>
public sealed class GdbSessionTests
{
    private static string Arm64Guest => Path.Combine(RealCli.GuestsDir("arm64"), "gdbtarget.elf");

    private static string X86Guest => Path.Combine(RealCli.GuestsDir(Path.Combine("x86", "kvm")), "gdbtarget.elf");

    internal static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static Task<(int Code, string Serial, string Out, string Error)> StartVm(params string[] args) =>
        Task.Factory.StartNew(() => RealCli.Run(args), TaskCreationOptions.LongRunning);

    /// <summary>Runs gdb-multiarch -batch with <paramref name="commands"/> on <paramref name="elf"/>; its whole output.</summary>
    private static string Gdb(string elf, int port, params string[] commands) => Gdb(elf, port, TimeSpan.FromMinutes(4), commands);

    /// <summary>
    /// Runs gdb-multiarch -batch with <paramref name="commands"/> (PORT stands for <paramref name="port"/>) on
    /// <paramref name="elf"/>, or on no file; its whole output once it ends, failing after <paramref name="timeout"/>.
    /// </summary>
    internal static string Gdb(string? elf, int port, TimeSpan timeout, params string[] commands)
    {
        string script = Path.Combine(Path.GetTempPath(), $"softkvm-gdb-{Guid.NewGuid():N}.gdb");
        File.WriteAllLines(script, ["set pagination off", "set confirm off", "set tcp connect-timeout 120", .. commands.Select(c => c.Replace("PORT", port.ToString()))]);
        try
        {
            var psi = new ProcessStartInfo("gdb-multiarch", ["-batch", "-nx", "-x", script, .. elf is null ? Array.Empty<string>() : [elf]])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var gdb = Process.Start(psi)!;
            var stdout = gdb.StandardOutput.ReadToEndAsync();
            var stderr = gdb.StandardError.ReadToEndAsync();
            if (!gdb.WaitForExit(timeout))
            {
                gdb.Kill();
                Assert.Fail($"gdb-multiarch did not finish within {timeout}: " + stdout.Result + stderr.Result);
            }

            return stdout.Result + stderr.Result;
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static (int Code, string Serial, string Out, string Error) Finish(Task<(int, string, string, string)> vm)
    {
        Assert.True(vm.Wait(TimeSpan.FromMinutes(2)), "softkvm did not end after the session");
        return vm.Result;
    }

    [GdbFact]
    public void Arm64_session_breakpoint_registers_stepi_memory_watchpoint_threads()
    {
        int port = FreePort();
        var vm = StartVm("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        string log = Gdb(Arm64Guest, port,
            "target remote :PORT",
            "break tick",
            "continue",
            "p $pc",
            "p/x $x0",
            "p/x $sctlr_el1",
            "stepi",
            "p $pc",
            "x/1gx &counter",
            "delete",
            "watch *(unsigned long *)&counter",
            "continue",
            "delete",
            "hbreak tick",
            "continue",
            "delete",
            "info threads",
            "thread 2",
            "p $pc",
            "p *(unsigned long *)&secondary_ticks > 0",
            "set var *(unsigned long *)&release = 1",
            "continue");

        Assert.Contains("hit Breakpoint 1, 0x0000000040080370 in tick ()", log);
        Assert.Contains("$1 = (void (*)()) 0x40080370 <tick>", log);
        Assert.Contains("$2 = 0x1", log);
        Assert.Matches(@"\$3 = 0x[0-9a-f]+", log); // a system register from target.xml
        Assert.Contains("$4 = (void (*)()) 0x40080374 <tick+4>", log);
        Assert.Contains("0x40081060 <counter>:\t0x0000000000000000", log); // stepped before the store
        Assert.Contains("Hardware watchpoint 2: *(unsigned long *)&counter", log);
        Assert.Contains("Old value = 0\nNew value = 1", log);
        Assert.Contains("Hardware assisted breakpoint 3 at 0x40080370", log);
        Assert.Contains("hit Breakpoint 3, 0x0000000040080370 in tick ()", log);
        Assert.Contains("Thread 2 (vCPU 1)", log);
        Assert.Contains("in secondary_main ()", log);
        Assert.Contains("$6 = 1", log);
        Assert.Contains("[Inferior 1 (Remote target) exited normally]", log);

        var (code, serial, _, error) = Finish(vm);
        Assert.Equal(0, code);
        Assert.Contains("gdbtarget: released", serial);
        Assert.Contains("counter  0x0000000000000002", serial); // tick(2) ran after the release
        Assert.Contains("debugger attached", error);
    }

    [GdbFact]
    public void X86_session_breakpoint_registers_stepi_memory_watchpoint_threads()
    {
        int port = FreePort();
        var vm = StartVm("run", "--arch", "x86_64", "--kernel", X86Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");

        // A 32-bit guest under gdb's i386:x86-64 (as with QEMU's x86_64 stub): data symbols without debug
        // information are used through their address as a number.
        string log = Gdb(X86Guest, port,
            "set architecture i386:x86-64",
            "target remote :PORT",
            "break tick",
            "continue",
            "p $pc",
            "p *(unsigned int *)($rsp + 4)",
            "p $cs",
            "p/x $cr0",
            "stepi",
            "p $pc",
            "set $c = (long)&counter",
            "x/1wx $c",
            "delete",
            "watch *(unsigned int *)$c",
            "continue",
            "delete",
            "hbreak tick",
            "continue",
            "delete",
            "info threads",
            "thread 2",
            "p $pc",
            "p *(unsigned int *)(long)&ap_ticks > 0",
            "set var *(unsigned int *)(long)&release = 1",
            "continue");

        Assert.Contains("hit Breakpoint 1, 0x0000000000100570 in tick ()", log);
        Assert.Contains("$1 = (void (*)()) 0x100570 <tick>", log);
        Assert.Contains("$2 = 1", log);
        Assert.Contains("$3 = 16", log); // the flat code segment of the Multiboot state
        Assert.Contains("$4 = 0x11", log); // CR0: PE | ET
        Assert.Contains("$5 = (void (*)()) 0x100574 <tick+4>", log);
        Assert.Contains("0x113098 <counter>:\t0x00000000", log);
        Assert.Contains("Hardware watchpoint 2: *(unsigned int *)$c", log);
        Assert.Contains("Old value = 0\nNew value = 1", log);
        Assert.Contains("Hardware assisted breakpoint 3 at 0x100570", log);
        Assert.Contains("hit Breakpoint 3, 0x0000000000100570 in tick ()", log);
        Assert.Contains("Thread 2 (vCPU 1)", log);
        Assert.Contains("in ap_main ()", log);
        Assert.Contains("$7 = 1", log);
        Assert.Contains("[Inferior 1 (Remote target) exited with code 01]", log); // isa-debug-exit (0 << 1) | 1

        var (code, serial, _, _) = Finish(vm);
        Assert.Equal(1, code);
        Assert.Contains("gdbtarget: released, counter 2", serial); // tick(2) ran after the release
    }

    [GdbFact]
    public void Access_and_read_watchpoints_stop_with_their_kind_on_both_architectures()
    {
        // arm64: awatch on the store to counter, rwatch on a load of release (stopped before the access).
        int port = FreePort();
        var vm = StartVm("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        string log = Gdb(Arm64Guest, port,
            "target remote :PORT", "break tick", "continue", "delete",
            "awatch *(unsigned long *)&counter", "continue", "delete",
            "rwatch *(unsigned long *)&release", "continue", "delete", "kill");
        Assert.Contains("Thread 1 hit Hardware access (read/write) watchpoint 2: *(unsigned long *)&counter\n\nOld value = 0\nNew value = 1", log);
        // Either vCPU may read release first (main's loop or secondary_main's).
        Assert.Matches(@"Thread [12] hit Hardware read watchpoint 3: \*\(unsigned long \*\)&release\n\nValue = 0\n0x[0-9a-f]+ in (main|secondary_main) \(\)", log);
        Assert.Equal(0, Finish(vm).Code);

        // x86: awatch (DR7 RW = 11) on the store, reported after it.
        port = FreePort();
        vm = StartVm("run", "--arch", "x86_64", "--kernel", X86Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        log = Gdb(X86Guest, port,
            "set architecture i386:x86-64", "target remote :PORT", "break tick", "continue", "delete",
            "set $c = (long)&counter", "awatch *(unsigned int *)$c", "continue", "delete", "kill");
        Assert.Contains("Thread 1 hit Hardware access (read/write) watchpoint 2: *(unsigned int *)$c\n\nOld value = 0\nNew value = 1\n0x0000000000100579 in tick ()", log);
        Assert.Equal(0, Finish(vm).Code);
    }

    private static string Arm64IrqGuest => Path.Combine(RealCli.GuestsDir("arm64"), "gdbirq.elf");

    [GdbFact]
    public void Arm64_stepi_with_a_timer_interrupt_pending_advances_one_instruction_and_the_interrupt_comes_on_continue()
    {
        // guests/arm64/gdbirq: the virtual timer fires every 0.1 ms; step_here is six instructions with a store
        // to the PL011 (an MMIO exit) in the middle. QEMU's default SSTEP_NOIRQ: every stepi advances one
        // instruction, no interrupt is taken while stepping although the timer's is pending (CNTV_CTL_EL0.ISTATUS);
        // with qqemu.sstep=0x1 a stepi is taken by the interrupt's entry (PC at the IRQ vector), as with arm64 KVM.
        int port = FreePort();
        var vm = StartVm("run", "--kernel", Arm64IrqGuest, "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        string log = Gdb(Arm64IrqGuest, port,
            "target remote :PORT",
            "maintenance packet qqemu.sstepbits",
            "maintenance packet qqemu.sstep",
            "break *step_here",
            "continue",
            "set $t0 = *(unsigned long *)&ticks",
            "p $t0 >= 3",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "p/x $cntv_ctl_el0",
            "p *(unsigned long *)&ticks == $t0",
            "continue",
            "maintenance packet qqemu.sstep=0x1",
            "stepi",
            "p $pc",
            "maintenance packet qqemu.sstep=0x5",
            "maintenance packet qqemu.sstep=3",
            "maintenance packet qqemu.sstep",
            "delete",
            "set var *(unsigned long *)&release = 1",
            "continue");

        Assert.Contains("received: \"ENABLE=1,NOIRQ=2\"", log);
        Assert.Contains("received: \"0x3\"", log);
        Assert.Contains("Breakpoint 1, 0x0000000040081000 in step_here ()", log);
        Assert.Contains("$1 = 1", log);
        for (int i = 1; i <= 6; i++)
        {
            Assert.Contains($"${i + 1} = (void (*)()) 0x{0x40081000 + (4 * i):x} <step_here+{4 * i}>", log);
        }

        Assert.Contains("$8 = 0x5", log); // ENABLE and ISTATUS: the timer's interrupt was pending at the last step
        Assert.Contains("$9 = 1", log);   // and none was taken while stepping
        Assert.Contains("Breakpoint 1, 0x0000000040081000 in step_here ()\n", log[(log.IndexOf("$9 = 1", StringComparison.Ordinal) + 1)..]);
        Assert.Contains("$10 = (void (*)()) 0x40080a80 <vectors+640>", log);
        Assert.Contains("received: \"E22\"", log); // NOTIMER is not offered
        Assert.Contains("[Inferior 1 (Remote target) exited normally]", log);

        var (code, serial, _, _) = Finish(vm);
        Assert.Equal(0, code);
        Assert.Contains("gdbirq: interrupts firing\n..\ngdbirq: an interrupt was taken after the release", serial); // one store per call, none repeated
        Assert.Contains("calls  0x0000000000000002", serial);
    }

    [GdbFact]
    public void X86_stepi_with_a_timer_interrupt_pending_advances_one_instruction_and_the_interrupt_comes_on_continue()
    {
        // guests/x86/kvm/gdbirq: the APIC timer fires every 0.2 ms; step_here is six instructions (1, 1, 5, 2, 1, 1
        // bytes) with an OUT to COM1 (an IO exit) in the middle. With the default sstep flags (BLOCKIRQ) every
        // stepi runs one instruction; with qqemu.sstep=0x1 the step ends at the handler's first instruction.
        string guest = Path.Combine(RealCli.GuestsDir(Path.Combine("x86", "kvm")), "gdbirq.elf");
        int port = FreePort();
        var vm = StartVm("run", "--arch", "x86_64", "--kernel", guest, "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        string log = Gdb(guest, port,
            "set architecture i386:x86-64",
            "target remote :PORT",
            "break *step_here",
            "continue",
            "set $t = (long)&ticks",
            "set $t0 = *(unsigned int *)$t",
            "p $t0 >= 3",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "stepi", "p $pc",
            "p *(unsigned int *)$t == $t0",
            "continue",
            "maintenance packet qqemu.sstep=0x1",
            "stepi",
            "p $pc",
            "maintenance packet qqemu.sstep=0x3",
            "delete",
            "set var *(unsigned int *)(long)&release = 1",
            "continue");

        Assert.Contains("Breakpoint 1, 0x0000000000100540 in step_here ()", log);
        Assert.Contains("$1 = 1", log);
        int[] offsets = [1, 2, 7, 9, 10, 11];
        for (int i = 0; i < offsets.Length; i++)
        {
            Assert.Contains($"${i + 2} = (void (*)()) 0x{0x100540 + offsets[i]:x} <step_here+{offsets[i]}>", log);
        }

        Assert.Contains("$8 = 1", log); // no interrupt was taken while stepping
        Assert.Contains("$9 = (void (*)()) 0x1000ac <isr_40>", log);
        Assert.Contains("[Inferior 1 (Remote target) exited with code 01]", log); // isa-debug-exit (0 << 1) | 1

        var (code, serial, _, _) = Finish(vm);
        Assert.Equal(1, code);
        Assert.Contains("gdbirq: interrupts firing\n..\ngdbirq: an interrupt was taken after the release, calls 2", serial.Replace("\r", ""));
    }

    [GdbFact]
    public void Detach_lets_the_guest_run_on_and_kill_stops_the_vm()
    {
        int port = FreePort();
        var vm = StartVm("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        // At main's first tick: .bss is cleared by then, so the write of release stays.
        string log = Gdb(Arm64Guest, port, "target remote :PORT", "break tick", "continue", "set var *(unsigned long *)&release = 1", "detach");
        Assert.Contains("[Inferior 1 (Remote target) detached]", log);
        var (code, serial, _, error) = Finish(vm);
        Assert.Equal(0, code);
        Assert.Contains("gdbtarget: released", serial);
        Assert.Contains("debugger detached", error);

        port = FreePort();
        vm = StartVm("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        log = Gdb(Arm64Guest, port, "target remote :PORT", "kill");
        Assert.Contains("[Inferior 1 (Remote target) killed]", log);
        (code, serial, _, _) = Finish(vm);
        Assert.Equal(0, code);
        Assert.DoesNotContain("released", serial);
    }

    /// <summary>A raw RSP client: packets with checksums, acknowledgements read and checked.</summary>
    private sealed class RawClient : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _s;

        public RawClient(int port)
        {
            _tcp = Connect(port);
            _s = _tcp.GetStream();
            _s.ReadTimeout = 120_000;
        }

        private static TcpClient Connect(int port)
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (true)
            {
                try
                {
                    return new TcpClient("127.0.0.1", port);
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(200);
                }
            }
        }

        public bool Acks { get; set; } = true;

        public void SendRaw(string text) => _s.Write(Encoding.ASCII.GetBytes(text));

        public string Ask(string packet)
        {
            byte sum = 0;
            foreach (char c in packet)
            {
                sum += (byte)c;
            }

            SendRaw($"${packet}#{sum:x2}");
            if (Acks)
            {
                Assert.Equal('+', (char)_s.ReadByte());
            }

            return ReadPacket();
        }

        public string ReadPacket()
        {
            int c;
            while ((c = _s.ReadByte()) != '$')
            {
                Assert.True(c >= 0, "the connection closed");
            }

            var sb = new StringBuilder();
            while ((c = _s.ReadByte()) != '#')
            {
                Assert.True(c >= 0, "the connection closed");
                sb.Append((char)c);
            }

            _s.ReadByte();
            _s.ReadByte();
            if (Acks)
            {
                SendRaw("+");
            }

            return sb.ToString();
        }

        public char ReadByte() => (char)_s.ReadByte();

        public void Dispose() => _tcp.Dispose();
    }

    [Fact]
    public void A_second_debugger_is_refused_and_malformed_packets_get_errors()
    {
        int port = FreePort();
        var vm = StartVm("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--gdb", $"tcp::{port}", "--gdb-wait");
        using (var first = new RawClient(port))
        {
            Assert.StartsWith("T05thread:1;", first.Ask("?"));
            Assert.Contains("qXfer:features:read+", first.Ask("qSupported:multiprocess+;swbreak+"));
            Assert.Equal("m1,2", first.Ask("qfThreadInfo"));
            Assert.Equal("l", first.Ask("qsThreadInfo"));

            using (var second = new RawClient(port))
            {
                second.Acks = false;
                string o = second.ReadPacket();
                Assert.StartsWith("O", o);
                Assert.Contains("a debugger is already attached", Encoding.ASCII.GetString(Convert.FromHexString(o[1..])));
            }

            Assert.Equal("E01", first.Ask("m zz"));
            Assert.Equal("E01", first.Ask("p 1000"));
            Assert.Equal("E01", first.Ask("M40081060,8:12"));
            Assert.Equal("E01", first.Ask("Hgff"));
            Assert.Equal("E14", first.Ask("m8000000,4")); // the GIC distributor: not RAM
            Assert.Equal("", first.Ask("vMustReplyEmpty"));
            first.SendRaw("$g#00"); // a bad checksum is not acknowledged
            Assert.Equal('-', first.ReadByte());

            Assert.Equal("OK", first.Ask("QStartNoAckMode"));
            first.Acks = false;
            Assert.Equal("0000000000000000", first.Ask("m40081060,8"));

            // A software breakpoint on tick (past the start-up code that clears .bss), then continue and
            // Ctrl-C: a SIGINT stop of the running VM.
            Assert.Equal("OK", first.Ask("Z0,40080370,4"));
            Assert.Equal("T05thread:1;swbreak:;", first.Ask("c"));
            Assert.Equal("OK", first.Ask("z0,40080370,4"));
            first.SendRaw("$c#63");
            Thread.Sleep(500);
            first.SendRaw("\u0003");
            Assert.StartsWith("T02thread:", first.ReadPacket());
            Assert.Equal("OK", first.Ask("M40081068,8:0100000000000000")); // release = 1
            Assert.Equal("0100000000000000", first.Ask("m40081068,8"));
            first.SendRaw("$D#44");
            Assert.Equal("OK", first.ReadPacket());
        }

        var (code, serial, _, error) = Finish(vm);
        Assert.Equal(0, code);
        Assert.Contains("gdbtarget: released", serial);
        Assert.Contains("refused a second debugger", error);
    }
}
