using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.Gdb.X86;

/// <summary>
/// gdb's i386:x86-64: the general registers, rip, eflags and the segment selectors (org.gnu.gdb.i386.core) with
/// st0-st7 and the x87 control registers, xmm0-xmm15 and mxcsr (.sse), fs_base/gs_base (.segments), and the
/// control registers and EFER (org.softkvm.i386.system); guest debugging through <see cref="X86Vcpu.SetGuestDebug"/>
/// (INT3 breakpoints, DR0-DR3/DR7 for hardware breakpoints and watchpoints, single-step with BLOCKIRQ).
/// </summary>
internal sealed class X86GdbTarget : IGdbTarget
{
    private const int Rip = 16, Eflags = 17, Cs = 18, St0 = 24, Fctrl = 32, Xmm0 = 40, Mxcsr = 56, FsBase = 57, GsBase = 58, Cr0 = 59;

    // gdb's order of the general registers, segments and system registers.
    private static readonly X86Register[] Gprs =
    [
        X86Register.Rax, X86Register.Rbx, X86Register.Rcx, X86Register.Rdx, X86Register.Rsi, X86Register.Rdi, X86Register.Rbp, X86Register.Rsp,
        X86Register.R8, X86Register.R9, X86Register.R10, X86Register.R11, X86Register.R12, X86Register.R13, X86Register.R14, X86Register.R15,
    ];

    private static readonly X86Segment[] Segments = [X86Segment.Cs, X86Segment.Ss, X86Segment.Ds, X86Segment.Es, X86Segment.Fs, X86Segment.Gs];
    private static readonly X86Register[] SystemRegisters = [X86Register.Cr0, X86Register.Cr2, X86Register.Cr3, X86Register.Cr4, X86Register.Cr8, X86Register.Efer];
    private static readonly string[] GprNames = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    private static readonly string[] SegmentNames = ["cs", "ss", "ds", "es", "fs", "gs"];
    private static readonly string[] X87Control = ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"];
    private static readonly string[] SystemNames = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer"];
    private static readonly int[] Sizes = BuildSizes();
    private static readonly byte[] Int3 = [0xCC];

    public string TargetXml { get; } = BuildXml();

    public IReadOnlyList<int> RegisterSizes => Sizes;

    public ReadOnlySpan<byte> BreakpointInstruction => Int3;

    private static int[] BuildSizes()
    {
        var s = new List<int>();
        s.AddRange(Enumerable.Repeat(8, 17)); // 16 GPRs, rip
        s.AddRange(Enumerable.Repeat(4, 7)); // eflags, 6 selectors
        s.AddRange(Enumerable.Repeat(10, 8)); // st0-st7
        s.AddRange(Enumerable.Repeat(4, 8)); // x87 control
        s.AddRange(Enumerable.Repeat(16, 16)); // xmm
        s.Add(4); // mxcsr
        s.AddRange(Enumerable.Repeat(8, 2 + SystemNames.Length));
        return [.. s];
    }

    private static string BuildXml()
    {
        var x = new StringBuilder();
        x.Append("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target><architecture>i386:x86-64</architecture>");
        x.Append("<feature name=\"org.gnu.gdb.i386.core\">");
        for (int i = 0; i < 16; i++)
        {
            string type = i is 6 or 7 ? "data_ptr" : "int64";
            x.Append($"<reg name=\"{GprNames[i]}\" bitsize=\"64\" type=\"{type}\" regnum=\"{i}\"/>");
        }

        x.Append("<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/><reg name=\"eflags\" bitsize=\"32\" type=\"int32\"/>");
        foreach (string s in SegmentNames)
        {
            x.Append($"<reg name=\"{s}\" bitsize=\"32\" type=\"int32\"/>");
        }

        for (int i = 0; i < 8; i++)
        {
            x.Append($"<reg name=\"st{i}\" bitsize=\"80\" type=\"i387_ext\"/>");
        }

        foreach (string s in X87Control)
        {
            x.Append($"<reg name=\"{s}\" bitsize=\"32\" type=\"int\" group=\"float\"/>");
        }

        x.Append("</feature><feature name=\"org.gnu.gdb.i386.sse\">");
        for (int i = 0; i < 16; i++)
        {
            x.Append($"<reg name=\"xmm{i}\" bitsize=\"128\" type=\"uint128\" regnum=\"{Xmm0 + i}\"/>");
        }

        x.Append("<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/></feature>");
        x.Append("<feature name=\"org.gnu.gdb.i386.segments\"><reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/><reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/></feature>");
        x.Append("<feature name=\"org.softkvm.i386.system\">");
        foreach (string s in SystemNames)
        {
            x.Append($"<reg name=\"{s}\" bitsize=\"64\" type=\"int\" group=\"system\"/>");
        }

        x.Append("</feature></target>");
        return x.ToString();
    }

    public void ReadRegister(Vcpu vcpu, int n, Span<byte> value)
    {
        var v = (X86Vcpu)vcpu;
        value.Clear();
        switch (n)
        {
            case < 16: BinaryPrimitives.WriteUInt64LittleEndian(value, v.GetRegister(Gprs[n])); break;
            case Rip: BinaryPrimitives.WriteUInt64LittleEndian(value, v.GetRegister(X86Register.Rip)); break;
            case Eflags: BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)v.GetRegister(X86Register.Rflags)); break;
            case < St0: BinaryPrimitives.WriteUInt32LittleEndian(value, v.GetSegment(Segments[n - Cs]).Selector); break;
            case < Fctrl: v.GetFpu().St[n - St0].CopyTo(value); break;
            case < Xmm0: BinaryPrimitives.WriteUInt32LittleEndian(value, X87ControlValue(v.GetFpu(), n - Fctrl)); break;
            case < Mxcsr: BinaryPrimitives.WriteUInt128LittleEndian(value, v.GetFpu().Xmm[n - Xmm0]); break;
            case Mxcsr: BinaryPrimitives.WriteUInt32LittleEndian(value, v.GetFpu().Mxcsr); break;
            case FsBase: BinaryPrimitives.WriteUInt64LittleEndian(value, v.GetSegment(X86Segment.Fs).Base); break;
            case GsBase: BinaryPrimitives.WriteUInt64LittleEndian(value, v.GetSegment(X86Segment.Gs).Base); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(value, v.GetRegister(SystemRegisters[n - Cr0])); break;
        }
    }

    private static uint X87ControlValue(X86FpuState f, int i)
    {
        switch (i)
        {
            case 0: return f.Fcw;
            case 1: return f.Fsw;
            case 2:
                // The full tag word: 11 (empty) for each physical register the abridged tag word does not mark valid.
                uint tag = 0;
                for (int k = 0; k < 8; k++)
                {
                    tag |= (((f.Ftwx >> k) & 1) != 0 ? 0u : 3u) << (2 * k);
                }

                return tag;
            case 3: return f.LastCs;
            case 4: return (uint)f.LastIp;
            case 5: return f.LastDs;
            case 6: return (uint)f.LastDp;
            default: return f.LastOpcode;
        }
    }

    public bool WriteRegister(Vcpu vcpu, int n, ReadOnlySpan<byte> value)
    {
        var v = (X86Vcpu)vcpu;
        try
        {
            switch (n)
            {
                case < 16: v.SetRegister(Gprs[n], BinaryPrimitives.ReadUInt64LittleEndian(value)); return true;
                case Rip: v.SetRegister(X86Register.Rip, BinaryPrimitives.ReadUInt64LittleEndian(value)); return true;
                case Eflags: v.SetRegister(X86Register.Rflags, BinaryPrimitives.ReadUInt32LittleEndian(value)); return true;
                case < St0:
                    // A selector load needs its descriptor: only the value it has is accepted.
                    return BinaryPrimitives.ReadUInt32LittleEndian(value) == v.GetSegment(Segments[n - Cs]).Selector;
                case FsBase: v.SetSegmentBase(X86Segment.Fs, BinaryPrimitives.ReadUInt64LittleEndian(value)); return true;
                case GsBase: v.SetSegmentBase(X86Segment.Gs, BinaryPrimitives.ReadUInt64LittleEndian(value)); return true;
                case >= Cr0:
                    // Control registers change the paging mode under the debugger: only the value they have is accepted.
                    return BinaryPrimitives.ReadUInt64LittleEndian(value) == v.GetRegister(SystemRegisters[n - Cr0]);
            }

            var f = v.GetFpu();
            switch (n)
            {
                case < Fctrl: value.CopyTo(f.St[n - St0]); break;
                case Fctrl: f.Fcw = BinaryPrimitives.ReadUInt16LittleEndian(value); break;
                case Fctrl + 1: f.Fsw = BinaryPrimitives.ReadUInt16LittleEndian(value); break;
                case < Xmm0: return BinaryPrimitives.ReadUInt32LittleEndian(value) == X87ControlValue(f, n - Fctrl);
                case < Mxcsr: f.Xmm[n - Xmm0] = BinaryPrimitives.ReadUInt128LittleEndian(value); break;
                default: f.Mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(value); break;
            }

            v.SetFpu(f);
            return true;
        }
        catch (SoftKvm.Core.Errors.VcpuException)
        {
            return false;
        }
    }

    public bool Translate(Vcpu vcpu, ulong virtualAddress, out ulong physicalAddress) =>
        ((X86Vcpu)vcpu).TranslateAddress(virtualAddress, out physicalAddress);

    public bool Fits(IReadOnlyList<GdbHardwarePoint> points) =>
        points.Count <= 4 && points.All(p => p.Kind == GdbPointKind.Hardware || (p.Length is 1 or 2 or 4 or 8 && (p.Address & (ulong)(p.Length - 1)) == 0));

    public void Apply(Vcpu vcpu, GdbDebugSettings settings)
    {
        var flags = X86GuestDebugFlags.None;
        if (settings.SingleStep)
        {
            flags |= X86GuestDebugFlags.SingleStep | (settings.BlockInterrupts ? X86GuestDebugFlags.BlockInterrupts : 0);
        }

        if (settings.SoftwareBreakpoints)
        {
            flags |= X86GuestDebugFlags.UseSoftwareBreakpoints;
        }

        Span<ulong> dr = stackalloc ulong[5];
        for (int i = 0; i < settings.HardwarePoints.Count; i++)
        {
            var p = settings.HardwarePoints[i];
            ulong rw = p.Kind switch { GdbPointKind.Hardware => 0UL, GdbPointKind.Write => 1UL, _ => 3UL }; // no read-only kind on x86
            ulong len = p.Kind == GdbPointKind.Hardware ? 0UL : p.Length switch { 1 => 0UL, 2 => 1UL, 8 => 2UL, _ => 3UL };
            dr[i] = p.Address;
            dr[4] |= (2UL << (2 * i)) | (rw << (16 + (4 * i))) | (len << (18 + (4 * i)));
        }

        if (settings.HardwarePoints.Count != 0)
        {
            flags |= X86GuestDebugFlags.UseHardwareBreakpoints;
            dr[4] |= 0x400;
        }

        var v = (X86Vcpu)vcpu;
        if (flags == X86GuestDebugFlags.None)
        {
            v.SetGuestDebug(X86GuestDebugFlags.None);
        }
        else if ((flags & X86GuestDebugFlags.UseHardwareBreakpoints) != 0)
        {
            v.SetGuestDebug(flags | X86GuestDebugFlags.Enable, dr);
        }
        else
        {
            v.SetGuestDebug(flags | X86GuestDebugFlags.Enable);
        }
    }

    public bool Classify(Vcpu vcpu, in DebugExit exit, Func<ulong, bool> isDebuggerBreakpoint, IReadOnlyList<GdbHardwarePoint> points, out GdbStopKind kind, out GdbHardwarePoint watch)
    {
        watch = default;
        kind = GdbStopKind.Step;
        if (exit.Exception == 3)
        {
            if (!isDebuggerBreakpoint(exit.Pc))
            {
                // The guest's own INT3: its #BP, as if nobody debugged.
                ((X86Vcpu)vcpu).ReinjectDebugException();
                return false;
            }

            kind = GdbStopKind.SoftwareBreakpoint;
            return true;
        }

        for (int i = 0; i < points.Count; i++)
        {
            if ((exit.Dr6 & (1UL << i)) != 0)
            {
                kind = points[i].Kind == GdbPointKind.Hardware ? GdbStopKind.HardwareBreakpoint : GdbStopKind.Watchpoint;
                watch = points[i];
                return true;
            }
        }

        if ((exit.Dr6 & 0x4000) == 0 && points.Count == 0 && (exit.Dr6 & 0xF) != 0)
        {
            // A #DB of the guest's own while the debugger watched nothing: give it back.
            ((X86Vcpu)vcpu).ReinjectDebugException();
            return false;
        }

        return true;
    }
}
