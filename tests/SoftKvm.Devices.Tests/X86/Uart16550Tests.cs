using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

public class Uart16550Tests
{
    private readonly MemoryStream _out = new();
    private readonly FakeIrqLine _irq = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests() => _uart = new Uart16550(new SerialOutput(_out), _irq);

    [Fact]
    public void ResetState()
    {
        Assert.Equal(0x01, Io.Read8(_uart, 2)); // IIR: no interrupt
        Assert.Equal(0x60, Io.Read8(_uart, 5)); // LSR: THRE | TEMT
        Assert.Equal(0x03, Io.Read8(_uart, 3));
        Assert.Equal(0xB0, Io.Read8(_uart, 6)); // CTS DSR DCD
        Assert.False(_irq.Level);
    }

    [Fact]
    public void ThrWriteIsTransmitted()
    {
        Io.Write8(_uart, 0, (byte)'o');
        Io.Write8(_uart, 0, (byte)'k');
        Assert.Equal("ok", System.Text.Encoding.ASCII.GetString(_out.ToArray()));
    }

    [Fact]
    public void DivisorLatchIsBehindDlab()
    {
        Io.Write8(_uart, 3, 0x83);
        Io.Write8(_uart, 0, 0x01);
        Io.Write8(_uart, 1, 0x02);
        Assert.Equal(0x01, Io.Read8(_uart, 0));
        Assert.Equal(0x02, Io.Read8(_uart, 1));
        Io.Write8(_uart, 3, 0x03);
        Assert.Empty(_out.ToArray());
        Assert.Equal(0x00, Io.Read8(_uart, 1)); // IER
    }

    [Fact]
    public void EnablingThreInterruptRaisesItAndReadingIirClearsIt()
    {
        Io.Write8(_uart, 1, 0x02);
        Assert.True(_irq.Level);
        Assert.Equal(0x02, Io.Read8(_uart, 2));
        Assert.False(_irq.Level);
        Assert.Equal(0x01, Io.Read8(_uart, 2));
        Io.Write8(_uart, 0, (byte)'a');
        Assert.True(_irq.Level);
    }

    [Fact]
    public void ReceivedDataRaisesRdaWithPriorityOverThre()
    {
        Io.Write8(_uart, 1, 0x03);
        _uart.Receive("z"u8);
        Assert.Equal(0x04, Io.Read8(_uart, 2));
        Assert.Equal(0x01, Io.Read8(_uart, 5) & 0x01);
        Assert.Equal((byte)'z', Io.Read8(_uart, 0));
        Assert.Equal(0x02, Io.Read8(_uart, 2));
    }

    [Fact]
    public void FifoModeReportsTimeoutBelowTriggerAndFifoBits()
    {
        Io.Write8(_uart, 2, 0xC1); // FIFO on, trigger 14
        Io.Write8(_uart, 1, 0x01);
        _uart.Receive("abc"u8);
        Assert.Equal(0xCC, Io.Read8(_uart, 2));
        Assert.Equal(16, _uart.Receive(new byte[20]) + 3);
    }

    [Fact]
    public void LoopbackReflectsModemControlAndData()
    {
        Io.Write8(_uart, 4, 0x1F);
        Assert.Equal(0xF0, Io.Read8(_uart, 6));
        Io.Write8(_uart, 0, 0x55);
        Assert.Empty(_out.ToArray());
        Assert.Equal(0x55, Io.Read8(_uart, 0));
    }

    [Fact]
    public void OverrunIsReportedOnceInLsr()
    {
        Io.Write8(_uart, 4, 0x10);
        Io.Write8(_uart, 0, 1);
        Io.Write8(_uart, 0, 2);
        Assert.Equal(0x02, Io.Read8(_uart, 5) & 0x02);
        Assert.Equal(0x00, Io.Read8(_uart, 5) & 0x02);
    }

    [Fact]
    public void ScratchRegisterHoldsAByte()
    {
        Io.Write8(_uart, 7, 0xA5);
        Assert.Equal(0xA5, Io.Read8(_uart, 7));
    }

    [Fact]
    public void StateRoundTrips()
    {
        Io.Write8(_uart, 7, 0x42);
        Io.Write8(_uart, 1, 0x01);
        _uart.Receive("q"u8);
        var irq = new FakeIrqLine();
        var copy = new Uart16550(new SerialOutput(new MemoryStream()), irq);
        copy.RestoreState(_uart.SaveState());
        Assert.Equal(0x42, Io.Read8(copy, 7));
        Assert.True(irq.Level);
        Assert.Equal((byte)'q', Io.Read8(copy, 0));
    }
}
