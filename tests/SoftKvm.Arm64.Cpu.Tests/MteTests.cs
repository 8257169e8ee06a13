using SoftKvm.Arm64.Cpu.Mte;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.Core.Snapshots;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// FEAT_MTE2/MTE3 pieces (guests/arm64/mte runs the whole feature): the tag store, IRG's tag generation,
/// the TLB gate that keeps the no-MTE fast paths unchanged (a Tagged page stays in the TLB while no tag check can
/// apply at the access's EL, and leaves it while SCTLR_EL1.TCF is set), a synchronous fault in both engines, PSTATE.TCO on
/// exception entry, UNDEFINED on cortex-a57, and the snapshot refusal.
/// </summary>
public sealed class MteTests
{
    private const ulong Data = RamBase + 0x6000;
    private static readonly SysRegKey SctlrEl1 = SysRegKey.Of(3, 0, 1, 0, 0);
    private static readonly SysRegKey EsrEl1 = SysRegKey.Of(3, 0, 5, 2, 0);
    private static readonly SysRegKey FarEl1 = SysRegKey.Of(3, 0, 6, 0, 0);
    private const ulong SctlrAta = 1UL << 43;
    private const ulong SctlrTcfSync = 1UL << 40;

    // 0: stg x0,[x0]; 4: ldr x3,[x0]; 8: ldr x4,[x2]; c: mov x5,#100; 10: ldr x3,[x0]; 14: subs x5,x5,#1; 18: b.ne 10; 1c: svc #0
    private static readonly uint[] Program = [0xd9200800u, 0xf9400003u, 0xf9400044u, 0xd2800c85u, 0xf9400003u, 0xf10004a5u, 0x54ffffc1u, 0xd4000001u];

    [Fact]
    public void TagStore_ReadsZeroAndAllocatesNothingUntilATagIsStored()
    {
        var store = new MemoryTagStore();
        Assert.Equal(0, store.Get(0x4000_0000));
        store.Set(0x4000_0010, 0);
        Assert.False(store.InUse);
        store.Set(0x4000_0010, 0xA);
        store.Set(0x4000_001F, 0x3); // the same granule
        store.Set(0x4000_0020, 0xC);
        Assert.True(store.InUse);
        Assert.Equal(1, store.ChunkCount);
        Assert.Equal(0, store.Get(0x4000_0000));
        Assert.Equal(3, store.Get(0x4000_0010));
        Assert.Equal(0xC, store.Get(0x4000_002F));
        Assert.Equal(0, store.Get(0x4000_0000 + MemoryTagStore.ChunkBytes + 0x10));
    }

    [Fact]
    public void TagStore_ConcurrentWritersToNeighbouringGranulesLoseNothing()
    {
        var store = new MemoryTagStore();
        Parallel.For(0, 8, t =>
        {
            for (int round = 0; round < 2000; round++)
            {
                for (int g = t; g < 64; g += 8)
                {
                    store.Set(0x4000_0000 + ((ulong)g * 16), (g + round) & 0xF);
                }
            }
        });
        for (int g = 0; g < 64; g++)
        {
            Assert.Equal((g + 1999) & 0xF, store.Get(0x4000_0000 + ((ulong)g * 16)));
        }
    }

    [Fact]
    public void RandomTag_FollowsRgsrSeedAsQemuDoes()
    {
        // RGSR_EL1 = SEED 0xace1, TAG 3; GCR_EL1.Exclude = tag 0: QEMU 7.2 gives the same 16 tags (guests/arm64/mte).
        ulong rgsr = (0xace1UL << 8) | 3;
        ulong tags = 0;
        for (int i = 0; i < 16; i++)
        {
            tags = (tags << 4) | (uint)Arm64Cpu.RandomTag(ref rgsr, 0x1);
        }

        Assert.Equal(0x57e3ad2ec698de7fUL, tags);
        Assert.Equal(0x88150fUL, rgsr);
    }

    [Theory]
    [InlineData(13, 3, 0x8001, 2)]  // 14, then 15 and 0 excluded: 1, 2
    [InlineData(15, 0, 0x8001, 1)]  // offset 0 moves off an excluded start only
    [InlineData(4, 0, 0x0000, 4)]
    [InlineData(7, 5, 0xFFFF, 0)]   // everything excluded: 0
    [InlineData(0, 15, 0xAAAA, 14)] // even tags only: 2, 4, ..., 14, 0, ... 15 steps from 0
    public void ChooseNonExcludedTag_StepsOverExcludedTags(int start, int offset, int exclude, int expected) =>
        Assert.Equal(expected, Arm64Cpu.ChooseNonExcludedTag(start, offset, exclude));

    private static Arm64Vcpu Start(TestMachine m, ulong sctlrMte, bool translate)
    {
        var v = m.Start(Program);
        v.Cpu.TranslationEnabled = translate;
        // Level-1 blocks: 0-1 GiB devices, 1-2 GiB RAM with AttrIndx 1 = Tagged Normal (MAIR 0xF0).
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable), 1UL | (1UL << 10));
        m.Vm.Memory.Write(new GuestPhysAddr(IdentityTable + 8), (1UL << 30) | 1 | (1UL << 2) | (3UL << 8) | (1UL << 10));
        v.SetSystemRegister(SysRegKey.Of(3, 0, 10, 2, 0), 0xF0FFUL);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 2), 25 | (1UL << 23) | (1UL << 37)); // T0SZ 25, EPD1, TBI0
        v.SetSystemRegister(SysRegKey.Of(3, 0, 2, 0, 0), IdentityTable);
        v.SetSystemRegister(SctlrEl1, v.GetSystemRegister(SctlrEl1) | 1 | sctlrMte);
        SetX(v, 0, Data | (5UL << 56));
        SetX(v, 2, Data | (6UL << 56));
        return v;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MismatchedLoad_IsASynchronousTagCheckFault(bool translate)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        m.Vm.Memory.Write(new GuestPhysAddr(Data), 0x1234UL);
        var v = Start(m, SctlrAta | SctlrTcfSync, translate);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(0x1234UL, X(v, 3));
        Assert.Equal((0x25UL << 26) | (1UL << 25) | 0x11, v.GetSystemRegister(EsrEl1));
        Assert.Equal(Data | (6UL << 56), v.GetSystemRegister(FarEl1));
        Assert.Equal(CodeBase + 8, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1))); // ELR: the load
        Assert.NotEqual(0UL, v.GetRegister(Arm64CoreRegister.Pstate) & (1UL << 25)); // TCO set on entry
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 0)) & (1UL << 25)); // SPSR: TCO was clear
        Assert.True(m.Vm.Shared.MemoryTagsInUse);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(SctlrTcfSync, true)]
    [InlineData(1UL << 38, false)] // TCF0 only: EL1's accesses are never checked, its entries stay
    public void TaggedPages_StayInTheTlbUnlessTagChecksAreConfigured(ulong tcf, bool checkedOnSlowPath)
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, SctlrAta | tcf, translate: false);
        SetX(v, 2, Data | (5UL << 56)); // matching: no fault, the loop runs
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0x15UL, v.GetSystemRegister(EsrEl1) >> 26); // the SVC at the end
        long slow = v.Cpu.Counters.ReadSlowPaths;
        Assert.Equal(checkedOnSlowPath, slow >= 100);
        Assert.True(checkedOnSlowPath || slow <= 2, $"{slow} slow reads");
    }

    [Fact]
    public void CortexA57_TagInstructionsAndRegistersAreUndefined()
    {
        using var m = new TestMachine();
        var v = m.Start(0x9adf1001u); // irg x1,x0
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0UL, v.GetSystemRegister(EsrEl1) >> 26);
        Assert.Equal(CodeBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));

        using var m2 = new TestMachine();
        var w = m2.Start(0xd53810c1u, 0xd503419fu); // mrs x1,gcr_el1; msr tco,#1
        Assert.Equal(RunResult.Ok, m2.Run(w));
        Assert.Equal(0UL, w.GetSystemRegister(EsrEl1) >> 26);
        Assert.Throws<VcpuException>(() => w.GetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 6)));
        Assert.Equal(0UL, CpuModel.CortexA57.IdAa64Pfr1 & (0xFUL << 8));
        Assert.Equal(3UL << 8, CpuModel.Max.IdAa64Pfr1 & (0xFUL << 8));
    }

    [Fact]
    public void Snapshot_OfAVmThatStoredTags_IsRefusedBeforeAnythingIsWritten()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = Start(m, SctlrAta, translate: false);
        Assert.Equal(RunResult.Ok, m.Run(v));
        var stream = new MemoryStream();
        var e = Assert.Throws<UnsupportedException>(() => m.Vm.SaveState(new SnapshotWriter(stream)));
        Assert.Contains("MTE allocation tags", e.Message);
    }
}
