using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The command queue and the commands (IHI 0069 §6.3), each as KVM's vgic-its handles it, and the
/// translation of MSIs. A failing command changes nothing and the queue goes on (KVM ignores the errors
/// its handlers return; docs/kvm-semantics.md#gicv3-its-and-lpis). Everything runs with the VGIC lock held.
/// </summary>
public sealed partial class VgicIts
{
    /// <summary>
    /// Runs the commands between GITS_CREADR and GITS_CWRITER, while the ITS is enabled. A command that cannot
    /// be read from guest memory is skipped (IHI 0069 §6.3.2 lets an ITS ignore it).
    /// </summary>
    private void ProcessCommandsLocked()
    {
        if (!_enabled)
        {
            return;
        }

        ulong queue = _cbaser & 0x000F_FFFF_FFFF_F000UL;
        Span<byte> bytes = stackalloc byte[ItsCommand.Size];
        while (_cwriter != _creadr)
        {
            if (_vgic.TryReadGuest(queue + _creadr, bytes))
            {
                var command = new ItsCommand(
                    ReadLittleEndian(bytes, 0), ReadLittleEndian(bytes, 1), ReadLittleEndian(bytes, 2), ReadLittleEndian(bytes, 3));
                var error = Execute(command);
                if (error != ItsCommandError.None)
                {
                    LastCommandError = error;
                    FailedCommands++;
                }
            }

            _creadr += ItsCommand.Size;
            if (_creadr == CommandQueueSize)
            {
                _creadr = 0;
            }
        }
    }

    private ItsCommandError Execute(in ItsCommand c) => c.Type switch
    {
        ItsCommandType.Mapd => Mapd(c),
        ItsCommandType.Mapc => Mapc(c),
        ItsCommandType.Mapti or ItsCommandType.Mapi => Mapti(c),
        ItsCommandType.Movi => Movi(c),
        ItsCommandType.Discard => Discard(c),
        ItsCommandType.Clear => Clear(c),
        ItsCommandType.Movall => Movall(c),
        ItsCommandType.Int => Trigger(c.DeviceId, c.EventId) is var r and > 0 ? (ItsCommandError)r : ItsCommandError.None,
        ItsCommandType.Inv => Inv(c),
        ItsCommandType.Invall => Invall(c),
        ItsCommandType.Sync => ItsCommandError.None,              // always in sync
        _ => ItsCommandError.UnknownCommand,
    };

    // MAPD: a mapped device is dropped (with its translations) and mapped again; V=0 also clears its entry
    // in the device table, as KVM does since it keeps the table for save and restore only.
    private ItsCommandError Mapd(in ItsCommand c)
    {
        if (!CheckId(_baserDevice, c.DeviceId, out ulong entry))
        {
            return ItsCommandError.MapdDeviceOutOfRange;
        }

        if (c.Valid && c.EventIdBits > EventIdBits)
        {
            return ItsCommandError.MapdIttSizeOutOfRange;
        }

        if (_devices.TryGetValue(c.DeviceId, out var old))
        {
            FreeDeviceLocked(old);
        }

        if (!c.Valid)
        {
            return ClearEntry(entry);
        }

        _devices.Add(c.DeviceId, new ItsDevice(c.DeviceId, c.IttAddress, c.EventIdBits));
        return ItsCommandError.None;
    }

    // MAPC: RDbase is a vCPU index; V=0 forgets the collection (its translations stay without one).
    private ItsCommandError Mapc(in ItsCommand c)
    {
        uint target = c.TargetAddress;
        if (target >= (uint)_vgic.OnlineVcpus)
        {
            return ItsCommandError.MapcProcessorOutOfRange;
        }

        if (!c.Valid)
        {
            FreeCollectionLocked(c.CollectionId);
            return ItsCommandError.None;
        }

        var collection = FindCollection(c.CollectionId);
        if (collection is null)
        {
            if (!CheckId(_baserCollection, c.CollectionId, out _))
            {
                return ItsCommandError.MapcCollectionOutOfRange;
            }

            _collections.Add(new ItsCollection(c.CollectionId, target));
            return ItsCommandError.None;
        }

        collection.Target = target;
        foreach (var device in _devices.Values)
        {
            foreach (var t in device.Translations.Values)
            {
                if (t.Collection == collection)
                {
                    _vgic.SetLpiTargetLocked(t.Lpi, (int)target);
                }
            }
        }

        return ItsCommandError.None;
    }

    // MAPTI / MAPI: an existing translation for the event makes it a no-op (UNPREDICTABLE; KVM keeps the
    // old one); an unknown collection ID is created unmapped; the LPI reads its configuration and pending bit.
    private ItsCommandError Mapti(in ItsCommand c)
    {
        if (!_devices.TryGetValue(c.DeviceId, out var device))
        {
            return ItsCommandError.MaptiUnmappedDevice;
        }

        uint eventId = c.EventId;
        if (!CheckEventId(device, eventId))
        {
            return ItsCommandError.MaptiIdOutOfRange;
        }

        uint lpi = c.Type == ItsCommandType.Mapti ? c.PhysicalId : eventId;
        if (lpi < Vgic.MinLpi || lpi >= _vgic.LpiLimit)
        {
            return ItsCommandError.MaptiPhysicalIdOutOfRange;
        }

        if (device.Translations.ContainsKey(eventId))
        {
            return ItsCommandError.None;
        }

        var collection = FindCollection(c.CollectionId);
        bool created = false;
        if (collection is null)
        {
            if (!CheckId(_baserCollection, c.CollectionId, out _))
            {
                return ItsCommandError.MapcCollectionOutOfRange;
            }

            collection = new ItsCollection(c.CollectionId, ItsCollection.NotMapped);
            _collections.Add(collection);
            created = true;
        }

        var irq = _vgic.AddLpiLocked((int)lpi, collection.IsMapped ? (int)collection.Target : -1);
        if (irq is null)
        {
            if (created)
            {
                FreeCollectionLocked(collection.Id);
            }

            return ItsCommandError.GuestMemory;
        }

        device.Translations.Add(eventId, new ItsTranslation(eventId, collection, irq));
        return ItsCommandError.None;
    }

    private ItsCommandError Movi(in ItsCommand c)
    {
        if (FindTranslation(c.DeviceId, c.EventId) is not { } t)
        {
            return ItsCommandError.MoviUnmappedInterrupt;
        }

        var collection = FindCollection(c.CollectionId);
        if (!t.IsMapped || collection is not { IsMapped: true })
        {
            return ItsCommandError.MoviUnmappedCollection;
        }

        t.MoveTo(collection);
        _vgic.SetLpiTargetLocked(t.Lpi, (int)collection.Target);
        return ItsCommandError.None;
    }

    // DISCARD: the translation goes (its LPI with the last reference) and its entry in the device's
    // interrupt translation table is cleared.
    private ItsCommandError Discard(in ItsCommand c)
    {
        if (!_devices.TryGetValue(c.DeviceId, out var device) ||
            !device.Translations.TryGetValue(c.EventId, out var t) || !t.IsMapped)
        {
            return ItsCommandError.DiscardUnmappedInterrupt;
        }

        FreeTranslationLocked(device, t);
        return ClearEntry(device.IttAddress + ((ulong)c.EventId * EntrySize));
    }

    private ItsCommandError Clear(in ItsCommand c)
    {
        if (FindTranslation(c.DeviceId, c.EventId) is not { } t)
        {
            return ItsCommandError.ClearUnmappedInterrupt;
        }

        _vgic.SetLpiPendingLocked(t.Lpi, false);
        return ItsCommandError.None;
    }

    private ItsCommandError Inv(in ItsCommand c)
    {
        if (FindTranslation(c.DeviceId, c.EventId) is not { } t)
        {
            return ItsCommandError.InvUnmappedInterrupt;
        }

        return _vgic.UpdateLpiConfigLocked(t.Lpi, -1) ? ItsCommandError.None : ItsCommandError.GuestMemory;
    }

    // INVALL: every LPI targeting the collection's redistributor, whichever ITS mapped it.
    private ItsCommandError Invall(in ItsCommand c)
    {
        if (FindCollection(c.CollectionId) is not { IsMapped: true } collection)
        {
            return ItsCommandError.InvallUnmappedCollection;
        }

        _vgic.InvalidateAllLpisLocked((int)collection.Target);
        return ItsCommandError.None;
    }

    // MOVALL: every LPI of the VM targeting RDbase1 now targets RDbase2 (the collections are not changed).
    private ItsCommandError Movall(in ItsCommand c)
    {
        uint from = c.TargetAddress, to = c.TargetAddress2;
        if (from >= (uint)_vgic.OnlineVcpus || to >= (uint)_vgic.OnlineVcpus)
        {
            return ItsCommandError.MovallProcessorOutOfRange;
        }

        if (from != to)
        {
            foreach (var irq in _vgic.LpisTargetingLocked((int)from))
            {
                _vgic.SetLpiTargetLocked(irq, (int)to);
            }
        }

        return ItsCommandError.None;
    }

    /// <summary>
    /// An MSI for this ITS (<see cref="Vgic.SignalMsi"/>): KVM_SIGNAL_MSI's result.
    /// </summary>
    internal MsiResult TriggerLocked(uint deviceId, uint eventId) => Trigger(deviceId, eventId) switch
    {
        0 => MsiResult.Delivered,
        > 0 => MsiResult.Blocked,
        _ => MsiResult.Busy,
    };

    /// <summary>
    /// KVM's vgic_its_trigger_msi: 0 when the LPI became pending, an ITS error (positive) when nothing
    /// maps the event to a mapped collection, -EBUSY when the ITS is disabled or the target redistributor
    /// has LPIs disabled.
    /// </summary>
    private int Trigger(uint deviceId, uint eventId)
    {
        if (!_enabled)
        {
            return (int)MsiResult.Busy;
        }

        if (FindTranslation(deviceId, eventId) is not { IsMapped: true } t || t.Collection!.Target >= (uint)_vgic.OnlineVcpus)
        {
            return (int)ItsCommandError.IntUnmappedInterrupt;
        }

        if (!_vgic.LpisEnabled((int)t.Collection.Target))
        {
            return (int)MsiResult.Busy;
        }

        _vgic.SetLpiPendingLocked(t.Lpi, true);
        return 0;
    }

    private ItsTranslation? FindTranslation(uint deviceId, uint eventId) =>
        _devices.TryGetValue(deviceId, out var device) && device.Translations.TryGetValue(eventId, out var t) ? t : null;

    private ItsCollection? FindCollection(ushort id)
    {
        foreach (var collection in _collections)
        {
            if (collection.Id == id)
            {
                return collection;
            }
        }

        return null;
    }

    private void FreeTranslationLocked(ItsDevice device, ItsTranslation t)
    {
        device.Translations.Remove(t.EventId);
        _vgic.ReleaseLpiLocked(t.Lpi);
    }

    private void FreeDeviceLocked(ItsDevice device)
    {
        foreach (var t in device.Translations.Values.ToArray())
        {
            FreeTranslationLocked(device, t);
        }

        _devices.Remove(device.Id);
    }

    private void FreeAllDevicesLocked()
    {
        foreach (var device in _devices.Values.ToArray())
        {
            FreeDeviceLocked(device);
        }
    }

    // The translations of a forgotten collection keep no collection (KVM sets their pointer to NULL).
    private void FreeCollectionLocked(ushort id)
    {
        var collection = FindCollection(id);
        if (collection is null)
        {
            return;
        }

        foreach (var device in _devices.Values)
        {
            foreach (var t in device.Translations.Values)
            {
                if (t.Collection == collection)
                {
                    t.Collection = null;
                }
            }
        }

        _collections.Remove(collection);
    }

    private void FreeAllCollectionsLocked()
    {
        foreach (var collection in _collections.ToArray())
        {
            FreeCollectionLocked(collection.Id);
        }
    }

    private ItsCommandError ClearEntry(ulong address)
    {
        Span<byte> zero = stackalloc byte[EntrySize];
        zero.Clear();
        return _vgic.TryWriteGuest(address, zero) ? ItsCommandError.None : ItsCommandError.GuestMemory;
    }
}
