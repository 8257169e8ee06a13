using Iced.Intel;
using SoftKvm.Core.Memory;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>A CPU over 16 MiB of RAM at 0 with helpers to enter a mode, assemble code and install an IDT
/// whose handler for vector v stores v at <see cref="VectorSlot"/> and halts.</summary>
internal sealed class TestMachine : IDisposable
{
    public const ulong Gdt = 0x3000;
    public const ulong Idt = 0x4000;
    public const ulong VectorSlot = 0x5000;
    public const ulong Handlers = 0x6000;
    public const ulong Code = 0x100000;
    public const ulong Stack = 0x80000;

    public TestMachine(ulong ramSize = 16 << 20)
    {
        Memory = new GuestMemory();
        Memory.SetRegion(0, 0, ramSize, MemorySlotFlags.None);
        Cpu = new X86Cpu(Memory);
    }

    public GuestMemory Memory { get; }

    public X86Cpu Cpu { get; }

    public ref X86Registers R => ref Cpu.Regs;

    public void Dispose()
    {
        Cpu.Dispose();
        Memory.Dispose();
    }

    private void WriteGdt()
    {
        ulong[] gdt =
        [
            0,
            0x00AF9B000000FFFF, // 0x08 code64 DPL0
            0x00CF93000000FFFF, // 0x10 data DPL0
            0x00CF9B000000FFFF, // 0x18 code32 DPL0
            0x00CFF3000000FFFF, // 0x20 data DPL3
            0x00AFFB000000FFFF, // 0x28 code64 DPL3
            0x00CFFB000000FFFF, // 0x30 code32 DPL3
            0x008F9B000000FFFF, // 0x38 code16 DPL0
            0, 0,               // 0x40 TSS (16 bytes in long mode)
        ];
        for (int i = 0; i < gdt.Length; i++)
        {
            Memory.Write<ulong>(Gdt + (ulong)i * 8, gdt[i]);
        }

        R.Gdtr.Base = Gdt;
        R.Gdtr.Limit = (ushort)(gdt.Length * 8 - 1);
    }

    /// <summary>32-bit flat protected mode, no paging, CPL 0.</summary>
    public void Setup32()
    {
        WriteGdt();
        R.Cr0 = 0x11;
        R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x18, 0x00CF9B000000FFFF);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                R.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
            }
        }

        R.Rip = Code;
        R.Gpr[Gpr.Rsp] = Stack;
        R.Rflags = 2;
        InstallIdt32();
        Cpu.StateChanged();
    }

    /// <summary>64-bit long mode, 4-level paging identity-mapping the first 4 GiB with 2 MiB pages (user accessible), CPL 0.</summary>
    public void Setup64()
    {
        WriteGdt();
        const ulong pml4 = 0x1000, pdpt = 0x2000, pd = 0x10000;
        Memory.Write<ulong>(pml4, pdpt | 7);
        for (ulong i = 0; i < 4; i++)
        {
            Memory.Write<ulong>(pdpt + i * 8, (pd + i * 0x1000) | 7);
            for (ulong j = 0; j < 512; j++)
            {
                Memory.Write<ulong>(pd + i * 0x1000 + j * 8, ((i << 30) + (j << 21)) | 0x87);
            }
        }

        R.Cr3 = pml4;
        R.Cr4 = 0x20;
        R.Efer = 0xD01;
        R.Cr0 = 0x80010011;
        R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x08, 0x00AF9B000000FFFF);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                R.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
            }
        }

        // 64-bit TSS at 0x7000 with RSP0 = 0x90000 and IST1 = 0xA0000.
        const ulong tss = 0x7000;
        Memory.Write<ulong>(tss + 4, 0x90000);
        Memory.Write<ulong>(tss + 0x24, 0xA0000);
        Memory.Write<ushort>(tss + 0x66, 0x68);
        ulong desc = 0x67 | ((tss & 0xFFFFFF) << 16) | (0x89UL << 40) | ((tss >> 24) << 56);
        Memory.Write<ulong>(Gdt + 0x40, desc);
        R.Tr = SegmentRegister.FromDescriptor(0x40, desc | (2UL << 40));
        R.Rip = Code;
        R.Gpr[Gpr.Rsp] = Stack;
        R.Rflags = 2;
        InstallIdt64();
        Cpu.StateChanged();
    }

    private void WriteHandlers(int bitness)
    {
        for (int v = 0; v < 256; v++)
        {
            var a = new Assembler(bitness);
            a.mov(__dword_ptr[(uint)VectorSlot], (uint)v);
            a.hlt();
            Write(Handlers + (ulong)v * 16, a, Handlers + (ulong)v * 16);
        }
    }

    private static AssemblerMemoryOperandFactory __dword_ptr => AssemblerRegisters.__dword_ptr;

    private void InstallIdt64()
    {
        WriteHandlers(64);
        for (int v = 0; v < 256; v++)
        {
            ulong off = Handlers + (ulong)v * 16;
            ulong lo = (off & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((off >> 16 & 0xFFFF) << 48);
            Memory.Write<ulong>(Idt + (ulong)v * 16, lo);
            Memory.Write<ulong>(Idt + (ulong)v * 16 + 8, off >> 32);
        }

        R.Idtr.Base = Idt;
        R.Idtr.Limit = 256 * 16 - 1;
        Memory.Write<uint>(VectorSlot, 0xFFFFFFFF);
    }

    private void InstallIdt32()
    {
        WriteHandlers(32);
        for (int v = 0; v < 256; v++)
        {
            ulong off = Handlers + (ulong)v * 16;
            ulong lo = (off & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((off >> 16 & 0xFFFF) << 48);
            Memory.Write<ulong>(Idt + (ulong)v * 8, lo);
        }

        R.Idtr.Base = Idt;
        R.Idtr.Limit = 256 * 8 - 1;
        Memory.Write<uint>(VectorSlot, 0xFFFFFFFF);
    }

    /// <summary>Sets a user-accessible DPL (3) on interrupt gate <paramref name="vector"/> (long mode).</summary>
    public void SetGateDpl64(int vector, int dpl)
    {
        ulong lo = Memory.Read<ulong>(Idt + (ulong)vector * 16);
        lo = (lo & ~(3UL << 45)) | ((ulong)dpl << 45);
        Memory.Write<ulong>(Idt + (ulong)vector * 16, lo);
    }

    public uint LastVector => Memory.Read<uint>(VectorSlot);

    public byte[] Write(ulong address, Assembler a, ulong ip)
    {
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        var bytes = ms.ToArray();
        Memory.Write(address, bytes);
        return bytes;
    }

    /// <summary>Assembles code at <see cref="Code"/> for the current bitness and returns the bytes.</summary>
    public byte[] Load(Action<Assembler> build, ulong address = Code)
    {
        var a = new Assembler(Cpu.Bitness);
        build(a);
        return Write(address, a, address);
    }

    public X86ExitReason Run(long max = 100_000) => Cpu.Run(max);

    /// <summary>A 64-bit machine whose code runs as native blocks translated at their first execution, or only in the
    /// interpreter (<paramref name="native"/> false).</summary>
    public static TestMachine Native64(bool native)
    {
        var m = new TestMachine();
        m.Setup64();
        m.Cpu.Translation = native;
        m.Cpu.Native = native;
        m.Cpu.TranslationThreshold = 0;
        m.Cpu.TranslateSynchronously = true;
        return m;
    }

    /// <summary>Asserts that <paramref name="actual"/> has <paramref name="expected"/>'s registers, RIP, RFLAGS and instruction count.</summary>
    public static void AssertSameRegisters(TestMachine expected, TestMachine actual)
    {
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(expected.R.Gpr[i], actual.R.Gpr[i]);
        }

        Assert.Equal(expected.R.Rip, actual.R.Rip);
        Assert.Equal(expected.R.Rflags, actual.R.Rflags);
        Assert.Equal(expected.Cpu.InstructionsRetired, actual.Cpu.InstructionsRetired);
    }
}
