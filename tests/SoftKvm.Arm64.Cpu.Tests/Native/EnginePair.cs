using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Cpu.Tests.Harness;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// Two PEs on two identical memories, one interpreting and one running native code, run the same guest
/// for the same budget; <see cref="RunAndCompare"/> asserts they end in the same state: every register,
/// PSTATE, the EL1 exception registers, the trap syndrome, the retired count and all of RAM. RAM is one
/// slot at <see cref="Ram"/> (below 1 GiB, so that <see cref="UserIdentityMap"/> maps it for EL0);
/// nothing else is mapped, so everything else is MMIO (a stage-2 data abort ends the run). The vectors
/// at <see cref="Ram"/> are <c>b .</c> (an exception is taken and then spins until the budget ends), or
/// with <see cref="ReturnFromExceptions"/> they skip the instruction that took the exception and return
/// (x30 is theirs).
/// </summary>
internal sealed class EnginePair : IDisposable
{
    public const ulong Ram = 0x1000_0000;
    public const ulong RamSize = 1 << 20;
    public const ulong Code = Ram + 0x1000;

    private readonly Side _interpreter;
    private readonly Side _native;

    /// <param name="model">The CPU model of both PEs (default cortex-a57).</param>
    public EnginePair(CpuModel? model = null)
    {
        _interpreter = new(translate: false, model);
        _native = new(translate: true, model);
    }

    /// <summary>Vectors that step over the instruction (ELR_EL1 += 4) and return, so a program goes on after a fault.</summary>
    public void ReturnFromExceptions()
    {
        for (ulong v = 0; v < 0x800; v += 0x80)
        {
            // mrs x30,elr_el1; add x30,x30,#4; msr elr_el1,x30; eret
            Load(Ram + v, 0xd538403eu, 0x910013deu, 0xd518403eu, 0xd69f03e0u);
        }
    }

    /// <summary>Both PEs (interpreter first).</summary>
    public IEnumerable<Arm64Cpu> Cpus => [_interpreter.Cpu, _native.Cpu];

    /// <summary>The native side's PE.</summary>
    public Arm64Cpu Native => _native.Cpu;

    /// <summary>Writes <paramref name="words"/> at <paramref name="address"/> in both memories.</summary>
    public void Load(ulong address, params uint[] words)
    {
        foreach (var side in new[] { _interpreter, _native })
        {
            for (int i = 0; i < words.Length; i++)
            {
                side.Memory.Write(new GuestPhysAddr(address + (ulong)(4 * i)), words[i]);
            }
        }
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="address"/> in both memories.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        _interpreter.Memory.Write(new GuestPhysAddr(address), data);
        _native.Memory.Write(new GuestPhysAddr(address), data);
    }

    /// <summary>Resets both PEs to EL1h at <see cref="Code"/> (MMU off), or to EL0 with the MMU on, then applies <paramref name="init"/>.</summary>
    public void Reset(bool el0MmuOn, Action<Arm64Cpu>? init = null)
    {
        foreach (var side in new[] { _interpreter, _native })
        {
            Arm64Cpu cpu = side.Cpu;
            cpu.Reset();
            Assert.True(cpu.TryWriteSystemRegister(SysReg.VbarEl1, Ram));
            cpu.State.SpEl1 = Ram + RamSize - 0x100;
            if (el0MmuOn)
            {
                UserIdentityMap.Enable(cpu);
                cpu.State.CpacrEl1 = 3UL << 20;
                cpu.State.TrySetPstate(0); // EL0t
                cpu.State.SpEl0 = Ram + (RamSize / 2);
                cpu.OnPstateChanged();
            }

            cpu.State.Pc = Code;
            init?.Invoke(cpu);
            cpu.OnPstateChanged();
        }
    }

    /// <summary>
    /// Runs both PEs for <paramref name="budget"/> instructions (or to their first trap) and asserts the
    /// same end state; returns the native side's last exit.
    /// </summary>
    public CpuExit RunAndCompare(long budget, string what) => RunAndCompare(budget, what, null) ?? CpuExit.Budget;

    /// <summary>
    /// As <see cref="RunAndCompare(long, string)"/>, but when the interpreter's run rewrote any of
    /// <paramref name="code"/> (loaded at <see cref="Code"/>) it compares nothing and returns null: without a
    /// context synchronization the architecture lets a PE run either the old or the new instruction after
    /// such a store (Arm ARM B2.2.5), and the interpreter sees it at once where a native block runs the
    /// words it was translated from until its next entry. Both runs still had to end without a host fault.
    /// </summary>
    public CpuExit? RunAndCompare(long budget, string what, uint[]? code)
    {
        var a = _interpreter.Run(budget);
        var b = _native.Run(budget);
        if (code is not null
            && !a.Memory.AsSpan((int)(Code - Ram), code.Length * 4).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(code.AsSpan())))
        {
            return null;
        }

        Assert.True(a.State == b.State, $"{what}:\n  interpreter {a.State}\n  native      {b.State}");
        Assert.True(a.Memory.AsSpan().SequenceEqual(b.Memory), $"{what}: RAM differs at 0x{Ram + (ulong)a.Memory.AsSpan().CommonPrefixLength(b.Memory):x}");
        return b.Exit;
    }

    public void Dispose()
    {
        _interpreter.Dispose();
        _native.Dispose();
    }

    private sealed class Side : IDisposable
    {
        public Side(bool translate, CpuModel? model)
        {
            Memory.SetRegion(0, new GuestPhysAddr(Ram), RamSize, MemorySlotFlags.None);
            UserIdentityMap.Install(Memory, 1);
            Cpu = new Arm64Cpu(Memory, new CpuShared(), new Harness.NoHypervisor(), 0x8000_0000, model) { TranslationEnabled = translate };
            for (ulong v = 0; v < 0x800; v += 4)
            {
                Memory.Write(new GuestPhysAddr(Ram + v), 0x1400_0000u); // b .
            }
        }

        public GuestMemory Memory { get; } = new();

        public Arm64Cpu Cpu { get; }

        public (CpuExit Exit, string State, byte[] Memory) Run(long budget)
        {
            int requests = 0;
            CpuExit exit = CpuExit.Budget;
            long start = Cpu.Retired;
            while (budget > 0)
            {
                long before = Cpu.Retired;
                exit = Cpu.Run(ref requests, budget);
                if (exit != CpuExit.Budget && exit != CpuExit.Reevaluate)
                {
                    break;
                }

                budget = exit == CpuExit.Budget ? 0 : budget - Math.Max(1, Cpu.Retired - before);
            }

            var s = Cpu.State;
            var x = string.Join(",", Enumerable.Range(0, 31).Select(i => s.X[i].ToString("x")));
            var v = string.Join(",", Enumerable.Range(0, 64).Select(i => s.V[i].ToString("x")));
            string state = $"exit {exit} pc {s.Pc:x} pstate {s.Pstate:x} retired {Cpu.Retired - start} sp0 {s.SpEl0:x} sp1 {s.SpEl1:x} "
                + $"elr {s.ElrEl1:x} esr {s.EsrEl1:x} far {s.FarEl1:x} spsr {s.SpsrEl1:x} sctlr {s.SctlrEl1:x} "
                + $"trap {Cpu.Trap.Esr:x}/{Cpu.Trap.Far:x}/{Cpu.Trap.Ipa:x} undef {Cpu.UndefinedCount} fpsr {s.Fpsr:x} tpidr {s.TpidrEl0:x}/{s.TpidrEl1:x}\n  x {x}\n  v {v}";
            var ram = new byte[RamSize];
            Memory.Read(new GuestPhysAddr(Ram), ram);
            return (exit, state, ram);
        }

        public void Dispose() => Memory.Dispose();
    }
}
