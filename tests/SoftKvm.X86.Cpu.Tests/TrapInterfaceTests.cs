using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

public class TrapInterfaceTests
{
    private const ulong Mmio = 0x2000_0000; // beyond the 16 MiB slot, mapped by the identity page tables

    private sealed class Bus : IX86EmulationBus
    {
        public ulong ReadValue;
        public bool NeedUser;
        public ulong LastWrite;
        public ulong LastGpa;
        public int Reads;

        public X86BusResult ReadMemory(ulong gpa, Span<byte> data)
        {
            Reads++;
            LastGpa = gpa;
            if (NeedUser)
            {
                return X86BusResult.NeedsUserspace;
            }

            Span<byte> tmp = stackalloc byte[8];
            BitConverter.TryWriteBytes(tmp, ReadValue);
            tmp[..data.Length].CopyTo(data);
            return X86BusResult.Done;
        }

        public X86BusResult WriteMemory(ulong gpa, ReadOnlySpan<byte> data)
        {
            LastGpa = gpa;
            Span<byte> tmp = stackalloc byte[8];
            data.CopyTo(tmp);
            LastWrite = BitConverter.ToUInt64(tmp);
            return NeedUser ? X86BusResult.NeedsUserspace : X86BusResult.Done;
        }

        public X86BusResult ReadPort(ushort port, int size, Span<byte> data)
        {
            data.Fill(0x5A);
            return X86BusResult.Done;
        }

        public X86BusResult WritePort(ushort port, ReadOnlySpan<byte> data)
        {
            LastWrite = data[0];
            return X86BusResult.Done;
        }
    }

    [Fact]
    public void Out_dx_al_exits_with_vmx_qualification()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, 0x41);
            a.@out(dx, al);
        });
        Assert.Equal(X86ExitReason.IoInstruction, m.Run());
        ref readonly var e = ref m.Cpu.Exit;
        Assert.Equal((ushort)0x3F8, e.Port);
        Assert.Equal(1, e.AccessSize);
        Assert.True(e.IsWrite);
        Assert.Equal(0x41UL, e.Data);
        Assert.Equal(0x3F8UL << 16, e.Qualification);
        Assert.Equal(1, e.InstructionLength);
        Assert.True(e.InstructionLengthValid);
        Assert.Equal(TestMachine.Code + 6, m.R.Rip); // RIP still at OUT
    }

    [Fact]
    public void In_al_imm_qualification_has_direction_and_immediate_bits()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.@in(al, 0x60));
        Assert.Equal(X86ExitReason.IoInstruction, m.Run());
        Assert.Equal((0x60UL << 16) | 8 | 64, m.Cpu.Exit.Qualification);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unbacked_store_is_an_ept_exit_with_or_without_length(bool withhold)
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Cpu.Controls.WithholdEptInstructionLength = withhold;
        var code = m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.mov(__dword_ptr[rbx + 8], eax);
        });
        m.R.Gpr[Gpr.Rax] = 0xDEADBEEF;
        Assert.Equal(X86ExitReason.EptViolation, m.Run());
        ref readonly var e = ref m.Cpu.Exit;
        Assert.Equal(Mmio + 8, e.GuestPhysicalAddress);
        Assert.True(e.IsWrite);
        Assert.Equal(4, e.AccessSize);
        Assert.Equal(0xDEADBEEFUL, e.Data);
        Assert.Equal(2UL | 0x80 | 0x100, e.Qualification);
        Assert.Equal(!withhold, e.InstructionLengthValid);
        Assert.Equal(TestMachine.Code + 10, m.R.Rip);
        Assert.True(m.Cpu.TryDecodeNextRip(out ulong next, out int len));
        Assert.Equal(3, len);
        Assert.Equal(TestMachine.Code + (ulong)code.Length, next);
    }

    [Fact]
    public void EmulateOne_serves_mmio_load_from_bus_and_retires()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.add(eax, __dword_ptr[rbx]);
        });
        m.R.Gpr[Gpr.Rax] = 1;
        Assert.Equal(X86ExitReason.EptViolation, m.Run());
        var bus = new Bus { ReadValue = 41 };
        m.R.Rflags |= Rflags.TF;
        Assert.Equal(X86EmulationResult.Retired, m.Cpu.EmulateOne(bus));
        Assert.Equal(42UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(TestMachine.Code + 12, m.R.Rip);
        Assert.True(m.Cpu.LastSingleStep);
    }

    [Fact]
    public void EmulateOne_needs_userspace_commits_nothing()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.add(eax, __dword_ptr[rbx]);
        });
        m.R.Gpr[Gpr.Rax] = 1;
        m.R.Rflags = 2 | Rflags.CF;
        Assert.Equal(X86ExitReason.EptViolation, m.Run());
        var bus = new Bus { NeedUser = true };
        Assert.Equal(X86EmulationResult.NeedsUserspace, m.Cpu.EmulateOne(bus));
        Assert.Equal(Mmio, m.Cpu.Exit.GuestPhysicalAddress);
        Assert.False(m.Cpu.Exit.IsWrite);
        Assert.Equal(4, m.Cpu.Exit.AccessSize);
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(2 | Rflags.CF, m.R.Rflags);
        Assert.Equal(TestMachine.Code + 10, m.R.Rip);
    }

    [Fact]
    public void EmulateOne_reports_fault_without_committing_rip_or_flags()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.syscall());
        m.R.Efer &= ~1UL;
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(X86EmulationResult.Exception, m.Cpu.EmulateOne(new Bus()));
        Assert.Equal(ExceptionVector.UD, m.Cpu.Exit.Vector);
        Assert.Equal(TestMachine.Code, m.R.Rip);
        Assert.Equal(2 | Rflags.TF, m.R.Rflags);
    }

    [Fact]
    public void Single_step_over_an_emulated_out_is_owed_by_the_caller()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.@out(dx, eax));
        m.R.Gpr[Gpr.Rdx] = 0x3F8;
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(X86ExitReason.IoInstruction, m.Run());
        var bus = new Bus();
        Assert.Equal(X86EmulationResult.Retired, m.Cpu.EmulateOne(bus));
        Assert.True(m.Cpu.LastSingleStep);
        Assert.Equal(TestMachine.Code + 1, m.R.Rip);
        m.R.Rflags = 2;
        m.R.Rip = TestMachine.Code;
        Assert.Equal(X86EmulationResult.Retired, m.Cpu.EmulateOne(bus));
        Assert.False(m.Cpu.LastSingleStep);
    }

    [Fact]
    public void EmulateOne_int3_is_trap_class_and_retires()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.int3());
        Assert.Equal(X86EmulationResult.Exception, m.Cpu.EmulateOne(new Bus()));
        Assert.Equal(ExceptionVector.BP, m.Cpu.Exit.Vector);
        Assert.Equal(TestMachine.Code + 1, m.R.Rip);
    }

    [Fact]
    public void Injected_db_with_bs_is_delivered_before_next_instruction()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a => a.hlt());
        m.Cpu.InjectException(ExceptionVector.DB, dr6: 0x4000);
        Assert.Equal(X86ExitReason.Hlt, m.Run());
        Assert.Equal(1u, m.LastVector);
        Assert.NotEqual(0UL, m.R.Dr6 & 0x4000);
    }

    [Fact]
    public void Cpuid_and_msr_intercepts_exit()
    {
        using var m = new TestMachine();
        m.Setup64();
        m.Load(a =>
        {
            a.cpuid();
            a.rdmsr();
        });
        m.Cpu.Controls.InterceptCpuid = true;
        Assert.Equal(X86ExitReason.Cpuid, m.Run());
        Assert.Equal(2, m.Cpu.Exit.InstructionLength);
        m.Cpu.Controls.InterceptCpuid = false;
        m.R.Gpr[Gpr.Rcx] = 0x1234; // unknown MSR
        m.R.Gpr[Gpr.Rax] = 0;
        Assert.Equal(X86ExitReason.Rdmsr, m.Run());
        Assert.Equal(0x756E6547UL, m.R.Gpr[Gpr.Rbx]); // CPUID ran in the model
    }
}
