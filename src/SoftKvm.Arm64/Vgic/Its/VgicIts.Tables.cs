using System.Buffers.Binary;
using SoftKvm.Core.Errors;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The ITS tables in guest memory, in KVM's ABI revision 0 (Linux's
/// Documentation/virt/kvm/devices/arm-vgic-its.rst): the checks that an ID fits a table, and the save and
/// restore of devices, translations and collections (<c>KVM_DEV_ARM_ITS_SAVE_TABLES</c>,
/// <c>KVM_DEV_ARM_ITS_RESTORE_TABLES</c>).
/// </summary>
/// <remarks>
/// Entries, 8 bytes each, little-endian:
/// device table entry: Valid [63], Next [62:49] (DeviceID offset to the next entry, 0 = last),
/// ITT_addr [48:5] (address bits [51:8]), Size [4:0] (EventID bits - 1);
/// collection table entry: Valid [63], RDBase [51:16] (the processor number), ICID [15:0];
/// interrupt translation entry: Next [63:48] (EventID offset to the next entry, 0 = last),
/// pINTID [47:16], ICID [15:0].
/// A two-level table's level-1 entries hold Valid [63] and the 64 KiB level-2 page's address [51:16].
/// </remarks>
public sealed partial class VgicIts
{
    private const ulong PageSize = 0x10000;   // KVM's ITS tables use 64 KiB pages only
    private const int MaxDeviceIdOffset = (1 << 14) - 1;
    private const int MaxEventIdOffset = (1 << 16) - 1;

    /// <summary>
    /// KVM_DEV_ARM_ITS_SAVE_TABLES: writes every device's entry and its interrupt translation table, and the
    /// collection table (ended by an invalid entry when not full), into guest memory.
    /// </summary>
    /// <exception cref="VgicException">a device ID does not fit the device table, or a table is not in guest memory (-EINVAL / -EFAULT).</exception>
    public void SaveTables()
    {
        using (_vgic.Lock.Hold())
        {
            if ((_baserDevice & BaserValid) != 0)
            {
                var devices = _devices.Values.OrderBy(d => d.Id).ToList();
                for (int i = 0; i < devices.Count; i++)
                {
                    var device = devices[i];
                    if (!CheckId(_baserDevice, device.Id, out ulong entry))
                    {
                        throw new VgicException($"ITS save: DeviceID {device.Id} does not fit the device table", KvmErrno.InvalidArgument);
                    }

                    SaveTranslations(device);
                    uint next = i + 1 < devices.Count ? Math.Min(devices[i + 1].Id - device.Id, (uint)MaxDeviceIdOffset) : 0;
                    WriteEntry(entry, BaserValid | ((ulong)next << 49) | ((device.IttAddress >> 8) << 5) | (uint)(device.EventIdBits - 1));
                }
            }

            if ((_baserCollection & BaserValid) != 0)
            {
                ulong address = TableBase(_baserCollection);
                ulong size = TableSize(_baserCollection), filled = 0;
                foreach (var collection in _collections)
                {
                    WriteEntry(address + filled, BaserValid | ((ulong)collection.Target << 16) | (ulong)collection.Id);
                    filled += EntrySize;
                }

                if (filled < size)
                {
                    WriteEntry(address + filled, 0);
                }
            }
        }
    }

    /// <summary>
    /// KVM_DEV_ARM_ITS_RESTORE_TABLES: rebuilds collections, devices and translations (creating their LPIs)
    /// from the tables in guest memory; restore the ITS registers and the redistributors first.
    /// </summary>
    /// <exception cref="VgicException">an entry is inconsistent (-EINVAL), exists already (-EEXIST), or a table is not in guest memory.</exception>
    public void RestoreTables()
    {
        using (_vgic.Lock.Hold())
        {
            RestoreCollections();
            RestoreDevices();
            _vgic.FlushLocked();
        }
    }

    /// <summary>
    /// KVM's vgic_its_check_id: whether <paramref name="id"/> has an entry in the table <paramref name="baser"/>
    /// describes, in guest memory (for a two-level table, under a valid level-1 entry); its address in
    /// <paramref name="entry"/>. The table's Valid bit is not looked at, as in KVM.
    /// </summary>
    private bool CheckId(ulong baser, uint id, out ulong entry)
    {
        entry = 0;
        if (id >= 1u << 16)
        {
            return false;     // 16 DeviceID bits; 16-bit collection IDs (CIL 0)
        }

        ulong esz = ((baser >> 48) & 0x1F) + 1, l1Size = TableSize(baser), table = TableBase(baser);
        if ((baser & BaserIndirect) == 0)
        {
            if (id >= l1Size / esz)
            {
                return false;
            }

            entry = table + (id * esz);
            return _vgic.VmOf.Memory.IsBacked(entry, 1);
        }

        ulong perPage = PageSize / esz, index = id / perPage;
        if (index >= l1Size / 8)
        {
            return false;
        }

        Span<byte> b = stackalloc byte[8];
        if (!_vgic.TryReadGuest(table + (index * 8), b))
        {
            return false;
        }

        ulong level1 = BinaryPrimitives.ReadUInt64LittleEndian(b);
        if ((level1 & BaserValid) == 0)
        {
            return false;
        }

        entry = (level1 & 0x000F_FFFF_FFFF_0000UL) + ((id % perPage) * esz);
        return _vgic.VmOf.Memory.IsBacked(entry, 1);
    }

    /// <summary>KVM's vgic_its_check_event_id: the EventID fits the device and its translation table entry is in guest memory.</summary>
    private bool CheckEventId(ItsDevice device, uint eventId) =>
        eventId < 1UL << device.EventIdBits && _vgic.VmOf.Memory.IsBacked(device.IttAddress + ((ulong)eventId * EntrySize), 1);

    // GITS_BASER's address with 64 KiB pages: [47:16], and bits [51:48] from [15:12].
    private static ulong TableBase(ulong baser) => (baser & 0x0000_FFFF_FFFF_0000UL) | (((baser >> 12) & 0xF) << 48);

    private static ulong TableSize(ulong baser) => ((baser & 0xFF) + 1) * PageSize;

    private void SaveTranslations(ItsDevice device)
    {
        var entries = device.Translations.Values.OrderBy(t => t.EventId).ToList();
        for (int i = 0; i < entries.Count; i++)
        {
            var t = entries[i];
            uint next = i + 1 < entries.Count ? Math.Min(entries[i + 1].EventId - t.EventId, (uint)MaxEventIdOffset) : 0;
            ulong value = ((ulong)next << 48) | ((ulong)(uint)t.Lpi.IntId << 16) | t.CollectionId;
            WriteEntry(device.IttAddress + ((ulong)t.EventId * EntrySize), value);
        }
    }

    private void WriteEntry(ulong address, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        if (!_vgic.TryWriteGuest(address, b))
        {
            throw new VgicException($"ITS save: the table entry at 0x{address:x} is not in guest memory");
        }
    }

    private ulong ReadEntry(ulong address)
    {
        Span<byte> b = stackalloc byte[8];
        if (!_vgic.TryReadGuest(address, b))
        {
            throw new VgicException($"ITS restore: the table entry at 0x{address:x} is not in guest memory");
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    private void RestoreCollections()
    {
        if ((_baserCollection & BaserValid) == 0)
        {
            return;
        }

        ulong address = TableBase(_baserCollection), size = TableSize(_baserCollection);
        for (ulong offset = 0; offset < size; offset += EntrySize)
        {
            ulong value = ReadEntry(address + offset);
            if ((value & BaserValid) == 0)
            {
                return;
            }

            uint target = (uint)(value >> 16);
            ushort id = (ushort)value;
            if (target != ItsCollection.NotMapped && target >= (uint)_vgic.OnlineVcpus)
            {
                throw new VgicException($"ITS restore: collection {id} targets vCPU {target}, which does not exist", KvmErrno.InvalidArgument);
            }

            if (FindCollection(id) is not null)
            {
                throw new VgicException($"ITS restore: collection {id} exists already", KvmErrno.Exists);
            }

            if (!CheckId(_baserCollection, id, out _))
            {
                throw new VgicException($"ITS restore: collection {id} does not fit the collection table", KvmErrno.InvalidArgument);
            }

            _collections.Add(new ItsCollection(id, target));
        }
    }

    private void RestoreDevices()
    {
        if ((_baserDevice & BaserValid) == 0)
        {
            return;
        }

        ulong table = TableBase(_baserDevice), size = TableSize(_baserDevice);
        if ((_baserDevice & BaserIndirect) == 0)
        {
            ScanDeviceEntries(table, size, 0);
            return;
        }

        for (ulong offset = 0; offset < size; offset += 8)
        {
            ulong level1 = ReadEntry(table + offset);
            if ((level1 & BaserValid) != 0 &&
                !ScanDeviceEntries(level1 & 0x000F_FFFF_FFFF_0000UL, PageSize, (uint)(offset / 8 * (PageSize / EntrySize))))
            {
                return;
            }
        }
    }

    // KVM's scan_its_table over device entries: follows the Next offsets; false once the last entry is found.
    private bool ScanDeviceEntries(ulong address, ulong size, uint firstId)
    {
        uint id = firstId;
        for (ulong offset = 0; offset < size;)
        {
            ulong value = ReadEntry(address + offset);
            uint next = 1;
            if ((value & BaserValid) != 0)
            {
                next = (uint)(value >> 49) & MaxDeviceIdOffset;
                RestoreDevice(id, value);
                if (next == 0)
                {
                    return false;
                }
            }

            id += next;
            offset += (ulong)next * EntrySize;
        }

        return true;
    }

    private void RestoreDevice(uint id, ulong value)
    {
        if (!CheckId(_baserDevice, id, out _))
        {
            throw new VgicException($"ITS restore: DeviceID {id} does not fit the device table", KvmErrno.InvalidArgument);
        }

        if (_devices.ContainsKey(id))
        {
            throw new VgicException($"ITS restore: DeviceID {id} exists already", KvmErrno.Exists);
        }

        var device = new ItsDevice(id, ((value >> 5) & ((1UL << 44) - 1)) << 8, (int)(value & 0x1F) + 1);
        _devices.Add(id, device);
        try
        {
            RestoreTranslations(device);
        }
        catch
        {
            FreeDeviceLocked(device);
            throw;
        }
    }

    private void RestoreTranslations(ItsDevice device)
    {
        ulong limit = 1UL << device.EventIdBits;
        for (ulong eventId = 0; eventId < limit;)
        {
            ulong value = ReadEntry(device.IttAddress + (eventId * EntrySize));
            uint lpi = (uint)(value >> 16);
            if (lpi == 0)
            {
                eventId++;
                continue;
            }

            ulong next = value >> 48;
            if (lpi < Vgic.MinLpi || eventId + next >= limit)
            {
                throw new VgicException($"ITS restore: device {device.Id} event {eventId} has LPI {lpi} and next offset {next}", KvmErrno.InvalidArgument);
            }

            ushort collectionId = (ushort)value;
            var collection = FindCollection(collectionId)
                ?? throw new VgicException($"ITS restore: device {device.Id} event {eventId} names collection {collectionId}, which does not exist", KvmErrno.InvalidArgument);
            if (device.Translations.ContainsKey((uint)eventId) || !CheckEventId(device, (uint)eventId))
            {
                throw new VgicException($"ITS restore: device {device.Id} event {eventId} is mapped twice or outside its table", KvmErrno.InvalidArgument);
            }

            var irq = _vgic.AddLpiLocked((int)lpi, collection.IsMapped ? (int)collection.Target : -1)
                ?? throw new VgicException($"ITS restore: LPI {lpi}'s property or pending table is not in guest memory");
            device.Translations.Add((uint)eventId, new ItsTranslation((uint)eventId, collection, irq));
            if (next == 0)
            {
                return;
            }

            eventId += next;
        }
    }
}
