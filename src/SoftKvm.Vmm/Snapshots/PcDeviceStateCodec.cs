using SoftKvm.Devices.X86;

namespace SoftKvm.Vmm.Snapshots;

/// <summary>The PC's device state records as snapshot payload (see <see cref="DeviceStateCodec"/>).</summary>
internal static class PcDeviceStateCodec
{
    public static void Write(BinaryWriter w, Uart16550State s)
    {
        foreach (byte b in (ReadOnlySpan<byte>)[s.Dll, s.Dlm, s.Ier, s.Fcr, s.Lcr, s.Mcr, s.Scr])
        {
            w.Write(b);
        }

        w.Write(s.Overrun);
        w.Write(s.ThrEmptyPending);
        DeviceStateCodec.WriteBytes(w, s.RxFifo);
    }

    public static Uart16550State ReadUart16550(BinaryReader r) => new()
    {
        Dll = r.ReadByte(), Dlm = r.ReadByte(), Ier = r.ReadByte(), Fcr = r.ReadByte(), Lcr = r.ReadByte(), Mcr = r.ReadByte(), Scr = r.ReadByte(),
        Overrun = r.ReadBoolean(), ThrEmptyPending = r.ReadBoolean(), RxFifo = DeviceStateCodec.ReadBytes(r),
    };

    public static void Write(BinaryWriter w, CmosRtcState s)
    {
        w.Write(s.Offset.Ticks);
        w.Write(s.Index);
        w.Write(s.NmiDisabled);
        DeviceStateCodec.WriteBytes(w, s.Ram);
        w.Write(s.LastFlagsRead.UtcTicks);
    }

    public static CmosRtcState ReadCmosRtc(BinaryReader r) => new()
    {
        Offset = TimeSpan.FromTicks(r.ReadInt64()), Index = r.ReadByte(), NmiDisabled = r.ReadBoolean(), Ram = DeviceStateCodec.ReadBytes(r),
        LastFlagsRead = new DateTimeOffset(Math.Clamp(r.ReadInt64(), DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero),
    };

    public static void Write(BinaryWriter w, AcpiPmState s)
    {
        w.Write(s.Enable);
        w.Write(s.Control);
    }

    public static AcpiPmState ReadAcpiPm(BinaryReader r) => new(r.ReadUInt16(), r.ReadUInt16());

    public static void Write(BinaryWriter w, PcTestDeviceState s)
    {
        w.Write(s.Data);
        DeviceStateCodec.WriteBytes(w, s.Memory);
    }

    public static PcTestDeviceState ReadPcTestDevice(BinaryReader r) => new(r.ReadUInt32(), DeviceStateCodec.ReadBytes(r));
}
