using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Profiling;

namespace SoftKvm.Vmm.Tests.Profiling;

/// <summary>nm-format symbol tables (System.map, /proc/kallsyms, nm output) for the profiler.</summary>
public class SymbolMapTests
{
    [Fact]
    public void AnAddressBelongsToTheNearestTextSymbolBelowIt()
    {
        var map = SymbolMap.Parse(
        [
            "ffff800008010000 T _stext",
            "ffff800008010040 t inflate_fast",
            "ffff800008010100 D some_data",
            "ffff800008010200 W weak_fn",
            "not a symbol line",
            "ffff800008010300 T mpihelp_addmul_1 [mpi]",
        ])!;
        Assert.Equal(4, map.Count);
        Assert.Equal("_stext", map.Lookup(0xffff800008010000));
        Assert.Equal("inflate_fast", map.Lookup(0xffff800008010044));
        Assert.Equal("inflate_fast", map.Lookup(0xffff800008010104)); // data symbols are skipped
        Assert.Equal("weak_fn", map.Lookup(0xffff800008010200));
        Assert.Equal("mpihelp_addmul_1", map.Lookup(0xffff800008010400));
        Assert.Null(map.Lookup(0x1000));
    }

    [Fact]
    public void AFileWithoutTextSymbolsIsABadInputFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n");
            var e = Assert.Throws<InputFileException>(() => SymbolMap.Load(path));
            Assert.Contains("no text symbols", e.Message);
            Assert.Throws<InputFileException>(() => SymbolMap.Load(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
