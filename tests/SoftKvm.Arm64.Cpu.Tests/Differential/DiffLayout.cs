namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The address layout both sides of the differential test share (tools/arm64-diff/ref.c has the same
/// constants). A block of instruction words starts at <see cref="BlockBase"/> and is followed by one
/// branch to the reference's epilogue at <see cref="EpilogueBase"/>; loads and stores are constrained
/// to the scratch page at <see cref="ScratchBase"/>.
/// </summary>
internal static class DiffLayout
{
    public const ulong CodeBase = 0x1000_0000;
    public const ulong BlockBase = CodeBase + 0x400;
    public const ulong EpilogueBase = CodeBase + 0xC00;
    public const int MaxWords = (int)((EpilogueBase - BlockBase) / 4) - 1;
    public const ulong ScratchBase = 0x2000_8000;
    public const int ScratchSize = 4096;

    /// <summary>The initial SP: the middle of the scratch page, 16-byte aligned.</summary>
    public const ulong InitialSp = ScratchBase + 0x800;

    /// <summary>The B instruction that ends a block of <paramref name="count"/> words (to the epilogue).</summary>
    public static uint EndBranch(int count)
    {
        ulong end = BlockBase + (4UL * (ulong)count);
        return 0x1400_0000u | (uint)(((EpilogueBase - end) / 4) & 0x3FF_FFFF);
    }
}
