using System.Text;
using SoftKvm.Devices;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.X86;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.Tests.X86;

public class PcMachineTests
{
    private static MachineConfig Config(int cpus = 1, ulong memory = 64UL << 20, string? kernel = null, string? initrd = null, string? append = null) => new()
    {
        Architecture = "x86_64",
        Cpus = cpus,
        MemorySize = memory,
        Kernel = kernel ?? MultibootImages.Guest("compute32.elf"),
        Initrd = initrd,
        Append = append,
    };

    private static IMachine Create(MachineConfig config) =>
        new PcMachineBuilder().Prepare(config).Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));

    [Fact]
    public void BootVcpuIsInTheMultibootEntryStateAndTheOthersWaitForSipi()
    {
        using var m = Create(Config(cpus: 4, append: "hello"));
        var image = MultibootImage.Load(MultibootImages.Guest("compute32.elf"));
        var v0 = (X86Vcpu)m.Vcpus[0];
        var r = v0.GetRegisters();
        Assert.Equal(0x2BADB002UL, r.Gpr[Gpr.Rax]);
        Assert.Equal(PcMemoryMap.BootDataStart, r.Gpr[Gpr.Rbx]);
        Assert.Equal(image.Entry, r.Rip);
        Assert.Equal(0x11UL, r.Cr0 & 0x8000_0011);
        Assert.Equal(0UL, r.Rflags & (1 << 9));
        Assert.Equal(0UL, r.Seg[SegmentIndex.Cs].Base);
        Assert.Equal(0xFFFF_FFFFu, r.Seg[SegmentIndex.Cs].Limit);
        Assert.Equal(SegmentRegister.DefaultBig, r.Seg[SegmentIndex.Cs].Attributes & (SegmentRegister.DefaultBig | SegmentRegister.LongMode)); // 32-bit code
        Assert.Equal(0xFFFF_FFFFu, r.Seg[SegmentIndex.Ss].Limit);
        Assert.Equal(X86MpState.Runnable, v0.MpState);
        for (int i = 1; i < 4; i++)
        {
            Assert.Equal(X86MpState.Uninitialized, ((X86Vcpu)m.Vcpus[i]).MpState);
        }

        var mp = new byte[4];
        m.Vm.Memory.Read(PcMemoryMap.MpTableAddress, mp);
        Assert.Equal("_MP_", Encoding.ASCII.GetString(mp));
        var code = new byte[16];
        m.Vm.Memory.Read(image.Segments[0].Address, code);
        Assert.Equal(image.Data.AsSpan(image.Segments[0].FileOffset, 16).ToArray(), code);
    }

    [Fact]
    public void SerialRtcAndDebugExitSitOnTheUserspacePioBus()
    {
        using var m = Create(Config());
        Assert.True(m.PioBus.TryFind(0x3F8, 1, out _, out _));
        Assert.True(m.PioBus.TryFind(0x71, 1, out _, out _));
        Assert.True(m.PioBus.TryFind(0xF4, 4, out _, out _));
        int? exit = null;
        m.DeviceExit += (c, _) => exit = c;
        Assert.True(m.PioBus.Write(null, 0xF4, [3, 0, 0, 0]));
        Assert.Equal(7, exit);
        Assert.Contains("vCPU 0", m.DescribeInterruptController());
    }

    [Fact]
    public void InitrdBecomesAModuleAfterTheKernel()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, Encoding.ASCII.GetBytes("INITRD-CONTENT"));
            using var m = Create(Config(initrd: path));
            var info = new byte[32];
            m.Vm.Memory.Read(PcMemoryMap.BootDataStart, info);
            Assert.Equal(1u, BitConverter.ToUInt32(info, 20));
            var mod = new byte[8];
            m.Vm.Memory.Read(BitConverter.ToUInt32(info, 24), mod);
            uint start = BitConverter.ToUInt32(mod, 0);
            Assert.Equal(0u, start % 4096);
            Assert.Equal(start + 14, BitConverter.ToUInt32(mod, 4));
            var data = new byte[14];
            m.Vm.Memory.Read(start, data);
            Assert.Equal("INITRD-CONTENT", Encoding.ASCII.GetString(data));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0, 64UL << 20)]
    [InlineData(256, 64UL << 20)]
    [InlineData(1, 1UL << 20)]
    [InlineData(1, (64UL << 20) + 1)]
    public void OutOfRangeConfigurationsAreRefused(int cpus, ulong memory)
    {
        Assert.Throws<ConfigurationException>(() => new PcMachineBuilder().Prepare(Config(cpus, memory)));
    }

    [Theory]
    [InlineData(true, 28)]
    [InlineData(false, 7)]
    public void TheDiskLimitIsWhatTheVirtioTransportHasRoomFor(bool pci, int most)
    {
        var disks = Enumerable.Range(0, most + 1).Select(i => new DiskConfig($"disk{i}.img", false)).ToList();
        var config = Config() with { Disks = disks, MachineOptions = [new PcOptions { VirtioPci = pci }] };
        var e = Assert.Throws<ConfigurationException>(() => new PcMachineBuilder().Prepare(config));
        Assert.Contains($"{most + 1} disks are too many", e.Message);
        Assert.Contains($"at most {most} disks", e.Message);
    }

    [Fact]
    public void WithVirtioMmioDisksAndTheConsoleSitInMicrovmVirtioWindowsAnnouncedOnTheCommandLine()
    {
        string disk = Path.GetTempFileName();
        string disk2 = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(disk, new byte[4096]);
            File.WriteAllBytes(disk2, new byte[4096]);
            var config = Config(append: "quiet") with
            {
                Disks = [new DiskConfig(disk, false), new DiskConfig(disk2, true)],
                MachineOptions = [new PcOptions { VirtioPci = false }],
            };
            Assert.Equal(
                "quiet virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00200:6 virtio_mmio.device=512@0xfeb00400:7",
                PcMachineBuilder.KernelCommandLine(config));
            using var m = Create(config);
            var word = new byte[4];
            for (int i = 0; i < 3; i++)
            {
                ulong window = 0xFEB0_0000 + ((ulong)i * 0x200);
                Assert.True(m.MmioBus.Read(null, window, word));
                Assert.Equal(0x74726976u, BitConverter.ToUInt32(word));
                Assert.True(m.MmioBus.Read(null, window + 8, word));
                Assert.Equal(i < 2 ? 2u : 3u, BitConverter.ToUInt32(word)); // virtio-blk, then virtio-console
            }

            // virtio-blk's QueueNotify is a fast-MMIO doorbell (zero-length ioeventfd); the console's (two queues) is not.
            Assert.True(m.Vm.MmioBus.TrySignalFastMmio(0xFEB0_0050));
            Assert.True(m.Vm.MmioBus.TrySignalFastMmio(0xFEB0_0250));
            Assert.False(m.Vm.MmioBus.TrySignalFastMmio(0xFEB0_0450));
            Assert.False(m.MmioBus.TryFind(0xFEB0_0600, 4, out _, out _));
        }
        finally
        {
            File.Delete(disk);
            File.Delete(disk2);
        }
    }

    [Fact]
    public void VirtioIrqsAreLevelTriggeredInTheMpTable()
    {
        byte[] table = MpTable.Build((uint)PcMemoryMap.MpTableAddress, 1, 1, levelIrqs: 1 << 5);
        int entries = 16 + 44 + 20 + 8 + 8; // floating pointer, header, 1 processor, bus, IOAPIC
        for (int irq = 0; irq < 16; irq++)
        {
            Assert.Equal(irq == 5 ? 0x0D : 0, table[entries + (irq * 8) + 2]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WithholdInstructionLengthReachesEveryVcpu(bool withhold)
    {
        using var m = Create(Config(cpus: 2) with { MachineOptions = [new PcOptions { WithholdInstructionLength = withhold }] });
        Assert.All(m.Vcpus, v => Assert.Equal(withhold, ((X86Vcpu)v).WithholdEptInstructionLength));
    }

    [Fact]
    public void ArmKernelIsABadImage()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[4096]);
            Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(kernel: path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void KernelInsideTheLoadersLowAreaIsABadImage()
    {
        var image = MultibootImages.Aout();
        BitConverter.TryWriteBytes(image.AsSpan(0x40 + 12), 0x1_0040u); // header_addr
        BitConverter.TryWriteBytes(image.AsSpan(0x40 + 16), 0x1_0000u); // load_addr
        BitConverter.TryWriteBytes(image.AsSpan(0x40 + 20), 0x1_1000u); // load_end_addr
        BitConverter.TryWriteBytes(image.AsSpan(0x40 + 24), 0x1_3000u); // bss_end_addr
        BitConverter.TryWriteBytes(image.AsSpan(0x40 + 28), 0x1_0080u); // entry_addr
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, image);
            var e = Assert.Throws<BadImageException>(() => new PcMachineBuilder().Prepare(Config(kernel: path)));
            Assert.Contains("inside the loader's area", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void KernelBeyondRamDoesNotFit()
    {
        string path = WriteTemp(MultibootImages.Aout(loadEnd: 0x10_1000, bssEnd: 0x40_0000));
        try
        {
            Assert.Throws<MemoryTooSmallException>(() => new PcMachineBuilder().Prepare(Config(memory: 2UL << 20, kernel: path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string WriteTemp(byte[] data)
    {
        string path = Path.Combine(Path.GetTempPath(), $"softkvm-pc-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, data);
        return path;
    }
}
