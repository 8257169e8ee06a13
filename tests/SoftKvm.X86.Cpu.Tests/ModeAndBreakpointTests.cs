using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class ModeAndBreakpointTests
{
    [Fact]
    public void Data_breakpoint_on_write_traps_after_the_store()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(rsi, 0x200000);
            a.mov(__dword_ptr[rsi + 4], eax);
            a.nop();
            a.hlt();
        });
        m.R.Dr[2] = 0x200004;
        m.R.Dr7 = 0x400 | (1UL << 4) | (1UL << (16 + 8)) | (3UL << (18 + 8)); // G/L2, RW=01, LEN=4
        m.R.Gpr[Gpr.Rax] = 0x1234;
        m.Cpu.StateChanged();
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.DB;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(4UL, m.Cpu.Exit.Qualification & 0xF);
        Assert.Equal(0x1234u, m.Memory.Read<uint>(0x200004));
        Assert.Equal(TestMachine.Code + 10 + 3, m.R.Rip); // after the MOV (trap)
    }

    [Fact]
    public void Io_breakpoint_is_reported_by_emulation()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.@out(0x80, al));
        m.R.Cr4 |= 8; // DE
        m.R.Dr[0] = 0x80;
        m.R.Dr7 = 0x400 | 1 | (2UL << 16);
        m.Cpu.StateChanged();
        Assert.Equal(1UL, m.Cpu.IoBreakpointHits(0x80, 1));
        Assert.Equal(0UL, m.Cpu.IoBreakpointHits(0x81, 1));
    }

    [Fact]
    public void Real_mode_to_protected_mode_to_long_mode_by_far_jumps()
    {
        using var m = new TestMachine();
        // GDT with code32 (0x18), data (0x10), code64 (0x08) from the test machine layout.
        m.Setup32();
        var gdt = m.R.Gdtr;
        m.Memory.Write<ushort>(0x7000, gdt.Limit);
        m.Memory.Write<uint>(0x7002, (uint)gdt.Base);
        // Identity page tables for the first GiB.
        m.Memory.Write<ulong>(0x1000, 0x2000 | 3);
        m.Memory.Write<ulong>(0x2000, 0x83);
        m.Cpu.Reset();
        m.R.Seg[SegmentIndex.Cs] = SegmentRegister.RealMode(0);
        m.R.Rip = 0x8000;
        m.Cpu.StateChanged();
        var real = new Assembler(16);
        var prot = new Assembler(32);
        var lng = new Assembler(64);
        real.lgdt(__[0x7000]);
        real.mov(eax, cr0);
        real.or(eax, 1);
        real.mov(cr0, eax);
        real.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, 0x18, 0x9000));
        prot.mov(ax, 0x10);
        prot.mov(ds, ax);
        prot.mov(ss, ax);
        prot.mov(eax, 0x1000);
        prot.mov(cr3, eax);
        prot.mov(eax, cr4);
        prot.or(eax, 0x20);
        prot.mov(cr4, eax);
        prot.mov(ecx, 0xC0000080);
        prot.rdmsr();
        prot.or(eax, 0x100);
        prot.wrmsr();
        prot.mov(eax, cr0);
        prot.or(eax, unchecked((int)0x80000000));
        prot.mov(cr0, eax);
        prot.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, 0x08, 0xA000));
        lng.mov(rax, 0x123456789A);
        lng.hlt();
        m.Write(0x8000, real, 0x8000);
        m.Write(0x9000, prot, 0x9000);
        m.Write(0xA000, lng, 0xA000);
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(64, m.Cpu.Bitness);
        Assert.Equal(0x123456789AUL, m.R.Gpr[Gpr.Rax]);
        Assert.NotEqual(0UL, m.R.Efer & (1UL << 10));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Legacy_paging_translates_and_faults(bool pae)
    {
        using var m = new TestMachine();
        m.Setup32();
        if (pae)
        {
            m.Memory.Write<ulong>(0x20000, 0x21000 | 1);          // PDPTE 0
            m.Memory.Write<ulong>(0x21000, 0x83);                 // PDE 0: 2 MiB page at 0
            m.Memory.Write<ulong>(0x21000 + 8 * 1, 0x22000 | 7);  // PDE 1: page table
            m.Memory.Write<ulong>(0x22000, 0x300000 | 5);         // 0x200000 -> 0x300000, read-only, user
            m.R.Cr3 = 0x20000;
            m.R.Cr4 = 0x20;
        }
        else
        {
            m.Memory.Write<uint>(0x20000, 0x83);                  // 4 MiB page at 0 (PSE)
            m.Memory.Write<uint>(0x20000 + 4 * 1, 0x21000 | 7);   // 0x400000..: page table
            m.Memory.Write<uint>(0x21000, 0x300000 | 5);          // 0x400000 -> 0x300000, read-only
            m.R.Cr3 = 0x20000;
            m.R.Cr4 = 0x10;
        }

        ulong va = pae ? 0x200000UL : 0x400000UL;
        m.R.Cr0 |= 0x80010000;
        m.Cpu.StateChanged();
        m.Memory.Write<uint>(0x300000, 0xCAFEBABE);
        m.Load(a =>
        {
            a.mov(eax, __dword_ptr[(uint)va]);
            a.mov(__dword_ptr[(uint)va], ebx);
            a.hlt();
        });
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.PF;
        Assert.Equal(X86ExitReason.ExceptionOrNmi, m.Run());
        Assert.Equal(0xCAFEBABEUL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(3u, m.Cpu.Exit.ErrorCode); // present, write (CR0.WP)
        Assert.Equal(va, m.Cpu.Exit.Qualification);
        Assert.NotEqual(0u, m.Memory.Read<uint>(pae ? 0x22000UL : 0x21000UL) & 0x20); // accessed bit set
    }
}
