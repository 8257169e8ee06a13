using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>Runs SSE differential cases in SoftKvm (64-bit mode, CPL 0, CR4.OSFXSR and OSXMMEXCPT set, as
/// Linux runs user code) and returns the state hash of native/diffharness.c -s.</summary>
internal sealed class SseDiffRunner : IDisposable
{
    private readonly TestMachine _m = new();
    private readonly byte[] _data = new byte[DiffCase.DataSize];
    private readonly ulong[] _gpr = new ulong[16];
    private readonly ulong[] _xmm = new ulong[32];

    public SseDiffRunner()
    {
        _m.Setup64();
        _m.R.Cr4 |= 0x600;
        _m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
    }

    public void Dispose() => _m.Dispose();

    /// <summary>Instructions the model did not implement over all cases run (the generator only emits implemented ones).</summary>
    public long Unimplemented => _m.Cpu.UnimplementedCount;

    /// <summary>Instructions retired over all cases run.</summary>
    public long Retired => _m.Cpu.InstructionsRetired;

    public uint Run(ulong seed, byte[] code, (ulong Offset, ulong Mask)[] masks, out string state)
    {
        DiffCase.Derive(seed, _gpr, out ulong rflags, _data);
        SseDiffCase.Derive(seed, _xmm, out uint mxcsr, out ushort fcw);
        _m.Memory.Write(DiffCase.DataAddress, _data);
        _m.Memory.Write(DiffCase.CodeAddress, code);
        _m.Memory.Write<byte>(DiffCase.CodeAddress + (ulong)code.Length, 0xF4);
        ref var r = ref _m.R;
        for (int i = 0; i < 16; i++)
        {
            r.Gpr[i] = _gpr[i];
            r.Xmm[i] = new XmmRegister(_xmm[2 * i], _xmm[2 * i + 1]);
        }

        r.Mxcsr = mxcsr;
        r.Fpu = X87State.Initial();
        r.Fpu.Fcw = fcw;
        r.Rflags = rflags;
        r.Rip = DiffCase.CodeAddress;
        _m.Cpu.StateChanged();
        var reason = _m.Cpu.Run(100);
        ulong kind = 0;
        if (reason == X86ExitReason.ExceptionOrNmi)
        {
            kind = 0x100 + (ulong)(_m.Cpu.Exit.Vector switch
            {
                ExceptionVector.DE or ExceptionVector.XM or ExceptionVector.MF => 8,
                ExceptionVector.UD => 4,
                ExceptionVector.BP or ExceptionVector.DB => 5,
                ExceptionVector.AC => 7,
                _ => 11,
            });
        }
        else if (reason != X86ExitReason.Hlt)
        {
            kind = 0xDEAD;
        }

        for (int i = 0; i < 16; i++)
        {
            _gpr[i] = r.Gpr[i];
            _xmm[2 * i] = r.Xmm[i].Lo;
            _xmm[2 * i + 1] = r.Xmm[i].Hi;
        }

        _m.Memory.Read(DiffCase.DataAddress, _data);
        ulong rip = r.Rip - DiffCase.CodeAddress;
        ulong flagsMask = 0;
        foreach (var (offset, mask) in masks)
        {
            if (offset == rip)
            {
                flagsMask = mask;
            }
        }

        uint h = SseDiffCase.Hash(kind, rip, _gpr, r.Rflags, flagsMask, _data, _xmm, r.Mxcsr);
        state = $"kind {kind:x} rip {rip:x} flags {r.Rflags:x} mask {flagsMask:x} mxcsr {r.Mxcsr:x} hash {h:x8}\n"
            + string.Join(" ", _gpr.Select((g, i) => $"r{i}={g:x}")) + "\n"
            + string.Join(" ", Enumerable.Range(0, 16).Select(i => $"x{i}={_xmm[2 * i + 1]:x16}:{_xmm[2 * i]:x16}"));
        return h;
    }
}
