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

    private const ulong FarPage = TestMachine.Code + 0x1000;

    /// <summary>
    /// Flags set in one block and read first thing in the next: across a JMP into the same page (a patched link), into
    /// another page (the jump cache) and back, across CALL and RET; ADC, SETcc, SBB, CMOVcc and Jcc read them.
    /// </summary>
    private static void LoadFlagsAcrossBlocks(TestMachine m)
    {
        const ulong loop = TestMachine.Code + 0x100, back = TestMachine.Code + 0x200, callee = FarPage + 0x40;
        m.Load(a =>
        {
            a.mov(ecx, 300);
            a.mov(rbx, Data);
            a.mov(r8, 0x9E3779B97F4A7C15);
            a.jmp(loop);
        });
        m.Load(a =>
        {
            var same = a.CreateLabel();
            a.add(r8, rcx);
            a.ror(r8, 7);
            a.add(eax, r8d);  // CF, OF, SF ... of the sum
            a.jmp(same);
            a.Label(ref same); // a block of its own, entered through the link
            a.adc(edx, 0);
            a.seto(__byte_ptr[rbx + rcx]);
            a.cmp(r8d, eax);
            a.jmp(FarPage);    // another page: the jump cache
        }, loop);
        m.Load(a =>
        {
            a.setp(__byte_ptr[rbx + rcx + 0x400]);
            a.cmovs(r10, rcx);
            a.jmp(back);       // back to the first page: SBB reads the CMP's CF
        }, FarPage);
        m.Load(a =>
        {
            var skip = a.CreateLabel();
            a.sbb(esi, 3);
            a.cmovl(edi, esi);
            a.call(callee);    // its BT's CF comes back through the RET
            a.jb(skip);
            a.inc(r9);
            a.Label(ref skip);
            a.sub(ecx, 1);
            a.jne(loop);
            a.hlt();
        }, back);
        m.Load(a =>
        {
            a.bt(r8, 5);
            a.ret();
        }, callee);
    }

    [Fact]
    public void Flags_go_from_block_to_block_through_links_the_jump_cache_and_returns()
    {
        using var interpreted = Machine(64, translate: false);
        using var native = Machine(64, translate: true);
        foreach (var m in new[] { interpreted, native })
        {
            LoadFlagsAcrossBlocks(m);
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        AssertSameState(interpreted, native);
        Assert.NotEqual(0UL, native.R.Gpr[9]);
        Assert.NotEqual(300UL, native.R.Gpr[9]);
        Assert.True(native.Cpu.TranslatedInstructions > native.Cpu.InstructionsRetired * 9 / 10,
            $"{native.Cpu.TranslatedInstructions} of {native.Cpu.InstructionsRetired} ran natively");
    }

    [Fact]
    public void Code_a_linked_block_jumps_to_is_checked_at_every_arrival()
    {
        // loop: a JMP to the next block of the page (linked once both are translated), whose ADD's immediate a function in
        // the next page rewrites to 5 after the first round: 1 + 5 * 9. The rewritten block is dropped once, translated
        // again and linked again (a link left at the dropped block would find it stale at every arrival).
        const ulong next = TestMachine.Code + 5 + 2 + 3 + 2; // mov ecx (5), xor (2), inc r9 (3), jmp short (2)
        using var m = Machine(64, translate: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var target = a.CreateLabel();
            a.mov(ecx, 10);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.inc(r9);
            a.jmp(target);
            a.Label(ref target);
            a.add(eax, 0x12345601); // 05 imm32: its immediate at next + 1
            a.call(FarPage);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(0x05, m.Memory.Read<byte>(next));
        m.Memory.Write<uint>(next + 1, 1);
        m.Load(a =>
        {
            a.mov(rdx, next + 1);
            a.mov(__dword_ptr[rdx], 5);
            a.ret();
        }, FarPage);
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(46UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(10UL, m.R.Gpr[9]);
        Assert.Equal(1L, m.Cpu.StaleBlocks);
        Assert.True(m.Cpu.TranslatedInstructions > m.Cpu.InstructionsRetired * 3 / 4,
            $"{m.Cpu.TranslatedInstructions} of {m.Cpu.InstructionsRetired} ran natively");

        // The VMM rewrites it to 2 between runs: the link (patched again) reaches the block, which finds its code changed,
        // then the function's 5 again: 2 + 5 * 9, two more blocks dropped.
        m.Memory.Write<uint>(next + 1, 2);
        m.R.Rip = TestMachine.Code;
        m.R.Gpr[9] = 0;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(47UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(10UL, m.R.Gpr[9]);
        Assert.Equal(3L, m.Cpu.StaleBlocks);
    }

    [Fact]
    public void A_link_into_another_page_is_taken_only_while_that_page_maps_the_code_it_was_linked_to()
    {
        // A loop JMPs to 0x40005000, in a 2 MiB page the VMM maps to physical 0x400000 (ADD EAX, 1 there), then 0x600000
        // (ADD EAX, 100), then 0x400000 again: the direct exit, linked to the block of the latest mapping translated, must
        // see from the fetch TLB that the page now maps other code (both blocks' own bytes are unchanged). (Not at
        // 0x40000000: its fetch TLB entry would be the loop's own, the two pages taking turns in it.)
        const ulong virt = 0x4000_5000, pde = 0x10000 + 0x1000; // TestMachine.Setup64's page directory of the second GiB
        const ulong back = TestMachine.Code + 0x100;
        using var m = Machine(64, translate: true);
        m.Load(a =>
        {
            a.mov(ecx, 10);
            a.xor(eax, eax);
            a.jmp(virt);
        });
        m.Load(a =>
        {
            a.dec(ecx);
            a.jnz(virt);
            a.hlt();
        }, back);
        foreach (var (physical, add) in new[] { (0x400000UL, 1), (0x600000UL, 100) })
        {
            var a = new Assembler(64);
            a.add(eax, add);
            a.jmp(back);
            m.Write(physical + 0x5000, a, virt); // assembled for where it runs
        }

        foreach (var (physical, expected) in new[] { (0x400000UL, 10UL), (0x600000UL, 1000UL), (0x400000UL, 10UL) })
        {
            m.Memory.Write<ulong>(pde, physical | 0x87);
            m.Cpu.StateChanged();
            m.R.Rip = TestMachine.Code;
            long entries = m.Cpu.BlockEntries;
            Assert.Equal(X86ExitReason.Hlt, m.Run());
            Assert.Equal(expected, m.R.Gpr[Gpr.Rax]);
            Assert.True(m.Cpu.BlockEntries - entries < 10, $"{m.Cpu.BlockEntries - entries} entries from the run loop"); // linked
        }

        Assert.Equal(0L, m.Cpu.StaleBlocks);
        Assert.True(m.Cpu.TranslatedInstructions > m.Cpu.InstructionsRetired * 3 / 4,
            $"{m.Cpu.TranslatedInstructions} of {m.Cpu.InstructionsRetired} ran natively");
    }
}
