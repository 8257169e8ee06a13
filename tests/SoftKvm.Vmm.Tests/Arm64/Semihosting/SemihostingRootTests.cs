using SoftKvm.Vmm.Arm64.Semihosting;

namespace SoftKvm.Vmm.Tests.Arm64.Semihosting;

/// <summary>SYS_OPEN's confinement to <c>--semihosting-root</c>: names inside resolve, <c>..</c> and links out are refused.</summary>
public sealed class SemihostingRootTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-root-").FullName;

    private string RootDir => Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("a.txt", "a.txt")]
    [InlineData("/a.txt", "a.txt")]
    [InlineData("sub/../a.txt", "a.txt")]
    [InlineData("sub/b.txt", "sub/b.txt")]
    public void Names_inside_the_root_resolve_below_it(string name, string expected)
    {
        var root = new SemihostingRoot(RootDir);
        Directory.CreateDirectory(Path.Combine(root.FullPath, "sub"));
        Assert.Equal(Path.Combine(root.FullPath, expected), root.Resolve(name));
    }

    [Theory]
    [InlineData("../x.txt")]
    [InlineData("sub/../../x.txt")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData(".")]
    public void Names_that_leave_the_root_or_name_it_are_refused(string name)
    {
        var root = new SemihostingRoot(RootDir);
        Directory.CreateDirectory(Path.Combine(root.FullPath, "sub"));
        Assert.Null(root.Resolve(name));
    }

    [Fact]
    public void A_link_pointing_outside_is_refused_and_one_inside_is_followed()
    {
        string outside = Path.Combine(_dir, "secret.txt");
        File.WriteAllText(outside, "secret");
        var root = new SemihostingRoot(RootDir);
        File.WriteAllText(Path.Combine(root.FullPath, "inside.txt"), "ok");
        File.CreateSymbolicLink(Path.Combine(root.FullPath, "out-link"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root.FullPath, "out-dir"), _dir);
        File.CreateSymbolicLink(Path.Combine(root.FullPath, "in-link"), Path.Combine(root.FullPath, "inside.txt"));

        Assert.Null(root.Resolve("out-link"));
        Assert.Null(root.Resolve("out-dir/secret.txt"));
        Assert.Null(root.Resolve("out-dir/root/inside.txt")); // back inside, but through a link that left
        Assert.Equal(Path.Combine(root.FullPath, "inside.txt"), root.Resolve("in-link"));
    }

    [Fact]
    public void A_new_file_in_a_new_place_resolves_to_where_it_would_be_created()
    {
        var root = new SemihostingRoot(RootDir);
        Assert.Equal(Path.Combine(root.FullPath, "new", "file.txt"), root.Resolve("new/file.txt"));
    }
}
