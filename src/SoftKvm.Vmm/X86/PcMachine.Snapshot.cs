using SoftKvm.Core.Snapshots;
using SoftKvm.Vmm.Snapshots;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The PC's devices in a snapshot (docs/snapshots.md): section <c>DEVX</c> with the 16550A (registers and
/// receive FIFO), the CMOS RTC (RAM, index, clock offset), the ACPI PM registers, pc-testdev, fw_cfg's
/// selection, read position and DMA address register, the host bridge's CONFIG_ADDRESS (0xCF8), the reset
/// control register (0xCF9), the virtio-mmio transports and the PCI functions with the virtio-pci transports
/// (<see cref="BusSnapshot"/>). The in-kernel irqchip is the VM's part.
/// </summary>
internal sealed partial class PcMachine
{
    public void SaveDevices(SnapshotWriter writer)
    {
        BusSnapshot.CheckPci(_platform.Bus);
        var w = writer.BeginSection("DEVX");
        PcDeviceStateCodec.Write(w, _uart.SaveState());
        PcDeviceStateCodec.Write(w, _rtc.SaveState());
        PcDeviceStateCodec.Write(w, _platform.Pm.SaveState());
        PcDeviceStateCodec.Write(w, _platform.TestDevice.SaveState());
        var (key, offset) = _platform.FwCfg.SaveSelection();
        w.Write(key.HasValue);
        w.Write(key ?? 0);
        w.Write(offset);
        w.Write(_platform.FwCfgPorts.DmaAddress);
        w.Write(_platform.ConfigPorts.ConfigAddress);
        w.Write(_platform.Reset.Value);
        BusSnapshot.WriteVirtio(w, _transports);
        BusSnapshot.WritePci(w, _platform.Bus);
        writer.EndSection();
    }

    public void LoadDevices(SnapshotReader reader)
    {
        using var r = reader.ReadSection("DEVX");
        BusSnapshot.Loading(() =>
        {
            _uart.RestoreState(PcDeviceStateCodec.ReadUart16550(r));
            _rtc.RestoreState(PcDeviceStateCodec.ReadCmosRtc(r));
            _platform.Pm.RestoreState(PcDeviceStateCodec.ReadAcpiPm(r));
            _platform.TestDevice.RestoreState(PcDeviceStateCodec.ReadPcTestDevice(r));
            bool selected = r.ReadBoolean();
            ushort key = r.ReadUInt16();
            _platform.FwCfg.RestoreSelection(selected ? key : null, r.ReadInt32());
            _platform.FwCfgPorts.DmaAddress = r.ReadUInt64();
            _platform.ConfigPorts.ConfigAddress = r.ReadUInt32();
            _platform.Reset.Value = r.ReadByte();
            BusSnapshot.ReadVirtio(r, _transports);
            BusSnapshot.ReadPci(r, _platform.Bus);
        });
    }
}
