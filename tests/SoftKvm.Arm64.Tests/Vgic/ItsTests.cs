using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// The GICv3 ITS and LPIs as KVM's vgic-its provides them (docs/kvm-semantics.md#gicv3-its-and-lpis):
/// registers, the command queue, MSI translation and LPI delivery through the property and pending tables.
/// </summary>
public class ItsTests
{
    private const ulong ItsBase = 0x0808_0000;   // QEMU virt's VIRT_GIC_ITS
    private const ulong Ram = 0x4000_0000;
    private const ulong Queue = Ram + 0x1_0000;
    private const ulong DeviceTable = Ram + 0x2_0000;
    private const ulong CollectionTable = Ram + 0x3_0000;
    private const ulong Itt = Ram + 0x4_0000;
    private const ulong PropTable = Ram + 0x5_0000;
    private const ulong PendTables = Ram + 0x10_0000;   // 64 KiB per vCPU
    private const ulong Doorbell = ItsBase + VgicIts.TranslaterOffset;
    private const int PropIdBits = 13;                  // LPIs 8192..16383

    private const ulong GitsCtlr = 0x0, GitsTyper = 0x8, GitsCbaser = 0x80, GitsCwriter = 0x88, GitsCreadr = 0x90;
    private const ulong GitsBaser0 = 0x100, GitsBaser1 = 0x108;

    private sealed class Setup : IDisposable
    {
        private ulong _cwriter;

        public Setup(int vcpus)
        {
            (Vm, Gic) = Tests.Vgic.Gic.V3(vcpus);
            Vm.SetMemoryRegion(0, new GuestPhysAddr(Ram), 0x10_0000 + (ulong)vcpus * 0x1_0000);
            Its = Gic.CreateIts();
            Its.SetBaseAddress(ItsBase);
            for (int v = 0; v < vcpus; v++)
            {
                Tests.Vgic.Gic.EnableV3Cpu(Gic, Vm, v);
            }
        }

        public TestVm Vm { get; }

        public VgicDevice Gic { get; }

        public VgicIts Its { get; }

        public void Dispose() => Vm.Dispose();

        /// <summary>Tables and queue valid, the ITS enabled, LPIs on at every redistributor.</summary>
        public Setup Enabled()
        {
            Tests.Vgic.Gic.Write64(Vm, 0, ItsBase + GitsBaser0, (1UL << 63) | DeviceTable);
            Tests.Vgic.Gic.Write64(Vm, 0, ItsBase + GitsBaser1, (1UL << 63) | CollectionTable);
            Tests.Vgic.Gic.Write64(Vm, 0, ItsBase + GitsCbaser, (1UL << 63) | Queue);   // one 4 KiB page
            Tests.Vgic.Gic.Write32(Vm, 0, ItsBase + GitsCtlr, 1);
            for (int v = 0; v < Vm.Vcpus.Count; v++)
            {
                ulong rd = Gic.GetRedistributorBase(v)!.Value;
                Tests.Vgic.Gic.Write64(Vm, v, rd + 0x70, PropTable | (PropIdBits));
                Tests.Vgic.Gic.Write64(Vm, v, rd + 0x78, PendTables + ((ulong)v * 0x1_0000));
                Tests.Vgic.Gic.Write32(Vm, v, rd + 0x0, 1);
            }

            return this;
        }

        public void SetProperty(int lpi, byte priority, bool enabled) =>
            Vm.Memory.Write(PropTable + (ulong)(lpi - VgicDevice.MinLpi), (byte)(priority | (enabled ? 1 : 0)));

        /// <summary>Queues commands and writes GITS_CWRITER.</summary>
        public void Run(params (ulong, ulong, ulong, ulong)[] commands)
        {
            foreach (var (d0, d1, d2, d3) in commands)
            {
                ulong at = Queue + _cwriter;
                Vm.Memory.Write(at, d0);
                Vm.Memory.Write(at + 8, d1);
                Vm.Memory.Write(at + 16, d2);
                Vm.Memory.Write(at + 24, d3);
                _cwriter = (_cwriter + 32) % 0x1000;
            }

            Tests.Vgic.Gic.Write64(Vm, 0, ItsBase + GitsCwriter, _cwriter);
        }

        public ulong Ack(int vcpu) => Tests.Vgic.Gic.SysRead(Gic, vcpu, IccRegisters.Iar1);

        public void Eoi(int vcpu, ulong intId) => Tests.Vgic.Gic.SysWrite(Gic, vcpu, IccRegisters.Eoir1, intId);
    }

    private static (ulong, ulong, ulong, ulong) Mapd(uint device, int eventBits, ulong itt, bool valid = true) =>
        (0x08 | ((ulong)device << 32), (ulong)(eventBits - 1), (valid ? 1UL << 63 : 0) | itt, 0);

    private static (ulong, ulong, ulong, ulong) Mapc(ushort collection, int vcpu, bool valid = true) =>
        (0x09, 0, (valid ? 1UL << 63 : 0) | ((ulong)vcpu << 16) | collection, 0);

    private static (ulong, ulong, ulong, ulong) Mapti(uint device, uint eventId, int lpi, ushort collection) =>
        (0x0A | ((ulong)device << 32), eventId | ((ulong)(uint)lpi << 32), collection, 0);

    private static (ulong, ulong, ulong, ulong) Mapi(uint device, uint eventId, ushort collection) =>
        (0x0B | ((ulong)device << 32), eventId, collection, 0);

    private static (ulong, ulong, ulong, ulong) Event(byte command, uint device, uint eventId, ushort collection = 0) =>
        (command | ((ulong)device << 32), eventId, collection, 0);

    private static (ulong, ulong, ulong, ulong) Int(uint device, uint eventId) => Event(0x03, device, eventId);

    private static (ulong, ulong, ulong, ulong) Sync(int vcpu) => (0x05, 0, (ulong)vcpu << 16, 0);

    [Fact]
    public void RegistersAdvertiseLpisAndTheIts()
    {
        using var s = new Setup(2);
        Assert.Equal(VgicIts.Typer, Gic.Read64(s.Vm, 0, ItsBase + GitsTyper));
        Assert.Equal(1UL, VgicIts.Typer & 1);                                       // physical LPIs
        Assert.Equal(0x3bu, Gic.Read32(s.Vm, 0, ItsBase + 0xffe8));                 // GITS_PIDR2: GICv3
        ulong gicdTyper = Gic.Read32(s.Vm, 0, Gic.V3Dist + 0x4);
        Assert.Equal(1UL, (gicdTyper >> 17) & 1);                                  // LPIS
        Assert.Equal(15UL, (gicdTyper >> 19) & 0x1f);                              // IDbits: 16
        ulong rd1 = s.Gic.GetRedistributorBase(1)!.Value;
        Assert.Equal(1UL, Gic.Read64(s.Vm, 0, rd1 + 0x8) & 1);                     // GICR_TYPER.PLPIS
        Assert.Equal(0x8000_0000u, Gic.Read32(s.Vm, 0, ItsBase + GitsCtlr));       // quiescent, disabled
    }

    [Fact]
    public void WithoutAnItsThereAreNoLpis()
    {
        var (vm, gic) = Gic.V3(1);
        using var _ = vm;
        Assert.Equal(0UL, (Gic.Read32(vm, 0, Gic.V3Dist + 0x4) >> 17) & 1);
        Assert.Equal(9UL, (Gic.Read32(vm, 0, Gic.V3Dist + 0x4) >> 19) & 0x1f);
        ulong rd = gic.GetRedistributorBase(0)!.Value;
        Gic.Write32(vm, 0, rd, 1);
        Assert.Equal(0u, Gic.Read32(vm, 0, rd));                                  // EnableLPIs RAZ/WI
        Assert.Equal(MsiResult.NoController, gic.SignalMsi(Doorbell, 0, 0));
    }

    [Fact]
    public void EnablingNeedsValidTablesAndQueue()
    {
        using var s = new Setup(1);
        Gic.Write32(s.Vm, 0, ItsBase + GitsCtlr, 1);
        Assert.False(s.Its.Enabled);
        Gic.Write64(s.Vm, 0, ItsBase + GitsBaser0, (1UL << 63) | DeviceTable);
        Gic.Write64(s.Vm, 0, ItsBase + GitsBaser1, (1UL << 63) | CollectionTable);
        Gic.Write32(s.Vm, 0, ItsBase + GitsCtlr, 1);
        Assert.False(s.Its.Enabled);
        Gic.Write64(s.Vm, 0, ItsBase + GitsCbaser, (1UL << 63) | Queue);
        Gic.Write32(s.Vm, 0, ItsBase + GitsCtlr, 1);
        Assert.True(s.Its.Enabled);
        // Type (device 1, collection 4) and Entry_Size (8 bytes) are read-only.
        Assert.Equal(1UL, (Gic.Read64(s.Vm, 0, ItsBase + GitsBaser0) >> 56) & 7);
        Assert.Equal(4UL, (Gic.Read64(s.Vm, 0, ItsBase + GitsBaser1) >> 56) & 7);
        Assert.Equal(7UL, (Gic.Read64(s.Vm, 0, ItsBase + GitsBaser1) >> 48) & 0x1f);
        // While enabled, BASER writes are ignored.
        Gic.Write64(s.Vm, 0, ItsBase + GitsBaser0, 0);
        Assert.NotEqual(0UL, Gic.Read64(s.Vm, 0, ItsBase + GitsBaser0) >> 63);
    }

    [Fact]
    public void MaptiThenIntDeliversTheLpiToTheCollectionsVcpu()
    {
        using var s = new Setup(2).Enabled();
        s.SetProperty(8192, 0xa0, enabled: true);
        s.Run(Mapd(7, 4, Itt), Mapc(3, 1), Mapti(7, 5, 8192, 3), Int(7, 5), Sync(1));
        Assert.Equal(Gic.Read64(s.Vm, 0, ItsBase + GitsCwriter), Gic.Read64(s.Vm, 0, ItsBase + GitsCreadr));
        Assert.Equal(0, s.Its.FailedCommands);
        Assert.False(s.Gic.HasPendingIrq(0));
        Assert.True(s.Gic.HasPendingIrq(1));
        Assert.Equal(8192UL, Gic.SysRead(s.Gic, 1, IccRegisters.Hppir1));
        Assert.Equal(8192UL, s.Ack(1));
        var info = s.Gic.GetIrqInfo(1, 8192);
        Assert.Equal("LPI", info.Type);
        Assert.False(info.Active);                                               // no active state
        Assert.False(info.Pending);
        Assert.Equal(0xa0, info.Priority);
        Assert.Equal(1, info.Group);
        s.Eoi(1, 8192);
        Assert.Equal(1023UL, s.Ack(1));
    }

    [Fact]
    public void SignalMsiTranslatesDeviceAndEventAndReportsAsKvm()
    {
        using var s = new Setup(1);
        Assert.Equal(MsiResult.Busy, s.Gic.SignalMsi(Doorbell, 0, 1));            // ITS disabled
        s.Enabled();
        s.SetProperty(8200, 0x80, enabled: true);
        s.Run(Mapd(1, 2, Itt), Mapc(0, 0), Mapi(1, 3, 0));                        // MAPI: LPI = EventID 3: out of range
        Assert.Equal(1, s.Its.FailedCommands);
        Assert.Equal(ItsCommandError.MaptiPhysicalIdOutOfRange, s.Its.LastCommandError);
        s.Run(Mapti(1, 3, 8200, 0));
        Assert.Equal(MsiResult.Blocked, s.Gic.SignalMsi(Doorbell, 2, 1));         // event 2 unmapped
        Assert.Equal(MsiResult.Blocked, s.Gic.SignalMsi(Doorbell, 3, 9));         // device 9 unmapped
        Assert.Equal(MsiResult.InvalidAddress, s.Gic.SignalMsi(0x0900_0000, 3, 1));
        Assert.Equal(MsiResult.Delivered, s.Gic.SignalMsi(Doorbell, 3, 1));
        Assert.Equal(MsiResult.Delivered, s.Gic.SignalMsi(Doorbell, 3, 1));       // edge: one pending state
        Assert.Equal(8200UL, s.Ack(0));
        s.Eoi(0, 8200);
        Assert.Equal(1023UL, s.Ack(0));
    }

    [Fact]
    public void APropertyChangeCountsOnlyAfterInv()
    {
        using var s = new Setup(1).Enabled();
        s.SetProperty(8300, 0x40, enabled: false);
        s.Run(Mapd(2, 8, Itt), Mapc(0, 0), Mapti(2, 0, 8300, 0), Int(2, 0));
        Assert.Equal(1023UL, s.Ack(0));                                          // disabled: stays pending
        Assert.True(s.Gic.GetIrqInfo(0, 8300).Pending);
        s.SetProperty(8300, 0x40, enabled: true);
        Assert.Equal(1023UL, s.Ack(0));                                          // the table is not watched
        s.Run(Event(0x0C, 2, 0));                                                 // INV
        Assert.Equal(8300UL, s.Ack(0));
        s.Eoi(0, 8300);

        s.SetProperty(8300, 0x40, enabled: false);
        s.Run((0x0D, 0, 0, 0), Int(2, 0));                                        // INVALL of collection 0
        Assert.Equal(1023UL, s.Ack(0));
        s.Run(Event(0x04, 2, 0));                                                 // CLEAR
        Assert.False(s.Gic.GetIrqInfo(0, 8300).Pending);
    }

    [Fact]
    public void MoviAndMovallMoveLpisBetweenVcpus()
    {
        using var s = new Setup(4).Enabled();
        for (int lpi = 8192; lpi < 8196; lpi++)
        {
            s.SetProperty(lpi, 0x80, enabled: true);
        }

        s.Run(Mapd(0, 4, Itt), Mapc(0, 0), Mapc(1, 1), Mapc(2, 2));
        s.Run(Mapti(0, 0, 8192, 0), Mapti(0, 1, 8193, 1), Mapti(0, 2, 8194, 1));
        s.Run(Event(0x01, 0, 0, collection: 2), Int(0, 0));                       // MOVI to collection 2 (vCPU 2)
        Assert.Equal(8192UL, s.Ack(2));
        s.Eoi(2, 8192);
        s.Run((0x0E, 0, 1UL << 16, 3UL << 16), Int(0, 1), Int(0, 2));             // MOVALL vCPU 1 -> 3
        Assert.Equal(1023UL, s.Ack(1));
        Assert.Equal(8193UL, s.Ack(3));
        Assert.Equal(1023UL, s.Ack(3));                                          // same priority: no preemption
        s.Eoi(3, 8193);
        Assert.Equal(8194UL, s.Ack(3));
        s.Eoi(3, 8194);
        Assert.Equal(0, s.Its.FailedCommands);
    }

    [Fact]
    public void DiscardAndUnmappingEndTheTranslationAndFreeTheLpi()
    {
        using var s = new Setup(1).Enabled();
        s.SetProperty(8192, 0x80, enabled: true);
        s.Run(Mapd(5, 4, Itt), Mapc(0, 0), Mapti(5, 1, 8192, 0), Int(5, 1));
        Assert.Equal([8192], s.Gic.MappedLpis);
        s.Run(Event(0x0F, 5, 1));                                                 // DISCARD drops the pending state too
        Assert.Empty(s.Gic.MappedLpis);
        Assert.Equal(1023UL, s.Ack(0));
        Assert.Equal(MsiResult.Blocked, s.Gic.SignalMsi(Doorbell, 1, 5));
        s.Run(Event(0x0F, 5, 1));
        Assert.Equal(ItsCommandError.DiscardUnmappedInterrupt, s.Its.LastCommandError);

        s.Run(Mapti(5, 2, 8193, 0), Mapd(5, 4, Itt, valid: false));               // MAPD V=0 drops every translation
        Assert.Empty(s.Gic.MappedLpis);
        s.Run(Int(5, 2));
        Assert.Equal(ItsCommandError.IntUnmappedInterrupt, s.Its.LastCommandError);
        Assert.Equal(Gic.Read64(s.Vm, 0, ItsBase + GitsCwriter), Gic.Read64(s.Vm, 0, ItsBase + GitsCreadr)); // never stalls
    }

    [Fact]
    public void ThePendingTableIsReadWhenLpisAreEnabledAndBitsAreConsumedAtMapping()
    {
        using var s = new Setup(1);
        s.SetProperty(8195, 0x80, enabled: true);
        s.Vm.Memory.Write(PendTables + (8195 / 8), (byte)(1 << (8195 % 8)));
        s.Enabled();
        s.Run(Mapd(0, 4, Itt), Mapc(0, 0), Mapti(0, 0, 8195, 0));
        Assert.Equal(8195UL, s.Ack(0));                                          // pending from the table
        s.Eoi(0, 8195);
        Assert.Equal(0, s.Vm.Memory.Read<byte>(PendTables + (8195 / 8)));     // consumed

        // EnableLPIs 0 drops the pending state, and MSIs to the redistributor are refused (-EBUSY).
        s.Run(Int(0, 0));
        ulong rd = s.Gic.GetRedistributorBase(0)!.Value;
        Gic.Write32(s.Vm, 0, rd, 0);
        Assert.False(s.Gic.GetIrqInfo(0, 8195).Pending);
        Assert.Equal(MsiResult.Busy, s.Gic.SignalMsi(Doorbell, 0, 0));
        s.Vm.Memory.Write(PendTables + (8195 / 8), (byte)(1 << (8195 % 8)));
        Gic.Write32(s.Vm, 0, rd, 1);                                              // ... and enabling reads the table again
        Assert.True(s.Gic.GetIrqInfo(0, 8195).Pending);
    }

    [Fact]
    public void SaveAndRestoreTablesRebuildTheTranslations()
    {
        using var s = new Setup(2).Enabled();
        s.SetProperty(8192, 0x80, enabled: true);
        s.SetProperty(8250, 0x80, enabled: true);
        s.Run(Mapd(3, 6, Itt), Mapc(4, 1), Mapti(3, 0, 8192, 4), Mapti(3, 40, 8250, 4));
        s.Its.SaveTables();

        var itsRegs = new[] { GitsBaser0, GitsBaser1, GitsCbaser }.Select(o => (o, s.Its.ReadRegister(o))).ToArray();
        s.Its.Reset();
        Assert.Empty(s.Gic.MappedLpis);
        foreach (var (offset, value) in itsRegs)
        {
            s.Its.WriteRegister(offset, value);
        }

        s.Its.RestoreTables();
        Assert.Equal([8192, 8250], s.Gic.MappedLpis);
        s.Its.WriteRegister(GitsCtlr, 1);
        Assert.Equal(MsiResult.Delivered, s.Gic.SignalMsi(Doorbell, 40, 3));
        Assert.Equal(8250UL, s.Ack(1));
    }
}
