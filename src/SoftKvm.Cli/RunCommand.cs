using System.CommandLine;
using System.Runtime.InteropServices;
using SoftKvm.Core.Errors;
using SoftKvm.Devices;
using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Gdb;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Profiling;
using SoftKvm.Vmm.Runner;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Cli;

/// <summary>
/// <c>softkvm run</c>: checks the options, prepares the machine of <c>--arch</c> (images read and placed,
/// device tree built), then either dumps the device tree or creates the VM and runs it until the guest
/// powers off, a device ends it, an internal error exit happens, or Ctrl-C.
/// </summary>
internal sealed partial class RunCommand(CliEnvironment env, MachineCatalog catalog)
{
    /// <summary>Runs with the parsed options; returns the exit code.</summary>
    public int Execute(ParseResult parse, RunOptions o)
    {
        string? demo = null;
        try
        {
            if (parse.GetValue(o.Cpu) is { } cpu && cpu.Trim().Equals("help", StringComparison.OrdinalIgnoreCase))
            {
                return ListCpuModels();
            }

            string kernel;
            int? smp = ParseSmp(parse.GetValue(o.Smp));
            string? kernelOption = parse.GetValue(o.Kernel);
            if (kernelOption is null && ArchitectureOf(parse, o) != "arm64")
            {
                throw new ConfigurationException("no kernel given (--kernel FILE); the built-in demo guest is for arm64");
            }

            if (kernelOption is null)
            {
                demo = DemoGuest.Extract() ?? throw new ConfigurationException("no --kernel given and this build has no built-in demo guest");
                kernel = demo;
                smp ??= DemoGuest.Cpus;
            }
            else
            {
                kernel = kernelOption;
            }

            CheckDeterministicOptions(parse, o);
            var config = BuildConfig(parse, o, kernel, smp ?? 1);
            _symbols = LoadSymbols(parse, o);
            var builder = catalog.Get(config.Architecture);
            var prepared = builder.Prepare(config);
            if (parse.GetValue(o.DumpDtb) is { } dtbPath)
            {
                return DumpDeviceTree(prepared, dtbPath);
            }

            CheckSnapshotOptions(parse, o);
            return Run(prepared.Create, parse, o);
        }
        catch (Exception e)
        {
            return Report(e);
        }
        finally
        {
            if (demo is not null)
            {
                File.Delete(demo);
            }
        }
    }

    private SymbolMap? _symbols;

    // A failure of a command: bad input is one line and exit code 2, anything else an internal error (3).
    private int Report(Exception e)
    {
        if (e is SoftKvmException)
        {
            env.Error.WriteLine($"softkvm: {InputFiles.OneLine(e.Message)}");
            return ExitCodes.BadInput;
        }

        env.Error.WriteLine($"softkvm: internal error: {e.GetType().Name}: {InputFiles.OneLine(e.Message)}");
        return ExitCodes.InternalError;
    }

    private Arm64VirtMachineBuilder Arm64Builder =>
        catalog.Get("arm64") as Arm64VirtMachineBuilder ?? throw new ConfigurationException("this build has no arm64 CPU models");

    // --cpu help: the models, one a line, the default first.
    private int ListCpuModels()
    {
        var models = Arm64Builder.CpuModels;
        int width = models.Max(m => m.Name.Length);
        env.Out.WriteLine("arm64 CPU models (--cpu NAME):");
        foreach (var m in models)
        {
            env.Out.WriteLine($"  {m.Name.PadRight(width)}  {m.Description}");
            if (m.Options is { } options)
            {
                env.Out.WriteLine($"  {new string(' ', width)}  --cpu {m.Name},{options}");
            }
        }

        env.Out.Flush();
        return ExitCodes.Success;
    }

    // The --cpu value: checked against the arm64 models; an arm64 option only.
    private string CpuModelOf(ParseResult parse, RunOptions o, string arch)
    {
        if (parse.GetValue(o.Cpu) is not { } cpu)
        {
            return Arm64CpuModelInfo.DefaultName;
        }

        if (arch != "arm64")
        {
            throw new ConfigurationException("--cpu is an arm64 option (use it with --arch arm64)");
        }

        return Arm64Builder.CpuSpec(cpu);
    }

    private static SymbolMap? LoadSymbols(ParseResult parse, RunOptions o)
    {
        if (parse.GetValue(o.Symbols) is not { } path)
        {
            return null;
        }

        if (!parse.GetValue(o.Profile))
        {
            throw new ConfigurationException("--symbols names the functions of a profile: use it with --profile");
        }

        InputFiles.Check(path, "symbol file");
        return SymbolMap.Load(path);
    }

    // The --arch value, checked against the catalog before anything else.
    private string ArchitectureOf(ParseResult parse, RunOptions o)
    {
        string arch = parse.GetValue(o.Arch)!.Trim().ToLowerInvariant();
        arch = arch == "aarch64" ? "arm64" : arch;
        catalog.Get(arch);
        return arch;
    }

    private static int? ParseSmp(string? text)
    {
        if (text is null)
        {
            return null;
        }

        return int.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new ConfigurationException($"invalid --smp '{text}': expected a whole number of vCPUs");
    }

    private MachineConfig BuildConfig(ParseResult parse, RunOptions o, string kernel, int smp)
    {
        string arch = ArchitectureOf(parse, o);
        if (smp < 1)
        {
            throw new ConfigurationException($"--smp {smp} is out of range: a machine needs at least 1 vCPU");
        }

        var gic = parse.GetValue(o.Gic)!.Trim().ToLowerInvariant() switch
        {
            "v2" or "2" => GicVersion.V2,
            "v3" or "3" => GicVersion.V3,
            var other => throw new ConfigurationException($"unknown --gic '{other}' (expected v2 or v3)"),
        };
        string cpu = CpuModelOf(parse, o, arch);
        ulong memory = SizeParser.Parse(parse.GetValue(o.Memory)!);
        bool withhold = parse.GetValue(o.X86WithholdInsnLength);
        if (withhold && arch != "x86_64")
        {
            throw new ConfigurationException("--x86-withhold-insn-length is an x86_64 option (use it with --arch x86_64)");
        }

        bool forceEmulation = parse.GetValue(o.X86ForceEmulationPrefix);
        if (forceEmulation && arch != "x86_64")
        {
            throw new ConfigurationException("--x86-force-emulation-prefix is an x86_64 option (use it with --arch x86_64)");
        }

        string? virtio = parse.GetValue(o.X86Virtio);
        if (virtio is not null && arch != "x86_64")
        {
            throw new ConfigurationException("--x86-virtio is an x86_64 option (use it with --arch x86_64, or --virtio-pci on arm64)");
        }

        var (semihosting, semihostingRoot) = SemihostingOf(parse, o, arch);
        bool virtioPciOption = parse.GetValue(o.VirtioPci);
        bool pcVirtioPci = virtio?.Trim().ToLowerInvariant() switch
        {
            null or "pci" => true,
            "mmio" when !virtioPciOption => false,
            "mmio" => throw new ConfigurationException("--virtio-pci and --x86-virtio mmio contradict each other"),
            var other => throw new ConfigurationException($"unknown --x86-virtio '{other}' (expected pci or mmio)"),
        };

        // Files first, so that a missing file is reported whichever machine is asked for.
        InputFiles.Check(kernel, "kernel");
        string? initrd = parse.GetValue(o.Initrd);
        if (initrd is not null)
        {
            InputFiles.Check(initrd, "initrd");
        }

        var disks = new List<DiskConfig>();
        foreach (var d in parse.GetValue(o.Disk) ?? [])
        {
            InputFiles.Check(d, "disk image");
            disks.Add(new DiskConfig(d, ReadOnly: false));
        }

        foreach (var d in parse.GetValue(o.DiskReadOnly) ?? [])
        {
            InputFiles.Check(d, "disk image");
            disks.Add(new DiskConfig(d, ReadOnly: true));
        }

        return new MachineConfig
        {
            Architecture = arch,
            Cpus = smp,
            MemorySize = memory,
            Kernel = kernel,
            Initrd = initrd,
            Append = parse.GetValue(o.Append),
            Disks = disks,
            VirtioConsole = VirtioConsoleOf(parse.GetValue(o.Console)),
            DeterministicEpoch = DeterministicEpochOf(parse, o),
            MachineOptions =
            [
                new Arm64VirtOptions { Gic = gic, Cpu = cpu, VirtioPci = virtioPciOption, Semihosting = semihosting, SemihostingRoot = semihostingRoot },
                new PcOptions { WithholdInstructionLength = withhold, ForceEmulationPrefix = forceEmulation, VirtioPci = pcVirtioPci },
            ],
        };
    }

    // --semihosting and --semihosting-root: arm64 only; the root an existing directory.
    private static (bool On, string? Root) SemihostingOf(ParseResult parse, RunOptions o, string arch)
    {
        bool on = parse.GetValue(o.Semihosting);
        string? root = parse.GetValue(o.SemihostingRoot);
        if (on && arch != "arm64")
        {
            throw new ConfigurationException("--semihosting is an arm64 option (use it with --arch arm64)");
        }

        if (root is null)
        {
            return (on, null);
        }

        if (!on)
        {
            throw new ConfigurationException("--semihosting-root confines semihosting's files: use it with --semihosting");
        }

        return Directory.Exists(root)
            ? (true, Path.GetFullPath(root))
            : throw new ConfigurationException($"--semihosting-root '{root}' is not a directory");
    }

    private static string KernelName(ParseResult parse, RunOptions o) => parse.GetValue(o.Kernel) ?? "demo.elf";

    // --console virtio: a virtio-console beside the serial port, sharing its route.
    private static bool VirtioConsoleOf(string? text) => text switch
    {
        null => false,
        "virtio" => true,
        _ => throw new ConfigurationException($"invalid --console '{text}': the one extra console is 'virtio' (a virtio-console sharing the --serial route)"),
    };

    private int DumpDeviceTree(IPreparedMachine prepared, string path)
    {
        if (prepared.DeviceTree is not { } dtb)
        {
            throw new ConfigurationException("this machine has no device tree to dump");
        }

        try
        {
            File.WriteAllBytes(path, dtb);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new InputFileException($"--dump-dtb '{path}' cannot be written: {InputFiles.OneLine(e.Message)}");
        }

        env.Error.WriteLine($"softkvm: device tree written to {path}; exiting without running the guest");
        return ExitCodes.Success;
    }

    private int Run(Func<MachineIo, IMachine> create, ParseResult parse, RunOptions o)
    {
        string? tracePath = parse.GetValue(o.Trace);
        using var trace = tracePath is null ? null : ExitTraceWriter.Create(tracePath);
        using var serial = SerialRoute.Open(parse.GetValue(o.Serial)!, env.SerialOutput);
        Action? snapshotNow = null;
        var output = parse.GetValue(o.SnapshotOnOutput) is { } text
            ? new OutputTrigger(serial.Output, System.Text.Encoding.UTF8.GetBytes(text), () => snapshotNow?.Invoke())
            : serial.Output;
        var io = new MachineIo(new SerialOutput(output), env.Error);
        var machine = create(io);
        VmRunner? runner = null;
        GdbStub? gdb = null;
        using var input = InputScheduleOf(parse, o);
        try
        {
            gdb = StartGdb(machine, parse, o);
            var deterministic = input is null ? null : new DeterministicOptions { Input = input, InputSink = machine.SendInput };
            runner = new VmRunner(machine.Vm, machine.MmioBus, machine.PioBus, new RunnerOptions { Log = env.Error, Trace = trace, Debugger = gdb, Hypercalls = machine.Hypercalls, ExitsSeenBefore = _exitsSeenBefore, Deterministic = deterministic });
            var killed = runner;
            gdb?.OnKill(message => killed.RequestStop(0, StopReason.KilledByDebugger, message));
            snapshotNow = SnapshotRequest(runner, parse, o);
            int code = RunMachine(machine, runner, parse, o, serial.ConnectsInput, snapshotNow, input);
            return runner.Outcome?.Reason == StopReason.Snapshot ? WriteSnapshot(machine, runner, parse.GetValue(o.Snapshot)!) : code;
        }
        finally
        {
            gdb?.Dispose();

            // A vCPU thread that did not stop may still touch guest memory: then the process exits with it allocated.
            if (runner is null || runner.VcpuThreadsStopped)
            {
                machine.Dispose();
            }
        }
    }

    /// <summary>The gdb stub of <c>--gdb</c> (null without it), listening before any vCPU runs.</summary>
    private GdbStub? StartGdb(IMachine machine, ParseResult parse, RunOptions o)
    {
        string? spec = parse.GetValue(o.Gdb);
        bool wait = parse.GetValue(o.GdbWait);
        if (spec is null)
        {
            return wait ? throw new ConfigurationException("--gdb-wait needs --gdb tcp:HOST:PORT") : null;
        }

        var endpoint = GdbStub.ParseEndpoint(spec, out string? error) ?? throw new ConfigurationException(error!);
        try
        {
            var stub = new GdbStub(machine.Vm, endpoint, wait, env.Error);
            env.Error.WriteLine($"softkvm: gdb stub listening on {stub.LocalEndpoint}{(wait ? "; the vCPUs wait for the debugger" : "")}");
            return stub;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new ConfigurationException($"--gdb {spec}: cannot listen: {e.Message}");
        }
    }

    // The interactive terminal's Ctrl-A commands: Ctrl-C belongs to the guest there.
    private ConsoleEscape Escape(VmRunner runner, Action? snapshot) => new(
        () => runner.RequestStop(0, StopReason.Cancelled, "terminated by C-a x"),
        help =>
        {
            env.Error.Write(help);
            env.Error.Flush();
        },
        snapshot);

    private int RunMachine(IMachine machine, VmRunner runner, ParseResult parse, RunOptions o, bool connectInput, Action? snapshot, ConsoleInputSchedule? schedule)
    {
        machine.DeviceExit += (code, message) => runner.RequestStop(code, StopReason.DeviceExit, message);
        machine.Vm.MaxHaltPollNs = parse.GetValue(o.HaltPollNs);

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler? onCtrlC = null;
        if (env.HandleCtrlC)
        {
            onCtrlC = (_, e) =>
            {
                e.Cancel = true; // stop the guest and restore the terminal rather than die
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCtrlC;
        }

        // SIGTERM (kill, a timeout, a CI job's end) stops the guest as Ctrl-C does, so that --stats, --profile and --coverage
        // still report what ran; the exit code is then 143 (128 + SIGTERM), as a shell reports a terminated process.
        bool terminated = false;
        using var onTerm = env.HandleCtrlC
            ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                terminated = true;
                cancel.Cancel();
            })
            : null;

        using var coverage = parse.GetValue(o.Coverage) is { } coveragePath ? DrcovCoverage.Start(machine.Vm, coveragePath, KernelName(parse, o)) : null;
        using var profiler = parse.GetValue(o.Profile) ? new GuestProfiler(machine.Vcpus) : null;
        profiler?.Start();
        RunOutcome outcome;
        // A replay ignores the terminal; live input of a deterministic run waits for the runner's round boundaries.
        connectInput &= schedule is null || schedule.IsLive;
        var input = connectInput ? env.Input : null;
        using (var raw = connectInput && env.InteractiveTerminal ? TerminalRawMode.TryEnter() : null)
        using (var pump = input is null ? null : new InputPump(input, schedule is null ? machine.SendInput : schedule.Offer, raw is null ? null : Escape(runner, snapshot)))
        {
            if (schedule is not null && pump is not null)
            {
                schedule.SourceEnded = () => pump.Ended;
            }

            try
            {
                outcome = runner.Run(machine.Vcpus, cancel.Token);
            }
            finally
            {
                if (onCtrlC is not null)
                {
                    Console.CancelKeyPress -= onCtrlC;
                }
            }
        }

        bool byTerm = terminated && outcome.Reason == StopReason.Cancelled;
        if (outcome.Reason is StopReason.InternalError or StopReason.Crash or StopReason.Reset or StopReason.Cancelled or StopReason.GuestStoppedAbnormally)
        {
            env.Error.WriteLine($"softkvm: {(byTerm ? "terminated (SIGTERM)" : outcome.Message)}");
        }

        coverage?.Write();
        if (parse.GetValue(o.Stats))
        {
            foreach (var s in machine.Vm.GetStatistics())
            {
                env.Out.WriteLine($"{s.Name} {s.Value}");
            }

            // The VMM's own view, to hold against the hypervisor's mmio_exits and io_exits.
            env.Out.WriteLine($"vmm_mmio_exits_seen {runner.MmioExitsSeen}");
            env.Out.WriteLine($"vmm_io_exits_seen {runner.IoExitsSeen}");
        }

        profiler?.WriteReport(env.Out, machine.Vm.GetStatistics(), _symbols);

        if (parse.GetValue(o.VgicState))
        {
            env.Out.WriteLine(machine.DescribeInterruptController());
        }

        env.Out.Flush();
        return byTerm ? ExitCodes.Terminated : outcome.ExitCode;
    }
}
