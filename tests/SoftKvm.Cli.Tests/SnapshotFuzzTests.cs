using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core.Snapshots;
using SoftKvm.Devices;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Snapshots;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// The snapshot reader against damaged files (docs/snapshots.md): real snapshots of both machines with their
/// virtio-pci functions, cut at many lengths, with bytes flipped, and with bytes flipped inside a section whose
/// checksum is then made to fit again (so every section's parser sees garbage, not only the checksum test). A
/// restore either succeeds (a flipped register value is still a state) or ends with a
/// <see cref="SnapshotFormatException"/>, whose message is one line; no other exception escapes.
/// </summary>
public sealed class SnapshotFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-snapfuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DamagedArm64SnapshotsAreRefusedWithTheDefinedErrorOnly() =>
        Fuzz(Take("run", "--kernel", Path.Combine(RealCli.GuestsDir("arm64/msix"), "msix.elf"), "--smp", "2", "--gic", "v3",
            "--memory", "16M", "--virtio-pci", "--console", "virtio", "--snapshot-on-output", "MSI-X enabled"));

    [Fact]
    public void DamagedX86SnapshotsAreRefusedWithTheDefinedErrorOnly() =>
        Fuzz(Take("run", "--arch", "x86_64", "--kernel", Path.Combine(RealCli.GuestsDir("x86"), "virtiopci.elf"), "--smp", "2",
            "--memory", "16M", "--snapshot-on-output", "queue 1 enabled"));

    private byte[] Take(params string[] args)
    {
        string path = Path.Combine(_dir, "vm.snap");
        var run = RealCli.Run([.. args, "--snapshot", path]);
        Assert.Equal(0, run.Code);
        return File.ReadAllBytes(path);
    }

    private static void Fuzz(byte[] file)
    {
        Assert.Null(Restore(file)); // the undamaged file restores
        var random = new Random(24);
        var sections = Sections(file);

        // Cut at every section boundary and around it, and at random lengths.
        var cuts = new SortedSet<int> { 0, 1, 7, 8, 11, 12 };
        foreach (var (start, payload, length) in sections)
        {
            foreach (int d in (int[])[-1, 0, 1, 4, 12, 13])
            {
                cuts.Add(Math.Clamp(start + d, 0, file.Length - 1));
                cuts.Add(Math.Clamp(payload + length + d, 0, file.Length - 1));
            }
        }

        for (int i = 0; i < 40; i++)
        {
            cuts.Add(random.Next(file.Length));
        }

        foreach (int n in cuts)
        {
            Assert.IsType<SnapshotFormatException>(Restore(file[..n]));
        }

        // Flipped bytes anywhere: the checksum (or the magic, version and section heads) refuses them.
        for (int i = 0; i < 60; i++)
        {
            byte[] bad = (byte[])file.Clone();
            bad[random.Next(bad.Length)] ^= (byte)(1 << random.Next(8));
            Assert.IsType<SnapshotFormatException>(Restore(bad));
        }

        // Flipped bytes inside each section's payload with the checksum fixed: the parsers see them. Every byte of the
        // header (strings, counts, sizes); the first and random bytes of the others (more of the devices' sections),
        // memory sections in their header and page bitmap (their pages are only data).
        foreach (var (start, payload, length) in sections)
        {
            string tag = Encoding.ASCII.GetString(file, start, 4);
            int span = tag == "MEM " ? Math.Min(length, 24 + 2048) : length;
            int count = tag == "HEAD" ? span : Math.Min(span, tag is "DEVA" or "DEVX" ? 96 : 32);
            for (int i = 0; i < count; i++)
            {
                int at = payload + (tag == "HEAD" || i < 16 ? i : random.Next(span));
                foreach (byte mask in (byte[])[0x01, 0xFF])
                {
                    byte[] bad = (byte[])file.Clone();
                    bad[at] ^= mask;
                    FixChecksum(bad, payload, length);
                    var e = Restore(bad);
                    Assert.True(e is null or SnapshotFormatException, $"a flip at {at} (section at {start}) escaped as {e}");
                }
            }
        }
    }

    // Restores from memory (no mapping); returns the exception, null when the restore succeeded.
    private static Exception? Restore(byte[] file)
    {
        try
        {
            using var machine = MachineSnapshot.Restore(new MemoryStream(file, writable: false), "fuzz.snap", MachineWiring.Default(),
                new MachineIo(new SerialOutput(Stream.Null), TextWriter.Null), out _);
            return null;
        }
        catch (Exception e)
        {
            if (e is SnapshotFormatException)
            {
                Assert.DoesNotContain('\n', e.Message);
            }

            return e;
        }
    }

    // (section start, payload start, payload length) of every section.
    private static List<(int Start, int Payload, int Length)> Sections(byte[] file)
    {
        var list = new List<(int, int, int)>();
        for (int at = 12; at + 12 <= file.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(at + 4));
            list.Add((at, at + 12, length));
            at += 12 + length + 4;
        }

        return list;
    }

    private static void FixChecksum(byte[] file, int payload, int length) =>
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(payload + length), SnapshotFormat.Crc32C(0, file.AsSpan(payload, length)));
}
