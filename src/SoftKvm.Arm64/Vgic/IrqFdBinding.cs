using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// An irqfd: an <see cref="EventFd"/> whose signal injects an edge on an SPI on the signalling thread
/// (draining the count, as KVM's irqfd consumes the eventfd). Disposing it unbinds.
/// </summary>
internal sealed class IrqFdBinding : IDisposable
{
    private readonly Vgic _vgic;
    private readonly EventFd _eventFd;
    private readonly int _spi;
    private readonly Action<EventFd> _handler;
    private int _disposed;

    public IrqFdBinding(Vgic vgic, EventFd eventFd, int spi)
    {
        _vgic = vgic;
        _eventFd = eventFd;
        _spi = spi;
        _handler = OnSignaled;
        _eventFd.Signaled += _handler;
        if (_eventFd.Count != 0)
        {
            OnSignaled(_eventFd);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _eventFd.Signaled -= _handler;
        }
    }

    private void OnSignaled(EventFd eventFd)
    {
        if (Volatile.Read(ref _disposed) == 0 && eventFd.Drain() != 0)
        {
            _vgic.InjectSpiEdge(_spi);
        }
    }
}
