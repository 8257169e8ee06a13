using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// <see cref="RegisterMap.IndexOf"/> finds a register by a table with an entry per 32-bit word of the frame (issue 19);
/// it must answer as a search of the register list does, for every byte offset of every frame and past its end.
/// </summary>
public sealed class RegisterMapTests
{
    public static TheoryData<string> Maps => ["V2Distributor", "V3Distributor", "V3Redistributor", "Its", "V2CpuInterface"];

    [Theory]
    [MemberData(nameof(Maps))]
    public void EveryOffsetFindsTheRegisterThatHoldsIt(string name)
    {
        var map = (RegisterMap)typeof(GicRegisterMaps).GetProperty(name)!.GetValue(null)!;
        var registers = map.Registers;
        ulong end = registers.Max(r => (ulong)r.Offset + r.Length);
        for (ulong offset = 0; offset < end + 64; offset++)
        {
            int expected = -1;
            for (int i = 0; i < registers.Count; i++)
            {
                if (offset >= registers[i].Offset && offset < (ulong)registers[i].Offset + registers[i].Length)
                {
                    expected = i;
                }
            }

            Assert.True(expected == map.IndexOf(offset), $"{name} at 0x{offset:x}: {map.IndexOf(offset)}, expected {expected}");
        }

        Assert.Equal(-1, map.IndexOf(ulong.MaxValue));
        Assert.Equal(-1, map.IndexOf(1UL << 40));
    }

    [Fact]
    public void AFrameWithARegisterThatIsNotWordAlignedIsSearched()
    {
        var map = new RegisterMap("test", new GicRegister("A", 0x0, 4, GicReg.RazWi, AccessWidths.W32), new GicRegister("B", 0x6, 2, GicReg.RazWi, AccessWidths.W8));
        Assert.Equal(0, map.IndexOf(3));
        Assert.Equal(-1, map.IndexOf(4));
        Assert.Equal(1, map.IndexOf(6));
        Assert.Equal(1, map.IndexOf(7));
        Assert.Equal(-1, map.IndexOf(8));
    }
}
