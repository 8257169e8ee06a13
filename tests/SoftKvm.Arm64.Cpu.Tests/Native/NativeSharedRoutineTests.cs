using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Core.CodeGen;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The code cache's shared routines (the PAC and landing-pad routines blocks call): placed once per key, found again by
/// an equal key, one table per key type (equal-looking keys of two types are two routines), and looked up without
/// allocating (every PAC site and BTI block entry translated looks one up).
/// </summary>
public sealed class NativeSharedRoutineTests
{
    private readonly record struct FirstKey(int Value);

    private readonly record struct SecondKey(int Value);

    [Fact]
    public void Placed_IsFoundByAnEqualKey_AndOnlyInItsKeyType()
    {
        NativeCodeCache cache = NativeCodeCache.Instance;
        lock (cache.Lock)
        {
            Assert.Equal(0UL, cache.SharedRoutine(new FirstKey(7)));
            ulong first = cache.PlaceSharedRoutine(new FirstKey(7), Routine(), "test_first");
            Assert.NotEqual(0UL, first);
            Assert.Equal(first, cache.SharedRoutine(new FirstKey(7)));
            Assert.Equal(0UL, cache.SharedRoutine(new FirstKey(8)));
            Assert.Equal(0UL, cache.SharedRoutine(new SecondKey(7)));

            ulong second = cache.PlaceSharedRoutine(new SecondKey(7), Routine(), "test_second");
            Assert.NotEqual(first, second);
            Assert.Equal(second, cache.SharedRoutine(new SecondKey(7)));
            Assert.Equal(first, cache.SharedRoutine(new FirstKey(7)));
        }
    }

    [Fact]
    public void LookUp_AllocatesNothing()
    {
        NativeCodeCache cache = NativeCodeCache.Instance;
        lock (cache.Lock)
        {
            ulong placed = cache.SharedRoutine(new SecondKey(100)) is var at and not 0 ? at : cache.PlaceSharedRoutine(new SecondKey(100), Routine(), "test_alloc");
            ulong found = 0;
            _ = cache.SharedRoutine(new SecondKey(100)); // the first call of each form
            _ = cache.SharedRoutine(new SecondKey(101));
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                found = cache.SharedRoutine(new SecondKey(100));
                _ = cache.SharedRoutine(new SecondKey(101));
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(placed, found);
        }
    }

    private static X64Assembler Routine()
    {
        var asm = new X64Assembler();
        asm.Ret();
        return asm;
    }
}
