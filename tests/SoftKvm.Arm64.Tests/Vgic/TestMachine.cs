using System.Buffers.Binary;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>A Core VM whose vCPUs never run guest code: enough to drive the VGIC at register level.</summary>
internal sealed class TestVm(int maxVcpus) : Vm(maxVcpus, new StatsSchema(StatScope.Vm, VmStat.Descriptors))
{
    public static TestVm WithVcpus(int count, int maxVcpus = 0)
    {
        var vm = new TestVm(Math.Max(count, maxVcpus));
        for (int i = 0; i < count; i++)
        {
            vm.CreateVcpu(i);
        }

        return vm;
    }

    public TestVcpu Cpu(int id) => (TestVcpu)GetVcpu(id)!;

    protected override Vcpu CreateVcpuCore(int id) => new TestVcpu(this, id);
}

internal sealed class TestVcpu(Vm vm, int id) : Vcpu(vm, id, Schema)
{
    private static readonly StatsSchema Schema = new(StatScope.Vcpu, VcpuStat.Descriptors);

    /// <summary>Consumes a pending <see cref="VcpuRequest.Event"/>.</summary>
    public bool TakeEvent() => TestAndClearRequest(VcpuRequest.Event);

    protected override RunResult RunLoop() => throw new NotSupportedException("the test vCPU runs no guest code");

    protected override bool CompletePending(int kind, out RunResult result)
    {
        result = RunResult.Ok;
        return true;
    }

    protected override bool HasWakeupEvent() => false;
}

/// <summary>GIC layouts as QEMU's virt machine has them, and MMIO helpers.</summary>
internal static class Gic
{
    public const ulong V2Dist = 0x0800_0000;
    public const ulong V2Cpu = 0x0801_0000;
    public const ulong V3Dist = 0x0800_0000;
    public const ulong V3Redist = 0x080a_0000;
    public const ulong V3HighRedist = 0x40_0000_0000;

    public static (TestVm Vm, SoftKvm.Arm64.Vgic.Vgic Gic) V2(int vcpus, int spis = SoftKvm.Arm64.Vgic.Vgic.DefaultSpiCount)
    {
        var vm = TestVm.WithVcpus(vcpus);
        var gic = new SoftKvm.Arm64.Vgic.Vgic(vm, GicModel.V2, vcpus, spis);
        gic.SetAddress(VgicAddressType.V2Distributor, V2Dist);
        gic.SetAddress(VgicAddressType.V2CpuInterface, V2Cpu);
        gic.Init();
        return (vm, gic);
    }

    public static (TestVm Vm, SoftKvm.Arm64.Vgic.Vgic Gic) V3(int vcpus, int spis = SoftKvm.Arm64.Vgic.Vgic.DefaultSpiCount)
    {
        var vm = TestVm.WithVcpus(vcpus);
        var gic = new SoftKvm.Arm64.Vgic.Vgic(vm, GicModel.V3, vcpus, spis);
        gic.SetAddress(VgicAddressType.V3Distributor, V3Dist);
        gic.SetAddress(VgicAddressType.V3Redistributor, V3Redist);
        gic.Init();
        return (vm, gic);
    }

    public static uint Read32(Vm vm, int vcpu, ulong address)
    {
        Span<byte> data = stackalloc byte[4];
        Assert.True(vm.MmioBus.Read(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    public static ulong Read64(Vm vm, int vcpu, ulong address)
    {
        Span<byte> data = stackalloc byte[8];
        Assert.True(vm.MmioBus.Read(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public static byte Read8(Vm vm, int vcpu, ulong address)
    {
        Span<byte> data = stackalloc byte[1];
        Assert.True(vm.MmioBus.Read(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
        return data[0];
    }

    public static void Write32(Vm vm, int vcpu, ulong address, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        Assert.True(vm.MmioBus.Write(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
    }

    public static void Write64(Vm vm, int vcpu, ulong address, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        Assert.True(vm.MmioBus.Write(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
    }

    public static void Write8(Vm vm, int vcpu, ulong address, byte value)
    {
        Span<byte> data = [value];
        Assert.True(vm.MmioBus.Write(vm.GetVcpu(vcpu), address, data), $"no device at 0x{address:x}");
    }

    public static ulong SysRead(SoftKvm.Arm64.Vgic.Vgic gic, int vcpu, SoftKvm.Arm64.Cpu.SysRegKey key)
    {
        Assert.True(gic.TryReadSystemRegister(vcpu, key, out ulong value), $"{key} not claimed");
        return value;
    }

    public static void SysWrite(SoftKvm.Arm64.Vgic.Vgic gic, int vcpu, SoftKvm.Arm64.Cpu.SysRegKey key, ulong value) =>
        Assert.True(gic.TryWriteSystemRegister(vcpu, key, value), $"{key} not claimed");

    /// <summary>GICv3: distributor Group 1 on, and vCPU <paramref name="vcpu"/>'s CPU interface open (PMR 0xF8, IGRPEN1).</summary>
    public static void EnableV3Cpu(SoftKvm.Arm64.Vgic.Vgic gic, TestVm vm, int vcpu)
    {
        Write32(vm, vcpu, V3Dist + 0x0, 0x2);
        SysWrite(gic, vcpu, IccRegisters.Pmr, 0xff);
        SysWrite(gic, vcpu, IccRegisters.Igrpen1, 1);
    }
}
