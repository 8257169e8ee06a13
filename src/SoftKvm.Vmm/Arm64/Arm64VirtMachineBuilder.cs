using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The arm64 <c>virt</c> machine (QEMU's memory map, boot conventions and device tree). Preparing needs
/// no CPU; creating needs an <see cref="IArm64VirtBackend"/>, and without one fails with a one-line
/// "not available" error.
/// </summary>
public sealed class Arm64VirtMachineBuilder : IMachineBuilder
{
    /// <summary>The smallest RAM accepted (a page table and a device tree need some room).</summary>
    public const ulong MinMemorySize = 2UL << 20;

    private readonly IArm64VirtBackend? _backend;

    /// <summary>Creates the builder; <paramref name="backend"/> null makes <see cref="IPreparedMachine.Create"/> fail as "not available".</summary>
    public Arm64VirtMachineBuilder(IArm64VirtBackend? backend)
    {
        _backend = backend;
    }

    /// <inheritdoc />
    public string Architecture => "arm64";

    /// <summary>Checks the vCPU count against the GIC model and the RAM size against the map.</summary>
    /// <exception cref="ConfigurationException">out of range.</exception>
    public static void Validate(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var gic = config.OptionsOf<Arm64VirtOptions>().Gic;
        int max = VirtMemoryMap.MaxCpus(gic);
        if (config.Cpus < 1 || config.Cpus > max)
        {
            throw new ConfigurationException(
                $"--smp {config.Cpus} is out of range: GIC{gic.ToString().ToLowerInvariant()} takes 1 to {max} vCPUs");
        }

        if (config.MemorySize < MinMemorySize || config.MemorySize > VirtMemoryMap.RamMaxSize || config.MemorySize % 4096 != 0)
        {
            throw new ConfigurationException(
                $"--memory {SizeText.Of(config.MemorySize)} is out of range: arm64 virt takes 2 MiB to 255 GiB in whole 4 KiB pages");
        }
    }

    /// <summary>
    /// The CPU models <c>--cpu</c> offers: the backend's, or only the default one without a backend
    /// (creating fails as "not available" then anyway).
    /// </summary>
    public IReadOnlyList<Arm64CpuModelInfo> CpuModels =>
        _backend?.CpuModels ?? [new Arm64CpuModelInfo(Arm64CpuModelInfo.DefaultName, "the default CPU model")];

    /// <summary>The model <paramref name="spec"/> (<c>NAME[,KEY=VALUE...]</c>, case-insensitive) names.</summary>
    /// <exception cref="ConfigurationException">no such model, or an option it does not take.</exception>
    public Arm64CpuModelInfo CpuModel(string spec)
    {
        string name = spec.Split(',')[0].Trim();
        return CpuModels.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ConfigurationException(
                $"unknown --cpu '{name}' (expected {string.Join(" or ", CpuModels.Select(m => m.Name))}; --cpu help lists them)");
    }

    /// <summary>
    /// <paramref name="spec"/> checked and spelled as the backend takes it: the model's own name, then each
    /// option (lower case) after a comma; each option must be one of the model's <see cref="Arm64CpuModelInfo.Options"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">no such model, or an option it does not take.</exception>
    public string CpuSpec(string spec)
    {
        var model = CpuModel(spec);
        var parts = new List<string> { model.Name };
        foreach (string part in spec.Split(',').Skip(1))
        {
            string option = part.Trim().ToLowerInvariant();
            string[] kv = option.Split('=');
            string[] allowed = model.Options is { } o ? o.Split(':')[0].Trim().Split('=') : [];
            if (kv.Length != 2 || allowed.Length != 2 || kv[0] != allowed[0] || !allowed[1].Split('|').Contains(kv[1]))
            {
                throw new ConfigurationException(model.Options is null
                    ? $"--cpu {model.Name} takes no options ('{part.Trim()}')"
                    : $"unknown --cpu option '{part.Trim()}' for {model.Name} (expected {model.Options.Split(':')[0].Trim()})");
            }

            parts.Add(option);
        }

        return string.Join(",", parts);
    }

    /// <inheritdoc />
    public IPreparedMachine PrepareRestore(MachineConfig config)
    {
        Validate(config);
        CpuSpec(config.OptionsOf<Arm64VirtOptions>().Cpu);
        return new PreparedArm64Virt(config, null, [], null, null, _backend);
    }

    /// <inheritdoc />
    public IPreparedMachine Prepare(MachineConfig config)
    {
        Validate(config);
        CpuSpec(config.OptionsOf<Arm64VirtOptions>().Cpu);
        if (config.Kernel is null)
        {
            throw new ConfigurationException("no kernel given (--kernel FILE)");
        }

        var kernel = KernelImage.Load(config.Kernel, ElfImage.MachineAArch64);
        byte[] initrd = config.Initrd is null ? [] : InputFiles.ReadAll(config.Initrd, "initrd");
        foreach (var disk in config.Disks)
        {
            InputFiles.Check(disk.Path, "disk image");
        }

        int virtio = config.Disks.Count + (config.VirtioConsole ? 1 : 0);
        bool virtioPci = config.OptionsOf<Arm64VirtOptions>().VirtioPci;
        if (virtioPci && virtio > Arm64VirtMachine.VirtioPciSlots)
        {
            throw new ConfigurationException($"{virtio} virtio devices; the arm64 virt PCIe root bus has {Arm64VirtMachine.VirtioPciSlots} free slots");
        }

        if (!virtioPci && virtio > VirtMemoryMap.VirtioMmioCount)
        {
            throw new ConfigurationException($"{virtio} virtio devices; arm64 virt has {VirtMemoryMap.VirtioMmioCount} virtio-mmio transports");
        }

        var plan = Arm64BootPlanner.Plan(VirtMemoryMap.RamBase, config.MemorySize, kernel, config.Initrd is null ? null : (ulong)initrd.Length);
        var mpidrs = new ulong[config.Cpus];
        for (int i = 0; i < mpidrs.Length; i++)
        {
            mpidrs[i] = _backend?.GetMpidr(i) ?? KvmMpidr.FromVcpuId(i);
        }

        byte[] dtb = VirtDeviceTree.Build(new VirtDeviceTreeOptions
        {
            CpuMpidrs = mpidrs,
            MemorySize = config.MemorySize,
            Gic = config.OptionsOf<Arm64VirtOptions>().Gic,
            VirtioTransports = virtioPci ? 0 : virtio,
            BootArgs = config.Append,
            Initrd = plan.InitrdStart is ulong start ? (start, start + plan.InitrdSize) : null,
            Pmu = _backend?.HasPmu ?? false,
        });
        Arm64BootPlanner.CheckDeviceTreeFits(plan, dtb.Length);
        return new PreparedArm64Virt(config, kernel, initrd, plan, dtb, _backend);
    }
}
