using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary><c>--coverage FILE</c>: the blocks a real guest ran, in drcov format.</summary>
public sealed class CoverageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-cov-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Coverage_of_hello_lists_its_blocks_in_drcov_format()
    {
        string cov = Path.Combine(_dir, "hello.drcov");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", RealCli.GuestsDir("arm64/hello") + "/hello.elf", "--coverage", cov);
        Assert.Equal(0, code);
        Assert.Contains("hello from a trivial guest", serial);
        Assert.Empty(error);

        byte[] bytes = File.ReadAllBytes(cov);
        string text = Encoding.ASCII.GetString(bytes);
        int table = text.IndexOf("BB Table: ", StringComparison.Ordinal);
        int eol = text.IndexOf('\n', table);
        string[] header = text[..table].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            ["DRCOV VERSION: 2", "DRCOV FLAVOR: drcov", "Module Table: version 2, count 1", "Columns: id, base, end, entry, checksum, timestamp, path",
             "  0, 0x0000000000000000, 0x00000000ffffffff, 0x0000000000000000, 0x00000000, 0x00000000, hello.elf"],
            header);
        int count = int.Parse(text[(table + "BB Table: ".Length)..eol].Split(' ')[0]);
        var entries = bytes.AsSpan(eol + 1);
        Assert.Equal(8 * count, entries.Length);
        var blocks = new HashSet<(uint, int)>();
        for (int i = 0; i < count; i++)
        {
            var e = entries.Slice(8 * i, 8);
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(e[6..]));
            blocks.Add((BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt16LittleEndian(e[4..])));
        }

        // _start: ldr, adr, ldrb, cbz | the loop: ldrb, cbz | str, b (after the CBZ falls through) | ldr, hvc.
        Assert.Contains((0x40080000u, 16), blocks);
        Assert.Contains((0x40080008u, 8), blocks);
        Assert.Contains((0x40080010u, 8), blocks);
        Assert.Contains(blocks, b => b.Item1 == 0x40080018u);
        Assert.Equal(4, count);
    }
}
