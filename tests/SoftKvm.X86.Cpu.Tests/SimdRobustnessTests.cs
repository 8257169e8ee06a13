using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class SimdRobustnessTests
{
    private static readonly byte[] Prefixes = [0x00, 0x66, 0xF2, 0xF3];

    private static readonly ulong[] Specials =
    [
        0, 0x8000000000000000, 0x7FF0000000000000, 0xFFF8000000000000, 0x7FF4000000000001, 0x0000000000000001,
        0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0x7F8000007FC00000, 0x00000001807FFFFF, 0x7F7FFFFF00800000,
        0x8000000000000001, 0xFFFFFFFFFFFFFFFF, 0x3FF0000000000000, 0xC3E0000000000000, 0x41E0000000000000,
    ];

    private static ulong Interesting(Random rng) => rng.Next(3) == 0 ? Specials[rng.Next(Specials.Length)] : (ulong)rng.NextInt64();

    /// <summary>Random SSE (0F xx with a mandatory prefix) and x87 (D8-DF) encodings with random ModR/M, SIB,
    /// displacement and immediate bytes, random MXCSR/FCW and CR0/CR4 states: every one ends in a guest
    /// exception or retires, never in a host exception.</summary>
    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void Random_sse_and_x87_encodings_never_throw_on_the_host(int bitness)
    {
        var rng = new Random(77 + bitness);
        long retired = 0, faults = 0;
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("SOFTKVM_X86_SIMD_FUZZ_ROUNDS"), out int n) ? n : 60;
        for (int round = 0; round < rounds; round++)
        {
            using var m = new TestMachine(4 << 20);
            if (bitness == 64)
            {
                m.Setup64();
            }
            else
            {
                m.Setup32();
            }

            m.R.Cr4 |= rng.Next(4) == 0 ? 0x200UL : 0x600UL;
            m.R.Cr0 |= rng.Next(8) == 0 ? 8UL : 0;
            m.R.Mxcsr = (uint)(0x1F80 & ~(rng.Next(4) == 0 ? 0x80 << rng.Next(6) : 0)) | (uint)(rng.Next(4) << 13) | (rng.Next(2) == 0 ? 0x8040u : 0);
            m.R.Fpu.Fcw = (ushort)(0x037F & ~(rng.Next(4) == 0 ? 1 << rng.Next(6) : 0));
            for (int g = 0; g < 16; g++)
            {
                m.R.Gpr[g] = g == Gpr.Rsp ? TestMachine.Stack : 0x200000 + ((ulong)rng.Next(0, 0x8000) & ~7UL);
                m.R.Xmm[g] = new XmmRegister(Interesting(rng), Interesting(rng));
            }

            for (int k = 0; k < 8; k++)
            {
                m.R.Fpu.R[k] = new Float80 { Significand = Interesting(rng), SignExponent = (ushort)rng.Next(0x10000) };
            }

            m.R.Fpu.ValidMask = (byte)rng.Next(256);
            m.R.Fpu.Fsw = (ushort)(rng.Next(8) << 11);
            var data = new byte[0x10000];
            rng.NextBytes(data);
            m.Memory.Write(0x200000, data);

            var code = new List<byte>();
            while (code.Count < 3000)
            {
                if (rng.Next(3) == 0)
                {
                    code.Add((byte)(0xD8 + rng.Next(8)));
                }
                else
                {
                    byte p = Prefixes[rng.Next(Prefixes.Length)];
                    if (p != 0)
                    {
                        code.Add(p);
                    }

                    if (bitness == 64 && rng.Next(3) == 0)
                    {
                        code.Add((byte)(0x40 + rng.Next(16)));
                    }

                    code.Add(0x0F);
                    code.Add((byte)rng.Next(0x10, 0x100));
                }

                for (int k = rng.Next(1, 7); k > 0; k--)
                {
                    code.Add((byte)rng.Next(256));
                }
            }

            m.Memory.Write(TestMachine.Code, code.ToArray());
            m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
            for (int step = 0; step < 400; step++)
            {
                var reason = m.Run(50);
                if (reason == X86ExitReason.ExceptionOrNmi)
                {
                    faults++;
                    if (m.R.Rip - TestMachine.Code >= (ulong)code.Count)
                    {
                        break; // a branch (on flags the manual leaves undefined) left the code: a fetch fault, nothing to skip
                    }

                    Assert.True(m.Cpu.Exit.InstructionLength > 0);
                    m.R.Rip += (ulong)m.Cpu.Exit.InstructionLength; // skip the faulting instruction
                    continue;
                }

                if (reason is X86ExitReason.Unsupported or X86ExitReason.TripleFault)
                {
                    break;
                }

                if (m.Cpu.Exit.InstructionLengthValid && m.Cpu.Exit.InstructionLength > 0)
                {
                    m.R.Rip += (ulong)m.Cpu.Exit.InstructionLength;
                }
                else if (reason != X86ExitReason.BudgetExhausted)
                {
                    break;
                }

                if (m.R.Rip - TestMachine.Code > 2900)
                {
                    break;
                }
            }

            retired += m.Cpu.InstructionsRetired;
        }

        Assert.True(retired > 1000);
        Assert.True(faults > 100);
    }

    [Fact]
    public void Sse_and_x87_loop_is_allocation_free()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.R.Cr4 |= 0x600;
        m.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(rsi, 0x200000);
            a.Label(ref top);
            a.movdqu(xmm0, __xmmword_ptr[rsi]);
            a.paddd(xmm0, xmm1);
            a.mulps(xmm0, xmm2);
            a.cvtsi2sd(xmm3, eax);
            a.divsd(xmm3, xmm4);
            a.comisd(xmm3, xmm4);
            a.movdqu(__xmmword_ptr[rsi + 16], xmm0);
            a.fld(__qword_ptr[rsi + 32]);
            a.fmul(st0, st0);
            a.fstp(__qword_ptr[rsi + 40]);
            a.jmp(top);
        });
        m.R.Xmm[4] = new XmmRegister(BitConverter.DoubleToUInt64Bits(3.0), 0);
        m.Cpu.StateChanged();
        long allocated = long.MaxValue;
        for (int round = 0; round < 8 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var reason = m.Run(300_000);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(X86ExitReason.BudgetExhausted, reason);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(0, m.Cpu.UnimplementedCount);
    }
}
