using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class DecodeTests
{
    [Fact]
    public void Instruction_crossing_into_an_unmapped_page_faults_on_the_second_page()
    {
        using var m = new TestMachine();
        m.Setup64();
        // Map 0x400000 with 4 KiB pages: PD entry 2 -> page table at 0x30000 with only page 0 present.
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0x30000 | 7);
        m.Memory.Write<ulong>(0x30000, 0x400000 | 7);
        ulong start = 0x400FFD;
        var a = new Assembler(64);
        a.mov(rax, 0x1122334455667788); // 10 bytes: crosses into the unmapped page 0x401000
        m.Write(start, a, start);
        m.R.Rip = start;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(0x401000UL, m.Cpu.Exit.Qualification);
        Assert.Equal(0x10u, m.Cpu.Exit.ErrorCode & 0x10); // instruction fetch (NXE on)
        Assert.Equal(start, m.R.Rip);

        // Map the second page: the same instruction now executes.
        m.Memory.Write<ulong>(0x30000 + 8, 0x401000 | 7);
        m.Memory.Write<byte>(0x401000 + 7, 0xF4);
        m.Cpu.FlushTlb();
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(0x1122334455667788UL, m.R.Gpr[Gpr.Rax]);
    }

    /// <summary>
    /// Another vCPU stores an INT3 over a JMP (Linux's text_poke_bp) between this CPU's read of the code bytes
    /// and their decoding: the CPU runs the instruction it read, and its decoded-instruction cache never pairs
    /// the old bytes with the new instruction (which would run a phantom INT3 once the JMP is back).
    /// </summary>
    [Fact]
    public void A_store_into_the_code_during_a_fetch_does_not_poison_the_decoded_instruction_cache()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Cpu.Translation = false;
        const ulong code = TestMachine.Code;
        m.Memory.Write<byte>(code, 0xE9); // jmp rel32 +0 (to the HLT after it)
        m.Memory.Write<uint>(code + 1, 0);
        m.Memory.Write<byte>(code + 5, 0xF4);
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.BP;
        bool stored = false;
        m.Cpu.CodeSnapshotTaken = () =>
        {
            if (!stored)
            {
                stored = true;
                m.Memory.Write<byte>(code, 0xCC);
            }
        };

        m.R.Rip = code;
        Assert.Equal(X86ExitReason.Hlt, m.Run()); // the JMP it read, then the HLT
        Assert.True(stored);

        m.R.Rip = code;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run()); // the INT3 now in memory
        Assert.Equal(ExceptionVector.BP, m.Cpu.Exit.Vector);

        m.Memory.Write<byte>(code, 0xE9); // the patch is undone: the JMP again, no INT3
        m.R.Rip = code;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
    }

    [Fact]
    public void Short_instruction_at_page_end_does_not_touch_the_next_page()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Memory.Write<ulong>(0x10000 + 2 * 8, 0x30000 | 7);
        m.Memory.Write<ulong>(0x30000, 0x400000 | 7);
        m.Memory.Write<byte>(0x400FFF, 0x90); // NOP, then execution falls into the unmapped page
        m.R.Rip = 0x400FFF;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(0x401000UL, m.R.Rip);
        Assert.Equal(1, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Unimplemented_instruction_raises_ud_and_is_counted()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.pshufb(xmm0, xmm1));
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.UD;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(ExceptionVector.UD, m.Cpu.Exit.Vector);
        Assert.Equal(1, m.Cpu.UnimplementedCount);
        Assert.Equal(Code.Pshufb_xmm_xmmm128, m.Cpu.LastUnimplemented);
        Assert.Equal(TestMachine.Code, m.R.Rip);
    }

    [Fact]
    public void Self_modifying_code_is_seen_by_the_decode_cache()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(eax, 1);
            a.hlt();
        });
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rax]);
        m.Memory.Write<uint>(TestMachine.Code + 1, 2); // patch the immediate
        m.R.Rip = TestMachine.Code;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(2UL, m.R.Gpr[Gpr.Rax]);
    }

    [Theory]
    [InlineData(0x19, 0x28, 0x47)] // 19 + 28 = 47 in BCD
    [InlineData(0x99, 0x01, 0x00)] // carry out
    public void Daa_adjusts_packed_bcd(int a, int b, int expected)
    {
        using var m = new TestMachine();
        m.Setup32();
        m.Load(x =>
        {
            x.add(al, bl);
            x.daa();
            x.hlt();
        });
        m.R.Gpr[Gpr.Rax] = (ulong)a;
        m.R.Gpr[Gpr.Rbx] = (ulong)b;
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal((ulong)expected, m.R.Gpr[Gpr.Rax] & 0xFF);
    }
}
