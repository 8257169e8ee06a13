using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>Runs differential cases in SoftKvm (64-bit mode, CPL 0, the native harness's memory layout)
/// and returns the same state hash the native harness computes.</summary>
internal sealed class DiffRunner : IDisposable
{
    private readonly TestMachine _m = new();
    private readonly byte[] _data = new byte[DiffCase.DataSize];
    private readonly ulong[] _gpr = new ulong[16];

    /// <summary>A runner for the interpreter, or (<paramref name="translate"/>) one that compiles every case as a
    /// translated block at its first instruction, on the calling thread; <paramref name="native"/>: as native x86-64 blocks.</summary>
    public DiffRunner(bool translate = false, bool native = false)
    {
        _m.Setup64();
        _m.Cpu.Controls.ExceptionBitmap = uint.MaxValue;
        _m.Cpu.Translation = translate || native;
        _m.Cpu.Native = native;
        _m.Cpu.TranslationThreshold = 0;
        _m.Cpu.TranslateSynchronously = true;
    }

    /// <summary>The CPU the cases run on (for its translation counters).</summary>
    public X86Cpu Cpu => _m.Cpu;

    public void Dispose() => _m.Dispose();

    /// <summary>The data page after a run (the final register state is in <see cref="Cpu"/>).</summary>
    public ReadOnlySpan<byte> Data
    {
        get
        {
            _m.Memory.Read(DiffCase.DataAddress, _data);
            return _data;
        }
    }

    /// <summary>Gives the CPU and the data page the state of <paramref name="seed"/>, puts <paramref name="program"/>
    /// at the code address and runs it for at most <paramref name="budget"/> instructions.</summary>
    public X86ExitReason Execute(ulong seed, ReadOnlySpan<byte> program, long budget)
    {
        DiffCase.Derive(seed, _gpr, out ulong rflags, _data);
        _m.Memory.Write(DiffCase.DataAddress, _data);
        _m.Memory.Write(DiffCase.CodeAddress, program);
        ref var r = ref _m.R;
        for (int i = 0; i < 16; i++)
        {
            r.Gpr[i] = _gpr[i];
        }

        r.Rflags = rflags;
        r.Rip = DiffCase.CodeAddress;
        _m.Cpu.StateChanged();
        _m.Cpu.FlushBlocks();
        return _m.Cpu.Run(budget);
    }

    /// <summary>Runs one case; returns the hash and a description of the final state.</summary>
    public uint Run(ulong seed, byte[] code, (ulong Offset, ulong Mask)[] masks, out string state)
    {
        var reason = Execute(seed, [.. code, 0xF4], 100); // HLT ends the sequence
        ref var r = ref _m.R;
        ulong kind = 0;
        if (reason == X86ExitReason.ExceptionOrNmi)
        {
            kind = 0x100 + (ulong)(_m.Cpu.Exit.Vector switch
            {
                ExceptionVector.DE => 8,
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

        uint h = DiffCase.Hash(kind, rip, _gpr, r.Rflags, flagsMask, _data);
        state = $"kind {kind:x} rip {rip:x} flags {r.Rflags:x} mask {flagsMask:x} hash {h:x8}\n" + string.Join(" ", _gpr.Select((g, i) => $"r{i}={g:x}"));
        return h;
    }
}
