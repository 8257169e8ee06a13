using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// An <see cref="X86Vm"/> with 16 MiB of RAM at 0, one (or more) vCPU in 64-bit long mode with 4 GiB
/// identity-mapped (2 MiB pages, except 4 KiB pages for [2 MiB, 4 MiB) so a test can unmap one page),
/// and an IDT whose handler for vector v counts the event, logs the vector, records the saved RIP,
/// optionally adds a per-vector skip to the saved RIP, clears TF in the saved RFLAGS for #DB, maps a
/// page for #PF when a fix-up is armed, sends the local APIC an EOI for v &gt;= 32 when enabled, and IRETs.
/// </summary>
internal sealed class KvmMachine : IDisposable
{
    public const ulong Gdt = 0x3000;
    public const ulong Idt = 0x4000;
    public const ulong Tss = 0x7000;
    public const ulong CountBase = 0x8000;
    public const ulong LastRipBase = 0x8400;
    public const ulong SkipBase = 0x8C00;
    public const ulong EventCount = 0x9400;
    public const ulong EventLog = 0x9500;
    public const ulong PfFixupAddr = 0x9600;
    public const ulong PfFixupValue = 0x9608;
    public const ulong EoiFlag = 0x9610;
    public const ulong Data = 0x9800;
    public const ulong Handlers = 0x20000;
    public const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x10000, Pt = 0x14000;
    public const ulong CodeBase = 0x100000;
    public const ulong Stack = 0x80000;
    public const ulong Mmio = 0xD000_0000;
    public const ulong Doorbell = 0xD000_1000;

    public KvmMachine(bool irqchip = false, int vcpus = 1)
    {
        Vm = new X86Vm();
        if (irqchip)
        {
            Vm.CreateIrqchip();
        }

        Vm.SetMemoryRegion(0, 0, 16 << 20);
        for (int i = 0; i < vcpus; i++)
        {
            Vm.CreateVcpu(i);
        }

        WriteTables();
        Setup64(Vcpu);
    }

    public X86Vm Vm { get; }

    public X86Vcpu Vcpu => (X86Vcpu)Vm.Vcpus[0];

    public ref X86Registers R => ref Vcpu.Cpu.Regs;

    public ref RunState Run => ref Vcpu.RunState;

    public void Dispose() => Vm.Dispose();

    public uint Count(int vector) => Vm.Memory.Read<uint>(CountBase + (ulong)vector * 4);

    public ulong LastRip(int vector) => Vm.Memory.Read<ulong>(LastRipBase + (ulong)vector * 8);

    public byte[] Events()
    {
        uint n = Vm.Memory.Read<uint>(EventCount);
        var log = new byte[n];
        Vm.Memory.Read(EventLog, log);
        return log;
    }

    public void SetSkip(int vector, ulong bytes) => Vm.Memory.Write(SkipBase + (ulong)vector * 8, bytes);

    public ulong Stat(string name) => Vcpu.Stats[name];

    private void WriteTables()
    {
        var m = Vm.Memory;
        ulong[] gdt =
        [
            0,
            0x00AF9B000000FFFF, // 0x08 code64 DPL0
            0x00CF93000000FFFF, // 0x10 data DPL0
            0x00CF9B000000FFFF, // 0x18 code32 DPL0
            0x00CFF3000000FFFF, // 0x20 data DPL3
            0x00AFFB000000FFFF, // 0x28 code64 DPL3
            0, 0,
            0, 0,               // 0x40 TSS
        ];
        for (int i = 0; i < gdt.Length; i++)
        {
            m.Write(Gdt + (ulong)i * 8, gdt[i]);
        }

        m.Write(Pml4, Pdpt | 7);
        for (ulong i = 0; i < 4; i++)
        {
            m.Write(Pdpt + i * 8, (Pd + i * 0x1000) | 7);
            for (ulong j = 0; j < 512; j++)
            {
                m.Write(Pd + i * 0x1000 + j * 8, ((i << 30) + (j << 21)) | 0x87);
            }
        }

        m.Write(Pd + 8, Pt | 7); // [2 MiB, 4 MiB) through a page table
        for (ulong k = 0; k < 512; k++)
        {
            m.Write(Pt + k * 8, (0x200000 + (k << 12)) | 7);
        }

        m.Write<ulong>(Tss + 4, 0x90000);
        m.Write<ushort>(Tss + 0x66, 0x68);
        ulong desc = 0x67 | ((Tss & 0xFFFFFF) << 16) | (0x89UL << 40);
        m.Write(Gdt + 0x40, desc);

        var handlers = HandlerCode.Value;
        for (int v = 0; v < 256; v++)
        {
            ulong at = Handlers + (ulong)v * 128;
            m.Write(at, handlers[v]);
            ulong lo = (at & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((at >> 16 & 0xFFFF) << 48);
            m.Write(Idt + (ulong)v * 16, lo);
            m.Write(Idt + (ulong)v * 16 + 8, at >> 32);
        }
    }

    private static readonly Lazy<byte[][]> HandlerCode = new(() =>
    {
        var all = new byte[256][];
        for (int v = 0; v < 256; v++)
        {
            ulong at = Handlers + (ulong)v * 128;
            all[v] = Assemble(64, at, a => Handler(a, v));
            if (all[v].Length > 128)
            {
                throw new InvalidOperationException("handler too long");
            }
        }

        return all;
    });

    private static void Handler(Assembler a, int v)
    {
        bool err = v is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21;
        int frame = 8 + (err ? 8 : 0); // past the pushed RAX (and error code)
        var done = a.CreateLabel();
        a.push(rax);
        a.inc(__dword_ptr[(uint)(CountBase + (ulong)v * 4)]);
        a.mov(rax, __qword_ptr[rsp + frame]);
        a.mov(__qword_ptr[(uint)(LastRipBase + (ulong)v * 8)], rax);
        a.mov(rax, __qword_ptr[(uint)(SkipBase + (ulong)v * 8)]);
        a.add(__qword_ptr[rsp + frame], rax);
        a.mov(eax, __dword_ptr[(uint)EventCount]);
        a.mov(__byte_ptr[rax + (int)EventLog], (byte)v);
        a.inc(__dword_ptr[(uint)EventCount]);
        if (v is 1 or 6)
        {
            a.and(__qword_ptr[rsp + frame + 16], ~0x100); // clear TF so the test sees exactly the events it provoked
        }

        if (v == 1)
        {
            a.or(__qword_ptr[rsp + frame + 16], 0x10000); // RF: return past a code breakpoint
        }

        if (v == 14)
        {
            a.push(rbx);
            a.mov(rbx, __qword_ptr[(uint)PfFixupAddr]);
            a.test(rbx, rbx);
            a.jz(done);
            a.mov(rax, __qword_ptr[(uint)PfFixupValue]);
            a.mov(__qword_ptr[rbx], rax);
            a.mov(rax, cr2);
            a.invlpg(__byte_ptr[rax]);
            a.Label(ref done);
            a.pop(rbx);
        }

        if (v >= 32)
        {
            a.cmp(__byte_ptr[(uint)EoiFlag], 0);
            a.je(done);
            a.mov(rax, 0xFEE000B0UL);
            a.mov(__dword_ptr[rax], 0);
            a.Label(ref done);
        }

        a.pop(rax);
        if (err)
        {
            a.add(rsp, 8);
        }

        a.iretq();
    }

    /// <summary>Puts <paramref name="vcpu"/> in 64-bit mode at <see cref="CodeBase"/>, CPL 0, IF=0.</summary>
    public void Setup64(X86Vcpu vcpu, ulong stack = Stack)
    {
        var r = vcpu.GetRegisters();
        r.Gdtr.Base = Gdt;
        r.Gdtr.Limit = 10 * 8 - 1;
        r.Idtr.Base = Idt;
        r.Idtr.Limit = 256 * 16 - 1;
        r.Cr3 = Pml4;
        r.Cr4 = 0x20;
        r.Efer = 0xD01;
        r.Cr0 = 0x80010011;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x08, 0x00AF9B000000FFFF);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
            }
        }

        ulong desc = 0x67 | ((Tss & 0xFFFFFF) << 16) | (0x89UL << 40);
        r.Tr = SegmentRegister.FromDescriptor(0x40, desc | (2UL << 40));
        r.Rip = CodeBase;
        r.Gpr[Gpr.Rsp] = stack;
        r.Rflags = 2;
        vcpu.SetRegisters(r);
    }

    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }

    /// <summary>Assembles 64-bit code at <paramref name="address"/> and returns its bytes.</summary>
    public byte[] Load(Action<Assembler> build, ulong address = CodeBase)
    {
        var bytes = Assemble(64, address, build);
        Vm.Memory.Write(address, bytes);
        return bytes;
    }

    /// <summary>Length of the instruction(s) <paramref name="build"/> assembles (at <see cref="CodeBase"/>).</summary>
    public static int Length(Action<Assembler> build) => Assemble(64, CodeBase, build).Length;

    /// <summary>Sets RFLAGS.TF with the guest's own instructions (so the next instruction is the first to trap).</summary>
    public static void SetTf(Assembler a)
    {
        a.pushfq();
        a.or(__qword_ptr[rsp], 0x100);
        a.popfq();
    }

    /// <summary>Runs until an exit other than <see cref="ExitReason.Mmio"/> reads (answered with <paramref name="readValue"/>) and writes.</summary>
    public ExitReason RunAnsweringMmio(ulong readValue, List<(ulong Address, uint Length, bool Write, ulong Value)>? seen = null)
    {
        while (true)
        {
            var result = Vcpu.Run();
            Assert.Equal(RunResult.Ok, result);
            if (Run.ExitReason != ExitReason.Mmio)
            {
                return Run.ExitReason;
            }

            ref var mmio = ref Run.Mmio;
            seen?.Add((mmio.PhysAddr, mmio.Length, mmio.IsWrite, mmio.IsWrite ? mmio.Value : 0));
            if (!mmio.IsWrite)
            {
                mmio.SetValue(readValue >> (int)(8 * (mmio.PhysAddr & 7)));
            }
        }
    }

    public static AssemblerMemoryOperandFactory Q => __qword_ptr;

    public static AssemblerMemoryOperandFactory D => __dword_ptr;

    public static AssemblerMemoryOperandFactory B => __byte_ptr;
}
