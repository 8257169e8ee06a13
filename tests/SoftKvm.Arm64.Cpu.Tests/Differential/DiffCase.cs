namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// One differential test case: the seed of its initial state (<see cref="DiffState.Initial"/>) and the
/// block of instruction words. <see cref="Tested"/> counts the generated instructions under test, not
/// the set-up instructions (base register loads) the generator put in front of loads and stores.
/// </summary>
internal sealed record DiffCase(ulong Seed, uint[] Words, int Tested)
{
    public string WordsText => string.Join(",", Words.Select(w => w.ToString("x8")));
}
