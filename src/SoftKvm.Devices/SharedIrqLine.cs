using SoftKvm.Core.Io;

namespace SoftKvm.Devices;

/// <summary>
/// Several devices on one level-triggered interrupt line, as ISA IRQs and PCI INTx pins are shared on a
/// PC: the line is asserted while any input is. Each device gets its own input (<see cref="NewInput"/>).
/// </summary>
public sealed class SharedIrqLine
{
    private readonly object _lock = new();
    private readonly IIrqLine _output;
    private int _asserted;

    /// <summary>Shares <paramref name="output"/>.</summary>
    public SharedIrqLine(IIrqLine output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Whether the line is asserted now.</summary>
    public bool Level
    {
        get
        {
            lock (_lock)
            {
                return _asserted != 0;
            }
        }
    }

    /// <summary>A new input to the line (starts deasserted).</summary>
    public IIrqLine NewInput() => new Input(this);

    private void Change(bool up)
    {
        lock (_lock)
        {
            _asserted += up ? 1 : -1;
            if (_asserted == (up ? 1 : 0))
            {
                _output.Set(up);
            }
        }
    }

    private sealed class Input(SharedIrqLine line) : IIrqLine
    {
        private bool _level;

        public void Set(bool level)
        {
            lock (this)
            {
                if (level == _level)
                {
                    return;
                }

                _level = level;
                line.Change(level);
            }
        }
    }
}
