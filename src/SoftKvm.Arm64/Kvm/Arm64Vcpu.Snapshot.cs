using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Snapshots;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// Save and restore of one vCPU (docs/snapshots.md): the CPU model's architectural state (general, SP,
/// PC, PSTATE, FP/SIMD, system registers including the generic timers' CTL/CVAL and the debug registers),
/// the event register, the PSCI power state (with a CPU_ON not yet taken), the timer output levels last
/// driven to the GIC, and the PMU. Pending interrupts live in the GIC's state; a pending MMIO completion
/// was completed before the save.
/// </summary>
public sealed partial class Arm64Vcpu
{
    /// <summary>Writes the vCPU's state (between runs, with no completion pending).</summary>
    internal void Save(BinaryWriter w)
    {
        ThrowIfRunning();
        w.Write(Id);
        w.Write(Unsafe.SizeOf<CpuState>());
        CpuState state = _cpu.State;
        w.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<CpuState>(in state)));
        w.Write(_cpu.EventRegister);
        w.Write(Volatile.Read(ref _power));
        w.Write(_powerOnEntry);
        w.Write(_powerOnContext);
        w.Write(_virtualTimerLevel);
        w.Write(_physicalTimerLevel);
        w.Write(_pmu is not null);
        _pmu?.Save(w);
    }

    /// <summary>Reads what <see cref="Save"/> wrote into this vCPU, which was initialised by the same machine.</summary>
    /// <exception cref="SnapshotFormatException">another vCPU's or another CPU state layout's record, or a PMU mismatch.</exception>
    internal void Load(BinaryReader r)
    {
        ThrowIfRunning();
        int id = r.ReadInt32();
        int size = r.ReadInt32();
        if (id != Id || size != Unsafe.SizeOf<CpuState>())
        {
            throw new SnapshotFormatException($"vCPU {Id}: the snapshot holds vCPU {id} with a {size}-byte CPU state (this build's is {Unsafe.SizeOf<CpuState>()} bytes)");
        }

        CpuState state = default;
        r.ReadBytes(size).CopyTo(MemoryMarshal.AsBytes(new Span<CpuState>(ref state)));
        bool eventRegister = r.ReadBoolean();
        int power = r.ReadInt32();
        if (power is not (PowerOff or PowerOn or PowerOnPending) || state.El is not (0 or 1))
        {
            throw new SnapshotFormatException($"vCPU {Id}: power state {power} or PSTATE 0x{state.Pstate:x} is not valid");
        }

        _cpu.LoadState(state, eventRegister);
        _powerOnEntry = r.ReadUInt64();
        _powerOnContext = r.ReadUInt64();
        _virtualTimerLevel = r.ReadBoolean();
        _physicalTimerLevel = r.ReadBoolean();
        bool pmu = r.ReadBoolean();
        if (pmu != _pmu is not null)
        {
            throw new SnapshotFormatException($"vCPU {Id}: the snapshot's vCPU {(pmu ? "has" : "has no")} PMU, this one {(_pmu is null ? "has none" : "has one")}");
        }

        _pmu?.Load(r);
        ClearPendingCompletion();
        _mmioAborted = false;
        Volatile.Write(ref _power, power);
        if (power == PowerOnPending)
        {
            MakeRequest(PowerOnRequest);
        }
    }
}
