namespace SoftKvm.Arm64.Pmu;

/// <summary>Save and restore of the PMU's registers and counters (docs/snapshots.md).</summary>
internal sealed partial class VcpuPmu
{
    /// <summary>Brings the counters up to date and writes every register.</summary>
    public void Save(BinaryWriter w)
    {
        Sync();
        foreach (ulong c in _counter)
        {
            w.Write(c);
        }

        foreach (ulong t in _evtyper)
        {
            w.Write(t);
        }

        w.Write(_pmcr);
        w.Write(_cntEnable);
        w.Write(_intEnable);
        w.Write(_overflow);
        w.Write(_selr);
        w.Write(_userenr);
    }

    /// <summary>Reads what <see cref="Save"/> wrote; counting goes on from what the CPU has counted now.</summary>
    public void Load(BinaryReader r)
    {
        for (int i = 0; i < _counter.Length; i++)
        {
            _counter[i] = r.ReadUInt64();
        }

        for (int i = 0; i < _evtyper.Length; i++)
        {
            _evtyper[i] = r.ReadUInt64();
        }

        _pmcr = r.ReadUInt64();
        _cntEnable = r.ReadUInt32() & CounterMask;
        _intEnable = r.ReadUInt32() & CounterMask;
        _overflow = r.ReadUInt32() & CounterMask;
        _selr = r.ReadUInt64() & 31;
        _userenr = r.ReadUInt64() & (UserEn | UserSw | UserCr | UserEr);
        for (int el = 0; el < 2; el++)
        {
            _seen[(Instructions * 2) + el] = cpu.RetiredAt(el);
            _seen[(Branches * 2) + el] = cpu.BranchesAt(el);
            _seen[(MemoryAccesses * 2) + el] = cpu.MemoryAccessesAt(el);
        }

        _pendingWrite = null;
        Sync();
    }
}
