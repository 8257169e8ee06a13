using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// Every test of <see cref="BlockDeviceAccessTests"/> again with native x86-64 blocks (X86Cpu.NativeExits.cs): a MOV to or
/// from a device page, IN and OUT call the exit helper from the block and the loop stays in its block; an access for the
/// VMM ends the run with its exit, offered once, a VMM read completed into the MOV's register. And what only the native
/// engine adds: WRMSR of x2APIC registers and VMCALL through the helper, a collection while vCPUs are in the helper.
/// </summary>
public sealed class NativeBlockDeviceAccessTests : BlockDeviceAccessTests
{
    private protected override bool NativeBlocks => true;

    /// <summary>The x2APIC program: SVR, 100 TPR writes in a loop, a write of the read-only ID (#GP through the WRMSR exit).</summary>
    private static (Dictionary<string, ulong> Stats, CountingFastExitHost Host, long BlockEntries) RunX2apicLoop(bool native)
    {
        using var m = new KvmMachine(irqchip: true);
        m.R.ApicBase |= 0xC00; // x2APIC mode
        FastPathTests.Translate(m, native);
        m.Vcpu.Cpu.Native = native;
        var host = new CountingFastExitHost(m.Vcpu);
        m.Vcpu.Cpu.FastExits = host;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 0x80F); // SVR: software enable
            a.mov(eax, 0x1FF);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(esi, 100);
            a.Label(ref loop);
            a.mov(ecx, 0x808); // TPR
            a.mov(eax, esi);
            a.and(eax, 0x0F);
            a.wrmsr();
            a.add(ebx, eax);
            a.dec(esi);
            a.jnz(loop);
            a.mov(ecx, 0x802); // ID: read-only, #GP
            a.wrmsr();
            a.@out(0x80, al);
        });
        m.SetSkip(13, 2);
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(13));
        Assert.Equal((ulong)Enumerable.Range(1, 100).Sum(k => k & 0xF), m.R.Gpr[Gpr.Rbx]);
        var stats = new Dictionary<string, ulong>();
        foreach (var name in new[] { "exits", "io_exits", "insn_emulation", "irq_injections", "irq_exits", "req_event", "irq_window_exits" })
        {
            stats[name] = m.Stat(name);
        }

        return (stats, host, m.Vcpu.Cpu.BlockEntries);
    }

    [Fact]
    public void X2apic_msr_writes_in_a_native_loop_complete_in_the_block_once_and_a_refused_one_raises_gp()
    {
        var (native, nativeHost, entries) = RunX2apicLoop(native: true);
        var (interpreted, interpretedHost, _) = RunX2apicLoop(native: false);
        Assert.Equal(102, nativeHost.MsrOffers);   // each WRMSR offered once, the refused one too
        Assert.Equal(101, nativeHost.MsrCompleted);
        Assert.Equal(interpretedHost.MsrOffers, nativeHost.MsrOffers);
        Assert.Equal(interpreted, native);          // every statistic as the interpreter's WRMSRs count them
        Assert.InRange(entries, 1, 4);              // the loop stays in its block
    }

    /// <summary>A loop of 50 VMCALLs of an unknown number (each answered -KVM_ENOSYS by the hypervisor and skipped).</summary>
    private static (Dictionary<string, ulong> Stats, ulong Sum, long BlockEntries) RunVmcallLoop(bool native)
    {
        using var m = new KvmMachine();
        FastPathTests.Translate(m, native);
        m.Vcpu.Cpu.Native = native;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(esi, 50);
            a.Label(ref loop);
            a.mov(eax, 0x7FFF);
            a.vmcall();
            a.add(rbx, rax);
            a.dec(esi);
            a.jnz(loop);
            a.hlt();
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        var stats = new Dictionary<string, ulong>();
        foreach (var name in new[] { "exits", "hypercalls", "insn_emulation" })
        {
            stats[name] = m.Stat(name);
        }

        return (stats, m.R.Gpr[Gpr.Rbx], m.Vcpu.Cpu.BlockEntries);
    }

    [Fact]
    public void Vmcall_in_a_native_block_exits_at_once_and_is_answered_once()
    {
        var (native, sum, entries) = RunVmcallLoop(native: true);
        var (interpreted, interpretedSum, _) = RunVmcallLoop(native: false);
        Assert.Equal(50UL, native["hypercalls"]);
        Assert.Equal(unchecked(50 * (ulong)-1000L), sum);
        Assert.Equal(interpretedSum, sum);
        Assert.Equal(interpreted, native);
        Assert.True(entries >= 50, $"{entries} block entries"); // the code after each VMCALL runs as a block again
    }

    /// <summary>Device loads and stores of every size in a loop: byte and word loads merge into their registers, a dword
    /// load zero-extends, immediates are sign-extended; the registers and the device's log, from native blocks or the interpreter.</summary>
    private static (ulong[] Gprs, List<(bool Write, ulong Offset, ulong Value)> Log) RunSizedMovLoop(bool native)
    {
        using var m = new KvmMachine(irqchip: true);
        var d = new LoggingDevice();
        m.Vm.MmioBus.Register(Device, 0x100, d);
        FastPathTests.Translate(m, native);
        m.Vcpu.Cpu.Native = native;
        m.Vcpu.Cpu.FastExits = m.Vcpu;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, Device);
            a.mov(ecx, 20);
            a.mov(rax, -1L);
            a.mov(rdx, -1L);
            a.mov(r9, -1L);
            a.mov(r10, 0x1122334455667788L);
            a.Label(ref loop);
            a.mov(al, __byte_ptr[rsi + 0x21]);
            a.mov(dx, __word_ptr[rsi + 0x22]);
            a.mov(r9d, __dword_ptr[rsi + 0x24]);
            a.mov(r8, __qword_ptr[rsi + 0x28]);
            a.mov(sil, sil); // (a register-only MOV between them)
            a.mov(__byte_ptr[rsi + 0x30], r10b);
            a.mov(__word_ptr[rsi + 0x32], r10w);
            a.mov(__qword_ptr[rsi + 0x38], r10);
            a.mov(__qword_ptr[rsi + 0x40], -2);
            a.mov(__word_ptr[rsi + 0x48], unchecked((short)0x8001));
            a.add(r11, r8);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        return (Enumerable.Range(0, 16).Select(g => m.R.Gpr[g]).ToArray(), d.Accesses);
    }

    [Fact]
    public void Device_movs_of_every_size_in_a_native_block_leave_the_registers_and_the_device_as_the_interpreter()
    {
        var (nativeGprs, nativeLog) = RunSizedMovLoop(native: true);
        var (interpretedGprs, interpretedLog) = RunSizedMovLoop(native: false);
        Assert.Equal(interpretedGprs, nativeGprs);
        Assert.Equal(interpretedLog, nativeLog);
        Assert.Equal(20 * 9, nativeLog.Count);
        Assert.Equal(0xFFFFFFFFFFFFFF21UL, nativeGprs[Gpr.Rax]); // (the byte merged)
        Assert.Equal(0xFFFFFFFFFFFF0122UL, nativeGprs[Gpr.Rdx]);
        Assert.Equal(0x124UL, nativeGprs[9]);                    // (the dword zero-extended)
        Assert.Contains((true, 0x40UL, 0xFFFFFFFFFFFFFFFEUL), nativeLog);
        Assert.Contains((true, 0x48UL, 0x8001UL), nativeLog);
    }

    /// <summary>100 RDTSC and RDTSCP in a loop: the sum of the TSC values read, whether they never went back, the block entries.</summary>
    private static (ulong Sum, ulong Monotonic, long BlockEntries) RunTscLoop(bool native, bool deterministic)
    {
        using var m = new KvmMachine();
        FastPathTests.Translate(m, native);
        m.Vcpu.Cpu.Native = native;
        m.Vcpu.Cpu.DeterministicTsc = deterministic;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var back = a.CreateLabel();
            a.mov(esi, 100);
            a.xor(r8d, r8d);
            a.xor(ebx, ebx);
            a.mov(r9d, 1);
            a.Label(ref loop);
            a.lfence();
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.add(rbx, rax);
            a.cmp(rax, r8);
            a.mov(r8, rax);
            a.jae(back);
            a.xor(r9d, r9d); // went back
            a.Label(ref back);
            a.rdtscp();
            a.add(rbx, rax);
            a.dec(esi);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        return (m.R.Gpr[Gpr.Rbx], m.R.Gpr[9], m.Vcpu.Cpu.BlockEntries);
    }

    [Fact]
    public void Rdtsc_in_a_native_loop_stays_in_the_block_and_a_deterministic_tsc_reads_as_the_interpreters()
    {
        var (_, monotonic, entries) = RunTscLoop(native: true, deterministic: false);
        Assert.Equal(1UL, monotonic);
        Assert.InRange(entries, 1, 3); // through the helper: the loop stays in its block
        var (deterministicSum, _, deterministicEntries) = RunTscLoop(native: true, deterministic: true);
        var (interpretedSum, _, _) = RunTscLoop(native: false, deterministic: true);
        Assert.Equal(interpretedSum, deterministicSum); // the retired count the block has not counted yet is not read
        Assert.True(deterministicEntries >= 100, $"{deterministicEntries} block entries");
    }

    [Fact]
    public void Device_accesses_through_the_helper_stay_exact_while_another_thread_collects()
    {
        // Blocks are entered with the GC transition, so a collection may run while a vCPU is inside one; the helper's
        // reverse transition then waits for it. Two vCPU threads loop over in-kernel device reads and stores (each a call
        // of the helper, managed code) and VMM exits while a third thread allocates and collects all the time.
        const int Iterations = 20_000;
        using var stop = new CancellationTokenSource();
        int collections = GC.CollectionCount(0);
        var collector = new Thread(() =>
        {
            var keep = new List<byte[]>();
            while (!stop.IsCancellationRequested)
            {
                keep.Add(new byte[1024]);
                if (keep.Count > 256)
                {
                    keep.Clear();
                    GC.Collect();
                }
            }
        });
        collector.Start();

        var results = new (ulong Sum, ulong Dx, long Entries, int VmmExits)[2];
        var vcpus = Enumerable.Range(0, 2).Select(n => new Thread(() =>
        {
            using var m = new KvmMachine(irqchip: true);
            IlBlocks(m);
            m.Load(a =>
            {
                var loop = a.CreateLabel();
                a.mov(rsi, 0xFEC00000UL); // the IOAPIC
                a.mov(rdi, Mmio);         // the VMM's
                a.mov(ecx, Iterations);
                a.mov(D[rsi], 1);         // IOREGSEL: the version
                a.Label(ref loop);
                a.mov(eax, D[rsi + 0x10]);
                a.add(rbx, rax);
                a.mov(D[rsi], 1);
                a.test(ecx, 0x3FF);
                var skip = a.CreateLabel();
                a.jnz(skip);
                a.mov(edx, D[rdi]);       // now and then the VMM: an exit and its completion
                a.Label(ref skip);
                a.dec(ecx);
                a.jnz(loop);
                a.@out(0x80, al);
            });
            m.R.Gpr[Gpr.Rbx] = 0;
            int vmm = 0;
            while (m.Vcpu.Run() == RunResult.Ok && m.Run.ExitReason == ExitReason.Mmio)
            {
                m.Run.Mmio.SetValue(0x5678);
                vmm++;
            }

            results[n] = (m.R.Gpr[Gpr.Rbx], m.R.Gpr[Gpr.Rdx], m.Vcpu.Cpu.BlockEntries, vmm);
        })).ToArray();
        foreach (var t in vcpus)
        {
            t.Start();
        }

        foreach (var t in vcpus)
        {
            t.Join();
        }

        stop.Cancel();
        collector.Join();
        Assert.True(GC.CollectionCount(0) > collections);
        foreach (var r in results)
        {
            Assert.Equal(Iterations / 1024, r.VmmExits);
            Assert.Equal(0x5678UL, r.Dx);
            Assert.Equal((ulong)Iterations * 0x170011, r.Sum); // the IOAPIC's version register: 0x11, 24 pins
            Assert.InRange(r.Entries, 1, 4 * (Iterations / 1024) + 8);
        }
    }
}
