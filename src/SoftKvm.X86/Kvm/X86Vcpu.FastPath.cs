using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Stats;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Irqchip;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// The exit fast paths (the CPU model's <see cref="IX86FastExitHost"/>, docs/kvm-semantics.md#x86-exit-fast-paths):
/// an access to an in-kernel device — a port on the PIO bus, the local APIC page or the MMIO bus — is completed
/// where it happens, inside the CPU model's run, instead of having the CPU stop, the run loop take the exit and
/// the emulator execute the instruction again. Each is the exit it would have been and is counted as such once
/// (<c>exits</c> and <c>io_exits</c>, or <c>exits</c> and <c>insn_emulation</c> for an instruction's device
/// accesses), with the slow path's devices. An access no in-kernel device takes is declined with nothing done,
/// and the CPU stops with the exit as before. When the device made a request (an interrupt to inject), the CPU
/// returns to the run loop after the instruction (<see cref="X86ExitReason.FastExitReturn"/>, not a new exit).
/// </summary>
public sealed partial class X86Vcpu
{
    /// <summary>False while the CPU model is stopped or in a fast-path exit: a request the vCPU makes to itself then needs no kick, the run loop or <see cref="FinishFastExit"/> looks at it.</summary>
    private bool _guestMode;

    /// <summary>This vCPU's last look-up on the in-kernel PIO and MMIO buses (its thread alone uses them): a port or page
    /// it keeps accessing, a device's or one the VMM serves (a gap of the bus), is found without a search.</summary>
    private IoBusCache _kernelPio;
    private IoBusCache _kernelMmio;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool IX86FastExitHost.TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
    {
        BeginExit(X86Stat.IoExits);
        _guestMode = false;
        ulong buffer = write ? value : 0;
        Span<byte> data = MemoryMarshal.CreateSpan(ref Unsafe.As<ulong, byte>(ref buffer), size);
        if (!(write ? _vm.PioBus.Write(this, port, data, ref _kernelPio) : _vm.PioBus.Read(this, port, data, ref _kernelPio)))
        {
            _guestMode = true;
            EndExit();
            return false;
        }

        Stats.Increment(VcpuStat.Exits);
        Stats.Increment(X86Stat.IoExits);
        value = buffer;
        FinishFastExit();
        return true;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool IX86FastExitHost.TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index)
    {
        if (index >= LogCapacity || (write && _vm.MmioBus.HasFastMmio(gpa)))
        {
            return false; // a doorbell: KVM's fast-MMIO exit skips the instruction without emulating it (X86Vcpu.Mmio.cs)
        }

        BeginExit(X86Stat.InsnEmulation);
        _guestMode = false;
        ulong buffer = write ? value : 0;
        Span<byte> data = MemoryMarshal.CreateSpan(ref Unsafe.As<ulong, byte>(ref buffer), size);
        if (!(write ? WriteKernelMmio(gpa, data) : ReadKernelMmio(gpa, data)))
        {
            _guestMode = true;
            EndExit();
            return false;
        }

        if (index == 0)
        {
            // One EPT exit and one emulation for all the device accesses of an instruction, as KVM's emulator does them.
            Stats.Increment(VcpuStat.Exits);
            Stats.Increment(X86Stat.InsnEmulation);
        }

        // Kept for the emulator, should a later access of the instruction need the VMM (X86Exit.FastAccesses).
        _log[index] = new AccessRecord { Address = gpa, Data = Pack(data), Length = size, Size = size, Valid = true, IsWrite = write };
        value = buffer;
        FinishFastExit();
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The x2APIC's registers (MSRs 0x800-0x8FF: the EOI, the ICR, the TPR ...), which KVM handles in the kernel:
    /// the exit counted in <c>exits</c> as <see cref="HandleWrmsr"/>'s, the write done once; one the local APIC
    /// refuses (a #GP) is declined and takes the slow path.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool IX86FastExitHost.TryCompleteMsrWrite(uint msr, ulong value)
    {
        if (!LocalApic.IsX2ApicMsr(msr) || Apic is not { } apic)
        {
            return false;
        }

        _guestMode = false;
        if (!apic.TryWriteMsr(msr, value))
        {
            _guestMode = true;
            return false;
        }

        Stats.Increment(VcpuStat.Exits);
        FinishFastExit();
        return true;
    }

    /// <summary>
    /// The irqchip's published reads (issue 19): native blocks complete an IN of the PIC's mask or a load of the IOAPIC's IOWIN
    /// without leaving native code, while this vCPU is its CPU's exit fast path, counting the exit where the fast path above
    /// counts it (<c>exits</c> and <c>io_exits</c>, or <c>exits</c> and <c>insn_emulation</c>). Off while exits are timed for a
    /// profile (each exit is then marked as it is handled).
    /// </summary>
    private unsafe void UsePublishedReads(X86Irqchip? chip) =>
        _cpu.UsePublishedReads(
            chip?.PublishedReads,
            chip is null ? null : this,
            chip is null ? 0 : (nint)Stats.AddressOf(VcpuStat.Exits),
            chip is null ? 0 : (nint)Stats.AddressOf(X86Stat.IoExits),
            chip is null ? 0 : (nint)Stats.AddressOf(X86Stat.InsnEmulation));

    /// <summary>
    /// Back to guest mode; a request made meanwhile (an interrupt to inject) sends the CPU back to the run loop
    /// after the instruction — except an event request alone that leaves nothing to inject (an EOI with no
    /// other interrupt deliverable, a TPR write), which is taken here as the next entry would take it: counted
    /// in <c>req_event</c>, and the guest goes on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void FinishFastExit()
    {
        _guestMode = true;
        if (HasRequests && !TryTakeIdleEvent())
        {
            _cpu.RequestFastExitReturn();
        }

        EndExit();
    }

    /// <summary>
    /// Whether the only request is <see cref="VcpuRequest.Event"/> and the entry's injection would find nothing:
    /// no NMI, INIT or SIPI, no deliverable local APIC or PIC interrupt, none acknowledged and waiting. Then it
    /// is consumed and counted here. Another vCPU's request made meanwhile also kicks the CPU (it is in guest
    /// mode for them), so the run loop still sees it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool TryTakeIdleEvent()
    {
        if (Volatile.Read(ref RequestWord) != (int)VcpuRequest.Event || Apic is not { } apic
            || apic.HasPendingNmi || apic.HasPendingInit || apic.HasPendingSipi
            || _cpu.PendingInterrupt >= 0 || apic.HighestDeliverable() >= 0 || PicInterruptPending())
        {
            return false;
        }

        if (TestAndClearRequest(VcpuRequest.Event))
        {
            Stats.Increment(X86Stat.ReqEvent);
        }

        return true;
    }
}
