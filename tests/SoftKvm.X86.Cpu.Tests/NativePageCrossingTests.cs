using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// Native blocks whose last instruction crosses the end of its 4 KiB code page (X86NativeTranslator.PageCrossing.cs):
/// run natively, in the interpreter's exact state, and still exact when the bytes on the next page change (by the VMM,
/// by the block's own store) or the next page is remapped or not mapped at all.
/// </summary>
public sealed class NativePageCrossingTests
{
    private const ulong PageTable = 0x30000;

    /// <summary>The loop's start: mov ecx, n (5 bytes); add eax, ecx (2); then ADD EDX, imm32 (6 bytes) at 0x400FFD, across 0x401000.</summary>
    private const ulong Start = 0x400FF6;

    /// <summary>The address of the crossing instruction's last immediate byte (on the next page).</summary>
    private const ulong ImmediateTop = 0x400FFD + 5;

    private static TestMachine Machine(bool native)
    {
        var m = TestMachine.Native64(native);
        // 0x400000-0x5FFFFF in 4 KiB pages (identity), so that pages can be unmapped and remapped one by one.
        for (ulong i = 0; i < 512; i++)
        {
            m.Memory.Write<ulong>(PageTable + (i * 8), (0x400000 + (i << 12)) | 7);
        }

        m.Memory.Write<ulong>(0x10000 + (2 * 8), PageTable | 7);
        m.Cpu.StateChanged();
        return m;
    }

    /// <summary>mov ecx, n; loop: add eax, ecx; [store;] add edx, 0x11223344 (across the page end); dec ecx; jnz loop; hlt.</summary>
    private static void Load(TestMachine m, int n, bool storeIntoNextPage = false)
    {
        m.R.Rip = Start - (storeIntoNextPage ? 10UL + 1 : 0); // MOV RBX, imm64 and the NOP before
        m.Load(
            a =>
            {
                var loop = a.CreateLabel();
                if (storeIntoNextPage)
                {
                    a.mov(rbx, ImmediateTop); // 10 bytes
                }

                a.mov(ecx, n);
                a.Label(ref loop);
                if (storeIntoNextPage)
                {
                    a.mov(__byte_ptr[rbx], cl); // 2 bytes
                    a.nop();
                }
                else
                {
                    a.add(eax, ecx);
                }

                a.add(edx, 0x11223344);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            },
            m.R.Rip);
        Assert.Equal(0x81, m.Memory.Read<byte>(0x400FFD)); // the ADD is where the test needs it: across the page end
        Assert.Equal(0x11, m.Memory.Read<byte>(ImmediateTop));
        m.R.Gpr[Gpr.Rax] = 0;
        m.R.Gpr[Gpr.Rdx] = 0;
        m.Cpu.StateChanged();
    }

    [Fact]
    public void A_loop_with_an_instruction_across_the_page_end_runs_natively()
    {
        using var interpreted = Machine(native: false);
        using var native = Machine(native: true);
        foreach (var m in new[] { interpreted, native })
        {
            Load(m, 1000);
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        TestMachine.AssertSameRegisters(interpreted, native);
        Assert.Equal(1000UL * 0x11223344 & 0xFFFFFFFF, native.R.Gpr[Gpr.Rdx]);
        long outside = native.Cpu.InstructionsRetired - native.Cpu.TranslatedInstructions;
        Assert.True(outside < 20, $"{outside} of {native.Cpu.InstructionsRetired} instructions ran outside native code");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bytes_changed_on_the_next_page_run_as_written(bool remap)
    {
        // Half the loop, then the crossing instruction's immediate changes on the next page: the VMM writes it, or
        // remaps the page to a copy that has another byte there (and flushes the TLB, as the guest's INVLPG would).
        using var interpreted = Machine(native: false);
        using var native = Machine(native: true);
        foreach (var m in new[] { interpreted, native })
        {
            Load(m, 100);
            Assert.Equal(X86ExitReason.BudgetExhausted, m.Run(1 + (4 * 50)));
            if (remap)
            {
                var page = new byte[0x1000];
                m.Memory.Read(0x401000, page);
                page[ImmediateTop - 0x401000] = 0x77;
                m.Memory.Write(0x402000, page);
                m.Memory.Write<ulong>(PageTable + 8, 0x402000 | 7);
                m.Cpu.FlushTlb();
            }
            else
            {
                m.Memory.Write<byte>(ImmediateTop, 0x55);
            }

            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        TestMachine.AssertSameRegisters(interpreted, native);
        Assert.Equal((50UL * 0x11223344) + (50UL * (remap ? 0x77223344UL : 0x55223344UL)) & 0xFFFFFFFF, native.R.Gpr[Gpr.Rdx]);
        Assert.True(native.Cpu.TranslatedInstructions > native.Cpu.InstructionsRetired / 2);
    }

    [Fact]
    public void A_store_of_the_block_into_the_next_page_is_seen_by_the_crossing_instruction()
    {
        // Every round stores CL into the crossing ADD's top immediate byte just before the ADD runs.
        using var interpreted = Machine(native: false);
        using var native = Machine(native: true);
        foreach (var m in new[] { interpreted, native })
        {
            Load(m, 300, storeIntoNextPage: true);
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        }

        TestMachine.AssertSameRegisters(interpreted, native);
        ulong expected = 0;
        for (ulong c = 300; c >= 1; c--)
        {
            expected += ((c & 0xFF) << 24) | 0x223344;
        }

        Assert.Equal(expected & 0xFFFFFFFF, native.R.Gpr[Gpr.Rdx]);
    }

    [Fact]
    public void An_unmapped_next_page_faults_at_the_crossing_instruction()
    {
        using var m = Machine(native: true);
        Load(m, 10);
        m.Memory.Write<ulong>(PageTable + 8, 0); // 0x401000 not present
        m.Cpu.FlushTlb();
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.PF, m.Cpu.Exit.Vector);
        Assert.Equal(0x401000UL, m.Cpu.Exit.Qualification);
        Assert.Equal(0x400FFDUL, m.R.Rip);
        Assert.Equal(10UL, m.R.Gpr[Gpr.Rax]); // the ADD before it retired
        Assert.Equal(2, m.Cpu.InstructionsRetired);
    }
}
