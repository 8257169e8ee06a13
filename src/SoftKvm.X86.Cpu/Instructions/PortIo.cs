using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>IN and OUT. After the IOPL / TSS I/O-bitmap check the instruction exits to the hypervisor
/// (VMX "IO instruction" exit, RIP still at the instruction); under <see cref="X86Cpu.EmulateOne"/> it
/// goes to the emulation bus and retires; in a run the hypervisor's fast path may complete it first
/// (<see cref="IX86FastExitHost.TryCompletePortIo"/>).</summary>
internal static class PortIo
{
    public static void In(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.RegSize(i.Op0Register);
        ushort port = (ushort)(i.Op1Kind == OpKind.Register ? c.GetReg(Register.DX) : i.Immediate8);
        if (!c.CheckIoPermission(port, size))
        {
            return;
        }

        if (c.IsEmulating)
        {
            if (c.BusReadPort(port, size, out ulong v))
            {
                c.SetGpr(Gpr.Rax, size, v);
            }

            return;
        }

        ulong value = 0;
        if (c.TryFastPortIo(port, size, false, ref value, out bool declined))
        {
            c.SetGpr(Gpr.Rax, size, value);
            return;
        }

        c.IoExit(port, size, true, false, false, i.Op1Kind != OpKind.Register, 0, declined);
    }

    public static void Out(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.RegSize(i.Op1Register);
        ushort port = (ushort)(i.Op0Kind == OpKind.Register ? c.GetReg(Register.DX) : i.Immediate8);
        if (!c.CheckIoPermission(port, size))
        {
            return;
        }

        ulong v = c.GetGpr(Gpr.Rax, size);
        if (c.IsEmulating)
        {
            c.BusWritePort(port, size, v);
            return;
        }

        if (c.TryFastPortIo(port, size, true, ref v, out bool declined))
        {
            return;
        }

        c.IoExit(port, size, false, false, false, i.Op0Kind != OpKind.Register, v, declined);
    }
}
