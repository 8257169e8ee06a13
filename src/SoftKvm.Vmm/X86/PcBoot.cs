namespace SoftKvm.Vmm.X86;

/// <summary>The state the boot vCPU starts in.</summary>
internal enum PcEntryMode
{
    /// <summary>Multiboot v1: 32-bit flat protected mode, paging off, EAX = 0x2BADB002, EBX = the information structure.</summary>
    Multiboot,

    /// <summary>Linux's 32-bit boot protocol: 32-bit flat protected mode, paging off, ESI = the zero page, the loader's GDT.</summary>
    Linux32,

    /// <summary>Linux's 64-bit boot protocol: long mode over the loader's identity map, RSI = the zero page, the loader's GDT.</summary>
    Linux64,
}

/// <summary>A piece of guest memory the loader fills: <paramref name="Data"/>, then <paramref name="ZeroFill"/> zero bytes.</summary>
/// <param name="Address">The guest-physical address.</param>
/// <param name="Data">The bytes.</param>
/// <param name="ZeroFill">Zero bytes after the data (a segment's bss).</param>
/// <param name="What">What it is, for messages ("kernel 'bzImage'", "initrd").</param>
internal readonly record struct PcBootPiece(ulong Address, ReadOnlyMemory<byte> Data, ulong ZeroFill, string What);

/// <summary>
/// What a PC loader decided: the pieces of guest memory to fill and how the boot vCPU starts.
/// </summary>
/// <param name="Pieces">Kernel, initrd and boot data, in the order they are written.</param>
/// <param name="Mode">The entry state.</param>
/// <param name="Entry">RIP at entry.</param>
/// <param name="Info">EBX (Multiboot: the information structure) or RSI (Linux: the zero page).</param>
internal sealed record PcBoot(IReadOnlyList<PcBootPiece> Pieces, PcEntryMode Mode, ulong Entry, ulong Info);
