using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Core.Snapshots;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// Save and restore of one x86 vCPU (docs/snapshots.md): the register file as the CPU model holds it
/// (general registers, RIP, RFLAGS, segment registers with their descriptor caches, GDTR/IDTR/LDTR/TR,
/// control and debug registers, the MSRs, x87/SSE state), the TSC's value, the event state
/// (<see cref="X86EventState"/>), the MP state, the interrupt-window wait and the local APIC.
/// </summary>
public sealed partial class X86Vcpu
{
    internal void SaveSnapshot(BinaryWriter w, long now)
    {
        ThrowIfRunning();
        w.Write(Id);
        w.Write(Unsafe.SizeOf<X86Registers>());
        X86Registers regs = _cpu.Regs;
        w.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<X86Registers>(in regs)));
        w.Write(_cpu.ReadTsc());
        var events = _cpu.GetEventState();
        w.Write(events.PendingInterrupt);
        w.Write(events.PendingNmi);
        w.Write(events.NmiBlocked);
        w.Write((int)events.Shadow);
        w.Write(events.HeldDebugTraps);
        w.Write(events.Shutdown);
        w.Write(_mpState);
        w.Write(_windowWaiting);
        w.Write(_windowWasClosed);
        w.Write(Apic is not null);
        Apic?.SaveSnapshot(w, now);
    }

    /// <exception cref="SnapshotFormatException">another vCPU's record, another register layout, or an APIC mismatch.</exception>
    internal void LoadSnapshot(BinaryReader r, long now)
    {
        ThrowIfRunning();
        int id = r.ReadInt32();
        int size = r.ReadInt32();
        if (id != Id || size != Unsafe.SizeOf<X86Registers>())
        {
            throw new SnapshotFormatException($"vCPU {Id}: the snapshot holds vCPU {id} with a {size}-byte register file (this build's is {Unsafe.SizeOf<X86Registers>()} bytes)");
        }

        X86Registers regs = default;
        r.ReadBytes(size).CopyTo(MemoryMarshal.AsBytes(new Span<X86Registers>(ref regs)));
        _cpu.Regs = regs;
        _cpu.StateChanged();
        _cpu.SetTsc(r.ReadUInt64());
        _cpu.SetEventState(new X86EventState(r.ReadInt32(), r.ReadBoolean(), r.ReadBoolean(), (InterruptShadow)(r.ReadInt32() & 3), r.ReadUInt64(), r.ReadBoolean()));
        _mpState = r.ReadInt32();
        _windowWaiting = r.ReadBoolean();
        _windowWasClosed = r.ReadBoolean();
        bool apic = r.ReadBoolean();
        if (apic != Apic is not null)
        {
            throw new SnapshotFormatException($"vCPU {Id}: the snapshot's vCPU {(apic ? "has" : "has no")} local APIC");
        }

        Apic?.LoadSnapshot(r, now);
        ClearPendingCompletion();
    }
}
