using SoftKvm.Core;
using SoftKvm.Core.Io;
using static SoftKvm.Devices.X86.Uart16550Registers;

namespace SoftKvm.Devices.X86;

/// <summary>
/// A 16550A UART (PC16550D) as the PC's COM1 at ports 0x3F8..0x3FF, IRQ 4: divisor latch, FIFOs with
/// their trigger levels, the four interrupt sources in the data sheet's priority order, loopback, and
/// transmission that completes at once into a <see cref="SerialOutput"/>. Register it on the PIO bus at
/// the base port with length <see cref="PortCount"/>; it sees offsets 0..7. Thread-safe.
/// </summary>
public sealed class Uart16550 : IIoDevice
{
    private readonly object _lock = new();
    private readonly SerialOutput _output;
    private readonly IIrqLine _irq;
    private readonly ByteFifo _rx = new(FifoDepth);
    private byte _dll = DLL_Reset;
    private byte _dlm;
    private byte _ier;
    private byte _fcr;
    private byte _lcr = LCR_Reset;
    private byte _mcr = MCR_Reset;
    private byte _scr;
    private bool _overrun;
    private bool _thrEmptyPending;
    private bool _irqLevel;

    /// <summary>Creates the UART: transmitted bytes go to <paramref name="output"/>, its interrupt drives <paramref name="irq"/>.</summary>
    public Uart16550(SerialOutput output, IIrqLine irq)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(irq);
        _output = output;
        _irq = irq;
    }

    /// <summary>The number of ports to register (8).</summary>
    public static ulong PortCount => Uart16550Registers.PortCount;

    /// <summary>Whether the interrupt line is asserted now.</summary>
    public bool IrqAsserted
    {
        get
        {
            lock (_lock)
            {
                return _irqLevel;
            }
        }
    }

    private bool FifoEnabled => (_fcr & FCR_Enable) != 0;

    private int RxLimit => FifoEnabled ? FifoDepth : 1;

    // FCR[7:6]: 1, 4, 8 or 14 bytes.
    private int RxTrigger => !FifoEnabled ? 1 : (_fcr >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };

    /// <summary>Offers input bytes (from stdin) to the receive FIFO; returns how many were taken (the rest can be retried).</summary>
    public int Receive(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            int taken = 0;
            foreach (byte b in data)
            {
                if (!_rx.TryPush(b, RxLimit))
                {
                    break;
                }

                taken++;
            }

            UpdateIrq();
            return taken;
        }
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (offset == SCR)
        {
            // The scratch register holds a byte and nothing else depends on it: no lock (a whole byte is never torn).
            RegisterAccess.StoreByte(Volatile.Read(ref _scr), data);
            return;
        }

        byte value;
        lock (_lock)
        {
            value = ReadRegister(offset);
            UpdateIrq();
        }

        RegisterAccess.StoreByte(value, data);
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        byte value = RegisterAccess.LoadByte(data);
        if (offset == SCR)
        {
            // No interrupt source and no other register depends on the scratch byte: written without the lock, and
            // the interrupt line cannot change (every locked section leaves it up to date).
            Volatile.Write(ref _scr, value);
            return;
        }

        bool transmit;
        lock (_lock)
        {
            transmit = WriteRegister(offset, value);
            UpdateIrq();
        }

        if (transmit)
        {
            _output.Write(value);
        }
    }

    /// <summary>A copy of the device state.</summary>
    public Uart16550State SaveState()
    {
        lock (_lock)
        {
            return new Uart16550State
            {
                Dll = _dll, Dlm = _dlm, Ier = _ier, Fcr = _fcr, Lcr = _lcr, Mcr = _mcr, Scr = _scr,
                Overrun = _overrun, ThrEmptyPending = _thrEmptyPending, RxFifo = _rx.ToArray(),
            };
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>.</summary>
    public void RestoreState(Uart16550State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _dll = state.Dll;
            _dlm = state.Dlm;
            _ier = (byte)(state.Ier & IER_Mask);
            _fcr = (byte)(state.Fcr & 0xC1);
            _lcr = state.Lcr;
            _mcr = (byte)(state.Mcr & MCR_Mask);
            _scr = state.Scr;
            _overrun = state.Overrun;
            _thrEmptyPending = state.ThrEmptyPending;
            _rx.Load(state.RxFifo);
            _irqLevel = InterruptId() != IIR_NoInterrupt;
            _irq.Set(_irqLevel);
        }
    }

    private byte ReadRegister(ulong offset)
    {
        bool dlab = (_lcr & LCR_DLAB) != 0;
        switch (offset)
        {
            case RBR_THR_DLL:
                return dlab ? _dll : _rx.Pop();
            case IER_DLM:
                return dlab ? _dlm : _ier;
            case IIR_FCR:
                byte id = InterruptId();
                if (id == IIR_ThrEmpty)
                {
                    _thrEmptyPending = false; // reading IIR while it reports THRE clears that source
                }

                return (byte)(id | (FifoEnabled ? IIR_FifosEnabled : 0));
            case LCR:
                return _lcr;
            case MCR:
                return _mcr;
            case LSR:
                byte lsr = LSR_THRE | LSR_TEMT;
                lsr |= _rx.IsEmpty ? (byte)0 : LSR_DR;
                lsr |= _overrun ? LSR_OE : (byte)0;
                _overrun = false; // error bits clear on read
                return lsr;
            case MSR:
                return ModemStatus();
            // SCR: read without the lock (Read)
            default:
                return 0xFF; // outside the eight ports (a wide access at offset 7): an undriven ISA bus reads ones
        }
    }

    // Returns whether the byte goes out.
    private bool WriteRegister(ulong offset, byte value)
    {
        bool dlab = (_lcr & LCR_DLAB) != 0;
        switch (offset)
        {
            case RBR_THR_DLL:
                if (dlab)
                {
                    _dll = value;
                    return false;
                }

                _thrEmptyPending = (_ier & IER_ETBEI) != 0; // the byte leaves at once: THR is empty again
                if ((_mcr & MCR_LOOP) != 0)
                {
                    if (!_rx.TryPush(value, RxLimit))
                    {
                        _overrun = true;
                    }

                    return false;
                }

                return true;
            case IER_DLM:
                if (dlab)
                {
                    _dlm = value;
                    return false;
                }

                bool enablingThre = (value & IER_ETBEI) != 0 && (_ier & IER_ETBEI) == 0;
                _ier = (byte)(value & IER_Mask);
                if (enablingThre)
                {
                    _thrEmptyPending = true; // THR is empty, so enabling ETBEI raises the interrupt (8.6.3)
                }
                else if ((_ier & IER_ETBEI) == 0)
                {
                    _thrEmptyPending = false;
                }

                return false;
            case IIR_FCR:
                if (((_fcr ^ value) & FCR_Enable) != 0 || (value & FCR_ClearRx) != 0)
                {
                    _rx.Clear();
                }

                _fcr = (byte)(value & 0xC1);
                return false;
            case LCR:
                _lcr = value;
                return false;
            case MCR:
                _mcr = (byte)(value & MCR_Mask);
                return false;
            // SCR: written without the lock (Write)
            default:
                return false; // LSR and MSR are read-only (factory test writes are not modelled)
        }
    }

    private byte ModemStatus()
    {
        if ((_mcr & MCR_LOOP) != 0)
        {
            // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2 (data sheet 8.6.5).
            byte msr = 0;
            msr |= (_mcr & MCR_RTS) != 0 ? MSR_CTS : (byte)0;
            msr |= (_mcr & MCR_DTR) != 0 ? MSR_DSR : (byte)0;
            msr |= (_mcr & MCR_OUT1) != 0 ? MSR_RI : (byte)0;
            msr |= (_mcr & MCR_OUT2) != 0 ? MSR_DCD : (byte)0;
            return msr;
        }

        return MSR_CTS | MSR_DSR | MSR_DCD; // a terminal is always attached and ready
    }

    // The highest-priority pending source (data sheet table IV).
    private byte InterruptId()
    {
        if ((_ier & IER_ELSI) != 0 && _overrun)
        {
            return IIR_ReceiverLineStatus;
        }

        if ((_ier & IER_ERBFI) != 0 && !_rx.IsEmpty)
        {
            return _rx.Count >= RxTrigger ? IIR_ReceivedDataAvailable : IIR_CharacterTimeout;
        }

        if ((_ier & IER_ETBEI) != 0 && _thrEmptyPending)
        {
            return IIR_ThrEmpty;
        }

        return IIR_NoInterrupt;
    }

    private void UpdateIrq()
    {
        bool level = InterruptId() != IIR_NoInterrupt;
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq.Set(level);
        }
    }
}
