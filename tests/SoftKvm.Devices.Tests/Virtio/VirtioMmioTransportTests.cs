using SoftKvm.Devices.Virtio;

namespace SoftKvm.Devices.Tests.Virtio;

public class VirtioMmioTransportTests
{
    private static VirtioDriver Console(out MemoryStream output)
    {
        output = new MemoryStream();
        return new VirtioDriver(new VirtioConsole(new SerialOutput(output)));
    }

    [Fact]
    public void IdentificationRegisters()
    {
        using var d = Console(out _);
        Assert.Equal(0x74726976u, d.Reg(0x000));
        Assert.Equal(2u, d.Reg(0x004));
        Assert.Equal(3u, d.Reg(0x008));
        Assert.Equal(0x554D4551u, d.Reg(0x00C));
        d.SetReg(0x030, 0);
        Assert.Equal(256u, d.Reg(0x034));
        d.SetReg(0x030, 5);
        Assert.Equal(0u, d.Reg(0x034)); // no such queue
    }

    [Fact]
    public void OffersVersion1AndRejectsFeaturesItDidNotOffer()
    {
        using var d = Console(out _);
        ulong offered = d.DeviceFeatures();
        Assert.NotEqual(0UL, offered & (1UL << 32));
        Assert.False(d.Initialise(2, offered | (1UL << 40)));
        Assert.False(d.Initialise(2, offered & ~(1UL << 32))); // legacy driver on a v2 transport
        Assert.True(d.Initialise(2));
        Assert.Equal(15u, d.Reg(0x070));
    }

    [Fact]
    public void StatusZeroResetsTheDevice()
    {
        using var d = Console(out _);
        Assert.True(d.Initialise(2));
        d.SetReg(0x070, 0);
        Assert.Equal(0u, d.Reg(0x070));
        d.SetReg(0x030, 0);
        Assert.Equal(0u, d.Reg(0x044));
    }

    [Fact]
    public void TransmitGoesToTheOutputAndInterruptIsAcknowledged()
    {
        using var d = Console(out var output);
        Assert.True(d.Initialise(2));
        d.Memory.Write(VirtioDriver.Ram + 0x10000, "hello"u8);
        d.Memory.Write(VirtioDriver.Ram + 0x10100, " world"u8);
        d.Post(1, (VirtioDriver.Ram + 0x10000, 5, false), (VirtioDriver.Ram + 0x10100, 6, false));
        d.Notify(1);
        Assert.Equal("hello world", System.Text.Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(1, d.UsedIdx(1));
        Assert.Equal((0u, 0u), d.Used(1, 0));
        Assert.True(d.Irq.Level);
        Assert.Equal(1u, d.Reg(0x060));
        d.SetReg(0x064, 1);
        Assert.False(d.Irq.Level);
    }

    [Fact]
    public void ReceiveFillsPostedBuffers()
    {
        using var d = Console(out _);
        var console = (VirtioConsole)d.Transport.Device;
        Assert.True(d.Initialise(2));
        Assert.Equal(3, console.Receive("abc"u8)); // no buffer yet: held
        d.Post(0, (VirtioDriver.Ram + 0x20000, 2, true));
        d.Notify(0);
        Assert.Equal(1, d.UsedIdx(0));
        Assert.Equal((0u, 2u), d.Used(0, 0));
        Assert.Equal("ab"u8.ToArray(), d.ReadBytes(VirtioDriver.Ram + 0x20000, 2));
        d.Post(0, (VirtioDriver.Ram + 0x20100, 16, true));
        d.Notify(0);
        Assert.Equal((1u, 1u), d.Used(0, 1));
        Assert.Equal((byte)'c', d.ReadBytes(VirtioDriver.Ram + 0x20100, 1)[0]);
    }

    [Fact]
    public void BadDescriptorSetsDeviceNeedsResetWithoutThrowing()
    {
        using var d = Console(out _);
        Assert.True(d.Initialise(2));
        d.Post(1, (0xDEAD_0000_0000, 4, false)); // not guest memory
        d.Notify(1);
        Assert.NotEqual(0u, d.Reg(0x070) & 64);
        Assert.Equal(2u, d.Reg(0x060) & 2);
        Assert.True(d.Irq.Level);
        Assert.Equal(1, d.Transport.DriverErrors);
    }

    [Fact]
    public void RingsOutsideMemoryAreADriverErrorNotAHostError()
    {
        using var d = Console(out _);
        Assert.True(d.Initialise(0));
        d.SetupQueue(1, 0x10, 0x200, 0x400); // below RAM
        d.SetReg(0x070, 15);
        d.Notify(1);
        Assert.NotEqual(0u, d.Reg(0x070) & 64);
    }

    [Fact]
    public void NonPowerOfTwoQueueSizeIsRefused()
    {
        using var d = Console(out _);
        d.SetReg(0x030, 0);
        d.SetReg(0x038, 7);
        d.SetReg(0x044, 1);
        Assert.Equal(0u, d.Reg(0x044));
        Assert.NotEqual(0u, d.Reg(0x070) & 64);
    }

    [Fact]
    public void NoSharedMemoryRegions()
    {
        using var d = Console(out _);
        Assert.Equal(uint.MaxValue, d.Reg(0x0B0));
        Assert.Equal(uint.MaxValue, d.Reg(0x0B4));
    }

    [Fact]
    public void EmergencyWriteGoesToTheOutput()
    {
        using var d = Console(out var output);
        Io.Write32(d.Transport, 0x100 + 8, 'E');
        Assert.Equal("E", System.Text.Encoding.ASCII.GetString(output.ToArray()));
    }

    [Fact]
    public void StateRoundTrips()
    {
        using var d = Console(out _);
        Assert.True(d.Initialise(2));
        var state = d.Transport.SaveState();
        using var e = Console(out _);
        e.Transport.RestoreState(state);
        var again = e.Transport.SaveState();
        Assert.Equal(state.Status, again.Status);
        Assert.Equal(state.Queues, again.Queues);
    }
}
