using SoftKvm.Core.Io;
using SoftKvm.Core.Run;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>Guest input never crashes the host: random bytes as code end in exits the VMM can handle.</summary>
public class RandomCodeTests
{
    [Fact]
    public void Random_code_near_mmio_and_ports_only_produces_defined_exits()
    {
        var rng = new Random(0x5EED);
        int cases = 0;
        for (int c = 0; c < 60; c++)
        {
            using var m = new KvmMachine(irqchip: c % 2 == 0);
            var fd = new EventFd();
            m.Vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(KvmMachine.Doorbell, 0, fd));
            m.Vcpu.Cpu.Controls.WithholdEptInstructionLength = c % 3 == 0;
            var code = new byte[64];
            rng.NextBytes(code);
            m.Vm.Memory.Write(KvmMachine.CodeBase, code);
            for (int g = 0; g < 16; g++)
            {
                m.R.Gpr[g] = (rng.Next(3)) switch
                {
                    0 => KvmMachine.Mmio + (ulong)rng.Next(0x2000),
                    1 => KvmMachine.Doorbell,
                    _ => (ulong)rng.NextInt64(),
                };
            }

            m.R.Gpr[4] = KvmMachine.Stack;
            var vcpu = m.Vcpu; // the timer may fire once more after the machine is disposed
            using var kicker = new Timer(_ => vcpu.Kick(), null, 10, 10);
            for (int exits = 0; exits < 40; exits++)
            {
                var r = m.Vcpu.Run();
                if (r == RunResult.Interrupted)
                {
                    break;
                }

                Assert.Equal(RunResult.Ok, r);
                var reason = m.Run.ExitReason;
                Assert.True(reason is ExitReason.Mmio or ExitReason.Io or ExitReason.Hlt or ExitReason.Shutdown
                    or ExitReason.InternalError or ExitReason.Debug, $"case {c}: exit {reason}");
                if (reason is ExitReason.Shutdown or ExitReason.InternalError)
                {
                    break;
                }

                if (reason == ExitReason.Mmio && !m.Run.Mmio.IsWrite)
                {
                    m.Run.Mmio.SetValue((ulong)rng.NextInt64());
                }
            }

            cases++;
        }

        Assert.Equal(60, cases);
    }
}
