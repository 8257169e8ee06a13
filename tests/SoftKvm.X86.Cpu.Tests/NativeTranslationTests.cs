using Iced.Intel;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Cpu.Translation.Native;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// Every test of <see cref="TranslationTests"/> again with 64-bit code run as native x86-64 blocks
/// (<see cref="X86NativeTranslator"/>; 32-bit code stays with the IL blocks), and what only native blocks have:
/// CALL/RET, FS/GS bases, a store into the block's own code, blocks translated at their first execution.
/// </summary>
public sealed class NativeTranslationTests : TranslationTests
{
    protected override bool NativeBlocks => true;

    /// <summary>A loop calling a function (CALL/RET inside and out of the block), FS/GS-based accesses, PUSH imm, byte
    /// registers that need REX (SIL, DIL), 16-bit operations, ADC/SBB chains, shifts by CL, BT, SETcc/CMOVcc, MOVSX.</summary>
    private static void CallLoop64(Assembler a)
    {
        var loop = a.CreateLabel();
        var f = a.CreateLabel();
        a.mov(ecx, 200);
        a.mov(rbx, Data);
        a.Label(ref loop);
        a.push(rcx);
        a.push(-5);
        a.call(f);
        a.pop(rdx);
        a.pop(rcx);
        a.add(__qword_ptr[rbx + 0x100], rdx);
        a.mov(__dword_ptr.fs[0x10], ecx);
        a.add(eax, __dword_ptr.gs[0x20]);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
        a.Label(ref f);
        a.mov(rsi, __qword_ptr[rsp + 8]);
        a.movsx(rdi, sil);
        a.add(dil, sil);
        a.adc(r8w, di);
        a.sbb(r9, rsi);
        a.shl(r10, cl);
        a.rol(r11d, cl);
        a.bt(r9, 3);
        a.setc(__byte_ptr[rbx + rcx * 2 + 0x200]);
        a.cmovs(r12, r9);
        a.imul(r13, r12, 0x1234);
        a.test(r13b, 1);
        a.setnz(r14b);
        a.xor(__word_ptr[rbx + 0x300], r13w);
        a.ret();
    }

    [Fact]
    public void Calls_segment_bases_and_byte_registers_run_natively_as_interpreted()
    {
        using var interpreted = Machine(64, translate: false);
        using var native = Machine(64, translate: true);
        foreach (var m in new[] { interpreted, native })
        {
            m.Load(CallLoop64);
            m.R.Seg[SegmentIndex.Fs].Base = Data + 0x800;
            m.R.Seg[SegmentIndex.Gs].Base = Data + 0xC00;
            m.Memory.Write<uint>(Data + 0xC20, 7);
            m.Cpu.StateChanged();
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        AssertSameState(interpreted, native);
        Assert.Equal(200UL * 7, native.R.Gpr[Gpr.Rax] & 0xFFFFFFFF);
        Assert.True(native.Cpu.TranslatedInstructions > native.Cpu.InstructionsRetired * 3 / 4,
            $"{native.Cpu.TranslatedInstructions} of {native.Cpu.InstructionsRetired} ran natively");
        Assert.Equal(0, native.Cpu.TranslationFailures);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_store_into_the_running_native_block_is_seen_by_its_next_iteration(bool sameBlock)
    {
        // add eax, imm32 at Code + 5 (after mov ecx, 10); the loop rewrites its immediate to 5: 1 + 5 * 9. The store is in
        // the same block as the ADD, or after an instruction that ends the block (CPUID) in another one.
        using var m = Machine(64, translate: true);
        m.Load(CountedLoop(10, a =>
        {
            a.add(eax, 0x12345601); // 05 imm32
            if (!sameBlock)
            {
                a.pause();
            }

            a.mov(__dword_ptr[rbx], 5);
        }, before: a => a.mov(rbx, TestMachine.Code + 10 + 5 + 1)));
        m.Memory.Write<uint>(TestMachine.Code + 10 + 5 + 1, 1);
        m.R.Gpr[Gpr.Rax] = 0;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(46UL, m.R.Gpr[Gpr.Rax]);
        Assert.True(m.Cpu.TranslatedInstructions > 0);
    }

    [Fact]
    public void Blocks_are_translated_at_their_first_execution()
    {
        using var m = Machine(64, translate: true);
        m.Cpu.TranslationThreshold = 2000; // the IL blocks' threshold: native blocks do not wait for it
        m.Load(CountedLoop(3, a => a.add(rax, rcx)));
        m.R.Gpr[Gpr.Rax] = 0;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(6UL, m.R.Gpr[Gpr.Rax]);
        Assert.True(m.Cpu.BlocksTranslated > 0);
        Assert.True(m.Cpu.TranslatedInstructions >= 6);
        Assert.True(m.Cpu.NativeTranslationHistogram.ToArray().Sum() >= m.Cpu.BlocksTranslated);
    }
}
