using System.Buffers.Binary;
using System.Text;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Gdb.Arm64;

/// <summary>
/// gdb's aarch64: x0-x30, sp, pc, cpsr (org.gnu.gdb.aarch64.core), v0-v31, fpsr, fpcr (.fpu), and the EL1
/// system registers worth showing (org.softkvm.aarch64.system); guest debugging through
/// <see cref="Arm64Vcpu.SetGuestDebug"/> (BRK #0 breakpoints, host breakpoints and watchpoints, single-step).
/// </summary>
internal sealed class Arm64GdbTarget : IGdbTarget
{
    private const int Sp = 31, Pc = 32, Cpsr = 33, V0 = 34, Fpsr = 66, Fpcr = 67, FirstSystem = 68;

    // System registers by their MRS encoding (op0, op1, CRn, CRm, op2).
    private static readonly (int, int, int, int, int) FpsrKey = (3, 3, 4, 4, 1);
    private static readonly (int, int, int, int, int) FpcrKey = (3, 3, 4, 4, 0);

    private static readonly (string Name, (int, int, int, int, int) Key)[] SystemRegisters =
    [
        ("sctlr_el1", (3, 0, 1, 0, 0)), ("tcr_el1", (3, 0, 2, 0, 2)), ("ttbr0_el1", (3, 0, 2, 0, 0)), ("ttbr1_el1", (3, 0, 2, 0, 1)),
        ("mair_el1", (3, 0, 10, 2, 0)), ("vbar_el1", (3, 0, 12, 0, 0)), ("esr_el1", (3, 0, 5, 2, 0)), ("far_el1", (3, 0, 6, 0, 0)),
        ("elr_el1", (3, 0, 4, 0, 1)), ("spsr_el1", (3, 0, 4, 0, 0)), ("sp_el0", (3, 0, 4, 1, 0)), ("tpidr_el1", (3, 0, 13, 0, 4)),
        ("mdscr_el1", (2, 0, 0, 2, 2)), ("cntv_ctl_el0", (3, 3, 14, 3, 1)), ("cntv_cval_el0", (3, 3, 14, 3, 2)),
    ];

    // Exception classes of the Debug exit's syndrome (ESR_EL2.EC, bits 31:26).
    private const uint EcBreakpoint = 0x30, EcWatchpoint = 0x34, EcBrk = 0x3C;

    // SP_EL0 is KVM's core register regs.sp: an MRS of it is UNDEFINED while SPSel is 0 (at EL0, or EL1t), but the
    // debugger reads it wherever the vCPU stopped.
    private static readonly (int, int, int, int, int) SpEl0Key = (3, 0, 4, 1, 0);

    private static ulong Get(Arm64Vcpu v, (int Op0, int Op1, int CRn, int CRm, int Op2) k) =>
        k == SpEl0Key ? v.GetRegister(Arm64CoreRegister.Sp) : v.GetSystemRegister(k.Op0, k.Op1, k.CRn, k.CRm, k.Op2);

    private static void Set(Arm64Vcpu v, (int Op0, int Op1, int CRn, int CRm, int Op2) k, ulong value)
    {
        if (k == SpEl0Key)
        {
            v.SetRegister(Arm64CoreRegister.Sp, value);
        }
        else
        {
            v.SetSystemRegister(k.Op0, k.Op1, k.CRn, k.CRm, k.Op2, value);
        }
    }

    private static readonly int[] Sizes = BuildSizes();

    // BRK #0.
    private static readonly byte[] Brk = [0x00, 0x00, 0x20, 0xd4];

    public string TargetXml { get; } = BuildXml();

    public IReadOnlyList<int> RegisterSizes => Sizes;

    public ReadOnlySpan<byte> BreakpointInstruction => Brk;

    private static int[] BuildSizes()
    {
        var sizes = new List<int>();
        sizes.AddRange(Enumerable.Repeat(8, 33)); // x0-x30, sp, pc
        sizes.Add(4); // cpsr
        sizes.AddRange(Enumerable.Repeat(16, 32));
        sizes.Add(4);
        sizes.Add(4);
        sizes.AddRange(Enumerable.Repeat(8, SystemRegisters.Length + 1)); // + sp_el1
        return [.. sizes];
    }

    private static string BuildXml()
    {
        var x = new StringBuilder();
        x.Append("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target><architecture>aarch64</architecture>");
        x.Append("<feature name=\"org.gnu.gdb.aarch64.core\">");
        for (int i = 0; i < 31; i++)
        {
            x.Append($"<reg name=\"x{i}\" bitsize=\"64\" type=\"int\" regnum=\"{i}\"/>");
        }

        x.Append("<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/><reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/><reg name=\"cpsr\" bitsize=\"32\" type=\"int\"/></feature>");
        x.Append("<feature name=\"org.gnu.gdb.aarch64.fpu\">");
        for (int i = 0; i < 32; i++)
        {
            x.Append($"<reg name=\"v{i}\" bitsize=\"128\" type=\"uint128\" regnum=\"{V0 + i}\"/>");
        }

        x.Append("<reg name=\"fpsr\" bitsize=\"32\" type=\"int\"/><reg name=\"fpcr\" bitsize=\"32\" type=\"int\"/></feature>");
        x.Append("<feature name=\"org.softkvm.aarch64.system\">");
        foreach (var (name, _) in SystemRegisters)
        {
            x.Append($"<reg name=\"{name}\" bitsize=\"64\" type=\"int\" group=\"system\"/>");
        }

        x.Append("<reg name=\"sp_el1\" bitsize=\"64\" type=\"data_ptr\" group=\"system\"/></feature></target>");
        return x.ToString();
    }

    private static bool OnSpEl1(ulong pstate) => (pstate & 0xC) != 0 && (pstate & 1) != 0;

    public void ReadRegister(Vcpu vcpu, int n, Span<byte> value)
    {
        var v = (Arm64Vcpu)vcpu;
        if (n is >= V0 and < V0 + 32)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(value, v.GetVectorRegister(n - V0));
            return;
        }

        ulong r = n switch
        {
            < 31 => v.GetRegister((Arm64CoreRegister)n),
            Sp => v.GetRegister(OnSpEl1(v.GetRegister(Arm64CoreRegister.Pstate)) ? Arm64CoreRegister.SpEl1 : Arm64CoreRegister.Sp),
            Pc => v.GetRegister(Arm64CoreRegister.Pc),
            Cpsr => v.GetRegister(Arm64CoreRegister.Pstate),
            Fpsr => Get(v, FpsrKey),
            Fpcr => Get(v, FpcrKey),
            _ when n - FirstSystem < SystemRegisters.Length => Get(v, SystemRegisters[n - FirstSystem].Key),
            _ => v.GetRegister(Arm64CoreRegister.SpEl1),
        };
        if (value.Length == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)r);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(value, r);
        }
    }

    public bool WriteRegister(Vcpu vcpu, int n, ReadOnlySpan<byte> value)
    {
        var v = (Arm64Vcpu)vcpu;
        try
        {
            if (n is >= V0 and < V0 + 32)
            {
                v.SetVectorRegister(n - V0, BinaryPrimitives.ReadUInt128LittleEndian(value));
                return true;
            }

            ulong r = value.Length == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(value) : BinaryPrimitives.ReadUInt64LittleEndian(value);
            switch (n)
            {
                case < 31: v.SetRegister((Arm64CoreRegister)n, r); break;
                case Sp: v.SetRegister(OnSpEl1(v.GetRegister(Arm64CoreRegister.Pstate)) ? Arm64CoreRegister.SpEl1 : Arm64CoreRegister.Sp, r); break;
                case Pc: v.SetRegister(Arm64CoreRegister.Pc, r); break;
                case Cpsr: v.SetRegister(Arm64CoreRegister.Pstate, r); break;
                case Fpsr: Set(v, FpsrKey, r); break;
                case Fpcr: Set(v, FpcrKey, r); break;
                default:
                    if (n - FirstSystem < SystemRegisters.Length)
                    {
                        Set(v, SystemRegisters[n - FirstSystem].Key, r);
                    }
                    else
                    {
                        v.SetRegister(Arm64CoreRegister.SpEl1, r);
                    }

                    break;
            }

            return true;
        }
        catch (SoftKvm.Core.Errors.VcpuException)
        {
            return false;
        }
    }

    public bool Translate(Vcpu vcpu, ulong virtualAddress, out ulong physicalAddress) =>
        ((Arm64Vcpu)vcpu).TranslateAddress(virtualAddress, out physicalAddress);

    public bool Fits(IReadOnlyList<GdbHardwarePoint> points)
    {
        int bps = 0, wps = 0;
        foreach (var p in points)
        {
            if (p.Kind == GdbPointKind.Hardware)
            {
                bps++;
            }
            else if (p.Length is < 1 or > 8 || (p.Address & 7) + (ulong)p.Length > 8)
            {
                return false; // one watchpoint covers bytes of one aligned doubleword (BAS)
            }
            else
            {
                wps++;
            }
        }

        return bps <= Arm64Vcpu.HardwareBreakpoints && wps <= Arm64Vcpu.HardwareWatchpoints;
    }

    public void Apply(Vcpu vcpu, GdbDebugSettings settings)
    {
        var flags = Arm64GuestDebugFlags.None;
        if (settings.SingleStep)
        {
            flags |= Arm64GuestDebugFlags.SingleStep | (settings.BlockInterrupts ? Arm64GuestDebugFlags.BlockInterrupts : 0);
        }

        if (settings.SoftwareBreakpoints)
        {
            flags |= Arm64GuestDebugFlags.UseSoftwareBreakpoints;
        }

        var bps = new List<(ulong, ulong)>();
        var wps = new List<(ulong, ulong)>();
        foreach (var p in settings.HardwarePoints)
        {
            // Enabled, PMC = EL0 and EL1; breakpoints match the whole A64 instruction (BAS = 0b1111).
            if (p.Kind == GdbPointKind.Hardware)
            {
                bps.Add((p.Address, 1UL | (3UL << 1) | (0xFUL << 5)));
                continue;
            }

            ulong lsc = p.Kind switch { GdbPointKind.Read => 1UL, GdbPointKind.Write => 2UL, _ => 3UL };
            ulong bas = ((1UL << p.Length) - 1) << (int)(p.Address & 7);
            wps.Add((p.Address & ~7UL, 1UL | (3UL << 1) | (lsc << 3) | (bas << 5)));
        }

        if (bps.Count + wps.Count != 0)
        {
            flags |= Arm64GuestDebugFlags.UseHardware;
        }

        ((Arm64Vcpu)vcpu).SetGuestDebug(flags == Arm64GuestDebugFlags.None ? flags : flags | Arm64GuestDebugFlags.Enable, new Arm64GuestDebugRegisters([.. bps], [.. wps]));
    }

    public bool Classify(Vcpu vcpu, in DebugExit exit, Func<ulong, bool> isDebuggerBreakpoint, IReadOnlyList<GdbHardwarePoint> points, out GdbStopKind kind, out GdbHardwarePoint watch)
    {
        watch = default;
        switch ((uint)(exit.Esr >> 26) & 0x3F)
        {
            case EcBrk:
                // A BRK of the guest's own is reported too (SIGTRAP at it): arm64 KVM cannot give it back.
                kind = GdbStopKind.SoftwareBreakpoint;
                return true;
            case EcBreakpoint:
                kind = GdbStopKind.HardwareBreakpoint;
                return true;
            case EcWatchpoint:
                kind = GdbStopKind.Watchpoint;
                ulong far = exit.Far;
                foreach (var p in points)
                {
                    if (p.Kind != GdbPointKind.Hardware && far < p.Address + (ulong)p.Length && p.Address < far + 16)
                    {
                        watch = p with { Address = Math.Max(far, p.Address) };
                        return true;
                    }
                }

                watch = new GdbHardwarePoint(GdbPointKind.Access, far, 1);
                return true;
            default:
                kind = GdbStopKind.Step;
                return true;
        }
    }
}
