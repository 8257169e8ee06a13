using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The VGIC's lock (every change of distributor, redistributor, CPU-interface and ITS state; docs/performance.md, issue 19):
/// taken with one compare-and-swap and left with a plain release store, where a <c>Monitor</c> costs two atomic operations
/// and two thread-identity look-ups (a tenth of an EOI's exit). Sections are short (no section blocks or waits); a thread
/// that finds it held spins, then yields (<see cref="SpinWait"/>). Not reentrant: debug builds (the tests) throw when the
/// thread that holds it takes it again, so a nested section cannot hide.
/// </summary>
internal sealed class VgicLock
{
    private readonly Vgic? _vgic;
    private int _held;
#if DEBUG
    private int _owner;
#endif

    /// <summary>A lock alone (tests).</summary>
    public VgicLock()
    {
    }

    /// <summary>The lock of <paramref name="vgic"/>: taking it first settles the EOIs native code completed (Vgic.NativeEoi.cs).</summary>
    public VgicLock(Vgic vgic) => _vgic = vgic;

    /// <summary>
    /// Slots of <see cref="Vgic"/>'s native EOIs that are armed (or completed by native code and not applied yet); changed
    /// only under the lock. While it is non-zero, taking the lock applies them before anything else (one load otherwise).
    /// </summary>
    internal int Armed;

    /// <summary>Takes the lock until the scope is disposed (<c>using (x.Hold()) { ... }</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Scope Hold()
    {
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0)
        {
            Contend();
        }

#if DEBUG
        _owner = Environment.CurrentManagedThreadId;
#endif
        if (Armed != 0)
        {
            _vgic!.SettleNativeEois();
        }

        return new Scope(this);
    }

    /// <summary>Whether some thread holds the lock (tests).</summary>
    public bool IsHeld => Volatile.Read(ref _held) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit()
    {
#if DEBUG
        _owner = 0;
#endif
        Volatile.Write(ref _held, 0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Contend()
    {
#if DEBUG
        if (Volatile.Read(ref _owner) == Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException("the VGIC lock was taken again by the thread that holds it");
        }
#endif
        var spin = default(SpinWait);
        do
        {
            spin.SpinOnce();
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);
    }

    /// <summary>A held <see cref="VgicLock"/>: disposing it leaves the lock.</summary>
    public readonly ref struct Scope
    {
        private readonly VgicLock _owner;

        internal Scope(VgicLock owner) => _owner = owner;

        /// <summary>Leaves the lock.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => _owner.Exit();
    }
}
