using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Hooks;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// Embedder hooks on arm64 (docs/hooks.md): every instruction and block seen also where the code would
/// run translated, memory accesses filtered by range with their values, exceptions with their syndrome,
/// a kick from a hook stopping before the instruction, removal, and several vCPUs at once.
/// </summary>
public sealed class HookTests
{
    // 1: ldr x2,[x0],#8; eor x3,x3,x2,ror #7; add x4,x4,x2,lsl #1; tbz w2,#3,2f; sub x4,x4,#5
    // 2: str x4,[x5,x6,lsl #3]; and x6,x7,#7; csel x8,x3,x4,ne; subs x7,x7,#1; b.ne 1b; str x8,[x9]
    private static readonly uint[] s_loop =
    [
        0xf8408402u, 0xcac21c63u, 0x8b020484u, 0x36180042u, 0xd1001484u,
        0xf82678a4u, 0x924008e6u, 0x9a841068u, 0xf10004e7u, 0x54fffee1u, 0xf9000128u,
    ];

    private const ulong Input = RamBase + 0x10000;
    private const ulong Output = RamBase + 0x20000;
    private const int Iterations = 2000;

    private static Arm64Vcpu StartLoop(TestMachine m, Arm64Vcpu? vcpu = null, ulong output = Output)
    {
        vcpu ??= m.Vcpu;
        m.Load(CodeBase, s_loop);
        m.Init(vcpu, CodeBase);
        vcpu.Cpu.TranslationEnabled = true; // native blocks at their first execution
        var data = new byte[8 * Iterations];
        new Random(3).NextBytes(data);
        m.Vm.Memory.Write(new GuestPhysAddr(Input), data);
        vcpu.SetRegister(Arm64CoreRegister.X0, Input);
        vcpu.SetRegister((Arm64CoreRegister)5, output);
        vcpu.SetRegister((Arm64CoreRegister)7, Iterations);
        vcpu.SetRegister((Arm64CoreRegister)9, MarkerBase);
        return vcpu;
    }

    private static void RunToMarker(TestMachine m, Arm64Vcpu v)
    {
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
    }

    [Fact]
    public void An_instruction_hook_sees_every_instruction_and_no_block_is_translated()
    {
        using var m = new TestMachine();
        var v = StartLoop(m);
        long calls = 0;
        ulong lastX8 = 0;
        using (m.Vm.Hooks.AddInstructionHook((vcpu, pc, size) =>
        {
            calls++;
            Assert.Equal(4, size);
            if (pc == CodeBase + 4 * 10)
            {
                lastX8 = ((Arm64Vcpu)vcpu).GetRegister((Arm64CoreRegister)8); // registers readable from the hook
            }
        }))
        {
            RunToMarker(m, v);
        }

        // Every retired instruction once, plus the final store, which traps as MMIO and is not retired.
        Assert.Equal(v.InstructionsRetired + 1, calls);
        Assert.Equal(0, v.Cpu.Counters.TranslatedInstructions);
        Assert.Equal(v.GetRegister((Arm64CoreRegister)8), lastX8);
    }

    [Fact]
    public void Hooks_change_nothing_the_guest_computes_and_translation_resumes_after_removal()
    {
        using var plain = new TestMachine();
        var a = StartLoop(plain);
        RunToMarker(plain, a);

        using var hooked = new TestMachine();
        var b = StartLoop(hooked);
        var handle = hooked.Vm.Hooks.AddInstructionHook((_, _, _) => { });
        var memory = hooked.Vm.Hooks.AddMemoryHook((_, _, _, _, _) => { }, MemoryAccessKind.ReadWrite, AddressRange.FromStart(Input, 0x20000));
        RunToMarker(hooked, b);
        for (int r = 0; r <= 30; r++)
        {
            Assert.Equal(a.GetRegister((Arm64CoreRegister)r), b.GetRegister((Arm64CoreRegister)r));
        }

        Assert.Equal(a.InstructionsRetired, b.InstructionsRetired);
        handle.Dispose();
        memory.Dispose();
        var c = StartLoop(hooked);
        RunToMarker(hooked, c);
        Assert.True(c.Cpu.Counters.TranslatedInstructions > 0, "blocks run again once the hooks are gone");
    }

    [Fact]
    public void A_block_hook_sees_each_block_entry_with_its_size()
    {
        using var m = new TestMachine();
        var v = StartLoop(m);
        var blocks = new Dictionary<(ulong, int), int>();
        using var _ = m.Vm.Hooks.AddBlockHook((_, pc, size) => blocks[(pc, size)] = blocks.GetValueOrDefault((pc, size)) + 1);
        RunToMarker(m, v);

        // Entry: ldr..tbz (4 instructions, ends at TBZ); after TBZ falls through: sub..b.ne (6 instructions);
        // TBZ taken to 2: str..b.ne (5); the loop back to 1 (ldr..tbz); the exit after B.NE: the final str
        // and the word after it (0: UDF, which ends a block). Runs that a time slice ends in the middle of
        // a block add no block.
        Assert.Equal(Iterations, blocks[(CodeBase, 16)]);
        Assert.True(blocks.ContainsKey((CodeBase + 16, 24)));
        Assert.True(blocks.ContainsKey((CodeBase + 20, 20)));
        Assert.Equal(Iterations, blocks[(CodeBase + 16, 24)] + blocks[(CodeBase + 20, 20)]);
        Assert.Equal(1, blocks[(CodeBase + 40, 8)]);
        Assert.Equal(4, blocks.Count);
    }

    [Fact]
    public void Memory_hooks_see_the_accesses_in_their_range_with_values_and_nothing_else()
    {
        using var m = new TestMachine();
        var v = StartLoop(m);
        var reads = new List<(ulong Address, int Size, ulong Value)>();
        var writes = new List<(ulong Address, int Size, ulong Value)>();
        using var r = m.Vm.Hooks.AddMemoryHook((_, kind, a, s, val) => reads.Add((a, s, val)), MemoryAccessKind.Read, AddressRange.FromStart(Input + 8 * 100, 16));
        using var w = m.Vm.Hooks.AddMemoryHook((_, kind, a, s, val) => writes.Add((a, s, val)), MemoryAccessKind.Write, AddressRange.FromStart(Output, 64));
        RunToMarker(m, v);

        Assert.Equal([(Input + 800, 8, m.Vm.Memory.Read<ulong>(Input + 800)), (Input + 808, 8, m.Vm.Memory.Read<ulong>(Input + 808))], reads);
        Assert.Equal(Iterations, writes.Count);                         // str x4,[x5,x6,lsl #3] with x6 in 0..7
        Assert.All(writes, x => Assert.True(x.Address >= Output && x.Address < Output + 64 && x.Size == 8));
        var last = new Dictionary<ulong, ulong>();
        foreach (var x in writes)
        {
            last[x.Address] = x.Value;
        }

        Assert.All(last, kv => Assert.Equal(kv.Value, m.Vm.Memory.Read<ulong>(kv.Key)));
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 0, "memory hooks alone leave translation on");
    }

    [Fact]
    public void An_exception_hook_sees_svc_with_its_syndrome_and_the_handler_address()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd4000021u);                                   // svc #1
        var seen = new List<GuestException>();
        using var _ = m.Vm.Hooks.AddExceptionHook((Vcpu _, in GuestException e) => seen.Add(e));
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);   // the test vectors power off
        var e = Assert.Single(seen);
        Assert.Equal(GuestExceptionKind.Software, e.Kind);
        Assert.Equal(0, e.Vector);
        Assert.Equal(0x15UL, e.Syndrome >> 26);
        Assert.Equal(1UL, e.Syndrome & 0xFFFF);
        Assert.Equal(CodeBase + 4, e.ReturnAddress);
        Assert.Equal(VectorBase + 0x200, e.HandlerAddress);            // current EL with SP_ELx, Sync
    }

    [Fact]
    public void A_kick_from_an_instruction_hook_stops_before_that_instruction()
    {
        using var m = new TestMachine();
        var v = StartLoop(m);
        ulong stopAt = CodeBase + 4 * 5;
        int hits = 0;
        using var _ = m.Vm.Hooks.AddInstructionHook((vcpu, pc, _) =>
        {
            if (++hits == 3)
            {
                vcpu.Kick();
            }
        }, new AddressRange(stopAt, stopAt));
        Assert.Equal(RunResult.Interrupted, m.Run(v));
        Assert.Equal(stopAt, v.GetRegister(Arm64CoreRegister.Pc));
        long retired = v.InstructionsRetired;
        RunToMarker(m, v);                                                // goes on from there
        Assert.True(v.InstructionsRetired > retired);
    }

    [Fact]
    public async Task A_hook_shared_by_two_vcpus_runs_on_each_vcpus_own_thread()
    {
        using var m = new TestMachine(vcpus: 2);
        var counts = new long[2];
        var threads = new int[2];
        var vcpus = new[] { StartLoop(m, m[0], Output), StartLoop(m, m[1], Output + 0x1000) };
        using var _ = m.Vm.Hooks.AddInstructionHook((vcpu, _, _) =>
        {
            Interlocked.Increment(ref counts[vcpu.Id]);
            threads[vcpu.Id] = Environment.CurrentManagedThreadId;
        });
        var runners = vcpus.Select(v => Task.Factory.StartNew(() => { RunToMarker(m, v); return Environment.CurrentManagedThreadId; }, TaskCreationOptions.LongRunning)).ToArray();
        int[] runnerThreads = await Task.WhenAll(runners);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(vcpus[i].InstructionsRetired + 1, counts[i]);
            Assert.Equal(runnerThreads[i], threads[i]);
        }
    }
    [Fact]
    public async Task A_hook_added_while_the_vcpu_runs_translated_code_reaches_it_at_once()
    {
        using var m = new TestMachine();
        // 1: subs x7,x7,#1; b.ne 1b; str x8,[x9] -- with x7 = 2^40, a loop that does not end by itself.
        var v = m.Start(0xf10004e7u, 0x54ffffe1u, 0xf9000128u);
        v.Cpu.TranslationEnabled = true; // native blocks at their first execution
        v.SetRegister((Arm64CoreRegister)7, 1UL << 40);
        v.SetRegister((Arm64CoreRegister)9, MarkerBase);
        int hookThread = 0;
        ulong hookPc = 0;
        var run = Task.Factory.StartNew(() => (m.Run(v), Environment.CurrentManagedThreadId), TaskCreationOptions.LongRunning);
        await Task.Delay(200);
        Assert.False(run.IsCompleted);
        using var _ = m.Vm.Hooks.AddInstructionHook((vcpu, pc, _) =>
        {
            if (hookThread == 0)
            {
                hookThread = Environment.CurrentManagedThreadId;
                hookPc = pc;
                vcpu.Kick();
            }
        });
        var (result, runThread) = await run;

        Assert.Equal(RunResult.Interrupted, result);
        Assert.Equal(runThread, hookThread);                             // the hook ran on the vCPU's thread
        Assert.Contains(hookPc, new[] { CodeBase, CodeBase + 4 });
        Assert.Equal(hookPc, v.GetRegister(Arm64CoreRegister.Pc));       // stopped before the hooked instruction
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 0, "the loop ran translated before the hook came");
    }
}
