using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class RobustnessTests
{
    private sealed class EchoBus : IX86EmulationBus
    {
        private int _n;

        public X86BusResult ReadMemory(ulong gpa, Span<byte> data)
        {
            data.Fill((byte)gpa);
            return ++_n % 3 == 0 ? X86BusResult.NeedsUserspace : X86BusResult.Done;
        }

        public X86BusResult WriteMemory(ulong gpa, ReadOnlySpan<byte> data) => ++_n % 3 == 0 ? X86BusResult.NeedsUserspace : X86BusResult.Done;

        public X86BusResult ReadPort(ushort port, int size, Span<byte> data)
        {
            data.Fill(0xFF);
            return X86BusResult.Done;
        }

        public X86BusResult WritePort(ushort port, ReadOnlySpan<byte> data) => X86BusResult.Done;
    }

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    public void Random_bytes_as_code_never_throw_on_the_host(int bitness)
    {
        var rng = new Random(1234 + bitness);
        var bytes = new byte[4096];
        var bus = new EchoBus();
        long instructions = 0;
        for (int round = 0; round < 150; round++)
        {
            using var m = new TestMachine(4 << 20);
            if (bitness == 64)
            {
                m.Setup64();
            }
            else if (bitness == 32)
            {
                m.Setup32();
            }
            else
            {
                m.R.Seg[SegmentIndex.Cs] = SegmentRegister.RealMode(0x1000);
                m.R.Rip = 0;
                m.Cpu.StateChanged();
            }

            rng.NextBytes(bytes);
            ulong at = bitness == 16 ? 0x10000 : TestMachine.Code;
            m.Memory.Write(at, bytes);
            for (int step = 0; step < 50; step++)
            {
                var reason = m.Run(200);
                if (reason == X86ExitReason.TripleFault)
                {
                    break;
                }

                if (reason is X86ExitReason.EptViolation or X86ExitReason.IoInstruction && (step & 1) == 0)
                {
                    // Emulate the access through a bus that sometimes needs userspace.
                    var result = m.Cpu.EmulateOne(bus);
                    Assert.True(Enum.IsDefined(result));
                    if (result != X86EmulationResult.Failed)
                    {
                        continue;
                    }
                }

                if (reason is X86ExitReason.IoInstruction or X86ExitReason.Hlt or X86ExitReason.Cpuid or X86ExitReason.Rdmsr
                    or X86ExitReason.Wrmsr or X86ExitReason.EptViolation)
                {
                    // Skip the exiting instruction like a hypervisor that ignores it.
                    if (m.Cpu.Exit.InstructionLengthValid && m.Cpu.Exit.InstructionLength > 0)
                    {
                        m.R.Rip += (ulong)m.Cpu.Exit.InstructionLength;
                    }
                    else
                    {
                        break;
                    }
                }

                if (reason == X86ExitReason.Unsupported)
                {
                    Assert.NotNull(m.Cpu.Exit.Message);
                    break;
                }
            }

            instructions += m.Cpu.InstructionsRetired;
        }

        Assert.True(instructions > 0);
    }

    [Fact]
    public void Execution_loop_is_allocation_free()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 100_000_000);
            a.mov(rsi, 0x200000);
            a.Label(ref top);
            a.add(rax, __qword_ptr[rsi]);
            a.mov(__qword_ptr[rsi + 8], rax);
            a.imul(rbx, rax, 3);
            a.shl(rbx, 3);
            a.push(rbx);
            a.pop(rdx);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        // Warm up until the tiered JIT has settled (its call-counting stubs allocate on first calls);
        // then a run of a million instructions must not allocate at all.
        long allocated = long.MaxValue;
        for (int round = 0; round < 8 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var reason = m.Run(1_000_000);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(X86ExitReason.BudgetExhausted, reason);
        }

        Assert.Equal(0, allocated);
    }
}
