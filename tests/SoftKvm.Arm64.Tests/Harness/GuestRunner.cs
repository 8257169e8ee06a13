using System.Buffers.Binary;
using System.Text;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Tests.Harness;

/// <summary>
/// Runs a guest ELF from guests/arm64 the way QEMU's virt machine would (RAM at 0x4000_0000, PL011 at
/// 0x0900_0000, PSCI over HVC), with one host thread per vCPU. The PL011 is a user-space device: its
/// data-register writes arrive as MMIO exits and are captured; its identification registers answer
/// reads. The run ends at the first SystemEvent exit.
/// </summary>
internal static class GuestRunner
{
    public const ulong RamBase = 0x4000_0000;
    public const ulong RamSize = 128UL << 20;
    public const ulong Pl011Base = 0x0900_0000;

    private static readonly byte[] Pl011Id = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

    public sealed record Result(string Output, SystemEventType Event, IReadOnlyDictionary<string, ulong> Stats, long Instructions, TimeSpan Elapsed);

    public static string GuestsDirectory => FindGuests();

    private static string FindGuests([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        {
            // The test binaries may live in any artifacts folder: start from this source file, then the binaries.
            var dir = File.Exists(source) ? new DirectoryInfo(Path.GetDirectoryName(source)!) : new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "guests", "arm64")))
            {
                dir = dir.Parent;
            }

            return dir is null
                ? throw new DirectoryNotFoundException("guests/arm64 not found above the test directory")
                : Path.Combine(dir.FullName, "guests", "arm64");
        }
    }

    /// <summary>Loads the PT_LOAD segments of an ELF64 little-endian AArch64 image; returns the entry point.</summary>
    public static ulong LoadElf(Arm64Vm vm, byte[] elf)
    {
        if (elf.Length < 64 || BinaryPrimitives.ReadUInt32LittleEndian(elf) != 0x464C457F || elf[4] != 2 || elf[5] != 1
            || BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(18)) != 183)
        {
            throw new InvalidDataException("not an ELF64 little-endian AArch64 image");
        }

        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(24));
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(32));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(54));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));
        for (int i = 0; i < phnum; i++)
        {
            var ph = elf.AsSpan((int)phoff + (i * phentsize));
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue;
            }

            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            ulong memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
            vm.Memory.Write(new GuestPhysAddr(paddr), elf.AsSpan((int)offset, (int)filesz));
            if (memsz > filesz)
            {
                vm.Memory.Write(new GuestPhysAddr(paddr + filesz), new byte[memsz - filesz]);
            }
        }

        return entry;
    }

    /// <summary>
    /// Runs guests/arm64/<paramref name="elfName"/> to its power-off, on <paramref name="model"/> (default
    /// cortex-a57), with the engine <paramref name="translate"/> chooses (native or the interpreter; default the vCPU's).
    /// </summary>
    public static Result Run(string elfName, int vcpus = 1, int timeoutMs = 120_000, bool gicV3 = false, CpuModel? model = null, bool? translate = null)
    {
        using var vm = new Arm64Vm();
        if (model is not null)
        {
            vm.CpuModel = model;
        }

        vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), RamSize);
        SoftKvm.Arm64.Vgic.Vgic? gic = null;
        if (gicV3)
        {
            // QEMU virt's GICv3: distributor at 0x0800_0000, redistributors from 0x080A_0000.
            gic = new SoftKvm.Arm64.Vgic.Vgic(vm, SoftKvm.Arm64.Vgic.GicModel.V3, vcpus);
            gic.SetDistributorBase(0x0800_0000);
            gic.AddRedistributorRegion(0, 0x080A_0000, vcpus);
            vm.InterruptController = gic;
        }

        ulong entry = LoadElf(vm, File.ReadAllBytes(Path.Combine(GuestsDirectory, elfName)));
        for (int i = 0; i < vcpus; i++)
        {
            var v = vm.CreateVcpu(i);
            if (translate is { } t)
            {
                v.Cpu.TranslationEnabled = t;
            }

            v.Init(new Arm64VcpuInit { PowerOff = i != 0 });
            if (i == 0)
            {
                v.SetRegister(Arm64CoreRegister.Pc, entry);
            }
        }

        gic?.Init();
        var output = new StringBuilder();
        var errors = new List<string>();
        SystemEventType evt = 0;
        int stopped = 0;
        var start = System.Diagnostics.Stopwatch.StartNew();
        var threads = vm.Vcpus.Select(vcpu => new Thread(() =>
        {
            var v = (Arm64Vcpu)vcpu;
            try
            {
                while (Volatile.Read(ref stopped) == 0)
                {
                    var r = v.Run();
                    ref RunState run = ref v.RunState;
                    if (r == RunResult.Interrupted)
                    {
                        continue;
                    }

                    if (r != RunResult.Ok)
                    {
                        throw new InvalidOperationException($"vCPU {v.Id}: Run returned {r} at pc 0x{v.GetRegister(Arm64CoreRegister.Pc):x}");
                    }

                    switch (run.ExitReason)
                    {
                        case ExitReason.Mmio:
                            HandleMmio(ref run.Mmio, output);
                            break;
                        case ExitReason.SystemEvent:
                            evt = run.SystemEvent.Type;
                            Volatile.Write(ref stopped, 1);
                            vm.KickAll();
                            return;
                        default:
                            throw new InvalidOperationException($"vCPU {v.Id}: unexpected exit {run.ExitReason} at pc 0x{v.GetRegister(Arm64CoreRegister.Pc):x}");
                    }
                }
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e.Message);
                }

                Volatile.Write(ref stopped, 1);
                vm.KickAll();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        if (!threads[0].Join(timeoutMs))
        {
            Volatile.Write(ref stopped, 1);
            vm.KickAll();
            errors.Add("timeout");
        }

        threads.ForEach(t => t.Join());
        start.Stop();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"{elfName}: {string.Join("; ", errors)}; output so far:\n{output}");
        }

        var stats = vm.GetStatistics().ToDictionary(s => s.Descriptor.Name, s => s.Value);
        long instructions = vm.Vcpus.Sum(v => ((Arm64Vcpu)v).InstructionsRetired);
        return new Result(output.ToString(), evt, stats, instructions, start.Elapsed);
    }

    private static void HandleMmio(ref MmioExit mmio, StringBuilder output)
    {
        ulong offset = mmio.PhysAddr - Pl011Base;
        bool pl011 = mmio.PhysAddr >= Pl011Base && offset < 0x1000;
        if (mmio.IsWrite)
        {
            if (pl011 && offset == 0)
            {
                lock (output)
                {
                    output.Append((char)mmio.Data[0]);
                }
            }

            return;
        }

        ulong value = 0;
        if (pl011)
        {
            // 32-bit registers: a narrower read takes the low bytes of its register, a wider one spans two.
            for (int i = 0; i < mmio.Length; i++)
            {
                ulong byteOffset = offset + (ulong)i;
                byte b = 0;
                if (byteOffset >= 0xFE0 && byteOffset < 0x1000 && (byteOffset & 3) == 0)
                {
                    b = Pl011Id[(byteOffset - 0xFE0) / 4];
                }

                value |= (ulong)b << (8 * i);
            }
        }

        mmio.SetValue(value);
    }
}
