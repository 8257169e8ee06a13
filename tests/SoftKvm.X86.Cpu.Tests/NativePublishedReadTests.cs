using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// Published port reads in native blocks (<see cref="PublishedReads"/>, X86Cpu.NativePublished.cs): an IN from a published
/// port takes the value and counts the exit in the counters given, without offering the access to the fast path; not
/// published, published for another host, or at a CPL above IOPL (the I/O permission bitmap decides), it is offered as before.
/// </summary>
public sealed unsafe class NativePublishedReadTests
{
    /// <summary>Completes every port read with 0x77, counting the offers.</summary>
    private sealed class PortHost : IX86FastExitHost
    {
        public int Offers;

        public bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
        {
            Offers++;
            value = write ? value : 0x77;
            return true;
        }

        public bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index) => false;

        public bool TryCompleteMsrWrite(uint msr, ulong value) => false;
    }

    private sealed record Result(X86ExitReason Exit, ulong Rip, ulong Rax, ulong Rbx, int Offers, long[] Counts, long HelperCalls);

    /// <summary>50 rounds of IN AL, 0x21 and IN AL, DX (0x21), each value added to RBX, then HLT.</summary>
    private static Result Run(bool publish, bool forOtherHost = false, bool user = false, int iopl = 0)
    {
        using var m = TestMachine.Native64(native: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 50);
            a.mov(rax, -1L);
            a.mov(edx, 0x21);
            a.Label(ref loop);
            a.@in(al, 0x21);
            a.add(rbx, rax);
            a.@in(al, dx);
            a.add(rbx, rax);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        if (user)
        {
            m.R.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x2B, 0x00AFFB000000FFFF);
            for (int s = 0; s < 6; s++)
            {
                if (s != SegmentIndex.Cs)
                {
                    m.R.Seg[s] = SegmentRegister.FromDescriptor(0x23, 0x00CFF3000000FFFF);
                }
            }
        }

        m.R.Rflags = 2 | ((ulong)iopl << 12);
        m.R.Gpr[Gpr.Rbx] = 0;
        m.Cpu.Controls.ExceptionBitmap = 1u << ExceptionVector.GP;
        m.Cpu.StateChanged();
        Assert.Equal(user ? 3 : 0, m.Cpu.Cpl);

        var host = new PortHost();
        m.Cpu.FastExits = host;
        var reads = new PublishedReads();
        var mask = reads.ClaimPort(0x21, 1)!;
        Assert.Null(reads.ClaimPort(0x21 ^ (1 << 6) ^ 1, 1)); // (another port with the same slot)
        if (publish)
        {
            mask.Publish(0x5A);
        }

        long[] counts = GC.AllocateArray<long>(3, pinned: true);
        fixed (long* c = counts)
        {
            m.Cpu.UsePublishedReads(reads, forOtherHost ? new PortHost() : host, (nint)c, (nint)(c + 1), (nint)(c + 2));
            var exit = m.Run(10_000);
            return new Result(exit, m.R.Rip, m.R.Gpr[Gpr.Rax], m.R.Gpr[Gpr.Rbx], host.Offers, counts, m.Cpu.NativeExitHelperCalls);
        }
    }

    [Fact]
    public void An_in_from_a_published_port_is_completed_and_counted_in_the_block()
    {
        var r = Run(publish: true);
        Assert.Equal(X86ExitReason.Hlt, r.Exit);
        Assert.Equal(0xFFFFFFFFFFFFFF5AUL, r.Rax);  // the byte merged into RAX
        Assert.Equal(unchecked(100 * 0xFFFFFFFFFFFFFF5AUL), r.Rbx);
        Assert.Equal(0, r.Offers);
        Assert.Equal([100L, 100L, 0L], r.Counts); // exits, io_exits; no insn_emulation
        Assert.Equal(0, r.HelperCalls);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void An_in_not_published_for_this_host_is_offered_to_it(bool publish, bool forOtherHost)
    {
        var r = Run(publish, forOtherHost);
        Assert.Equal(X86ExitReason.Hlt, r.Exit);
        Assert.Equal(0xFFFFFFFFFFFFFF77UL, r.Rax);
        Assert.Equal(100, r.Offers);
        Assert.Equal([0L, 0L, 0L], r.Counts);
        Assert.Equal(100, r.HelperCalls);
    }

    [Fact]
    public void At_cpl_3_above_iopl_the_in_takes_the_permission_check_and_faults()
    {
        // No I/O bitmap (no TSS): #GP(0) at the first IN, nothing read.
        var r = Run(publish: true, user: true, iopl: 0);
        Assert.Equal(X86ExitReason.ExceptionOrNmi, r.Exit);
        Assert.True(r.HelperCalls >= 1); // the helper's permission check declined it; the interpreter raised the fault
        Assert.Equal(0UL, r.Rbx);
        Assert.Equal(0, r.Offers);
        Assert.Equal([0L, 0L, 0L], r.Counts);
    }

    [Fact]
    public void At_cpl_3_within_iopl_the_published_value_is_read()
    {
        var r = Run(publish: true, user: true, iopl: 3);
        Assert.Equal(X86ExitReason.ExceptionOrNmi, r.Exit); // the HLT at CPL 3
        Assert.Equal(unchecked(100 * 0xFFFFFFFFFFFFFF5AUL), r.Rbx);
        Assert.Equal(0, r.Offers);
        Assert.Equal([100L, 100L, 0L], r.Counts);
    }
}
