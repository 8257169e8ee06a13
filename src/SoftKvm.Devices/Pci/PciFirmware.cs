using System.Buffers.Binary;
using static SoftKvm.Devices.Pci.PciConfigRegisters;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// The firmware's part of PCI, done by the VMM before the guest starts (SoftKvm has no BIOS): every BAR
/// gets a naturally aligned address in the machine's windows, largest first (as SeaBIOS does on QEMU's
/// <c>pc</c>), 64-bit BARs too when they fit below 4 GiB; INTERRUPT_LINE gets the IRQ the machine routes
/// the function's pin to; the command register enables the I/O and memory decoding the function's BARs
/// need (not bus mastering: drivers enable that). All of it through ordinary configuration writes, so a
/// guest that re-assigns the BARs finds the same registers the firmware used. Bare-metal programs built
/// for QEMU's <c>pc</c> expect exactly this: BARs assigned and decoding.
/// </summary>
public static class PciFirmware
{
    /// <summary>
    /// Assigns the BARs of every function on <paramref name="bus"/> from <paramref name="io"/> and
    /// <paramref name="memory"/>, writes INTERRUPT_LINE from <paramref name="interruptLine"/> (address, pin
    /// 1-4) for functions with a pin, and enables decoding.
    /// </summary>
    /// <exception cref="DeviceConfigurationException">the BARs do not fit in the windows.</exception>
    public static void AssignResources(PciBus bus, PciWindow io, PciWindow memory, Func<PciAddress, int, byte>? interruptLine = null)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var bars = new List<(PciDevice Function, int Index, ulong Size, PciBarKind Kind)>();
        foreach (var f in bus.Functions)
        {
            for (int i = 0; i < 6; i++)
            {
                if (f.BarKind(i) is { } kind && f.IsBarStart(i))
                {
                    bars.Add((f, i, f.BarSize(i), kind));
                }
            }
        }

        ulong nextIo = io.Start;
        ulong nextMemory = memory.Start;
        Span<byte> word = stackalloc byte[4];
        foreach (var (f, index, size, kind) in bars.OrderByDescending(b => b.Size))
        {
            bool isIo = kind == PciBarKind.Io;
            ref ulong next = ref isIo ? ref nextIo : ref nextMemory;
            var window = isIo ? io : memory;
            ulong address = (next + size - 1) & ~(size - 1);
            if (address < next || address + size - 1 > window.Last)
            {
                throw new DeviceConfigurationException(
                    $"PCI {f.Address}: BAR {index} ({size} bytes of {(isIo ? "I/O" : "memory")}) does not fit in the window 0x{window.Start:x}-0x{window.Last:x}");
            }

            next = address + size;
            int at = Bar0 + (index * 4);
            BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)address);
            f.WriteConfig(at, word);
            if (kind == PciBarKind.Memory64)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)(address >> 32));
                f.WriteConfig(at + 4, word);
            }
        }

        Span<byte> pin = stackalloc byte[1];
        Span<byte> c = stackalloc byte[2];
        foreach (var f in bus.Functions)
        {
            f.ReadConfig(InterruptPin, pin);
            if (pin[0] != 0 && interruptLine is not null)
            {
                f.WriteConfig(InterruptLine, [interruptLine(f.Address!.Value, pin[0])]);
            }

            ushort command = 0;
            for (int i = 0; i < 6; i++)
            {
                command |= f.BarKind(i) switch
                {
                    PciBarKind.Io => CommandIoSpace,
                    null => 0,
                    _ => CommandMemorySpace,
                };
            }

            if (command != 0)
            {
                f.ReadConfig(Command, c);
                BinaryPrimitives.WriteUInt16LittleEndian(c, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(c) | command));
                f.WriteConfig(Command, c);
            }
        }
    }
}
