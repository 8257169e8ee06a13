using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// Configuration mechanism #1 (PCI Local Bus Specification 3.0, section 3.2.2.3.2), the PC's way to
/// configuration space: CONFIG_ADDRESS at port 0xCF8 (a 32-bit register: enable in bit 31, bus 23:16,
/// device 15:11, function 10:8, register 7:2) and CONFIG_DATA at 0xCFC-0xCFF, where an access of 1, 2 or
/// 4 bytes reaches the addressed register plus the port's offset. Only a doubleword access at 0xCF8 is
/// CONFIG_ADDRESS; narrower accesses to 0xCF8-0xCFB go to <paramref name="byteRegisters"/> when given
/// (the PIIX reset control register at 0xCF9 on the PC) and are otherwise ignored (reads all ones).
/// Register the device on 8 ports at 0xCF8.
/// </summary>
/// <param name="bus">The bus the configuration cycles go to (other bus numbers read all ones).</param>
/// <param name="byteRegisters">What answers the byte accesses to 0xCF8-0xCFB, offset from 0xCF8, or null.</param>
public sealed class PciConfigMechanism1(PciBus bus, IIoDevice? byteRegisters = null) : IIoDevice
{
    /// <summary>The port of CONFIG_ADDRESS.</summary>
    public const ushort AddressPort = 0xCF8;

    /// <summary>The ports to register from <see cref="AddressPort"/> (CONFIG_ADDRESS and CONFIG_DATA).</summary>
    public const ulong PortCount = 8;

    private const uint Enable = 1u << 31;

    // Bits 30:24 are reserved and bits 1:0 select no register (read as zero).
    private const uint Implemented = Enable | 0x00FF_FFFC;

    private uint _address;

    /// <summary>The CONFIG_ADDRESS register (set by a snapshot's restore; reserved bits stay 0).</summary>
    public uint ConfigAddress
    {
        get => Volatile.Read(ref _address);
        set => Volatile.Write(ref _address, value & Implemented);
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (offset < 4)
        {
            if (offset == 0 && data.Length == 4)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(data, ConfigAddress);
            }
            else if (byteRegisters is not null)
            {
                byteRegisters.Read(vcpu, offset, data);
            }
            else
            {
                data.Fill(0xFF);
            }

            return;
        }

        uint a = ConfigAddress;
        if ((a & Enable) == 0 || (a >> 16 & 0xFF) != bus.Number)
        {
            data.Fill(0xFF);
            return;
        }

        bus.ReadConfig(Target(a), Register(a, offset), data);
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset < 4)
        {
            if (offset == 0 && data.Length == 4)
            {
                Volatile.Write(ref _address, BinaryPrimitives.ReadUInt32LittleEndian(data) & Implemented);
            }
            else
            {
                byteRegisters?.Write(vcpu, offset, data);
            }

            return;
        }

        uint a = ConfigAddress;
        if ((a & Enable) != 0 && (a >> 16 & 0xFF) == bus.Number)
        {
            bus.WriteConfig(Target(a), Register(a, offset), data);
        }
    }

    private static PciAddress Target(uint a) => new((byte)(a >> 16), (int)(a >> 11) & 31, (int)(a >> 8) & 7);

    private static int Register(uint a, ulong offset) => (int)(a & 0xFC) + (int)(offset - 4);
}
