using BenchmarkDotNet.Attributes;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Benchmarks.Arm64;

/// <summary>
/// The host side of one arm64 exit of each kind (issue #19), without a VMM's threads or a guest's timing:
/// one vCPU on the calling thread runs a loop of <see cref="Rounds"/> exits of one kind and ends with a
/// store to an unbacked marker address (a KVM_EXIT_MMIO). Each benchmark is one exit, the guest's loop
/// instructions included (three or four instructions, a few nanoseconds). The guest-visible round trips,
/// against QEMU, are `bench/compare/compare-qemu.sh exits`.
/// </summary>
[MemoryDiagnoser]
public class ExitPathBenchmarks
{
    private const int Rounds = 4096;
    private const ulong RamBase = 0x4000_0000;
    private const ulong CodeBase = 0x4000_1000;
    private const ulong DeviceBase = 0x0900_0000; // an in-kernel register (InKernelMmioRead)
    private const ulong VmmBase = 0x0910_0000;    // no device: every read exits to the caller (VmmMmioRead)
    private const ulong MarkerBase = 0x0A00_0000;
    private const uint PsciVersion = 0x8400_0000;

    private const uint SubsX7 = 0xf10004e7u;   // subs x7, x7, #1
    private const uint BneBack2 = 0x54ffffc1u; // b.ne .-8
    private const uint BneBack3 = 0x54ffffa1u; // b.ne .-12
    private const uint StrMarker = 0xf9000067u; // str x7, [x3]

    private Arm64Vm _vm = null!;
    private Arm64Vcpu _vcpu = null!;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new Arm64Vm();
        _vm.SetMemoryRegion(0, new GuestPhysAddr(RamBase), 16 << 20);
        _vcpu = (Arm64Vcpu)_vm.CreateVcpu(0);
        var gic = new VgicDevice(_vm, GicModel.V3, 1);
        gic.SetAddress(VgicAddressType.V3Distributor, 0x0800_0000);
        gic.SetAddress(VgicAddressType.V3RedistributorRegion, (1UL << 52) | 0x080A_0000);
        _vm.InterruptController = gic;
        _vcpu.Init(new Arm64VcpuInit());
        gic.Init();
        _vm.MmioBus.Register(DeviceBase, 0x1000, new Register());
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    /// <summary>HVC #0 with PSCI_VERSION: orr x0,xzr,x4; hvc #0; subs; b.ne.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void Hvc() => RunLoop([0xaa0403e0u, 0xd4000002u, SubsX7, BneBack3, StrMarker]);

    /// <summary>An MMIO read an in-kernel device answers: ldr w1,[x0]; subs; b.ne.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void InKernelMmioRead() => RunLoop([0xb9400001u, SubsX7, BneBack2, StrMarker], DeviceBase);

    /// <summary>An MMIO read of the GICv3 distributor (GICD_TYPER).</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void GicDistributorRead() => RunLoop([0xb9400001u, SubsX7, BneBack2, StrMarker], 0x0800_0004);

    /// <summary>A GICv3 CPU-interface write (MSR ICC_PMR_EL1), which the VGIC takes under its lock.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void IccPmrWrite() => RunLoop([0xd5184601u, SubsX7, BneBack2, StrMarker]);

    /// <summary>A GICv3 CPU-interface read (MRS ICC_IAR1_EL1 with nothing pending: the spurious INTID 1023), under the VGIC's lock.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void IccIar1Read() => RunLoop([0xd538cc01u, SubsX7, BneBack2, StrMarker]);

    /// <summary>An MMIO read no in-kernel device takes: each one a KVM_EXIT_MMIO returned here and completed by the next Run.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void VmmMmioRead() => RunLoop([0xb9400001u, SubsX7, BneBack2, StrMarker], VmmBase);

    private void RunLoop(uint[] code, ulong x0 = 0)
    {
        for (int i = 0; i < code.Length; i++)
        {
            _vm.Memory.Write(new GuestPhysAddr(CodeBase + (ulong)(4 * i)), code[i]);
        }

        _vcpu.SetRegister(Arm64CoreRegister.Pc, CodeBase);
        SetX(0, x0);
        SetX(1, 0xF0);
        SetX(3, MarkerBase);
        SetX(4, PsciVersion);
        SetX(7, Rounds);
        while (true)
        {
            if (_vcpu.Run() != RunResult.Ok || _vcpu.RunState.ExitReason != ExitReason.Mmio)
            {
                throw new InvalidOperationException($"unexpected exit {_vcpu.RunState.ExitReason}");
            }

            if (_vcpu.RunState.Mmio.PhysAddr == MarkerBase)
            {
                // Complete the marker store, so that the next invocation starts with nothing pending.
                _vcpu.RunState.ImmediateExit = true;
                _vcpu.Run();
                _vcpu.RunState.ImmediateExit = false;
                return;
            }

            _vcpu.RunState.Mmio.SetValue(0x30); // the VMM's answer
        }
    }

    private void SetX(int n, ulong value) => _vcpu.SetRegister(Arm64CoreRegister.X0 + n, value);

    private sealed class Register : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Fill(0x5A);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}
