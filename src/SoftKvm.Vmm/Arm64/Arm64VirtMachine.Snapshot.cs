using SoftKvm.Core.Errors;
using SoftKvm.Core.Snapshots;
using SoftKvm.Devices.Arm;
using SoftKvm.Devices.Pci;
using SoftKvm.Vmm.Snapshots;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The virt machine's devices in a snapshot (docs/snapshots.md): section <c>DEVA</c> with the PL011
/// (registers and receive FIFO), the PL031, every virtio-mmio transport (status, features, queues with
/// their ring positions; requests are served synchronously on the notifying vCPU, so none is in flight
/// between runs) and every PCI function (configuration space, MSI-X, INTx; pci-testdev's tests). A PCI
/// function of a kind this code does not know is refused rather than saved half.
/// </summary>
internal sealed partial class Arm64VirtMachine
{
    public void SaveDevices(SnapshotWriter writer)
    {
        var pci = PciBus?.Functions.ToList() ?? [];
        foreach (var f in pci)
        {
            if (f is not (GpexHostBridge or PciTestDevice or PciHeaderFunction))
            {
                throw new UnsupportedException($"the PCI function {f.GetType().Name} at {f.Address} has no snapshot support");
            }
        }

        var w = writer.BeginSection("DEVA");
        DeviceStateCodec.Write(w, _uart.SaveState());
        DeviceStateCodec.Write(w, _rtc.SaveState());
        w.Write(_transports.Count);
        foreach (var t in _transports)
        {
            DeviceStateCodec.Write(w, t.SaveState());
        }

        w.Write(pci.Count);
        foreach (var f in pci)
        {
            w.Write(f.Address?.ToString() ?? "");
            if (f is PciTestDevice test)
            {
                DeviceStateCodec.Write(w, test.SaveState());
            }
            else
            {
                DeviceStateCodec.Write(w, f.SaveFunctionState());
            }
        }

        writer.EndSection();
    }

    public void LoadDevices(SnapshotReader reader)
    {
        using var r = reader.ReadSection("DEVA");
        try
        {
            _uart.RestoreState(DeviceStateCodec.ReadPl011(r));
            _rtc.RestoreState(DeviceStateCodec.ReadPl031(r));
            int transports = r.ReadInt32();
            if (transports != _transports.Count)
            {
                throw new SnapshotFormatException($"the snapshot has {transports} virtio-mmio devices, this machine {_transports.Count}");
            }

            foreach (var t in _transports)
            {
                t.RestoreState(DeviceStateCodec.ReadVirtioMmio(r));
            }

            var pci = PciBus?.Functions.ToList() ?? [];
            int functions = r.ReadInt32();
            if (functions != pci.Count)
            {
                throw new SnapshotFormatException($"the snapshot has {functions} PCI functions, this machine {pci.Count}");
            }

            foreach (var f in pci)
            {
                string address = r.ReadString();
                if (address != (f.Address?.ToString() ?? ""))
                {
                    throw new SnapshotFormatException($"the snapshot's PCI function at {address} is at {f.Address} in this machine");
                }

                if (f is PciTestDevice test)
                {
                    test.RestoreState(DeviceStateCodec.ReadPciTestDevice(r));
                }
                else
                {
                    f.RestoreFunctionState(DeviceStateCodec.ReadPciFunction(r));
                }
            }
        }
        catch (SoftKvmException e) when (e is not SnapshotFormatException)
        {
            throw new SnapshotFormatException($"the snapshot's device state does not fit this machine: {e.Message}");
        }
    }
}
