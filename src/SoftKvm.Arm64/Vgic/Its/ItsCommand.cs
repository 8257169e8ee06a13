namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// One 32-byte ITS command (IHI 0069 §6.3) as four little-endian doublewords, with its fields where the
/// specification (and KVM's its_cmd_get_* accessors) put them.
/// </summary>
internal readonly struct ItsCommand(ulong dw0, ulong dw1, ulong dw2, ulong dw3)
{
    /// <summary>The size of a command in the queue.</summary>
    public const int Size = 32;

    /// <summary>The command number, DW0 [7:0].</summary>
    public ItsCommandType Type => (ItsCommandType)(dw0 & 0xFF);

    /// <summary>DeviceID, DW0 [63:32].</summary>
    public uint DeviceId => (uint)(dw0 >> 32);

    /// <summary>MAPD: the EventID bits the device uses, DW1 [4:0] + 1.</summary>
    public int EventIdBits => (int)(dw1 & 0x1F) + 1;

    /// <summary>EventID, DW1 [31:0].</summary>
    public uint EventId => (uint)dw1;

    /// <summary>MAPTI: pINTID, DW1 [63:32].</summary>
    public uint PhysicalId => (uint)(dw1 >> 32);

    /// <summary>ICID, DW2 [15:0].</summary>
    public ushort CollectionId => (ushort)dw2;

    /// <summary>MAPD: ITT_addr, DW2 [51:8], as a byte address.</summary>
    public ulong IttAddress => ((dw2 >> 8) & ((1UL << 44) - 1)) << 8;

    /// <summary>MAPC, MOVALL: RDbase, DW2 [47:16] (a processor number, GITS_TYPER.PTA being 0).</summary>
    public uint TargetAddress => (uint)(dw2 >> 16);

    /// <summary>MOVALL: RDbase2, DW3 [47:16].</summary>
    public uint TargetAddress2 => (uint)(dw3 >> 16);

    /// <summary>MAPD, MAPC: V, DW2 [63].</summary>
    public bool Valid => (dw2 >> 63) != 0;
}

/// <summary>The ITS command numbers of the physical-LPI commands (IHI 0069 §6.3).</summary>
internal enum ItsCommandType : byte
{
    /// <summary>MOVI: moves an event to another collection.</summary>
    Movi = 0x01,

    /// <summary>INT: makes an event's LPI pending.</summary>
    Int = 0x03,

    /// <summary>CLEAR: removes an event's LPI's pending state.</summary>
    Clear = 0x04,

    /// <summary>SYNC: waits for earlier commands (nothing to wait for here).</summary>
    Sync = 0x05,

    /// <summary>MAPD: maps a DeviceID to an interrupt translation table, or unmaps it.</summary>
    Mapd = 0x08,

    /// <summary>MAPC: maps a collection to a redistributor, or unmaps it.</summary>
    Mapc = 0x09,

    /// <summary>MAPTI: maps an event to an LPI and a collection.</summary>
    Mapti = 0x0A,

    /// <summary>MAPI: MAPTI with the LPI equal to the EventID.</summary>
    Mapi = 0x0B,

    /// <summary>INV: re-reads an event's LPI's configuration.</summary>
    Inv = 0x0C,

    /// <summary>INVALL: re-reads the configuration of every LPI of a collection's redistributor.</summary>
    Invall = 0x0D,

    /// <summary>MOVALL: moves every LPI of one redistributor to another.</summary>
    Movall = 0x0E,

    /// <summary>DISCARD: unmaps an event and drops its pending state.</summary>
    Discard = 0x0F,
}

/// <summary>
/// The command errors of IHI 0069 (§6.3, "Command errors"), as Linux's arm-gic-v3.h numbers them. KVM's
/// command handlers return them and the command queue ignores them: the command has no effect and the ITS
/// goes on (docs/kvm-semantics.md#gicv3-its-and-lpis).
/// </summary>
public enum ItsCommandError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>MOVI: the event is not mapped.</summary>
    MoviUnmappedInterrupt = 0x010107,

    /// <summary>MOVI: the event's or the new collection is not mapped.</summary>
    MoviUnmappedCollection = 0x010109,

    /// <summary>INT (and MSIs): the event or its collection is not mapped.</summary>
    IntUnmappedInterrupt = 0x010307,

    /// <summary>CLEAR: the event is not mapped.</summary>
    ClearUnmappedInterrupt = 0x010507,

    /// <summary>MAPD: the DeviceID does not fit the device table.</summary>
    MapdDeviceOutOfRange = 0x010801,

    /// <summary>MAPD: more EventID bits than the ITS has.</summary>
    MapdIttSizeOutOfRange = 0x010802,

    /// <summary>MAPC: no such redistributor (processor number).</summary>
    MapcProcessorOutOfRange = 0x010902,

    /// <summary>MAPC, MAPTI: the collection ID does not fit the collection table.</summary>
    MapcCollectionOutOfRange = 0x010903,

    /// <summary>MAPTI: the device is not mapped.</summary>
    MaptiUnmappedDevice = 0x010A04,

    /// <summary>MAPTI: the EventID does not fit the device's translation table.</summary>
    MaptiIdOutOfRange = 0x010A05,

    /// <summary>MAPTI: the LPI is not an LPI the property table covers.</summary>
    MaptiPhysicalIdOutOfRange = 0x010A06,

    /// <summary>INV: the event is not mapped.</summary>
    InvUnmappedInterrupt = 0x010C07,

    /// <summary>INVALL: the collection is not mapped.</summary>
    InvallUnmappedCollection = 0x010D09,

    /// <summary>MOVALL: no such redistributor.</summary>
    MovallProcessorOutOfRange = 0x010E01,

    /// <summary>DISCARD: the event (or its collection) is not mapped.</summary>
    DiscardUnmappedInterrupt = 0x010F07,

    /// <summary>Not an error of the specification: a table the command needs is not in guest memory (KVM's -EFAULT).</summary>
    GuestMemory = -14,

    /// <summary>Not an error of the specification: a command number this ITS does not implement (KVM's -ENODEV).</summary>
    UnknownCommand = -19,
}
