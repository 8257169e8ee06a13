using SoftKvm.Core.Snapshots;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Virtio;

namespace SoftKvm.Vmm.Snapshots;

/// <summary>
/// The devices' saved-state records (<see cref="Pl011State"/>, <see cref="VirtioMmioState"/>, ...) as
/// snapshot payload: each field in declaration order, little-endian, byte arrays with their length first.
/// </summary>
internal static class DeviceStateCodec
{
    public static void Write(BinaryWriter w, Pl011State s)
    {
        foreach (uint v in (ReadOnlySpan<uint>)[s.Cr, s.LcrH, s.Ibrd, s.Fbrd, s.Ilpr, s.Ifls, s.Imsc, s.Ris, s.Rsr, s.Dmacr])
        {
            w.Write(v);
        }

        WriteBytes(w, s.RxFifo);
    }

    public static Pl011State ReadPl011(BinaryReader r) => new()
    {
        Cr = r.ReadUInt32(), LcrH = r.ReadUInt32(), Ibrd = r.ReadUInt32(), Fbrd = r.ReadUInt32(), Ilpr = r.ReadUInt32(),
        Ifls = r.ReadUInt32(), Imsc = r.ReadUInt32(), Ris = r.ReadUInt32(), Rsr = r.ReadUInt32(), Dmacr = r.ReadUInt32(),
        RxFifo = ReadBytes(r),
    };

    public static void Write(BinaryWriter w, Pl031State s)
    {
        w.Write(s.OffsetSeconds);
        w.Write(s.Match);
        w.Write(s.Load);
        w.Write(s.Imsc);
        w.Write(s.Ris);
    }

    public static Pl031State ReadPl031(BinaryReader r) => new()
    {
        OffsetSeconds = r.ReadInt64(), Match = r.ReadUInt32(), Load = r.ReadUInt32(), Imsc = r.ReadUInt32(), Ris = r.ReadUInt32(),
    };

    public static void Write(BinaryWriter w, VirtioMmioState s)
    {
        w.Write(s.Status);
        w.Write(s.DeviceFeaturesSel);
        w.Write(s.DriverFeaturesSel);
        w.Write(s.DriverFeatures);
        w.Write(s.QueueSel);
        w.Write(s.InterruptStatus);
        w.Write(s.Queues.Count);
        foreach (var q in s.Queues)
        {
            w.Write(q.Size);
            w.Write(q.Ready);
            w.Write(q.DescTable);
            w.Write(q.DriverArea);
            w.Write(q.DeviceArea);
            w.Write(q.LastAvail);
            w.Write(q.UsedIndex);
        }
    }

    public static VirtioMmioState ReadVirtioMmio(BinaryReader r)
    {
        uint status = r.ReadUInt32(), deviceSel = r.ReadUInt32(), driverSel = r.ReadUInt32();
        ulong features = r.ReadUInt64();
        uint queueSel = r.ReadUInt32(), interrupt = r.ReadUInt32();
        int count = r.ReadInt32();
        if (count is < 0 or > 1024)
        {
            throw new SnapshotFormatException($"a virtio transport's state has {count} queues");
        }

        var queues = new VirtqueueState[count];
        for (int i = 0; i < count; i++)
        {
            queues[i] = new VirtqueueState(r.ReadUInt16(), r.ReadBoolean(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt16(), r.ReadUInt16());
        }

        return new VirtioMmioState
        {
            Status = status, DeviceFeaturesSel = deviceSel, DriverFeaturesSel = driverSel, DriverFeatures = features,
            QueueSel = queueSel, InterruptStatus = interrupt, Queues = queues,
        };
    }

    public static void Write(BinaryWriter w, PciFunctionState s)
    {
        WriteBytes(w, s.Config);
        w.Write(s.MsixTable is not null);
        if (s.MsixTable is not null)
        {
            WriteBytes(w, s.MsixTable);
            w.Write(s.MsixPending!.Length);
            foreach (ulong p in s.MsixPending)
            {
                w.Write(p);
            }
        }

        w.Write(s.IntxLevel);
    }

    public static PciFunctionState ReadPciFunction(BinaryReader r)
    {
        byte[] config = ReadBytes(r);
        byte[]? table = null;
        ulong[]? pending = null;
        if (r.ReadBoolean())
        {
            table = ReadBytes(r);
            int n = r.ReadInt32();
            if (n is < 0 or > 64)
            {
                throw new SnapshotFormatException($"a PCI function's state has {n} words of MSI-X pending bits");
            }

            pending = new ulong[n];
            for (int i = 0; i < n; i++)
            {
                pending[i] = r.ReadUInt64();
            }
        }

        return new PciFunctionState(config, table, pending, r.ReadBoolean());
    }

    public static void Write(BinaryWriter w, PciTestDeviceState s)
    {
        Write(w, s.Function);
        w.Write(s.CurrentTest);
        WriteCounted(w, s.Counts, static (o, c) => o.Write(c));
    }

    public static PciTestDeviceState ReadPciTestDevice(BinaryReader r)
    {
        var function = ReadPciFunction(r);
        int current = r.ReadInt32();
        return new PciTestDeviceState(function, current, ReadCounted(r, 64, "a pci-testdev state's tests", static x => x.ReadUInt32()));
    }

    public static void Write(BinaryWriter w, VirtioPciState s)
    {
        Write(w, s.Function);
        Write(w, s.Virtio);
        w.Write(s.DeviceFeatureSelect);
        w.Write(s.DriverFeatureSelect);
        w.Write(s.QueueSelect);
        w.Write(s.ConfigVector);
        WriteCounted(w, s.QueueVectors, static (o, v) => o.Write(v));
    }

    public static VirtioPciState ReadVirtioPci(BinaryReader r)
    {
        var function = ReadPciFunction(r);
        var virtio = ReadVirtioMmio(r);
        uint deviceSel = r.ReadUInt32(), driverSel = r.ReadUInt32();
        ushort queueSel = r.ReadUInt16(), configVector = r.ReadUInt16();
        var vectors = ReadCounted(r, 1024, "a virtio-pci function's queue vectors", static x => x.ReadUInt16());
        return new VirtioPciState(function, virtio, deviceSel, driverSel, queueSel, configVector, vectors);
    }

    // A count, then the items.
    private static void WriteCounted<T>(BinaryWriter w, IReadOnlyList<T> items, Action<BinaryWriter, T> write)
    {
        w.Write(items.Count);
        foreach (var item in items)
        {
            write(w, item);
        }
    }

    // What WriteCounted wrote; a count over max (or negative) is a corrupt state.
    private static T[] ReadCounted<T>(BinaryReader r, int max, string what, Func<BinaryReader, T> read)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > max)
        {
            throw new SnapshotFormatException($"{what}: {n} of them");
        }

        var items = new T[n];
        for (int i = 0; i < n; i++)
        {
            items[i] = read(r);
        }

        return items;
    }

    public static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    public static byte[] ReadBytes(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n is < 0 or > (16 << 20))
        {
            throw new SnapshotFormatException($"a device state holds a block of {n} bytes");
        }

        return r.ReadBytes(n);
    }
}
