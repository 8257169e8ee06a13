using SoftKvm.Core.CodeGen;
using Cc = SoftKvm.Core.CodeGen.Cc;
using Mem = SoftKvm.Core.CodeGen.Mem;
using Reg = SoftKvm.Core.CodeGen.Reg;
using X64Alu = SoftKvm.Core.CodeGen.Alu;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// An instruction that crosses the end of its code page: the block ends with it (without it, the interpreter ran it
/// and both blocks around it went through the run loop every time: a hot loop of the bzImage's decompressor had one,
/// 9.6M times on the way to the marker). Its bytes on the next page are checked at every entry: the fetch TLB must
/// map that page to the host page it was translated from, and the bytes must be those translated (else the block
/// leaves at once, with nothing done, or is stale); a store into that host page leaves after the instruction, as one
/// into the block's own page does.
/// </summary>
internal sealed unsafe partial class X86NativeTranslator
{
    /// <summary>The host address of the next page's first byte when the block's last instruction crosses into it, else null.</summary>
    private byte* _nextHost;

    /// <summary>The discovery stopped at an instruction cut off by the page's end (its next page was not read).</summary>
    private bool _truncatedAtPageEnd;

    /// <summary>The bytes of the entry's page from the entry (the rest of a crossing instruction is on the next page).</summary>
    private int _available;

    /// <summary>Discovers the block; an instruction cut off at the page's end is decoded again with the next page's first
    /// bytes when <paramref name="nextPage"/> gives its host address.</summary>
    private void DiscoverAcrossPages(ulong rip, int available, Func<ulong, nint>? nextPage)
    {
        _nextHost = null;
        _available = available;
        Discover(rip, available, available);
        if (!_truncatedAtPageEnd || nextPage is null)
        {
            return;
        }

        nint next = nextPage(rip + (ulong)available);
        if (next == 0)
        {
            return; // not mapped (or a device page): the block ends before the instruction, the interpreter faults or exits
        }

        _nextHost = (byte*)next;
        new ReadOnlySpan<byte>(_nextHost, 15).CopyTo(_code.AsSpan(available));
        Discover(rip, available, available + 15);
        if (_insns.Count == 0 || _insns[^1].NextIP <= rip + (ulong)available)
        {
            _nextHost = null; // the crossing instruction is not one a block runs
        }
    }

    /// <summary>The block's bytes on its entry's page, of <paramref name="length"/> in all.</summary>
    private int FirstPageLength(int length) => Math.Min(length, _available);

    /// <summary>
    /// At entry, for a block whose last instruction crosses into the next page: the fetch TLB must map that page to the
    /// host page it was translated from (else to <paramref name="notNow"/>: the block leaves with nothing done and the
    /// interpreter fetches, which fills the TLB or faults), and its bytes there must be those translated (else
    /// <paramref name="stale"/>). The flags are in r13 (rax, rcx, rdx are free).
    /// </summary>
    private void CheckNextPageCode(AsmLabel stale, AsmLabel notNow)
    {
        if (_nextHost == null)
        {
            return;
        }

        var a = _asm;
        ulong linear = _insns[0].IP + (ulong)_available; // the next page
        a.Load(Reg.Rdx, new Mem(Reg.Rbp, X86NativeFrame.FetchTlbOffset), 8);
        a.MovImm(Reg.Rax, linear | (uint)_tagLow);
        a.CmpMemReg(new Mem(Reg.Rdx, (int)((linear >> 12) & 0xFF) * 16), Reg.Rax, true);
        a.Jcc(Cc.NE, notNow);
        a.Load(Reg.Rcx, new Mem(Reg.Rdx, ((int)((linear >> 12) & 0xFF) * 16) + 8), 8);
        a.MovImm(Reg.Rax, linear);
        a.Alu(X64Alu.Add, Reg.Rcx, Reg.Rax, true);
        a.MovImm(Reg.Rax, (ulong)_nextHost);
        a.Alu(X64Alu.Cmp, Reg.Rcx, Reg.Rax, true);
        a.Jcc(Cc.NE, notNow);
        int tail = (int)(_insns[^1].NextIP - linear);
        for (int off = 0; off < tail; off++)
        {
            a.AluMemImm(X64Alu.Cmp, new Mem(Reg.Rcx, off), (sbyte)_code[_available + off], 1);
            a.Jcc(Cc.NE, stale);
        }
    }

    /// <summary>After a store through host address r14 in a block that crosses into the next page: a store into that
    /// page leaves after the instruction (flag-free).</summary>
    private void CheckNextPageStore(int k)
    {
        if (_nextHost == null)
        {
            return;
        }

        var a = _asm;
        a.MovImm(Reg.Rcx, 12);
        a.Encoded(s_shrxRcxR14Rcx);
        a.MovImm(Reg.Rdx, unchecked(0UL - ((ulong)_nextHost >> 12)));
        a.Lea(Reg.Rcx, new Mem(Reg.Rcx, 0, Reg.Rdx, 1));
        JumpIfRcxZero(Exit(_insns[k].NextIP, k + 1, middle: true));
    }
}
