using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests.Guests;

public class MultibootGuestTests
{
    internal static string GuestDirectory([CallerFilePath] string thisFile = "")
    {
        // The artifacts folder may be anywhere, so search upwards from this source file.
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(thisFile)!); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "guests", "x86");
            if (File.Exists(Path.Combine(candidate, "Makefile")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("guests/x86 not found above the test directory");
    }

    [Theory]
    [InlineData("compute32")]
    [InlineData("longmode")]
    public void Guest_prints_the_same_as_under_qemu(string name)
    {
        string dir = GuestDirectory();
        using var h = new MultibootHarness(Path.Combine(dir, name + ".elf"));
        var reason = h.Run();
        string expected = File.ReadAllText(Path.Combine(dir, name + ".expected"));
        Assert.True(reason == X86ExitReason.IoInstruction, $"{reason} at rip 0x{h.Cpu.Regs.Rip:x}; output so far:\n{h.Serial}");
        Assert.Equal(expected, h.Serial.ToString());
        Assert.Equal(1, h.ExitCode);
        Assert.Equal(0, h.Cpu.UnimplementedCount);
    }

    /// <summary>
    /// The whole guest interpreted and translated (every place looked up compiled at once): the same
    /// output, the same number of instructions and the same final registers.
    /// </summary>
    [Theory]
    [InlineData("compute32")]
    [InlineData("longmode")]
    public void Guest_runs_the_same_translated_as_interpreted(string name)
    {
        string elf = Path.Combine(GuestDirectory(), name + ".elf");
        using var interpreted = new MultibootHarness(elf);
        using var translated = new MultibootHarness(elf);
        interpreted.Cpu.Translation = false;
        translated.Cpu.Translation = true;
        translated.Cpu.TranslationThreshold = 0;
        translated.Cpu.TranslateSynchronously = true;
        Assert.Equal(X86ExitReason.IoInstruction, interpreted.Run());
        Assert.Equal(X86ExitReason.IoInstruction, translated.Run());
        Assert.Equal(interpreted.Serial.ToString(), translated.Serial.ToString());
        Assert.Equal(interpreted.Cpu.InstructionsRetired, translated.Cpu.InstructionsRetired);
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(interpreted.Cpu.Regs.Gpr[i], translated.Cpu.Regs.Gpr[i]);
        }

        Assert.Equal(interpreted.Cpu.Regs.Rip, translated.Cpu.Regs.Rip);
        Assert.Equal(interpreted.Cpu.Regs.Rflags, translated.Cpu.Regs.Rflags);
        Assert.True(translated.Cpu.TranslatedInstructions > translated.Cpu.InstructionsRetired * 9 / 10,
            $"{translated.Cpu.TranslatedInstructions} of {translated.Cpu.InstructionsRetired} translated");
        Assert.Equal(0, translated.Cpu.TranslationFailures);
    }
}
