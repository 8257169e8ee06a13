using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class VgicLockTests
{
    [Fact]
    public void SectionsExcludeEachOther()
    {
        var gate = new VgicLock();
        long counter = 0;
        int inside = 0, overlaps = 0;
        void Work()
        {
            for (int i = 0; i < 200_000; i++)
            {
                using (gate.Hold())
                {
                    overlaps += Interlocked.Increment(ref inside) == 1 ? 0 : 1;
                    counter++; // a plain read-modify-write: a second thread inside would lose updates
                    Interlocked.Decrement(ref inside);
                }
            }
        }

        var threads = Enumerable.Range(0, 3).Select(_ => new Thread(Work)).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.Equal(600_000, counter);
        Assert.Equal(0, overlaps);
        Assert.False(gate.IsHeld);
    }

    [Fact]
    public void AnExceptionInsideLeavesTheLock()
    {
        var gate = new VgicLock();
        Action section = () =>
        {
            using (gate.Hold())
            {
                throw new VgicException("inside");
            }
        };
        Assert.Throws<VgicException>(section);
        Assert.False(gate.IsHeld);
        using (gate.Hold())
        {
            Assert.True(gate.IsHeld);
        }
    }

#if DEBUG
    [Fact]
    public void TakingItAgainOnTheSameThreadThrowsInDebugBuilds()
    {
        var gate = new VgicLock();
        using (gate.Hold())
        {
            Action again = () =>
            {
                using (gate.Hold())
                {
                }
            };
            Assert.Throws<InvalidOperationException>(again);
        }

        Assert.False(gate.IsHeld);
    }
#endif
}
