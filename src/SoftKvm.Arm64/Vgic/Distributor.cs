using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The distributor frame (GICD_*) as an IO device: 4 KiB for GICv2, 64 KiB for GICv3. GICv2 banks
/// INTIDs 0..31 per accessing vCPU (the VMM, with no vCPU, sees vCPU 0's bank).
/// </summary>
internal sealed unsafe class Distributor(Vgic vgic) : IIoValueDevice, IIoFixedReads, IGicRegisterFile
{
    private readonly RegisterMap _map = vgic.Model == GicModel.V2 ? GicRegisterMaps.V2Distributor : GicRegisterMaps.V3Distributor;

    /// <summary>
    /// Per 32-bit word of the frame, for the VGIC without an ITS and with one (GICD_TYPER's IDbits and LPIS: the only input
    /// of a fixed value that can change): the value of a 32-bit read, with bit 32 set, where the word is in a register
    /// that reads a fixed value (<see cref="GicMmio.ReadsFixedValue"/>) and allows the read; 0 elsewhere. Built on first use,
    /// once (published by a compare-and-swap), in memory that never moves and a whole number of pages long: the vCPUs' native
    /// code reads the words of a page directly (<see cref="FixedReads"/>). The table without an ITS is cleared when an ITS is
    /// created (<see cref="ItsCreated"/>) and kept (native code may still hold it until it sees the words cleared).
    /// </summary>
    private ulong[]? _fixedWithoutIts, _fixedWithIts;

    public Vgic Vgic => vgic;

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => GicMmio.Store(ReadValue(vcpu, offset, data.Length), data);

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.Write(this, _map, offset, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public ulong ReadValue(Vcpu? vcpu, ulong offset, int size)
    {
        // A word-aligned 32-bit read of a register that reads a fixed value: one indexed load (the rest in ReadRegisters,
        // so that this path saves and restores no registers it does not use).
        var words = vgic.HasIts ? _fixedWithIts : _fixedWithoutIts;
        ulong word = offset >> 2;
        if (size == 4 && (offset & 3) == 0 && words is not null && word < (ulong)words.Length && (words[word] >> 32) != 0)
        {
            return (uint)words[word];
        }

        return ReadRegisters(vcpu, offset, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadRegisters(Vcpu? vcpu, ulong offset, int size)
    {
        if ((vgic.HasIts ? _fixedWithIts : _fixedWithoutIts) is null)
        {
            _ = FixedWords(vgic.HasIts); // for the next read: this one reads as the table would
        }

        int index = GicMmio.Locate(_map, offset, size, out uint rel);
        if (GicMmio.ReadsFixedValue(_map, index))
        {
            return GicMmio.ValueAt(this, _map, index, rel, size, Accessor(vcpu)); // nothing to lock, nothing to flush
        }

        using (vgic.Lock.Hold())
        {
            ulong value = GicMmio.ValueAt(this, _map, index, rel, size, Accessor(vcpu));
            vgic.FlushLocked();
            return value;
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.WriteValue(this, _map, offset, size, value, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    private ulong[] FixedWords(bool its)
    {
        int count = _map.Registers.Count == 0 ? 0 : (int)((_map.Registers[^1].Offset + _map.Registers[^1].Length) / 4);
        var words = GC.AllocateArray<ulong>((count + 1023) & ~1023, pinned: true);
        for (int w = 0; w < count; w++)
        {
            int index = GicMmio.Locate(_map, (ulong)w * 4, 4, out uint rel);
            if (index >= 0 && GicMmio.ReadsFixedValue(_map, index))
            {
                ulong value = _map.At(index).Id switch
                {
                    GicReg.DistTyper => vgic.DistributorTyper(its),
                    _ => GicMmio.ValueAt(this, _map, index, rel, 4, -1),
                };
                words[w] = 1UL << 32 | (uint)value;
            }
        }

        // Once: a table native code has taken must stay referenced (the first one published wins).
        return Interlocked.CompareExchange(ref its ? ref _fixedWithIts : ref _fixedWithoutIts, words, null) ?? words;
    }

    /// <inheritdoc />
    public ulong* FixedReads(ulong pageOffset)
    {
        bool its = vgic.HasIts;
        var words = (its ? _fixedWithIts : _fixedWithoutIts) ?? FixedWords(its);
        ulong first = pageOffset / 4;
        if ((pageOffset & 0xFFF) != 0 || first + 1024 > (ulong)words.Length)
        {
            return null;
        }

        if (!its && vgic.HasIts)
        {
            return null; // an ITS came in between: the next look-up takes the table with it
        }

        return (ulong*)Unsafe.AsPointer(ref words[first]);
    }

    /// <summary>
    /// An ITS was created (GICD_TYPER's LPIS and IDbits change): the words of the table without one no longer answer, for
    /// the managed path (which now takes the other table) and for native code that holds a page of it. Called after
    /// <see cref="Vgic.HasIts"/> became true.
    /// </summary>
    public void ItsCreated()
    {
        Interlocked.MemoryBarrier(); // HasIts written before the table is read (FixedReads reads them the other way round)
        if (Volatile.Read(ref _fixedWithoutIts) is { } words)
        {
            for (int w = 0; w < words.Length; w++)
            {
                Volatile.Write(ref words[w], 0);
            }
        }
    }

    public ulong ReadRegister(GicReg id, int vcpu) => vgic.ReadDistributorRegister(id);

    public void WriteRegister(GicReg id, ulong value, int vcpu) => vgic.WriteDistributorRegister(id, value, vcpu);

    public VgicIrq? ResolveIrq(int intId, int vcpu) => vgic.ResolveDistributorIrq(intId, vcpu);

    private int Accessor(Vcpu? vcpu) => vcpu is not null && (uint)vcpu.Id < (uint)vgic.VcpuCount ? vcpu.Id : -1;
}
