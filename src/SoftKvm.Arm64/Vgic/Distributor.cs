using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The distributor frame (GICD_*) as an IO device: 4 KiB for GICv2, 64 KiB for GICv3. GICv2 banks
/// INTIDs 0..31 per accessing vCPU (the VMM, with no vCPU, sees vCPU 0's bank).
/// </summary>
internal sealed class Distributor(Vgic vgic) : IIoValueDevice, IGicRegisterFile
{
    private readonly RegisterMap _map = vgic.Model == GicModel.V2 ? GicRegisterMaps.V2Distributor : GicRegisterMaps.V3Distributor;

    /// <summary>
    /// Per 32-bit word of the frame, for the VGIC without an ITS and with one (GICD_TYPER's IDbits and LPIS: the only input
    /// of a fixed value that can change): the value of a 32-bit read, with bit 32 set, where the word is in a register
    /// that reads a fixed value (<see cref="GicMmio.ReadsFixedValue"/>) and allows the read; 0 elsewhere. Built on first use.
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
            FixedWords(vgic.HasIts); // for the next read: this one reads as the table would
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

    private void FixedWords(bool its)
    {
        var words = new ulong[_map.Registers.Count == 0 ? 0 : (int)((_map.Registers[^1].Offset + _map.Registers[^1].Length) / 4)];
        for (int w = 0; w < words.Length; w++)
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

        Volatile.Write(ref its ? ref _fixedWithIts : ref _fixedWithoutIts, words);
    }

    public ulong ReadRegister(GicReg id, int vcpu) => vgic.ReadDistributorRegister(id);

    public void WriteRegister(GicReg id, ulong value, int vcpu) => vgic.WriteDistributorRegister(id, value, vcpu);

    public VgicIrq? ResolveIrq(int intId, int vcpu) => vgic.ResolveDistributorIrq(intId, vcpu);

    private int Accessor(Vcpu? vcpu) => vcpu is not null && (uint)vcpu.Id < (uint)vgic.VcpuCount ? vcpu.Id : -1;
}
