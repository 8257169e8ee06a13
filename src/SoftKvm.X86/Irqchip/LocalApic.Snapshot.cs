namespace SoftKvm.X86.Irqchip;

/// <summary>Save and restore of the local APIC (docs/snapshots.md): every register, IRR/ISR/TMR, the timer with its time left, pending NMI, INIT and SIPI.</summary>
public sealed partial class LocalApic
{
    internal void SaveSnapshot(BinaryWriter w, long now)
    {
        foreach (int v in _irr)
        {
            w.Write(v);
        }

        foreach (int v in _tmr)
        {
            w.Write(v);
        }

        foreach (uint v in _isr)
        {
            w.Write(v);
        }

        foreach (uint v in (ReadOnlySpan<uint>)[_tpr, _ldr, _dfr, _svr, _esr, _icrLow, _icrHigh, _timerInitial, _timerDivide])
        {
            w.Write(v);
        }

        foreach (uint v in _lvt)
        {
            w.Write(v);
        }

        SnapshotTime.Write(w, _timerStart, now);
        SnapshotTime.Write(w, Volatile.Read(ref _timerDeadline), now);
        w.Write(_tscDeadline);
        w.Write(Volatile.Read(ref _pendingNmi));
        w.Write(Volatile.Read(ref _pendingInit));
        w.Write(Volatile.Read(ref _pendingSipi));
    }

    internal void LoadSnapshot(BinaryReader r, long now)
    {
        for (int i = 0; i < _irr.Length; i++)
        {
            _irr[i] = r.ReadInt32();
        }

        for (int i = 0; i < _tmr.Length; i++)
        {
            _tmr[i] = r.ReadInt32();
        }

        for (int i = 0; i < _isr.Length; i++)
        {
            _isr[i] = r.ReadUInt32();
        }

        _tpr = r.ReadUInt32();
        _ldr = r.ReadUInt32();
        _dfr = r.ReadUInt32();
        _svr = r.ReadUInt32();
        _esr = r.ReadUInt32();
        _icrLow = r.ReadUInt32();
        _icrHigh = r.ReadUInt32();
        _timerInitial = r.ReadUInt32();
        _timerDivide = r.ReadUInt32();
        for (int i = 0; i < _lvt.Length; i++)
        {
            _lvt[i] = r.ReadUInt32();
        }

        _timerStart = SnapshotTime.Read(r, now);
        Volatile.Write(ref _timerDeadline, SnapshotTime.Read(r, now));
        _tscDeadline = r.ReadUInt64();
        Volatile.Write(ref _pendingNmi, r.ReadInt32());
        Volatile.Write(ref _pendingInit, r.ReadInt32());
        Volatile.Write(ref _pendingSipi, r.ReadInt32());
    }
}
