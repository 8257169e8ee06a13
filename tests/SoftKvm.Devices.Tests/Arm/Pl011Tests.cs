using SoftKvm.Devices.Arm;

namespace SoftKvm.Devices.Tests.Arm;

public class Pl011Tests
{
    private readonly MemoryStream _out = new();
    private readonly FakeIrqLine _irq = new();
    private readonly Pl011 _uart;

    public Pl011Tests() => _uart = new Pl011(new SerialOutput(_out), _irq);

    [Fact]
    public void IdRegistersMatchThePrimeCellValues()
    {
        byte[] expected = [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(expected[i], Io.Read32(_uart, 0xFE0 + (ulong)(i * 4)));
        }
    }

    [Fact]
    public void SixtyFourBitReadsTwoRegistersAsQemuSplitsIt()
    {
        Span<byte> b = stackalloc byte[8];
        _uart.Read(null, 0xFF8, b);
        Assert.Equal(0x0000_00B1_0000_0005UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b));
        _uart.Read(null, 0xFE0, b);
        Assert.Equal(0x0000_0010_0000_0011UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b));
    }

    [Fact]
    public void SixtyFourBitWriteWritesTwoRegisters()
    {
        Span<byte> b = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, (0x3FUL << 32) | 0x1234);
        _uart.Write(null, 0x024, b); // IBRD, then FBRD
        Assert.Equal(0x1234u, Io.Read32(_uart, 0x024));
        Assert.Equal(0x3Fu, Io.Read32(_uart, 0x028));
    }

    [Fact]
    public void ResetValues()
    {
        Assert.Equal(0x90u, Io.Read32(_uart, 0x018)); // TXFE | RXFE
        Assert.Equal(0x300u, Io.Read32(_uart, 0x030)); // TXE | RXE
        Assert.Equal(0x12u, Io.Read32(_uart, 0x034));
        Assert.False(_irq.Level);
    }

    [Fact]
    public void DataWriteGoesToTheOutputAndRaisesTxWhenUnmasked()
    {
        Io.Write32(_uart, 0x038, 1 << 5); // TXIM
        Io.Write32(_uart, 0x000, 'H');
        Io.Write32(_uart, 0x000, 'i');
        Assert.Equal("Hi", System.Text.Encoding.ASCII.GetString(_out.ToArray()));
        Assert.True(_irq.Level);
        Assert.Equal(1u << 5, Io.Read32(_uart, 0x040));
        Io.Write32(_uart, 0x044, 1 << 5); // ICR
        Assert.False(_irq.Level);
        Assert.Equal(0u, Io.Read32(_uart, 0x040));
    }

    [Fact]
    public void ByteWideDataWriteIsTransmitted()
    {
        Io.Write8(_uart, 0x000, (byte)'x');
        Assert.Equal("x", System.Text.Encoding.ASCII.GetString(_out.ToArray()));
    }

    [Fact]
    public void ReceiveFillsFifoAndRaisesTimeoutBelowTriggerLevel()
    {
        Io.Write32(_uart, 0x02C, 1 << 4); // FEN
        Io.Write32(_uart, 0x038, (1 << 4) | (1 << 6)); // RXIM | RTIM
        Assert.Equal(3, _uart.Receive("abc"u8));
        Assert.True(_irq.Level);
        Assert.Equal(1u << 6, Io.Read32(_uart, 0x040)); // RT, the FIFO is below half full
        Assert.Equal(0u, Io.Read32(_uart, 0x018) & (1 << 4)); // RXFE clear
        Assert.Equal((uint)'a', Io.Read32(_uart, 0x000));
        Assert.Equal((uint)'b', Io.Read32(_uart, 0x000));
        Assert.Equal((uint)'c', Io.Read32(_uart, 0x000));
        Assert.NotEqual(0u, Io.Read32(_uart, 0x018) & (1 << 4)); // RXFE
        Assert.False(_irq.Level);
    }

    [Fact]
    public void ReceiveAtTriggerLevelRaisesRx()
    {
        Io.Write32(_uart, 0x02C, 1 << 4);
        Io.Write32(_uart, 0x038, 1 << 4);
        _uart.Receive("12345678"u8); // half of 16
        Assert.Equal(1u << 4, Io.Read32(_uart, 0x03C) & (1 << 4));
        Assert.True(_irq.Level);
    }

    [Fact]
    public void FifoFullStopsTakingInputAndSetsRxff()
    {
        Io.Write32(_uart, 0x02C, 1 << 4);
        Assert.Equal(16, _uart.Receive(new byte[20]));
        Assert.NotEqual(0u, Io.Read32(_uart, 0x018) & (1 << 6));
    }

    [Fact]
    public void WithoutFifoOnlyOneByteIsHeld()
    {
        Assert.Equal(1, _uart.Receive("xy"u8));
    }

    [Fact]
    public void LoopbackFeedsTheReceiver()
    {
        Io.Write32(_uart, 0x030, 0x381); // UARTEN | LBE | TXE | RXE
        Io.Write32(_uart, 0x000, 'q');
        Assert.Empty(_out.ToArray());
        Assert.Equal((uint)'q', Io.Read32(_uart, 0x000));
    }

    [Fact]
    public void ReservedOffsetsReadZeroAndIgnoreWrites()
    {
        Io.Write32(_uart, 0x100, 0xFFFF_FFFF);
        Assert.Equal(0u, Io.Read32(_uart, 0x100));
    }

    [Fact]
    public void DivisorsAreMaskedToTheirWidths()
    {
        Io.Write32(_uart, 0x024, 0x12345);
        Io.Write32(_uart, 0x028, 0xFF);
        Assert.Equal(0x2345u, Io.Read32(_uart, 0x024));
        Assert.Equal(0x3Fu, Io.Read32(_uart, 0x028));
    }

    [Fact]
    public void StateRoundTrips()
    {
        Io.Write32(_uart, 0x02C, 1 << 4);
        Io.Write32(_uart, 0x038, 1 << 6);
        _uart.Receive("zz"u8);
        var state = _uart.SaveState();
        var irq = new FakeIrqLine();
        var copy = new Pl011(new SerialOutput(new MemoryStream()), irq);
        copy.RestoreState(state);
        Assert.Equal(state, copy.SaveState() with { RxFifo = state.RxFifo });
        Assert.Equal(state.RxFifo, copy.SaveState().RxFifo);
        Assert.True(irq.Level);
    }
}
