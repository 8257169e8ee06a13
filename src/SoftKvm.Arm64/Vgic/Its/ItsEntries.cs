namespace SoftKvm.Arm64.Vgic;

/// <summary>A mapped device (MAPD): its interrupt translation table and its translations (KVM's its_device).</summary>
internal sealed class ItsDevice(uint id, ulong ittAddress, int eventIdBits)
{
    public uint Id { get; } = id;

    /// <summary>The guest-physical address of its interrupt translation table (KVM keeps its ITEs there only on save).</summary>
    public ulong IttAddress { get; } = ittAddress;

    /// <summary>EventIDs 0 .. 2^bits - 1 exist.</summary>
    public int EventIdBits { get; } = eventIdBits;

    /// <summary>Its translations by EventID.</summary>
    public Dictionary<uint, ItsTranslation> Translations { get; } = [];
}

/// <summary>A collection (MAPC, or created unmapped by MAPTI): the redistributor its LPIs go to (KVM's its_collection).</summary>
internal sealed class ItsCollection(ushort id, uint target)
{
    /// <summary><see cref="Target"/> of a collection no MAPC has mapped.</summary>
    public const uint NotMapped = uint.MaxValue;

    public ushort Id { get; } = id;

    /// <summary>The target processor number (vCPU index), or <see cref="NotMapped"/>.</summary>
    public uint Target { get; set; } = target;

    public bool IsMapped => Target != NotMapped;
}

/// <summary>An interrupt translation entry (MAPTI): an event's LPI and collection (KVM's its_ite).</summary>
internal sealed class ItsTranslation(uint eventId, ItsCollection collection, VgicIrq lpi)
{
    public uint EventId { get; } = eventId;

    /// <summary>The collection; null once MAPC unmapped it (as in KVM, a later MAPC of the same ID does not bring it back).</summary>
    public ItsCollection? Collection { get; set; } = collection;

    /// <summary>The ID of the collection it was last given (what a save writes, also after the collection went).</summary>
    public ushort CollectionId { get; private set; } = collection.Id;

    /// <summary>MOVI: moves it to <paramref name="target"/>.</summary>
    public void MoveTo(ItsCollection target)
    {
        Collection = target;
        CollectionId = target.Id;
    }

    public VgicIrq Lpi { get; } = lpi;

    public bool IsMapped => Collection is { IsMapped: true };
}
