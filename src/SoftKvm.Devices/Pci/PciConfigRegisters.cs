namespace SoftKvm.Devices.Pci;

/// <summary>
/// The type 0 configuration header and the capability structures SoftKvm implements, spelled as in the
/// PCI Local Bus Specification 3.0, chapter 6 ("Configuration Space"), sections 6.1, 6.2, 6.7 and 6.8.
/// </summary>
internal static class PciConfigRegisters
{
    /// <summary>The size of a conventional function's configuration space.</summary>
    public const int ConventionalSize = 256;

    /// <summary>The size of a PCI Express function's configuration space (extended, reachable through ECAM).</summary>
    public const int ExpressSize = 4096;

    public const int VendorId = 0x00;          // 16, RO
    public const int DeviceId = 0x02;          // 16, RO
    public const int Command = 0x04;           // 16, RW
    public const int Status = 0x06;            // 16, RO and RW1C
    public const int RevisionId = 0x08;        // 8, RO
    public const int ClassCode = 0x09;         // 24, RO: programming interface, subclass, base class
    public const int CacheLineSize = 0x0C;     // 8, RW
    public const int LatencyTimer = 0x0D;      // 8
    public const int HeaderType = 0x0E;        // 8, RO: bit 7 = multi-function
    public const int Bist = 0x0F;              // 8
    public const int Bar0 = 0x10;              // six 32-bit base address registers
    public const int CardbusCis = 0x28;
    public const int SubsystemVendorId = 0x2C; // 16, RO
    public const int SubsystemId = 0x2E;       // 16, RO
    public const int ExpansionRom = 0x30;      // 32
    public const int CapabilitiesPointer = 0x34; // 8, RO
    public const int InterruptLine = 0x3C;     // 8, RW: for the driver (firmware writes the IRQ routed)
    public const int InterruptPin = 0x3D;      // 8, RO: 0 none, 1-4 INTA#-INTD#
    public const int MinGnt = 0x3E;
    public const int MaxLat = 0x3F;

    /// <summary>Where the first capability goes (after the header).</summary>
    public const int FirstCapability = 0x40;

    // Command register bits (6.2.2).
    public const ushort CommandIoSpace = 1 << 0;
    public const ushort CommandMemorySpace = 1 << 1;
    public const ushort CommandBusMaster = 1 << 2;
    public const ushort CommandParityErrorResponse = 1 << 6;
    public const ushort CommandSerrEnable = 1 << 8;
    public const ushort CommandInterruptDisable = 1 << 10;

    /// <summary>The command bits a function implements (the others are read-only zero).</summary>
    public const ushort CommandWritable = CommandIoSpace | CommandMemorySpace | CommandBusMaster | CommandParityErrorResponse
        | CommandSerrEnable | CommandInterruptDisable;

    // Status register bits (6.2.3).
    public const ushort StatusInterrupt = 1 << 3;
    public const ushort StatusCapabilitiesList = 1 << 4;

    /// <summary>The error bits of the status register, cleared by writing 1 (master data parity error, target and master aborts, SERR, parity).</summary>
    public const ushort StatusWriteOneToClear = (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15);

    // Header type.
    public const byte HeaderTypeMultiFunction = 0x80;

    // Base address register low bits (6.2.5.1).
    public const uint BarIoSpace = 1;
    public const uint BarMemory64 = 2 << 1;
    public const uint BarPrefetchable = 1 << 3;

    // Capability IDs (appendix H).
    public const byte CapabilityMsi = 0x05;
    public const byte CapabilityVendor = 0x09;
    public const byte CapabilityMsix = 0x11;
}
