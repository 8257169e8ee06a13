using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Tests.Guests;

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
}
