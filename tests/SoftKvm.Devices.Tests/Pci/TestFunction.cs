using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>A function with every kind of BAR, MSI, MSI-X (table in BAR 2) and INTA#, driven by the tests.</summary>
internal sealed class TestFunction : PciDevice
{
    public const int MsixVectors = 4;

    public TestFunction(bool msi = true, bool msix = true)
        : base(new PciIdentity(0x1234, 0x5678, 0x0C0330, 7, 0xAAAA, 0xBBBB))
    {
        AddBar(0, PciBarKind.Io, 32, Bar0);
        AddBar(1, PciBarKind.Memory32, 0x1000, Bar1);
        AddBar(2, PciBarKind.Memory64, 0x4000, Bar2, prefetchable: true);
        SetInterruptPin(1);
        if (msi)
        {
            AddMsi(4);
        }

        if (msix)
        {
            var cap = AddMsix(MsixVectors, 2, 0x0, 2, 0x800);
            Bar2.Add(0, cap.TableSize, cap.Table).Add(0x800, cap.PbaSize, cap.Pba);
        }
    }

    public Recorder Bar0 { get; } = new();

    public Recorder Bar1 { get; } = new();

    public CompositeRegion Bar2 { get; } = new();

    public List<(int Offset, int Length)> Written { get; } = [];

    public bool Vector(int v) => SendVector(v);

    public void Intx(bool level) => SetIntx(level);

    public object IoEvent(int bar, ulong offset, uint length, ulong? match, EventFd fd) => AddIoEvent(bar, offset, length, match, fd);

    public void DropIoEvent(object handle) => RemoveIoEvent(handle);

    public PciMsixCapability MsixCapability => Msix!;

    protected override void OnConfigWritten(int offset, int length) => Written.Add((offset, length));

    internal sealed class Recorder : IIoDevice
    {
        public List<(ulong Offset, byte[] Data)> Writes { get; } = [];

        public byte Fill { get; set; } = 0x5A;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Fill(Fill);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data.ToArray()));
    }
}
