using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// A GIC frame's register table, sorted by offset, with a lookup by offset: one read of a table with an
/// entry per 32-bit word of the frame (every GIC register is word-aligned; issue 19: a guest's register
/// access, as GICD_TYPER's, finds its register at once), and a binary search where a frame has a register that is
/// not. Built once per model; lookups allocate nothing.
/// </summary>
internal sealed class RegisterMap
{
    private readonly GicRegister[] _registers;

    /// <summary>For each 32-bit word of the frame up to the end of its last register: 1 + the index of its register, or 0; null when a register is not word-aligned.</summary>
    private readonly ushort[]? _byWord;

    public RegisterMap(string frame, params GicRegister[] registers)
    {
        Frame = frame;
        _registers = [.. registers.OrderBy(r => r.Offset)];
        for (int i = 1; i < _registers.Length; i++)
        {
            var previous = _registers[i - 1];
            if (previous.Offset + previous.Length > _registers[i].Offset)
            {
                throw new InvalidOperationException($"{frame}: {previous.Name} overlaps {_registers[i].Name}");
            }
        }

        if (_registers.Length > 0 && _registers.Length < ushort.MaxValue && _registers.All(r => (r.Offset & 3) == 0 && (r.Length & 3) == 0))
        {
            var last = _registers[^1];
            _byWord = new ushort[(last.Offset + last.Length) / 4];
            for (int i = 0; i < _registers.Length; i++)
            {
                _byWord.AsSpan((int)(_registers[i].Offset / 4), (int)(_registers[i].Length / 4)).Fill((ushort)(i + 1));
            }
        }
    }

    /// <summary>The frame name (for messages).</summary>
    public string Frame { get; }

    /// <summary>The registers, by offset.</summary>
    public IReadOnlyList<GicRegister> Registers => _registers;

    /// <summary>Finds the register that holds <paramref name="offset"/>.</summary>
    public bool TryFind(ulong offset, out GicRegister register)
    {
        int i = IndexOf(offset);
        register = i >= 0 ? _registers[i] : default;
        return i >= 0;
    }

    /// <summary>The index of the register that holds <paramref name="offset"/>, or -1 (for <see cref="At"/>: an access reads the register in place).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every GIC register access: the table inline, a search in Search
    public int IndexOf(ulong offset)
    {
        if (_byWord is { } byWord)
        {
            return offset / 4 < (ulong)byWord.Length ? byWord[(int)(offset / 4)] - 1 : -1;
        }

        return Search(offset);
    }

    private int Search(ulong offset)
    {
        int lo = 0, hi = _registers.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ref readonly GicRegister r = ref _registers[mid];
            if (offset < r.Offset)
            {
                hi = mid - 1;
            }
            else if (offset >= (ulong)r.Offset + r.Length)
            {
                lo = mid + 1;
            }
            else
            {
                return mid;
            }
        }

        return -1;
    }

    /// <summary>The register at <paramref name="index"/> (from <see cref="IndexOf"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref readonly GicRegister At(int index) => ref _registers[index];

    /// <summary>The register named <paramref name="name"/> (tests and tools).</summary>
    public GicRegister this[string name] => _registers.First(r => r.Name == name);
}
