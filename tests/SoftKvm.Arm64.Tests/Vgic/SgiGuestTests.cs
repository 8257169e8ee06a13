using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// End to end: the committed guests <c>guests/arm64/sgi/sgi.elf</c> (vCPU 0 starts the others with PSCI
/// CPU_ON, pings each with a targeted SGI, then broadcasts) and <c>demo/demo.elf</c> on real <see cref="Arm64Vm"/> vCPUs, one
/// thread each, with the VGIC at QEMU virt's addresses. The UART is handled here as a VMM would.
/// </summary>
public class SgiGuestTests
{
    private const ulong RamBase = 0x4000_0000;
    private const ulong RamSize = 0x0400_0000;
    private const ulong UartBase = 0x0900_0000;

    [Theory]
    [InlineData(GicModel.V3, 4)]
    [InlineData(GicModel.V3, 64)]
    [InlineData(GicModel.V3, 512)]
    [InlineData(GicModel.V2, 8)]
    public void SgiGuestPasses(GicModel model, int vcpus)
    {
        string output = RunGuest("sgi", model, vcpus);
        Assert.Contains($"GIC{(model == GicModel.V2 ? "v2" : "v3")}: {vcpus} vCPUs online", output);
        Assert.Contains("PASS", output);
        Assert.DoesNotContain("FAIL", output);
    }

    [Fact]
    public void DemoGuestExchangesSgisWithFourVcpus()
    {
        string output = RunGuest("demo", GicModel.V3, 4);
        for (int i = 1; i < 4; i++)
        {
            Assert.Contains($"vCPU 0 got SGI 2 back from vCPU {i}", output);
        }

        Assert.Contains("broadcast SGI 3 reached all 3 other vCPUs", output);
        Assert.Contains("all secondaries are off; powering off", output);
    }

    [Fact]
    public void ExitBenchmarkGuestPasses_AndEveryFastPathExitCountsAsKvmCountsIt()
    {
        // guests/arm64/exits: 16,384 + 65,536 round trips per row. HVCs, in-kernel MMIO reads and WFIs
        // are completed inside the CPU model's run call (Arm64Vcpu.FastPath.cs); each still counts once.
        const ulong RoundTrips = 16_384 + 65_536;
        ulong exits = 0, hvc = 0, kernel = 0, user = 0, wfi = 0;
        Dictionary<string, long> counters = [];
        long nativeEois = 0;
        string output = RunGuest("exits", GicModel.V3, 2, vm =>
        {
            nativeEois = ((VgicDevice)vm.InterruptController!).NativeEoisApplied;
            var v = vm.Vcpus[0];
            (exits, hvc, kernel, user) = (v.Stats["exits"], v.Stats["hvc_exit_stat"], v.Stats["mmio_exit_kernel"], v.Stats["mmio_exit_user"]);
            wfi = vm.Vcpus[1].Stats["wfi_exit_stat"];
            counters = v.CpuModelCounters().ToDictionary(c => c.Key, c => c.Value);
        });
        Assert.Contains("PASS", output);
        Assert.DoesNotContain("FAIL", output);
        foreach (string row in new[] { "hvc", "mmio-vmm", "mmio-gicd", "gicd-state", "eoi", "ipi" })
        {
            Assert.Matches($@"(?m)^  {row} .* [0-9]+\.[0-9] ns\r?$", output);
        }

        Assert.Equal(RoundTrips + 2, hvc);                 // PSCI_VERSION, CPU_ON and SYSTEM_OFF
        Assert.InRange(kernel, 2 * RoundTrips, (2 * RoundTrips) + 64); // GICD_TYPER and GICD_ISENABLER1, plus the GIC set-up
        Assert.InRange(user, RoundTrips, RoundTrips + 4096); // UARTFR, plus the UART's output
        Assert.True(exits >= hvc + kernel + user, $"exits {exits} < hvc {hvc} + kernel {kernel} + user {user}");
        Assert.True(wfi > 0, "vCPU 1 never waited in WFI");
        if (Cpu.Arm64Cpu.NativeSupported && Cpu.Arm64Cpu.DefaultTranslation)
        {
            // Native code ran the rows' exits through the exit helpers (Arm64Cpu.ExitHelpers.cs), not the interpreter, or
            // completed them itself: the GICD_TYPER reads from the distributor's fixed words (Arm64Cpu.DeviceReads.cs), the
            // PSCI_VERSION calls, the UARTFR reads and the EOIs through the helpers (nearly all: the interpreter runs where a
            // budget ends inside a block and while an interrupt is pending).
            const long Most = (long)RoundTrips * 9 / 10;
            long gicd = counters["native_device_reads"];
            Assert.True(gicd >= Most, $"GICD reads completed in native code {gicd}");
            Assert.True(counters["native_access_helper_calls"] + gicd >= 2 * Most, $"access helper {counters["native_access_helper_calls"]}");
            Assert.True(counters["native_hypercall_helper_calls"] >= Most, $"hypercall helper {counters["native_hypercall_helper_calls"]}");
            Assert.True(counters["native_controller_helper_calls"] >= Most, $"controller helper {counters["native_controller_helper_calls"]}");
            Assert.True(nativeEois >= Most, $"EOIs completed in native code {nativeEois}"); // the EOI row's (Vgic.NativeEoi.cs)
        }
    }

    private static string RunGuest(string guest, GicModel model, int count, Action<Arm64Vm>? inspect = null)
    {
        using var vm = new Arm64Vm();
        vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), RamSize);
        ulong entry = LoadElf(vm, File.ReadAllBytes(GuestPath(guest)));

        var gic = new VgicDevice(vm, model, count);
        if (model == GicModel.V2)
        {
            gic.SetAddress(VgicAddressType.V2Distributor, Gic.V2Dist);
            gic.SetAddress(VgicAddressType.V2CpuInterface, Gic.V2Cpu);
        }
        else
        {
            gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
            gic.SetAddress(VgicAddressType.V3RedistributorRegion, (123UL << 52) | Gic.V3Redist | 0);
            gic.SetAddress(VgicAddressType.V3RedistributorRegion, (389UL << 52) | Gic.V3HighRedist | 1);
        }

        vm.InterruptController = gic;
        for (int i = 0; i < count; i++)
        {
            var vcpu = vm.CreateVcpu(i);
            vcpu.Init(new Arm64VcpuInit { PowerOff = i != 0 });
            if (i == 0)
            {
                vcpu.SetRegister(Arm64CoreRegister.Pc, entry);
            }
        }

        gic.Init();
        var uart = new StringBuilder();
        int stop = 0;
        string? failure = null;
        var threads = vm.Vcpus.Select(v => new Thread(() =>
        {
            try
            {
                RunVcpu((Arm64Vcpu)v, uart, ref stop);
            }
            catch (Exception e)
            {
                failure ??= $"vCPU {v.Id}: {e.GetType().Name}: {e.Message}";
            }

            if (Interlocked.Exchange(ref stop, 1) == 0)
            {
                vm.KickAll();
            }
        }) { IsBackground = true, Name = $"vcpu{v.Id}" }).ToList();
        threads.ForEach(t => t.Start());
        bool finished = threads.All(t => t.Join(TimeSpan.FromSeconds(120)));
        if (!finished)
        {
            Volatile.Write(ref stop, 1);
            vm.KickAll();
        }

        if (finished)
        {
            inspect?.Invoke(vm);
        }

        lock (uart)
        {
            string text = uart.ToString();
            Assert.True(finished, "the guest did not finish: " + text);
            Assert.True(failure is null, failure + "\n" + text);
            return text;
        }
    }

    private static void RunVcpu(Arm64Vcpu vcpu, StringBuilder uart, ref int stop)
    {
        while (Volatile.Read(ref stop) == 0)
        {
            var result = vcpu.Run();
            ref var run = ref vcpu.RunState;
            if (result == RunResult.Interrupted)
            {
                continue;
            }

            Assert.Equal(RunResult.Ok, result);
            switch (run.ExitReason)
            {
                case ExitReason.Mmio:
                    if (run.Mmio.IsWrite && run.Mmio.PhysAddr == UartBase)
                    {
                        lock (uart)
                        {
                            uart.Append((char)(run.Mmio.Value & 0xff));
                        }
                    }
                    else if (!run.Mmio.IsWrite)
                    {
                        run.Mmio.SetValue(0);                 // UARTFR: never full
                    }

                    break;
                case ExitReason.SystemEvent:
                    return;
                case ExitReason.Intr:
                    break;
                default:
                    throw new InvalidOperationException($"unexpected exit {run.ExitReason}");
            }
        }
    }

    private static ulong LoadElf(Vm vm, byte[] elf)
    {
        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x18));
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x20));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x36));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x38));
        for (int i = 0; i < phnum; i++)
        {
            var ph = elf.AsSpan((int)phoff + i * phentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue; // PT_LOAD only
            }

            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[0x08..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[0x18..]);
            ulong fileSize = BinaryPrimitives.ReadUInt64LittleEndian(ph[0x20..]);
            vm.Memory.Write(new GuestPhysAddr(paddr), elf.AsSpan((int)offset, (int)fileSize));
        }

        return entry;
    }

    private static string GuestPath(string guest, [CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "guests", "arm64", guest, guest + ".elf");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"guests/arm64/{guest}/{guest}.elf not found above " + source);
    }
}
