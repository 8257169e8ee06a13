using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// guests/x86/kvm/skipstep.elf (built with host gcc -m32, committed): a Multiboot guest that
/// single-steps over OUT, CPUID, an emulated MMIO load and a fast-MMIO doorbell write, and executes
/// SYSCALL with TF=1 in legacy mode. Run here with a minimal Multiboot-style entry (32-bit flat
/// protected mode, EAX = 0x2BADB002) and a VMM loop that answers the exits.
/// </summary>
public class GuestProgramTests
{
    private static string RepoFile(string relative, [CallerFilePath] string here = "")
    {
        var dir = Path.GetDirectoryName(here)!;
        while (!File.Exists(Path.Combine(dir, "SoftKvm.sln")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new FileNotFoundException("repository root not found");
        }

        return Path.Combine(dir, relative);
    }

    private static uint LoadElf32(KvmMachine m, byte[] elf)
    {
        Assert.Equal(0x464C457Fu, BinaryPrimitives.ReadUInt32LittleEndian(elf));
        uint entry = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(24));
        uint phoff = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(28));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(42));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(44));
        for (int i = 0; i < phnum; i++)
        {
            var ph = elf.AsSpan((int)phoff + i * phentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue; // PT_LOAD only
            }

            uint offset = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
            uint paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
            uint filesz = BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
            uint memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            m.Vm.Memory.Write(paddr, elf.AsSpan((int)offset, (int)filesz));
            m.Vm.Memory.Write(paddr + filesz, new byte[memsz - filesz]);
        }

        return entry;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Skipstep_guest_passes_every_check(bool withholdLength)
    {
        using var m = new KvmMachine();
        var doorbell = new EventFd();
        m.Vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(0xD000_1000, 0, doorbell));
        m.Vcpu.Cpu.Controls.WithholdEptInstructionLength = withholdLength;
        uint entry = LoadElf32(m, File.ReadAllBytes(RepoFile("guests/x86/kvm/skipstep.elf")));

        var r = m.Vcpu.GetRegisters();
        r.Cr0 = 0x11;
        r.Cr4 = 0;
        r.Efer = 0;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x18, 0x00CF9B000000FFFF);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
            }
        }

        r.Rip = entry;
        r.Rflags = 2;
        r.Gpr[Gpr.Rax] = 0x2BADB002;
        m.Vcpu.SetRegisters(r);

        var console = new StringBuilder();
        uint? exitCode = null;
        for (int n = 0; n < 10_000 && exitCode is null; n++)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            ref var run = ref m.Run;
            switch (run.ExitReason)
            {
                case ExitReason.Io when run.Io.Port == 0x3F8:
                    console.Append((char)run.PioData[0]);
                    break;
                case ExitReason.Io when run.Io.Port == 0xF4:
                    exitCode = BinaryPrimitives.ReadUInt32LittleEndian(run.PioData);
                    break;
                case ExitReason.Io when run.Io.Port == 0x80:
                    break;
                case ExitReason.Mmio when !run.Mmio.IsWrite && run.Mmio.PhysAddr == 0xD000_0000:
                    run.Mmio.SetValue(0x12345678);
                    break;
                default:
                    Assert.Fail($"unexpected exit {run.ExitReason} at 0x{m.Vcpu.LinearRip:x}; console: {console}");
                    break;
            }
        }

        Assert.True(exitCode == 0, console.ToString());
        Assert.Contains("ALL PASS", console.ToString());
        Assert.Equal(1UL, doorbell.Count);
        Assert.Equal(1UL, m.Stat("mmio_exits"));
    }
}
