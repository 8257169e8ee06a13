using SoftKvm.Core;
using SoftKvm.Core.Io;
using static SoftKvm.Devices.Arm.Pl011Registers;

namespace SoftKvm.Devices.Arm;

/// <summary>
/// The Arm PrimeCell UART PL011 (ARM DDI 0183) as QEMU's <c>virt</c> machine has it at 0x0900_0000:
/// ID registers, a 16-entry receive FIFO fed by the VMM (<see cref="Receive"/>), transmission that
/// completes at once into a <see cref="SerialOutput"/>, loopback, and the combined interrupt
/// UARTINTR on an <see cref="IIrqLine"/> (level = any bit of UARTMIS). Thread-safe: vCPU threads and
/// the input thread take one lock.
/// </summary>
public sealed class Pl011 : IIoDevice
{
    private readonly object _lock = new();
    private readonly SerialOutput _output;
    private readonly IIrqLine _irq;
    private readonly ByteFifo _rx = new(FifoDepth);
    private uint _cr = CR_Reset;
    private uint _lcrH;
    private uint _ibrd;
    private uint _fbrd;
    private uint _ilpr;
    private uint _ifls = IFLS_Reset;
    private uint _imsc;
    private uint _ris;
    private uint _rsr;
    private uint _dmacr;
    private bool _irqLevel;

    /// <summary>Creates the UART: transmitted bytes go to <paramref name="output"/>, UARTINTR drives <paramref name="irq"/>.</summary>
    public Pl011(SerialOutput output, IIrqLine irq)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(irq);
        _output = output;
        _irq = irq;
    }

    /// <summary>The size of the MMIO window to register (4 KiB).</summary>
    public static ulong Size => WindowSize;

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

    /// <summary>
    /// Offers input bytes (from stdin) to the receive FIFO; returns how many were taken. Bytes beyond a full
    /// FIFO are not taken, so the caller can retry them later (flow control instead of overrun).
    /// </summary>
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

            if (taken > 0)
            {
                UpdateRxInterrupts();
                UpdateIrq();
            }

            return taken;
        }
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (offset == UARTFR && data.Length == 4)
        {
            // The register a guest polls (before every byte it sends): it changes nothing and reads one count, so
            // it needs no lock; the FIFO's count read once is the state at one instant, as the register samples it.
            RegisterAccess.StoreRead(offset, FlagRegister(_rx.Count), data);
            return;
        }

        lock (_lock)
        {
            if (RegisterAccess.IsSplit(offset, data.Length))
            {
                uint low = ReadRegister(offset);
                RegisterAccess.StoreSplitRead(low, ReadRegister(offset + 4), data);
            }
            else
            {
                RegisterAccess.StoreRead(offset, ReadRegister(offset & ~3UL), data);
            }

            UpdateIrq();
        }
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        uint value = RegisterAccess.LoadWrite(offset, data);
        byte? transmit, transmitHigh = null;
        lock (_lock)
        {
            transmit = WriteRegister(offset & ~3UL, value);
            if (RegisterAccess.IsSplit(offset, data.Length))
            {
                transmitHigh = WriteRegister(offset + 4, RegisterAccess.LoadSplitHigh(data));
            }

            UpdateIrq();
        }

        if (transmit is byte b)
        {
            _output.Write(b);
        }

        if (transmitHigh is byte h)
        {
            _output.Write(h);
        }
    }

    /// <summary>A copy of the device state.</summary>
    public Pl011State SaveState()
    {
        lock (_lock)
        {
            return new Pl011State
            {
                Cr = _cr, LcrH = _lcrH, Ibrd = _ibrd, Fbrd = _fbrd, Ilpr = _ilpr, Ifls = _ifls,
                Imsc = _imsc, Ris = _ris, Rsr = _rsr, Dmacr = _dmacr, RxFifo = _rx.ToArray(),
            };
        }
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/> and re-drives the interrupt line.</summary>
    public void RestoreState(Pl011State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            _cr = state.Cr;
            _lcrH = state.LcrH;
            _ibrd = state.Ibrd & 0xFFFF;
            _fbrd = state.Fbrd & 0x3F;
            _ilpr = state.Ilpr & 0xFF;
            _ifls = state.Ifls & 0x3F;
            _imsc = state.Imsc & INT_All;
            _ris = state.Ris & INT_All;
            _rsr = state.Rsr & 0xF;
            _dmacr = state.Dmacr & 0x7;
            _rx.Load(state.RxFifo);
            _irqLevel = (_ris & _imsc) != 0;
            _irq.Set(_irqLevel);
        }
    }

    // With FIFOs disabled the FIFO is one byte deep (DDI 0183 2.4.3).
    private int RxLimit => (_lcrH & LCR_H_FEN) != 0 ? FifoDepth : 1;

    // RXIFLSEL (UARTIFLS[5:3]): 1/8, 1/4, 1/2, 3/4, 7/8 of the FIFO.
    private int RxTrigger
    {
        get
        {
            if ((_lcrH & LCR_H_FEN) == 0)
            {
                return 1;
            }

            return ((_ifls >> 3) & 7) switch
            {
                0 => FifoDepth / 8,
                1 => FifoDepth / 4,
                2 => FifoDepth / 2,
                3 => FifoDepth * 3 / 4,
                _ => FifoDepth * 7 / 8,
            };
        }
    }

    private uint ReadRegister(ulong reg)
    {
        switch (reg)
        {
            case UARTDR:
                byte b = _rx.Pop();
                UpdateRxInterrupts();
                return b;
            case UARTRSR:
                return _rsr;
            case UARTFR:
                return FlagRegister(_rx.Count);
            case UARTILPR:
                return _ilpr;
            case UARTIBRD:
                return _ibrd;
            case UARTFBRD:
                return _fbrd;
            case UARTLCR_H:
                return _lcrH;
            case UARTCR:
                return _cr;
            case UARTIFLS:
                return _ifls;
            case UARTIMSC:
                return _imsc;
            case UARTRIS:
                return _ris;
            case UARTMIS:
                return _ris & _imsc;
            case UARTDMACR:
                return _dmacr;
            case >= UARTPeriphID0 and <= UARTPCellID3:
                return Id[(int)((reg - UARTPeriphID0) >> 2)];
            default:
                return 0; // reserved: RAZ (DDI 0183 3.2)
        }
    }

    // Returns the byte to transmit, sent after the lock is released.
    private byte? WriteRegister(ulong reg, uint value)
    {
        switch (reg)
        {
            case UARTDR:
                byte b = (byte)value;
                _ris |= INT_TX;
                if ((_cr & CR_LBE) != 0)
                {
                    PushLoopback(b);
                    return null;
                }

                return b;
            case UARTRSR:
                _rsr = 0; // UARTECR: any write clears the error flags
                break;
            case UARTILPR:
                _ilpr = value & 0xFF;
                break;
            case UARTIBRD:
                _ibrd = value & 0xFFFF;
                break;
            case UARTFBRD:
                _fbrd = value & 0x3F;
                break;
            case UARTLCR_H:
                if (((_lcrH ^ value) & LCR_H_FEN) != 0)
                {
                    _rx.Clear(); // enabling or disabling the FIFOs flushes them
                }

                _lcrH = value & 0xFF;
                UpdateRxInterrupts();
                break;
            case UARTCR:
                _cr = value & 0xFF87;
                break;
            case UARTIFLS:
                _ifls = value & 0x3F;
                UpdateRxInterrupts();
                break;
            case UARTIMSC:
                _imsc = value & INT_All;
                break;
            case UARTICR:
                _ris &= ~(value & INT_All);
                break;
            case UARTDMACR:
                // virt has no DMA controller wired to the UART: the bits read back, no request is raised.
                _dmacr = value & 0x7;
                break;
            default:
                break; // read-only and reserved registers: writes ignored (DDI 0183 3.2)
        }

        return null;
    }

    private void PushLoopback(byte b)
    {
        if (!_rx.TryPush(b, RxLimit))
        {
            _rsr |= RSR_OE;
            _ris |= INT_OE;
        }

        UpdateRxInterrupts();
    }

    // RXRIS when the FIFO reaches its trigger level; below it, received data raises the receive timeout
    // at once (the 32-bit-period timeout of DDI 0183 2.8.2 collapses to zero time here).
    private void UpdateRxInterrupts()
    {
        _ris &= ~(INT_RX | INT_RT);
        if (_rx.Count >= RxTrigger)
        {
            _ris |= INT_RX;
        }
        else if (!_rx.IsEmpty)
        {
            _ris |= INT_RT;
        }
    }

    /// <summary>UARTFR with <paramref name="received"/> bytes in the receive FIFO (transmission completes at once: TXFE).</summary>
    private uint FlagRegister(int received) =>
        FR_TXFE | (received == 0 ? FR_RXFE : 0) | (received >= Math.Min(RxLimit, _rx.Capacity) ? FR_RXFF : 0);

    private void UpdateIrq()
    {
        bool level = (_ris & _imsc) != 0;
        if (level != _irqLevel)
        {
            _irqLevel = level;
            _irq.Set(level);
        }
    }
}
