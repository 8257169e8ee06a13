using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>Interrupt injection from the in-kernel irqchip and the INIT/SIPI bring-up state machine.</summary>
public sealed partial class X86Vcpu
{
    /// <summary>
    /// Before entering the guest, under an event request (<see cref="_evaluateEvents"/>, KVM's KVM_REQ_EVENT): hand an
    /// NMI to the CPU, and inject the highest deliverable APIC (or PIC ExtINT) interrupt when the interrupt window is
    /// open. When it is closed, the next entry runs one instruction at a time (interrupt-window exiting) until it opens.
    /// The request stays set while anything is pending (an NMI handed over, an interrupt acknowledged or injected, the
    /// window closed, the debugger blocking interrupts), as KVM's <c>inject_pending_event</c> requests the event again;
    /// it is cleared when nothing was found, and whatever makes an interrupt deliverable later requests it anew.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void InjectPendingEvents()
    {
        var apic = Apic!;
        _evaluateEvents = true;
        if (apic.TakeNmi())
        {
            _cpu.SetPendingNmi();
            Stats.Increment(X86Stat.NmiInjections);
        }

        _windowWaiting = false;
        if (_cpu.PendingInterrupt >= 0 || GuestBlocksInterrupts)
        {
            return; // already acknowledged (the CPU takes it when IF=1), or the debugger blocks interrupts
        }

        int vector = apic.HighestDeliverable();
        bool pic = vector < 0 && PicInterruptPending();
        if (vector < 0 && !pic)
        {
            _evaluateEvents = false; // nothing to deliver: the next producer requests the event
            return;
        }

        if (!_cpu.InterruptWindowOpen)
        {
            _windowWaiting = true;
            _windowWasClosed = true;
            return;
        }

        if (vector >= 0)
        {
            apic.Acknowledge(vector);
        }
        else
        {
            vector = _vm.Irqchip!.Pic.Acknowledge();
        }

        if (_windowWasClosed)
        {
            Stats.Increment(X86Stat.IrqWindowExits);
            _windowWasClosed = false;
        }

        _cpu.SetPendingInterrupt(vector);
        Stats.Increment(X86Stat.IrqInjections);
    }

    private bool _windowWasClosed;

    // The PIC's output (one volatile read, low nearly always) before the local APIC's LINT0 setup it would pass through.
    private bool PicInterruptPending() =>
        Id == 0 && _vm.Irqchip!.Pic.Output && Apic!.AcceptsPicInterrupts;

    /// <summary>INIT puts the vCPU in wait-for-SIPI with its INIT register state; a SIPI starts it in real mode at vector * 0x1000.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void ProcessInitSipi()
    {
        var apic = Apic!;
        if (apic.TakeInit())
        {
            ulong apicBase = _cpu.Regs.ApicBase;
            _cpu.Reset();
            _cpu.Regs.ApicBase = apicBase;
            apic.Reset();
            ClearPendingCompletion();
            _guestStateChecked = false;
            _mpState = Id == 0 ? (int)X86MpState.Runnable : (int)X86MpState.InitReceived; // as KVM: the BSP restarts at the reset vector
        }

        int sipi = apic.TakeSipi();
        if (sipi >= 0 && MpState == X86MpState.InitReceived)
        {
            ref var r = ref _cpu.Regs;
            r.Seg[SegmentIndex.Cs] = new SegmentRegister
            {
                Selector = (ushort)(sipi << 8),
                Base = (ulong)sipi << 12,
                Limit = 0xFFFF,
                Attributes = 0x9B,
            };
            r.Rip = 0;
            _cpu.StateChanged();
            _guestStateChecked = false;
            _mpState = (int)X86MpState.Runnable;
        }
    }
}
