using SoftKvm.Core.Errors;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// One PCI bus: up to 32 devices of up to 8 functions each. Configuration accesses by address come from
/// whichever mechanism the machine offers (<see cref="PciConfigMechanism1"/> on the PC, ECAM elsewhere);
/// a function that is not there reads as all ones and ignores writes, as a master abort does. Function 0
/// of a slot with several functions reports itself multi-function.
/// </summary>
public sealed class PciBus
{
    private readonly IPciHost _host;
    private readonly PciDevice?[] _functions = new PciDevice?[32 * 8];

    /// <summary>Creates bus <paramref name="number"/> whose functions map their BARs and interrupts through <paramref name="host"/>.</summary>
    public PciBus(IPciHost host, byte number = 0)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        Number = number;
    }

    /// <summary>The bus number.</summary>
    public byte Number { get; }

    /// <summary>The machine side of the bus.</summary>
    public IPciHost Host => _host;

    /// <summary>The functions present, in device/function order.</summary>
    public IEnumerable<PciDevice> Functions => _functions.Where(f => f is not null)!;

    /// <summary>Puts <paramref name="function"/> at device <paramref name="device"/>, function <paramref name="fn"/>.</summary>
    /// <exception cref="SoftKvmException">the place is taken.</exception>
    public void Attach(int device, int fn, PciDevice function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var address = new PciAddress(Number, device, fn);
        if (_functions[address.DevFn] is not null)
        {
            throw new SoftKvmException($"PCI {address} is taken");
        }

        function.Attach(_host, address);
        _functions[address.DevFn] = function;
        bool multi = Enumerable.Range(1, 7).Any(f => _functions[(device << 3) | f] is not null);
        _functions[device << 3]?.SetMultiFunction(multi);
    }

    /// <summary>The first free device number at or after <paramref name="from"/>, or -1.</summary>
    public int FreeSlot(int from = 0)
    {
        for (int d = from; d < 32; d++)
        {
            if (Enumerable.Range(0, 8).All(f => _functions[(d << 3) | f] is null))
            {
                return d;
            }
        }

        return -1;
    }

    /// <summary>The function at <paramref name="address"/> on this bus, or null.</summary>
    public PciDevice? Find(PciAddress address) => address.Bus == Number ? _functions[address.DevFn] : null;

    /// <summary>A configuration read; all ones when no function answers.</summary>
    public void ReadConfig(PciAddress address, int offset, Span<byte> data)
    {
        if (Find(address) is { } f)
        {
            f.ReadConfig(offset, data);
        }
        else
        {
            data.Fill(0xFF);
        }
    }

    /// <summary>A configuration write; ignored when no function answers.</summary>
    public void WriteConfig(PciAddress address, int offset, ReadOnlySpan<byte> data) => Find(address)?.WriteConfig(offset, data);
}
