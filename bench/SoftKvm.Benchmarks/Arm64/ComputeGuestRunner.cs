using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// Runs guests/arm64/compute.elf in-process on one vCPU of an <see cref="Arm64Vm"/>: RAM slot at
/// 0x4000_0000, the ELF's PT_LOAD segments copied in, PL011 MMIO exits answered here, stop at the
/// first SystemEvent. Returns the guest output, the instructions retired and the wall time.
/// </summary>
public static class ComputeGuestRunner
{
    private const ulong RamBase = 0x4000_0000;
    private const ulong RamSize = 128UL << 20;
    private const ulong Pl011Base = 0x0900_0000;

    /// <summary>Elapsed is wall time; CpuTime is the running thread's CPU time (robust on a loaded machine).</summary>
    public readonly record struct Result(string Output, long Instructions, TimeSpan Elapsed, TimeSpan CpuTime)
    {
        public double Mips => Instructions / Math.Max(Elapsed.TotalSeconds, 1e-9) / 1e6;

        public double CpuMips => Instructions / Math.Max(CpuTime.TotalSeconds, 1e-9) / 1e6;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID); zero elsewhere.</summary>
    internal static TimeSpan ThreadCpuTime()
    {
        if (!OperatingSystem.IsLinux() || ClockGetTime(3, out var t) != 0)
        {
            return TimeSpan.Zero;
        }

        return TimeSpan.FromTicks((t.Seconds * TimeSpan.TicksPerSecond) + (t.Nanoseconds / 100));
    }

    public static string FindGuest(string name = "compute.elf")
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "guests", "arm64", name)))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            dir = new DirectoryInfo(Directory.GetCurrentDirectory());
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "guests", "arm64", name)))
            {
                dir = dir.Parent;
            }
        }

        return dir is null
            ? throw new FileNotFoundException($"guests/arm64/{name} not found above {AppContext.BaseDirectory}")
            : Path.Combine(dir.FullName, "guests", "arm64", name);
    }

    public static Result Run(byte[] elf)
    {
        using var vm = new Arm64Vm();
        vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), RamSize);
        ulong entry = LoadElf(vm, elf);
        var vcpu = (Arm64Vcpu)vm.CreateVcpu(0);
        vcpu.Init(new Arm64VcpuInit());
        vcpu.SetRegister(Arm64CoreRegister.Pc, entry);
        var output = new StringBuilder();
        var cpu0 = ThreadCpuTime();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var r = vcpu.Run();
            ref RunState run = ref vcpu.RunState;
            if (r == RunResult.Interrupted)
            {
                continue;
            }

            if (r != RunResult.Ok)
            {
                throw new InvalidOperationException($"Run returned {r}");
            }

            if (run.ExitReason == ExitReason.Mmio)
            {
                HandleMmio(ref run.Mmio, output);
            }
            else if (run.ExitReason == ExitReason.SystemEvent)
            {
                break;
            }
            else
            {
                throw new InvalidOperationException($"unexpected exit {run.ExitReason} at pc 0x{vcpu.GetRegister(Arm64CoreRegister.Pc):x}");
            }
        }

        sw.Stop();
        var cpu = ThreadCpuTime() - cpu0;
        return new Result(output.ToString(), vcpu.InstructionsRetired, sw.Elapsed, cpu);
    }

    internal static ulong LoadElf(Arm64Vm vm, byte[] elf)
    {
        if (elf.Length < 64 || BinaryPrimitives.ReadUInt32LittleEndian(elf) != 0x464C457F || elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("not an ELF64 little-endian image");
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

    private static void HandleMmio(ref MmioExit mmio, StringBuilder output)
    {
        ulong offset = mmio.PhysAddr - Pl011Base;
        bool pl011 = mmio.PhysAddr >= Pl011Base && offset < 0x1000;
        if (mmio.IsWrite)
        {
            if (pl011 && offset == 0)
            {
                output.Append((char)mmio.Data[0]);
            }

            return;
        }

        ulong value = 0;
        if (pl011 && offset >= 0xFE0)
        {
            // PrimeCell/PL011 identification registers, one byte per 32-bit register.
            ReadOnlySpan<byte> id = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
            for (int i = 0; i < mmio.Length; i++)
            {
                ulong b = offset + (ulong)i;
                if (b < 0x1000 && (b & 3) == 0)
                {
                    value |= (ulong)id[(int)((b - 0xFE0) / 4)] << (8 * i);
                }
            }
        }

        mmio.SetValue(value);
    }
}
