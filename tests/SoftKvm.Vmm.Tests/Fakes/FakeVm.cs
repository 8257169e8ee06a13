using SoftKvm.Core;
using SoftKvm.Core.Stats;

namespace SoftKvm.Vmm.Tests.Fakes;

internal sealed class FakeVm(int maxVcpus) : Vm(maxVcpus, new StatsSchema(StatScope.Vm, VmStat.Descriptors))
{
    public ScriptedVcpu Cpu(int id) => (ScriptedVcpu)GetVcpu(id)!;

    protected override Vcpu CreateVcpuCore(int id) => new ScriptedVcpu(this, id);
}
