using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core.Io;
using SoftKvm.Core.Memory;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Tests.Pci;
using SoftKvm.Devices.Virtio;

namespace SoftKvm.Devices.Tests.Virtio;

/// <summary>
/// virtio-console behind the virtio-pci transport, driven as Linux's virtio_pci_modern drives it: the
/// capabilities found by walking the list, features and status through the common configuration, a
/// queue set up and notified at queue_notify_off * multiplier, the interrupt first as INTx with the ISR,
/// then as an MSI-X vector.
/// </summary>
public sealed class VirtioPciTransportTests : IDisposable
{
    private const ulong Ram = 0x4000_0000;
    private const ulong Desc = Ram + 0x1000, Avail = Ram + 0x2000, Used = Ram + 0x3000, Buffer = Ram + 0x10000;

    private readonly FakePciHost _host = new();
    private readonly GuestMemory _memory = new();
    private readonly MemoryStream _output = new();
    private readonly VirtioPciTransport _f;
    private readonly ulong _regs;
    private readonly ulong _msix;
    private ushort _availIdx;

    public VirtioPciTransportTests()
    {
        _memory.SetRegion(0, Ram, 1 << 20, MemorySlotFlags.None);
        _f = new VirtioPciTransport(new VirtioConsole(new SerialOutput(_output)), _memory);
        var bus = new PciBus(_host);
        bus.Attach(3, 0, _f);
        PciFirmware.AssignResources(bus, new PciWindow(0xC000, 0x1000), new PciWindow(0xE000_0000, 0x1000_0000));
        _regs = _f.BarAddress(VirtioPciTransport.RegistersBar)!.Value;
        _msix = _f.BarAddress(VirtioPciTransport.MsixBar)!.Value;
    }

    public void Dispose() => _memory.Dispose();

    private Dictionary<byte, (int Cap, byte Bar, uint Offset, uint Length)> VirtioCapabilities()
    {
        var caps = new Dictionary<byte, (int, byte, uint, uint)>();
        for (int at = Config.Read8(_f, 0x34); at != 0; at = Config.Read8(_f, at + 1))
        {
            if (Config.Read8(_f, at) == VirtioPciTransport.CapabilityVendorSpecific)
            {
                caps[Config.Read8(_f, at + 3)] = (at, Config.Read8(_f, at + 4), Config.Read32(_f, at + 8), Config.Read32(_f, at + 12));
            }
        }

        return caps;
    }

    private int MsixCapability()
    {
        for (int at = Config.Read8(_f, 0x34); at != 0; at = Config.Read8(_f, at + 1))
        {
            if (Config.Read8(_f, at) == 0x11)
            {
                return at;
            }
        }

        throw new InvalidOperationException("no MSI-X capability");
    }

    private uint Read(ulong offset, int size)
    {
        Span<byte> b = stackalloc byte[4];
        b.Clear();
        Assert.True(_host.MemorySpace.Read(null, _regs + offset, b[..size]));
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private void Write(ulong offset, uint value, int size)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Assert.True(_host.GuestWrite(IoBusKind.Mmio, _regs + offset, b[..size]));
    }

    private void Transmit(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        _memory.Write(Buffer, bytes);
        ushort d = (ushort)(_availIdx % 8);
        _memory.Write(Desc + (16UL * d), Buffer);
        _memory.Write(Desc + (16UL * d) + 8, (uint)bytes.Length);
        _memory.Write(Desc + (16UL * d) + 12, (ushort)0);
        _memory.Write(Avail + 4 + (2UL * d), d);
        _availIdx++;
        _memory.Write(Avail + 2, _availIdx);
        Write(VirtioPciTransport.NotifyOffset + (1 * VirtioPciTransport.NotifyOffMultiplier), 1, 2); // queue 1: notify_off 1
    }

    private void Initialise()
    {
        Write(0x14, 0, 1); // reset
        Write(0x14, 1 | 2, 1); // ACKNOWLEDGE | DRIVER
        Write(0x00, 1, 4);
        Assert.Equal(1u, Read(0x04, 4) & 1); // VIRTIO_F_VERSION_1 (bit 32)
        Write(0x08, 1, 4);
        Write(0x0C, 1, 4);
        Write(0x08, 0, 4);
        Write(0x0C, 0, 4);
        Write(0x14, 1 | 2 | 8, 1); // FEATURES_OK
        Assert.Equal(8u, Read(0x14, 1) & 8);
        Assert.Equal(2u, Read(0x12, 2)); // num_queues
        Write(0x16, 1, 2); // queue_select 1 (transmit)
        Assert.Equal(256u, Read(0x18, 2));
        Write(0x18, 8, 2);
        Write(0x20, (uint)Desc, 4);
        Write(0x24, 0, 4);
        Write(0x28, (uint)Avail, 4);
        Write(0x2C, 0, 4);
        Write(0x30, (uint)Used, 4);
        Write(0x34, 0, 4);
        Assert.Equal(1u, Read(0x1E, 2)); // queue_notify_off
        Assert.Equal((uint)Desc, Read(0x20, 4));
        Write(0x1C, 1, 2); // queue_enable
        Assert.Equal(1u, Read(0x1C, 2));
        Write(0x14, 1 | 2 | 8 | 4, 1); // DRIVER_OK
        Config.Write16(_f, 0x04, 0x0006); // memory space, bus master
    }

    [Fact]
    public void IdentityBarsAndCapabilitiesAreQemusModernLayout()
    {
        Assert.Equal(0x1043_1AF4u, Config.Read32(_f, 0)); // 0x1040 + console (3)
        Assert.Equal(0x0780_0001u, Config.Read32(_f, 8)); // class 07 80 00, revision 1
        Assert.Equal(1, Config.Read8(_f, 0x3D)); // INTA#
        Assert.Equal(0xCu, Config.Read32(_f, 0x10 + (4 * VirtioPciTransport.RegistersBar)) & 0xF); // 64-bit prefetchable
        Assert.Equal(VirtioPciTransport.RegistersSize, _f.BarSize(VirtioPciTransport.RegistersBar));
        var caps = VirtioCapabilities();
        Assert.Equal((4, 0x0000u, 0x3Cu), (caps[1].Bar, caps[1].Offset, caps[1].Length));
        Assert.Equal((4, 0x3000u), (caps[2].Bar, caps[2].Offset));
        Assert.Equal(4u, Config.Read32(_f, caps[2].Cap + 16)); // notify_off_multiplier
        Assert.Equal(20, Config.Read8(_f, caps[2].Cap + 2));
        Assert.Equal((4, 0x1000u), (caps[3].Bar, caps[3].Offset));
        Assert.Equal((4, 0x2000u), (caps[4].Bar, caps[4].Offset));
        Assert.True(caps.ContainsKey(5));
        int msix = MsixCapability();
        Assert.Equal(2, Config.Read16(_f, msix + 2) & 0x7FF); // 3 vectors: table size - 1
        Assert.Equal((uint)VirtioPciTransport.MsixBar, Config.Read32(_f, msix + 4) & 7);
    }

    [Fact]
    public void UsedBuffersRaiseIntxWithTheIsrThenTheQueuesMsixVector()
    {
        Initialise();
        var intx = _host.Intx[(_f.Address!.Value, 1)];
        Transmit("hi");
        Assert.Equal("hi", Encoding.ASCII.GetString(_output.ToArray()));
        Assert.Equal(1, _memory.Read<ushort>(Used + 2));
        Assert.True(intx.Level);
        Assert.Equal(1u, Read(VirtioPciTransport.IsrOffset, 1)); // used buffer; reading clears it
        Assert.False(intx.Level);
        Assert.Equal(0u, Read(VirtioPciTransport.IsrOffset, 1));

        // MSI-X: vector 1 for queue 1, entry 1 unmasked, then enabled in the capability.
        Span<byte> e = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(e, 0xFEE0_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], 0x41);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], 0);
        for (int i = 0; i < 16; i += 4)
        {
            Assert.True(_host.GuestWrite(IoBusKind.Mmio, _msix + 16 + (ulong)i, e.Slice(i, 4)));
        }

        Config.Write16(_f, MsixCapability() + 2, 0x8000);
        Write(0x16, 1, 2);
        Write(0x1A, 1, 2);
        Assert.Equal(1u, Read(0x1A, 2));
        Transmit("!");
        Assert.Equal("hi!", Encoding.ASCII.GetString(_output.ToArray()));
        Assert.Equal([(0xFEE0_0000UL, 0x41u)], _host.Msis);
        Assert.False(intx.Level);
        Assert.Equal(0u, Read(VirtioPciTransport.IsrOffset, 1));
    }

    // A snapshot's state of the function restored into a new one (the same guest memory): its common configuration
    // reads the same, its BARs decode where the saved registers say, and the next buffer goes on in the rings and
    // sends the queue's MSI-X vector.
    [Fact]
    public void ASavedStateRestoredIntoANewFunctionGoesOnWhereItStopped()
    {
        Initialise();
        Span<byte> e = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(e, 0xFEE0_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], 0x41);
        for (int i = 0; i < 16; i += 4)
        {
            Assert.True(_host.GuestWrite(IoBusKind.Mmio, _msix + 16 + (ulong)i, e.Slice(i, 4)));
        }

        Config.Write16(_f, MsixCapability() + 2, 0x8000);
        Write(0x16, 1, 2);
        Write(0x1A, 1, 2);
        Write(0x10, 2, 2);
        Transmit("one ");
        var state = _f.SaveState();

        var host = new FakePciHost();
        var output = new MemoryStream();
        var g = new VirtioPciTransport(new VirtioConsole(new SerialOutput(output)), _memory);
        new PciBus(host).Attach(3, 0, g);
        g.RestoreState(state);
        Assert.Equal(_regs, g.BarAddress(VirtioPciTransport.RegistersBar));
        Span<byte> before = stackalloc byte[0x3C], after = stackalloc byte[0x3C];
        Assert.True(_host.MemorySpace.Read(null, _regs, before));
        Assert.True(host.MemorySpace.Read(null, _regs, after));
        Assert.True(before.SequenceEqual(after));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(after[0x10..])); // config_msix_vector
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(after[0x1A..])); // queue 1's vector

        _memory.Write(Buffer, "two"u8.ToArray());
        _memory.Write(Desc + 16 + 8, 3u);
        _memory.Write(Desc + 16, Buffer);
        _memory.Write(Avail + 4 + 2, (ushort)1);
        _memory.Write(Avail + 2, (ushort)2);
        Assert.True(host.GuestWrite(IoBusKind.Mmio, _regs + VirtioPciTransport.NotifyOffset + VirtioPciTransport.NotifyOffMultiplier, [1, 0]));
        Assert.Equal("two", Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(2, _memory.Read<ushort>(Used + 2));
        Assert.Equal([(0xFEE0_0000UL, 0x41u)], host.Msis);
    }

    [Fact]
    public void AStateOfAnotherQueueCountOrWithAVectorTheFunctionLacksIsRefused()
    {
        var state = _f.SaveState();
        var other = new VirtioPciTransport(new VirtioConsole(new SerialOutput(new MemoryStream())), _memory);
        Assert.Throws<Core.Errors.SoftKvmException>(() => other.RestoreState(state with { QueueVectors = [VirtioPciTransport.NoVector] }));
        Assert.Throws<Core.Errors.SoftKvmException>(() => other.RestoreState(state with { ConfigVector = 3 }));
        Assert.Throws<Core.Errors.SoftKvmException>(() => other.RestoreState(state with { Function = state.Function with { MsixTable = new byte[16] } }));
    }

    [Fact]
    public void VectorsOutOfRangeReadNoVectorAndResetClearsThem()
    {
        Initialise();
        Write(0x10, 7, 2); // config_msix_vector: only 3 vectors
        Assert.Equal(VirtioPciTransport.NoVector, Read(0x10, 2));
        Write(0x10, 0, 2);
        Assert.Equal(0u, Read(0x10, 2));
        Write(0x16, 0, 2);
        Write(0x1A, 2, 2);
        Assert.Equal(2u, Read(0x1A, 2));
        Write(0x14, 0, 1); // reset
        Assert.Equal(0u, Read(0x14, 1));
        Assert.Equal(VirtioPciTransport.NoVector, Read(0x10, 2));
        Assert.Equal(VirtioPciTransport.NoVector, Read(0x1A, 2));
        Assert.Equal(0u, Read(0x1C, 2)); // queue 0 no longer enabled
    }

    [Fact]
    public void PciConfigurationAccessWindowReachesTheBar()
    {
        Initialise();
        int cap = VirtioCapabilities()[5].Cap;
        Config.Write8(_f, cap + 4, VirtioPciTransport.RegistersBar);
        Config.Write32(_f, cap + 8, 0x14); // device_status
        Config.Write32(_f, cap + 12, 1);
        Assert.Equal(15, Config.Read8(_f, cap + 16));
        Config.Write32(_f, cap + 8, 0x16); // queue_select, by the window
        Config.Write32(_f, cap + 12, 2);
        Config.Write16(_f, cap + 16, 1);
        Assert.Equal(1u, Read(0x16, 2));
        Config.Write32(_f, cap + 12, 3); // not 1, 2 or 4: ignored
        Assert.Equal(0, Config.Read16(_f, cap + 16) & 0xFF00); // the stored bytes, no window read
    }
}
