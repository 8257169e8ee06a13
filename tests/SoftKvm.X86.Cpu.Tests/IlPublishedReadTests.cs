using SoftKvm.Core.Published;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// Published device reads in IL blocks (issue 19, <see cref="PublishedReads"/>, X86Cpu.BlockPublished.cs): in 32-bit code, a
/// block's IN from a published port and MOV load from a published device register take the value and count the exit in the
/// counters given, without offering the access to the fast path; not published, published for another host, at a CPL above
/// IOPL, or on the local APIC's page, the access is offered as before.
/// </summary>
public sealed unsafe class IlPublishedReadTests
{
    private const ulong Window = 0xFEC00010; // (no RAM there: a device page)

    /// <summary>Completes every port and MMIO read with 0x77 (MMIO writes taken), counting the read offers.</summary>
    private sealed class Host : IX86FastExitHost
    {
        public int PortOffers;
        public int MmioOffers;

        public bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
        {
            PortOffers++;
            value = write ? value : 0x77;
            return true;
        }

        public bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index)
        {
            if (!write)
            {
                MmioOffers++;
                value = 0x77;
            }

            return true;
        }
    }

    private sealed record Result(X86ExitReason Exit, ulong Rbx, ulong Rbp, int PortOffers, int MmioOffers, long[] Counts, long Translated);

    /// <summary>50 rounds of IN AL, 0x21, IN AL, DX (0x21) and MOV ECX, [IOWIN], each value added up (RBX ports, RBP loads), then HLT.</summary>
    private static Result Run(bool publish, bool forOtherHost = false, bool user = false, int iopl = 0, bool apicOnWindowPage = false)
    {
        using var m = TranslationTests.NewMachine(32, translate: true, native: false);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(edi, 50);
            a.mov(eax, -1);
            a.mov(edx, 0x21);
            a.mov(esi, (uint)Window);
            a.Label(ref loop);
            a.@in(al, 0x21);
            a.add(ebx, eax);
            a.@in(al, dx);
            a.add(ebx, eax);
            a.mov(ecx, __dword_ptr[esi]);
            a.add(ebp, ecx);
            a.dec(edi);
            a.jnz(loop);
            a.hlt();
        });
        if (user)
        {
            m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x33, 0x00CFFB000000FFFF);
            for (int s = 0; s < 6; s++)
            {
                if (s != SegmentIndex.Cs)
                {
                    m.R.Seg[s] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
                }
            }

            const ulong tss = 0x7000;
            m.R.Tr = SegmentRegister.FromDescriptor(0x40, 0x00008B0070000000 | 0x2067); // busy 32-bit TSS at 0x7000
            m.Memory.Write<ushort>(tss + 0x66, 0x68); // the I/O bitmap right after the TSS: port 0x21 denied
            m.Memory.Write<byte>(tss + 0x68 + (0x21 >> 3), 1 << (0x21 & 7));
        }

        m.R.Rflags = 2 | ((ulong)iopl << 12);
        m.R.Gpr[Gpr.Rbx] = 0;
        m.R.Gpr[Gpr.Rbp] = 0;
        if (apicOnWindowPage)
        {
            m.R.ApicBase = (Window & ~0xFFFUL) | 0x800; // xAPIC enabled, its page moved onto the IOAPIC's
        }

        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.GP;
        m.Cpu.StateChanged();
        Assert.Equal(user ? 3 : 0, m.Cpu.Cpl);

        var host = new Host();
        m.Cpu.FastExits = host;
        var reads = new PublishedReads();
        var mask = reads.ClaimPort(0x21, 1)!;
        var window = reads.ClaimMmio(Window, 4)!;
        if (publish)
        {
            mask.Publish(0x5A);
            window.Publish(0x170011);
        }

        long[] counts = GC.AllocateArray<long>(3, pinned: true);
        fixed (long* c = counts)
        {
            m.Cpu.UsePublishedReads(reads, forOtherHost ? new Host() : host, (nint)c, (nint)(c + 1), (nint)(c + 2));
            var exit = m.Run(100_000);
            return new Result(exit, m.R.Gpr[Gpr.Rbx], m.R.Gpr[Gpr.Rbp], host.PortOffers, host.MmioOffers, counts, m.Cpu.TranslatedInstructions);
        }
    }

    [Fact]
    public void Published_reads_in_an_il_block_are_completed_and_counted_there()
    {
        var r = Run(publish: true);
        Assert.Equal(X86ExitReason.Hlt, r.Exit);
        Assert.Equal(100UL * 0xFFFFFF5A & 0xFFFFFFFF, r.Rbx); // the byte merged into EAX
        Assert.Equal(49UL * 0x170011 + 0x77, r.Rbp); // the first load in the interpreter (it fills the TLB's device entry): offered
        Assert.Equal(0, r.PortOffers);
        Assert.Equal(1, r.MmioOffers);
        Assert.Equal([100L + 49, 100L, 49L], r.Counts); // exits; io_exits; insn_emulation
        Assert.True(r.Translated > 300, $"{r.Translated} ran translated");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Reads_not_published_for_this_host_are_offered_to_it(bool publish, bool forOtherHost)
    {
        var r = Run(publish, forOtherHost);
        Assert.Equal(X86ExitReason.Hlt, r.Exit);
        Assert.Equal(100UL * 0xFFFFFF77 & 0xFFFFFFFF, r.Rbx);
        Assert.Equal(50UL * 0x77, r.Rbp);
        Assert.Equal(100, r.PortOffers);
        Assert.Equal(50, r.MmioOffers);
        Assert.Equal([0L, 0L, 0L], r.Counts);
    }

    [Fact]
    public void A_load_from_the_local_apics_page_is_offered()
    {
        var r = Run(publish: true, apicOnWindowPage: true);
        Assert.Equal(X86ExitReason.Hlt, r.Exit);
        Assert.Equal(50UL * 0x77, r.Rbp);
        Assert.Equal(50, r.MmioOffers);
        Assert.Equal(0, r.PortOffers);
        Assert.Equal([100L, 100L, 0L], r.Counts);
    }

    [Fact]
    public void At_cpl_3_above_iopl_the_in_takes_the_permission_check_and_faults()
    {
        // The I/O bitmap denies port 0x21: #GP(0) at the first IN, nothing read.
        var r = Run(publish: true, user: true, iopl: 0);
        Assert.Equal(X86ExitReason.ExceptionOrNmi, r.Exit);
        Assert.Equal(0UL, r.Rbx);
        Assert.Equal(0, r.PortOffers);
        Assert.Equal([0L, 0L, 0L], r.Counts);
    }

    [Fact]
    public void At_cpl_3_within_iopl_the_published_value_is_read()
    {
        var r = Run(publish: true, user: true, iopl: 3);
        Assert.Equal(X86ExitReason.ExceptionOrNmi, r.Exit); // the HLT at CPL 3
        Assert.Equal(100UL * 0xFFFFFF5A & 0xFFFFFFFF, r.Rbx);
        Assert.Equal(0, r.PortOffers);
    }
}
