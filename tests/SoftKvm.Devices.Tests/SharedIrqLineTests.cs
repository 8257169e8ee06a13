namespace SoftKvm.Devices.Tests;

public class SharedIrqLineTests
{
    [Fact]
    public void LineIsTheOrOfItsInputs()
    {
        var output = new FakeIrqLine();
        var line = new SharedIrqLine(output);
        var a = line.NewInput();
        var b = line.NewInput();

        a.Set(true);
        Assert.True(output.Level);
        b.Set(true);
        a.Set(false);
        Assert.True(output.Level); // b still holds it
        Assert.True(line.Level);
        b.Set(false);
        Assert.False(output.Level);
        Assert.Equal(1, output.Raises);
    }

    [Fact]
    public void RepeatedLevelsOfOneInputCountOnce()
    {
        var output = new FakeIrqLine();
        var line = new SharedIrqLine(output);
        var a = line.NewInput();
        var b = line.NewInput();

        a.Set(true);
        a.Set(true);
        b.Set(false);
        a.Set(false);
        Assert.False(output.Level);
        Assert.False(line.Level);
        a.Set(true);
        Assert.Equal(2, output.Raises);
    }
}
