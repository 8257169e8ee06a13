using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu.Tests.FpSimd;

/// <summary>
/// Runs single FP/SIMD instructions on the CPU model at EL0 (MMU off, CPACR_EL1.FPEN = 3 unless told
/// otherwise) with the layout of <see cref="FpSimdCase"/>.
/// </summary>
internal sealed class FpSimdRunner : IDisposable
{
    public delegate void SetupState(ref CpuState state);

    public const ulong CodeBase = 0x1000_0000;
    public const ulong BufferBase = 0x2000_0000;

    private readonly GuestMemory _memory = new();
    private readonly Arm64Cpu _cpu;

    public FpSimdRunner()
    {
        _memory.SetRegion(0, new GuestPhysAddr(CodeBase), 4096, MemorySlotFlags.None);
        _memory.SetRegion(1, new GuestPhysAddr(BufferBase), 4096, MemorySlotFlags.None);
        Harness.UserIdentityMap.Install(_memory, 2);
        _cpu = new Arm64Cpu(_memory, new CpuShared(), new NullHost(), 0x8000_0000);
    }

    public Arm64Cpu Cpu => _cpu;

    /// <summary>Sets up the case's inputs and executes its one instruction.</summary>
    public void Run(FpSimdCase c, ulong cpacr = 3UL << 20, SetupState? setup = null)
    {
        _memory.Write(new GuestPhysAddr(CodeBase), BitConverter.GetBytes(c.Word));
        var buffer = new byte[64];
        for (int i = 0; i < 64; i++)
        {
            buffer[i] = (byte)(0x40 + i);
        }

        _memory.Write(new GuestPhysAddr(BufferBase), buffer);
        _cpu.Reset();
        Harness.UserIdentityMap.Enable(_cpu);
        ref CpuState s = ref _cpu.State;
        for (int i = 0; i < 8; i++)
        {
            s.V[i] = c.V[i];
        }

        s.X[0] = c.X0;
        s.X[1] = BufferBase;
        s.X[2] = 24;
        s.Fpcr = c.Fpcr;
        s.Fpsr = 0;
        s.CpacrEl1 = cpacr;
        s.SpEl0 = BufferBase + 0x800;
        s.TrySetPstate(0);
        _cpu.OnPstateChanged();
        setup?.Invoke(ref s);
        s.Pc = CodeBase;
        int requests = 0;
        _cpu.Run(ref requests, 1);
    }

    public byte[] Buffer()
    {
        var b = new byte[64];
        _memory.Read(new GuestPhysAddr(BufferBase), b);
        return b;
    }

    public void Dispose() => _memory.Dispose();

    private sealed class NullHost : ICpuHost
    {
        public bool TryReadControllerRegister(SysRegKey key, out ulong value)
        {
            value = 0;
            return false;
        }

        public bool TryWriteControllerRegister(SysRegKey key, ulong value) => false;

        public void SendEvent()
        {
        }
    }
}
