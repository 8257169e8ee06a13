using SoftKvm.Core.Io;
using SoftKvm.Core.Memory;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Virtio;
using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests;

/// <summary>Whatever the guest writes, a device answers or ignores it: no host exception.</summary>
public sealed class GuestInputFuzzTests : IDisposable
{
    private readonly string _disk = Path.Combine(Path.GetTempPath(), $"softkvm-fuzz-{Guid.NewGuid():N}.img");

    public GuestInputFuzzTests() => File.WriteAllBytes(_disk, new byte[64 * 512]);

    public void Dispose() => File.Delete(_disk);

    private static void Hammer(IIoDevice device, ulong window, int seed, int accesses = 20_000)
    {
        var rng = new Random(seed);
        Span<byte> buffer = stackalloc byte[8];
        int[] sizes = [1, 2, 4, 8];
        for (int i = 0; i < accesses; i++)
        {
            int size = (int)Math.Min((ulong)sizes[rng.Next(sizes.Length)], window); // the bus only passes accesses inside the window
            ulong offset = (ulong)rng.NextInt64((long)window - size + 1);
            if (rng.Next(8) == 0)
            {
                offset &= 0xFC; // favour the low registers, where the state machines are
            }

            var data = buffer[..size];
            if (rng.Next(2) == 0)
            {
                rng.NextBytes(data);
                device.Write(null, offset, data);
            }
            else
            {
                device.Read(null, offset, data);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PcPlatformDevicesSurviveRandomAccesses(int seed)
    {
        int stops = 0;
        Hammer(new AcpiPm(() => stops++, _ => { }), AcpiPm.PortCount, seed);
        Hammer(new ResetControl(() => stops++), 1, seed, 200);
        var lines = Enumerable.Range(0, PcTestDevice.IrqLineCount).Select(_ => new FakeIrqLine()).ToArray();
        var testdev = new PcTestDevice(lines, _ => { });
        Hammer(testdev.Data, PcTestDevice.RegisterPorts, seed);
        Hammer(testdev.ByteData, PcTestDevice.RegisterPorts, seed);
        Hammer(testdev.FlushPage, PcTestDevice.RegisterPorts, seed);
        Hammer(testdev.IrqLines, PcTestDevice.IrqLineCount, seed);
        Hammer(testdev.Memory, PcTestDevice.MemorySize, seed);
        var host = new Pci.FakePciHost();
        var bus = new PciBus(host);
        bus.Attach(0, 0, new I440fxHostBridge());
        using var pciTest = new PciTestDevice();
        bus.Attach(2, 0, pciTest);
        Hammer(new PciConfigMechanism1(bus), PciConfigMechanism1.PortCount, seed);
        Assert.True(stops > 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void UartsRtcsAndExitDeviceSurviveRandomAccesses(int seed)
    {
        var irq = new FakeIrqLine();
        var output = new SerialOutput(new MemoryStream());
        var pl011 = new Pl011(output, irq);
        pl011.Receive("input"u8);
        Hammer(pl011, 0x1000, seed);
        using var pl031 = new Pl031(irq);
        Hammer(pl031, 0x1000, seed);
        var uart = new Uart16550(output, irq);
        uart.Receive("input"u8);
        Hammer(uart, 8, seed);
        Hammer(new CmosRtc(), 2, seed);
        int exits = 0;
        Hammer(new IsaDebugExit(_ => exits++), 4, seed, 100);
        Assert.True(exits > 0);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void VirtioSurvivesRandomRegistersAndRandomRings(int seed)
    {
        using var memory = new GuestMemory();
        memory.SetRegion(0, 0x4000_0000, 1 << 20, MemorySlotFlags.None);
        var rng = new Random(seed);
        var junk = new byte[1 << 20];
        rng.NextBytes(junk);
        memory.Write(0x4000_0000, junk);
        using var blk = new VirtioBlock(_disk, readOnly: false);
        var devices = new VirtioDevice[] { new VirtioConsole(new SerialOutput(new MemoryStream())), blk };
        foreach (var device in devices)
        {
            var transport = new VirtioMmioTransport(device, memory, new FakeIrqLine());
            for (int round = 0; round < 200; round++)
            {
                // A plausible driver setup over random ring contents, then random register traffic.
                Io.Write32(transport, 0x070, 0);
                Io.Write32(transport, 0x070, 1 | 2);
                Io.Write32(transport, 0x024, 1);
                Io.Write32(transport, 0x020, 1);
                Io.Write32(transport, 0x070, 1 | 2 | 8);
                for (int q = 0; q < 2; q++)
                {
                    Io.Write32(transport, 0x030, (uint)q);
                    Io.Write32(transport, 0x038, 1u << rng.Next(0, 9));
                    Io.Write32(transport, 0x080, 0x4000_0000u + ((uint)rng.Next(0, 0xF0000) & ~15u));
                    Io.Write32(transport, 0x090, 0x4000_0000u + ((uint)rng.Next(0, 0xF0000) & ~1u));
                    Io.Write32(transport, 0x0A0, 0x4000_0000u + ((uint)rng.Next(0, 0xF0000) & ~3u));
                    Io.Write32(transport, 0x044, 1);
                }

                Io.Write32(transport, 0x070, 1 | 2 | 4 | 8);
                Io.Write32(transport, 0x050, (uint)rng.Next(0, 3));
                if (device is VirtioConsole console)
                {
                    console.Receive("fuzz"u8);
                }

                Hammer(transport, 0x200, seed + round, 50);
            }

            Assert.True(transport.DriverErrors > 0);
        }
    }
}
