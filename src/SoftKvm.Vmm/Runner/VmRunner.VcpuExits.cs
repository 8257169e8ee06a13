using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// What the VMM keeps per vCPU for its exits (issue 19): the counts of the <c>KVM_EXIT_MMIO</c> and <c>KVM_EXIT_IO</c>
/// returns it handled, each written by that vCPU's thread alone (a plain increment, no locked instruction; the totals
/// are summed on read), and the vCPU's last look-up on each userspace bus (<see cref="IoBusCache"/>), so that a vCPU
/// that keeps accessing one device finds it without searching the bus.
/// </summary>
public sealed partial class VmRunner
{
    /// <summary>This VMM's exit state of <paramref name="vcpu"/>, created at its first exit (only its own thread runs it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private VcpuExits ExitsOf(Vcpu vcpu) => Volatile.Read(ref _vcpuExits[vcpu.Id]) ?? NewExits(vcpu.Id);

    private VcpuExits NewExits(int id)
    {
        var exits = new VcpuExits();
        Volatile.Write(ref _vcpuExits[id], exits);
        return exits;
    }

    private long SumExits(Func<VcpuExits, long> count)
    {
        long sum = 0;
        foreach (var exits in _vcpuExits)
        {
            if (exits is not null)
            {
                sum += count(exits);
            }
        }

        return sum;
    }

    /// <summary>One vCPU's exit counts and bus caches; written by the thread that runs the vCPU.</summary>
    private sealed class VcpuExits
    {
        public long Mmio;
        public long Io;
        public IoBusCache MmioBus;
        public IoBusCache PioBus;
    }
}
