using System.CommandLine;

namespace SoftKvm.Cli;

/// <summary>The options of <c>softkvm run</c>.</summary>
internal sealed class RunOptions
{
    public Option<string> Arch { get; } = new("--arch") { Description = "guest architecture: arm64 or x86_64", DefaultValueFactory = _ => "arm64", HelpName = "arm64|x86_64" };

    public Option<string?> Smp { get; } = new("--smp") { Description = "number of vCPUs (default 1; the demo guest: 4)", HelpName = "N" };

    public Option<string> Memory { get; } = new("--memory", "-m") { Description = "guest RAM: a size with K, M or G (a bare number is MiB)", DefaultValueFactory = _ => "512M", HelpName = "SIZE" };

    public Option<string> Gic { get; } = new("--gic") { Description = "arm64 interrupt controller: v2 or v3", DefaultValueFactory = _ => "v3", HelpName = "v2|v3" };

    public Option<string?> Cpu { get; } = new("--cpu") { Description = "arm64 CPU model: cortex-a57 (the default) or max; 'help' lists them", HelpName = "NAME" };

    public Option<string?> Kernel { get; } = new("--kernel") { Description = "kernel: ELF, arm64 Image (gzip too) or raw binary (default: the built-in demo)", HelpName = "FILE" };

    public Option<string?> Initrd { get; } = new("--initrd") { Description = "initial ramdisk", HelpName = "FILE" };

    public Option<string?> Append { get; } = new("--append") { Description = "kernel command line", HelpName = "TEXT" };

    public Option<string[]> Disk { get; } = new("--disk") { Description = "disk image for virtio-blk (repeatable)", HelpName = "FILE" };

    public Option<string[]> DiskReadOnly { get; } = new("--disk-readonly") { Description = "read-only disk image (VIRTIO_BLK_F_RO; repeatable, after the --disk ones)", HelpName = "FILE" };

    public Option<string> Serial { get; } = new("--serial")
    {
        Description = "where the guest's console goes: stdio (standard output and input), file:PATH (output to PATH, no input) or none",
        DefaultValueFactory = _ => "stdio",
        HelpName = "stdio|file:PATH|none",
    };

    public Option<string?> Console { get; } = new("--console") { Description = "virtio: add a virtio-console (hvc0 in Linux) that shares the --serial route", HelpName = "virtio" };

    public Option<string?> Coverage { get; } = new("--coverage")
    {
        Description = "write the basic blocks the guest ran to FILE in drcov format (Lighthouse, bncov); every instruction is interpreted meanwhile",
        HelpName = "FILE",
    };

    public Option<bool> Stats { get; } = new("--stats") { Description = "after the run, print every statistic as 'name value', summed over vCPUs, then the VMM's own counts of the exits it handled (vmm_mmio_exits_seen, vmm_io_exits_seen)" };

    public Option<string?> DumpDtb { get; } = new("--dump-dtb") { Description = "write the device tree blob to FILE and exit without running (as QEMU's dumpdtb)", HelpName = "FILE" };

    public Option<string?> Trace { get; } = new("--trace") { Description = "write every exit to FILE as Chrome trace-event JSON (open it in Perfetto)", HelpName = "FILE" };

    public Option<bool> VgicState { get; } = new("--vgic-state") { Description = "after the run, print the interrupt controller's state" };

    public Option<bool> X86WithholdInsnLength { get; } = new("--x86-withhold-insn-length")
    {
        Description = "x86_64: behave like nested VMX EPT misconfig exits: the CPU gives no instruction length on EPT exits "
            + "(fast MMIO, MMIO), so the hypervisor decodes the instruction to skip it",
    };

    public Option<bool> X86ForceEmulationPrefix { get; } = new("--x86-force-emulation-prefix")
    {
        Description = "x86_64: KVM's kvm.force_emulation_prefix: 'ud2; .ascii \"kvm\"' before an instruction makes the "
            + "hypervisor's instruction emulator run it (for guest programs that test the emulator)",
    };

    public Option<string?> X86Virtio { get; } = new("--x86-virtio")
    {
        Description = "x86_64: how the virtio devices (disks, console) are attached: pci (the default, as QEMU's pc: "
            + "virtio-pci functions on PCI bus 0) or mmio (virtio-mmio windows announced on the kernel command line)",
        HelpName = "pci|mmio",
    };

    public Option<bool> VirtioPci { get; } = new("--virtio-pci")
    {
        Description = "put the virtio devices (disks, then the --console virtio) on the PCI bus as modern virtio-pci functions "
            + "with MSI-X (arm64 virt: PCIe slots 00.2 on, as QEMU's -device virtio-blk-pci; x86_64: the default, see --x86-virtio) "
            + "instead of virtio-mmio transports",
    };

    public Option<bool> Profile { get; } = new("--profile")
    {
        Description = "sample every vCPU's program counter (1 kHz) and, after the run, print where the guest spent its time, "
            + "instructions per second, TLB and decode-cache hit rates and exits per second by reason",
    };

    public Option<string?> Symbols { get; } = new("--symbols") { Description = "with --profile: name guest functions from FILE in nm format (a kernel's System.map, or `nm guest.elf`)", HelpName = "FILE" };

    public Option<string?> Gdb { get; } = new("--gdb")
    {
        Description = "serve gdb's remote serial protocol on tcp:HOST:PORT (tcp::1234 = localhost:1234); vCPUs are gdb threads",
        HelpName = "tcp:HOST:PORT",
    };

    public Option<bool> Semihosting { get; } = new("--semihosting")
    {
        Description = "arm64: Arm semihosting (HLT #0xF000): console, clock, command line (the kernel's path and --append), "
            + "heap layout, exit with a code (the exit code of softkvm); console input goes to it. Off, HLT is UNDEFINED",
    };

    public Option<string?> SemihostingRoot { get; } = new("--semihosting-root")
    {
        Description = "with --semihosting: the directory SYS_OPEN's files are confined to (no file access without it)",
        HelpName = "DIR",
    };

    public Option<bool> GdbWait { get; } = new("--gdb-wait") { Description = "with --gdb: hold the vCPUs at their first instruction until gdb attaches and continues (QEMU's -S)" };

    public Option<string?> Snapshot { get; } = new("--snapshot")
    {
        Description = "where a snapshot of the VM goes: written when the console first prints --snapshot-on-output's text (or on Ctrl-A s at a terminal), then the run ends with 0; 'softkvm restore FILE' continues it",
        HelpName = "FILE",
    };

    public Option<string?> SnapshotOnOutput { get; } = new("--snapshot-on-output")
    {
        Description = "with --snapshot: the console text that triggers the snapshot (every vCPU stops at an instruction boundary)",
        HelpName = "TEXT",
    };

    public Option<long> HaltPollNs { get; } = HaltPollOption();

    public IEnumerable<Option> All =>
        [Arch, Smp, Memory, Gic, Cpu, Kernel, Initrd, Append, Disk, DiskReadOnly, Serial, Console, Coverage, Stats, Profile, Symbols, DumpDtb, Trace, Gdb, GdbWait, Semihosting, SemihostingRoot, VgicState, X86WithholdInsnLength, X86ForceEmulationPrefix, X86Virtio, VirtioPci, Snapshot, SnapshotOnOutput, HaltPollNs];

    /// <summary>The options <c>softkvm restore</c> shares with <c>run</c> (the machine itself comes from the snapshot).</summary>
    public IEnumerable<Option> RestoreShared =>
        [Serial, Stats, Profile, Symbols, Trace, Gdb, GdbWait, VgicState, Snapshot, SnapshotOnOutput, HaltPollNs];

    private static Option<long> HaltPollOption()
    {
        var option = new Option<long>("--halt-poll-ns")
        {
            Description = "the longest a halted vCPU polls for its wake-up before it sleeps, in ns (KVM's halt_poll_ns, adaptive per vCPU; 0 turns polling off)",
            DefaultValueFactory = _ => SoftKvm.Core.Vm.DefaultMaxHaltPollNs,
            HelpName = "NS",
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() < 0)
            {
                r.AddError("--halt-poll-ns must be 0 or more");
            }
        });
        return option;
    }
}
