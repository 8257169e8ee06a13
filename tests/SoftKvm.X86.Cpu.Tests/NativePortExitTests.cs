using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// An IN or OUT in a native block that the fast path declines ends the run with the IO exit at the instruction
/// (X86Cpu.NativeExits.cs): its length from the bytes the translator saw while they are unchanged (short forms), else
/// from a decode of the bytes as they are now; in every case the exits (port, size, direction, length, RIP, data) are
/// the interpreter's.
/// </summary>
public sealed class NativePortExitTests
{
    /// <summary>Declines every port (the access goes to the VMM).</summary>
    private sealed class DecliningHost : IX86FastExitHost
    {
        public int Offers;

        public bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
        {
            Offers++;
            return false;
        }

        public bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index) => false;

        public bool TryCompleteMsrWrite(uint msr, ulong value) => false;
    }

    private sealed record Exit(ulong Rip, ushort Port, int Size, bool Write, int Length, ulong Data);

    /// <summary>
    /// 20 rounds of OUT imm8, AL (2 bytes), OUT DX, AL (1), OUT DX, AX (66 EF: 2), OUT imm8, EAX, IN AL, DX, a store of
    /// the round's number into the next OUT's port byte (code the block holds), that OUT (E6 ib), and OUT imm8, AX with
    /// redundant prefixes (3E 3E 66 E7 ib: 5 bytes), then HLT. Each IO exit is completed as a VMM would: RIP past it.
    /// </summary>
    private static (List<Exit> Exits, long HelperCalls, long Undecoded) Run(bool native)
    {
        using var m = TestMachine.Native64(native);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var patched = a.CreateLabel();
            a.mov(ecx, 20);
            a.mov(edx, 0x3F8);
            a.Label(ref loop);
            a.mov(eax, ecx);
            a.@out(0x80, al);
            a.@out(dx, al);
            a.@out(dx, ax);
            a.@out(0x81, eax);
            a.@in(al, dx);
            a.lea(rbx, __[patched]);
            a.mov(__byte_ptr[rbx + 1], cl);
            a.Label(ref patched);
            a.@out(0x00, al);
            a.db(0x3E, 0x3E, 0x66, 0xE7, 0x82);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.Cpu.StateChanged();
        var host = new DecliningHost();
        m.Cpu.FastExits = host;
        var exits = new List<Exit>();
        for (int guard = 0; guard < 1000; guard++)
        {
            var reason = m.Run(100_000);
            if (reason == X86ExitReason.Hlt)
            {
                return (exits, m.Cpu.NativeExitHelperCalls, m.Cpu.NativePortExitsUndecoded);
            }

            Assert.Equal(X86ExitReason.IoInstruction, reason);
            var e = m.Cpu.Exit;
            Assert.True(e.InstructionLengthValid);
            exits.Add(new Exit(m.R.Rip, e.Port, e.AccessSize, e.IsWrite, e.InstructionLength, e.IsWrite ? e.Data : 0));
            m.R.Rip += (ulong)e.InstructionLength;
        }

        throw new Xunit.Sdk.XunitException("no HLT after 1000 exits");
    }

    [Fact]
    public void Native_port_exits_are_the_interpreters_with_their_lengths_and_patched_ports()
    {
        var interpreted = Run(native: false);
        var native = Run(native: true);
        Assert.Equal(20 * 7, interpreted.Exits.Count);
        Assert.Equal(interpreted.Exits, native.Exits);
        Assert.Equal(0, interpreted.Undecoded);
        Assert.True(native.Undecoded > 20, $"{native.Undecoded} of {native.HelperCalls} helper calls without a decode"); // exits from native blocks, by their bytes

        // The lengths the short forms and the prefixed one have, and the port the store wrote into the code.
        Assert.Equal([2, 1, 2, 2, 1, 2, 5], native.Exits.Take(7).Select(e => e.Length));
        Assert.Equal((ushort)20, native.Exits[5].Port);
        Assert.Equal((ushort)19, native.Exits[12].Port);
    }
}
