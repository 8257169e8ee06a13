using System.Text;
using SoftKvm.Core.Memory;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests.Guests;

/// <summary>
/// A minimal Multiboot v1 machine for the CPU tests (the real VMM is another project): 64 MiB of
/// RAM, an ELF32 loader, the machine state QEMU's multiboot loader leaves (EAX = 0x2BADB002,
/// EBX = info, flat 32-bit protected mode, paging off), a serial port at 0x3F8 that captures
/// output and an isa-debug-exit port at 0xF4.
/// </summary>
internal sealed class MultibootHarness : IDisposable
{
    private const ulong InfoAddress = 0x9000;

    public MultibootHarness(string elfPath)
    {
        Memory = new GuestMemory();
        Memory.SetRegion(0, 0, 64 << 20, MemorySlotFlags.None);
        Cpu = new X86Cpu(Memory);
        LoadElf(File.ReadAllBytes(elfPath));
    }

    public GuestMemory Memory { get; }

    public X86Cpu Cpu { get; }

    public StringBuilder Serial { get; } = new();

    public int? ExitCode { get; private set; }

    public void Dispose()
    {
        Cpu.Dispose();
        Memory.Dispose();
    }

    private void LoadElf(byte[] elf)
    {
        if (BitConverter.ToUInt32(elf, 0) != 0x464C457F || elf[4] != 1)
        {
            throw new InvalidDataException("not an ELF32 image");
        }

        uint entry = BitConverter.ToUInt32(elf, 24);
        uint phoff = BitConverter.ToUInt32(elf, 28);
        int phentsize = BitConverter.ToUInt16(elf, 42);
        int phnum = BitConverter.ToUInt16(elf, 44);
        for (int i = 0; i < phnum; i++)
        {
            int ph = (int)phoff + i * phentsize;
            if (BitConverter.ToUInt32(elf, ph) != 1)
            {
                continue;
            }

            uint offset = BitConverter.ToUInt32(elf, ph + 4);
            uint paddr = BitConverter.ToUInt32(elf, ph + 12);
            uint filesz = BitConverter.ToUInt32(elf, ph + 16);
            uint memsz = BitConverter.ToUInt32(elf, ph + 20);
            Memory.Write(paddr, elf.AsSpan((int)offset, (int)filesz));
            if (memsz > filesz)
            {
                Memory.Write(paddr + filesz, new byte[memsz - filesz]);
            }
        }

        ref var r = ref Cpu.Regs;
        r.Cr0 = 0x11;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x10, 0x00CF9B000000FFFF);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                r.Seg[s] = SegmentRegister.FromDescriptor(0x18, 0x00CF93000000FFFF);
            }
        }

        r.Rflags = 2;
        r.Rip = entry;
        r.Gpr[Gpr.Rax] = 0x2BADB002;
        r.Gpr[Gpr.Rbx] = InfoAddress;
        Cpu.StateChanged();
    }

    /// <summary>Runs until the guest writes the exit port, halts with interrupts off, or the budget ends.</summary>
    public X86ExitReason Run(long maxInstructions = 500_000_000)
    {
        while (Cpu.InstructionsRetired < maxInstructions)
        {
            var reason = Cpu.Run(10_000_000);
            switch (reason)
            {
                case X86ExitReason.BudgetExhausted:
                    continue;
                case X86ExitReason.IoInstruction:
                {
                    ref readonly var e = ref Cpu.Exit;
                    if (e.IsString)
                    {
                        return reason;
                    }

                    if (e.IsWrite && e.Port == 0x3F8)
                    {
                        Serial.Append((char)(byte)e.Data);
                    }
                    else if (e.IsWrite && e.Port == 0xF4)
                    {
                        ExitCode = (int)((e.Data << 1) | 1);
                        return reason;
                    }
                    else if (!e.IsWrite)
                    {
                        Cpu.SetGpr(Gpr.Rax, e.AccessSize, ulong.MaxValue);
                    }

                    Cpu.Regs.Rip += (ulong)e.InstructionLength;
                    continue;
                }

                default:
                    return reason;
            }
        }

        return X86ExitReason.BudgetExhausted;
    }
}
