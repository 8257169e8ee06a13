using SoftKvm.Core.Snapshots;
using SoftKvm.Vmm.Snapshots;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The virt machine's devices in a snapshot (docs/snapshots.md): section <c>DEVA</c> with the PL011
/// (registers and receive FIFO), the PL031, the virtio-mmio transports, the PCI functions
/// (<see cref="BusSnapshot"/>) and, with --semihosting, the semihosting state (clock, errno, open files).
/// </summary>
internal sealed partial class Arm64VirtMachine
{
    public void SaveDevices(SnapshotWriter writer)
    {
        BusSnapshot.CheckPci(PciBus);
        var w = writer.BeginSection("DEVA");
        DeviceStateCodec.Write(w, _uart.SaveState());
        DeviceStateCodec.Write(w, _rtc.SaveState());
        BusSnapshot.WriteVirtio(w, _transports);
        BusSnapshot.WritePci(w, PciBus);
        w.Write(_semihosting is not null);
        _semihosting?.SaveState(w);
        writer.EndSection();
    }

    public void LoadDevices(SnapshotReader reader)
    {
        using var r = reader.ReadSection("DEVA");
        BusSnapshot.Loading(() =>
        {
            _uart.RestoreState(DeviceStateCodec.ReadPl011(r));
            _rtc.RestoreState(DeviceStateCodec.ReadPl031(r));
            BusSnapshot.ReadVirtio(r, _transports);
            BusSnapshot.ReadPci(r, PciBus);
            if (r.ReadBoolean() != (_semihosting is not null))
            {
                throw new SnapshotFormatException("the snapshot's semihosting does not match the machine's header");
            }

            _semihosting?.RestoreState(r);
        });
    }
}
