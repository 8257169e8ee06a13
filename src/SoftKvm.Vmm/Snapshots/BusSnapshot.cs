using SoftKvm.Core.Errors;
using SoftKvm.Core.Snapshots;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.Virtio;
using SoftKvm.Devices.X86;

namespace SoftKvm.Vmm.Snapshots;

/// <summary>
/// The device groups both machines have, in a snapshot: the virtio-mmio transports (status, features,
/// queues with their ring positions; requests are served synchronously on the notifying vCPU, so none is in
/// flight between runs) and the PCI functions, each with a kind byte and its address: the host bridge and
/// other plain functions (configuration space, MSI-X, INTx), pci-testdev (and its tests) and the virtio-pci
/// transports (<see cref="VirtioPciState"/>). A PCI function of a kind this code does not know is refused
/// rather than saved half.
/// </summary>
internal static class BusSnapshot
{
    private const byte PlainFunction = 0, TestDevice = 1, VirtioPci = 2;

    /// <summary>Refuses functions whose state is not covered; call before anything is written.</summary>
    public static void CheckPci(PciBus? bus)
    {
        foreach (var f in bus?.Functions ?? [])
        {
            if (f is not (GpexHostBridge or I440fxHostBridge or PciTestDevice or PciHeaderFunction or VirtioPciTransport))
            {
                throw new UnsupportedException($"the PCI function {f.GetType().Name} at {f.Address} has no snapshot support");
            }
        }
    }

    public static void WritePci(BinaryWriter w, PciBus? bus)
    {
        var functions = bus?.Functions.ToList() ?? [];
        w.Write(functions.Count);
        foreach (var f in functions)
        {
            w.Write(f.Address?.ToString() ?? "");
            switch (f)
            {
                case PciTestDevice test:
                    w.Write(TestDevice);
                    DeviceStateCodec.Write(w, test.SaveState());
                    break;
                case VirtioPciTransport virtio:
                    w.Write(VirtioPci);
                    DeviceStateCodec.Write(w, virtio.SaveState());
                    break;
                default:
                    w.Write(PlainFunction);
                    DeviceStateCodec.Write(w, f.SaveFunctionState());
                    break;
            }
        }
    }

    public static void ReadPci(BinaryReader r, PciBus? bus)
    {
        var functions = bus?.Functions.ToList() ?? [];
        int count = r.ReadInt32();
        if (count != functions.Count)
        {
            throw new SnapshotFormatException($"the snapshot has {count} PCI functions, this machine {functions.Count}");
        }

        foreach (var f in functions)
        {
            string address = r.ReadString();
            if (address != (f.Address?.ToString() ?? ""))
            {
                throw new SnapshotFormatException($"the snapshot's PCI function at {address} is at {f.Address} in this machine");
            }

            byte kind = r.ReadByte();
            byte expected = f switch { PciTestDevice => TestDevice, VirtioPciTransport => VirtioPci, _ => PlainFunction };
            if (kind != expected)
            {
                throw new SnapshotFormatException($"the snapshot's PCI function at {address} is of another kind ({kind}) than this machine's {f.GetType().Name}");
            }

            switch (f)
            {
                case PciTestDevice test:
                    test.RestoreState(DeviceStateCodec.ReadPciTestDevice(r));
                    break;
                case VirtioPciTransport virtio:
                    virtio.RestoreState(DeviceStateCodec.ReadVirtioPci(r));
                    break;
                default:
                    f.RestoreFunctionState(DeviceStateCodec.ReadPciFunction(r));
                    break;
            }
        }
    }

    public static void WriteVirtio(BinaryWriter w, IReadOnlyList<VirtioMmioTransport> transports)
    {
        w.Write(transports.Count);
        foreach (var t in transports)
        {
            DeviceStateCodec.Write(w, t.SaveState());
        }
    }

    public static void ReadVirtio(BinaryReader r, IReadOnlyList<VirtioMmioTransport> transports)
    {
        int count = r.ReadInt32();
        if (count != transports.Count)
        {
            throw new SnapshotFormatException($"the snapshot has {count} virtio-mmio devices, this machine {transports.Count}");
        }

        foreach (var t in transports)
        {
            t.RestoreState(DeviceStateCodec.ReadVirtioMmio(r));
        }
    }

    /// <summary>Runs <paramref name="load"/>; a device's refusal of the state (a <see cref="SoftKvmException"/>) becomes a snapshot format error.</summary>
    public static void Loading(Action load)
    {
        try
        {
            load();
        }
        catch (SoftKvmException e) when (e is not SnapshotFormatException)
        {
            throw new SnapshotFormatException($"the snapshot's device state does not fit this machine: {e.Message}");
        }
    }
}
