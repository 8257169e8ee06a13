using BenchmarkDotNet.Attributes;
using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.Benchmarks.X86;

/// <summary>
/// The host side of one x86 exit of each kind (issue #19), the counterpart of <c>Arm64.ExitPathBenchmarks</c>:
/// one vCPU with the in-kernel irqchip, in 64-bit mode with paging (2 MiB pages over 4 GiB), on the calling
/// thread, runs a loop of <see cref="Rounds"/> exits of one kind as a translated block (the interpreter where
/// the block leaves) and ends with an OUT to port 0xF4. Each benchmark is one exit with the loop's two
/// instructions. The VMM rows return to the caller and are completed by the next Run, as a VMM does; the
/// guest-visible round trips against QEMU are `bench/compare/compare-qemu.sh exits x86`.
/// `dotnet run -c Release --project bench/SoftKvm.Benchmarks -- --filter '*X86ExitPath*'`.
/// </summary>
[MemoryDiagnoser]
public class X86ExitPathBenchmarks
{
    private const int Rounds = 4096;
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x10000;
    private const ulong Tss = 0x7000;
    private const ulong CodeBase = 0x100000;
    private const ulong Stack = 0x80000;
    private const ulong IoapicData = 0xFEC0_0010;  // IOWIN, register 0 selected
    private const ulong ApicEoi = 0xFEE0_00B0;     // nothing in service: the write changes nothing
    private const ulong VmmAddress = 0xD000_0000;  // no device: every read exits to the caller
    private const byte VmmPort = 0x80, EndPort = 0xF4;

    private X86Vm _vm = null!;
    private X86Vcpu _vcpu = null!;
    private X86Registers _start;
    private readonly byte[] _outVmm = Loop(a => a.@out(VmmPort, al));
    private readonly byte[] _inKernel = Loop(a => a.@in(al, 0x21));
    private readonly byte[] _load = Loop(a => a.mov(eax, __dword_ptr[rbx]));
    private readonly byte[] _store = Loop(a => a.mov(__dword_ptr[rbx], eax));

    [GlobalSetup]
    public void Setup()
    {
        _vm = new X86Vm();
        _vm.CreateIrqchip();
        _vm.SetMemoryRegion(0, 0, 16 << 20);
        _vcpu = (X86Vcpu)_vm.CreateVcpu(0);
        _vm.Memory.Write(Pml4, Pdpt | 7);
        for (ulong i = 0; i < 4; i++)
        {
            _vm.Memory.Write(Pdpt + i * 8, (Pd + i * 0x1000) | 7);
            for (ulong j = 0; j < 512; j++)
            {
                _vm.Memory.Write(Pd + i * 0x1000 + j * 8, ((i << 30) + (j << 21)) | 0x87);
            }
        }

        var r = _vcpu.GetRegisters();
        r.Cr3 = Pml4;
        r.Cr4 = 0x20;
        r.Efer = 0xD01;
        r.Cr0 = 0x80010011;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x08, 0x00AF9B000000FFFF);
        foreach (int s in new[] { SegmentIndex.Ds, SegmentIndex.Es, SegmentIndex.Ss, SegmentIndex.Fs, SegmentIndex.Gs })
        {
            r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
        }

        r.Tr = SegmentRegister.FromDescriptor(0x40, 0x67 | ((Tss & 0xFFFFFF) << 16) | (0x8BUL << 40));
        r.Gpr[Gpr.Rsp] = Stack;
        r.Rflags = 2;
        _start = r;
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    /// <summary>OUT to a port no in-kernel device has: an IO exit to the caller each round.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void OutVmm() => RunLoop(_outVmm, 0);

    /// <summary>IN from the master PIC's mask register: completed in the run by the fast path.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void InKernelIn() => RunLoop(_inKernel, 0);

    /// <summary>A read of the IOAPIC's IOWIN: completed in the run by the fast path.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void IoapicRead() => RunLoop(_load, IoapicData);

    /// <summary>A local APIC EOI write with nothing in service.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void ApicEoiWrite() => RunLoop(_store, ApicEoi);

    /// <summary>A read no in-kernel device takes: a KVM_EXIT_MMIO to the caller, completed by the next Run.</summary>
    [Benchmark(OperationsPerInvoke = Rounds)]
    public void VmmMmioRead() => RunLoop(_load, VmmAddress);

    /// <summary>The loop around one exiting instruction: <c>exit; dec ecx; jnz; out 0xF4, al</c>.</summary>
    private static byte[] Loop(Action<Assembler> exit)
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.Label(ref loop);
        exit(a);
        a.dec(ecx);
        a.jnz(loop);
        a.@out(EndPort, al);
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), CodeBase);
        return code.ToArray();
    }

    private void RunLoop(byte[] code, ulong rbx)
    {
        _vm.Memory.Write(CodeBase, code);

        var r = _start;
        r.Rip = CodeBase;
        r.Gpr[Gpr.Rbx] = rbx;
        r.Gpr[Gpr.Rcx] = Rounds;
        _vcpu.SetRegisters(r);
        ref var run = ref _vcpu.RunState;
        while (true)
        {
            if (_vcpu.Run() != RunResult.Ok || run.ExitReason is not (ExitReason.Io or ExitReason.Mmio))
            {
                throw new InvalidOperationException($"unexpected exit {run.ExitReason}");
            }

            if (run.ExitReason == ExitReason.Io && run.Io.Port == EndPort)
            {
                // Complete the marker OUT, so that the next invocation starts with nothing pending.
                run.ImmediateExit = true;
                _vcpu.Run();
                run.ImmediateExit = false;
                return;
            }

            if (run.ExitReason == ExitReason.Mmio)
            {
                run.Mmio.SetValue(0x30); // the VMM's answer
            }
        }
    }
}
