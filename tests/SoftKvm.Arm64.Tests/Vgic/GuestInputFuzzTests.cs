using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>Guest input never crashes the host: random accesses to every VGIC frame and ICC register.</summary>
public class GuestInputFuzzTests
{
    [Theory]
    [InlineData(GicModel.V2, 8, 1)]
    [InlineData(GicModel.V3, 40, 2)]
    public void RandomAccessesAreAlwaysHandled(GicModel model, int vcpus, int seed)
    {
        var (vm, gic) = model == GicModel.V2 ? Gic.V2(vcpus) : Gic.V3(vcpus);
        using var _ = vm;
        var random = new Random(seed);
        var frames = new List<(ulong Base, ulong Size)> { (Gic.V2Dist, model == GicModel.V2 ? 0x1000UL : 0x10000UL) };
        if (model == GicModel.V2)
        {
            frames.Add((Gic.V2Cpu, 0x2000));
        }
        else
        {
            for (int i = 0; i < vcpus; i++)
            {
                frames.Add((gic.GetRedistributorBase(i)!.Value, 0x20000));
            }
        }

        int[] sizes = [1, 2, 3, 4, 8];
        var buffer = new byte[8];
        for (int n = 0; n < 20000; n++)
        {
            var (baseAddress, size) = frames[random.Next(frames.Count)];
            int width = sizes[random.Next(sizes.Length)];
            ulong offset = (ulong)random.NextInt64((long)(size - (ulong)width + 1));
            if (random.Next(4) == 0)
            {
                offset &= 0xfff; // the dense low registers more often
            }

            var vcpu = vm.GetVcpu(random.Next(vcpus));
            var data = buffer.AsSpan(0, width);
            if (random.Next(2) == 0)
            {
                Assert.True(vm.MmioBus.Read(vcpu, baseAddress + offset, data));
            }
            else
            {
                random.NextBytes(data);
                Assert.True(vm.MmioBus.Write(vcpu, baseAddress + offset, data));
            }

            var key = SysRegKey.Of(3, 0, random.Next(2) == 0 ? 12 : 4, random.Next(16), random.Next(8));
            if (random.Next(2) == 0)
            {
                gic.TryReadSystemRegister(random.Next(vcpus), key, out ulong _);
            }
            else
            {
                gic.TryWriteSystemRegister(random.Next(vcpus), key, (ulong)random.NextInt64());
            }
        }

        Assert.NotEmpty(gic.DumpState());
    }
}
