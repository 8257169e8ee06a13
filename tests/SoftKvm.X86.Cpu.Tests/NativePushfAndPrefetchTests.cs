using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>PUSHFQ and the PREFETCH hints in native blocks (X86NativeTranslator.Pushf.cs; a prefetch is a NOP there),
/// against the interpreter: the pushed RFLAGS image with every status flag an ADD/SUB/CMP leaves, and prefetches of
/// unmapped and non-canonical addresses, which never fault.</summary>
public sealed class NativePushfAndPrefetchTests
{
    private static TestMachine Machine(bool native)
    {
        var m = TestMachine.Native64(native);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 500);
            a.mov(rbx, 0x200000UL);
            a.mov(rsi, 0x7FFF_FFFF_FFF0UL);
            a.xor(r8, r8);
            a.Label(ref loop);
            a.imul(eax, ecx, 0x9E3779B1);
            a.add(eax, 0x7FFF0000);  // OF, SF, ZF, AF, PF, CF vary with ECX
            a.pushfq();
            a.pop(rdx);
            a.xor(r8, rdx);
            a.rol(r8, 7);
            a.prefetcht0(__byte_ptr[rbx + rcx * 8]);
            a.prefetchw(__byte_ptr[rsi]);          // unmapped
            a.prefetchnta(__byte_ptr[rsi + rsi]);  // non-canonical
            a.cmp(eax, ecx);
            a.pushfq();
            a.pop(rdi);
            a.mov(__qword_ptr[rbx + rcx * 8], rdi);
            a.sub(ecx, 1);
            a.jnz(loop);
            a.pushfq();
            a.hlt();
        });
        m.R.Rflags = 2;
        m.Cpu.StateChanged();
        return m;
    }

    [Fact]
    public void Pushfq_and_prefetches_run_natively_as_interpreted()
    {
        using var interpreted = Machine(native: false);
        using var native = Machine(native: true);
        foreach (var m in new[] { interpreted, native })
        {
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        TestMachine.AssertSameRegisters(interpreted, native);
        var a = new byte[0x1000];
        var b = new byte[0x1000];
        interpreted.Memory.Read(0x200000, a);
        native.Memory.Read(0x200000, b);
        Assert.Equal(a, b);
        Assert.Equal(interpreted.Memory.Read<ulong>(TestMachine.Stack - 8), native.Memory.Read<ulong>(TestMachine.Stack - 8));
        long outside = native.Cpu.InstructionsRetired - native.Cpu.TranslatedInstructions;
        Assert.True(outside < 20, $"{outside} of {native.Cpu.InstructionsRetired} ran outside native code");
    }
}
