using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#arm64-mmio-completion: the scenario of "Only skip MMIO insn once" with real guest
/// code.
/// </summary>
public sealed class MmioCompletionTests
{
    // P: ldr w1,[x0]; P+4: add x2,x2,#1; P+8: str x2,[x3] (exit marker)
    private static readonly uint[] LoadProgram = [0xb9400001u, 0x91000442u, 0xf9000062u];

    private static (TestMachine M, Arm64Vcpu V) Setup(uint[] program)
    {
        var m = new TestMachine();
        var v = m.Start(program);
        SetX(v, 0, MmioBase);
        SetX(v, 2, 100);
        SetX(v, 3, MarkerBase);
        return (m, v);
    }

    [Fact]
    public void FirstExit_IsMmioReadAtTheLoad()
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.Equal(ExitReason.Mmio, run.ExitReason);
        Assert.Equal(MmioBase, run.Mmio.PhysAddr);
        Assert.Equal(4u, run.Mmio.Length);
        Assert.False(run.Mmio.IsWrite);
        Assert.Equal(CodeBase, Pc(v));
        Assert.Equal(1UL, Stat(v, "mmio_exit_user"));
        Assert.Equal(1UL, Stat(v, "exits"));
        Assert.True(v.HasPendingCompletion);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ImmediateExit_CompletesOnce_ThenResumeRunsNextInstructionOnce(int repeats)
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        run.Mmio.SetValue(0x11223344);
        run.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(0x11223344UL, X(v, 1));
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(ExitReason.Mmio, run.ExitReason);
        Assert.Equal(100UL, X(v, 2));
        Assert.Equal(1UL, Stat(v, "exits"));

        for (int i = 0; i < repeats; i++)
        {
            run.Mmio.SetValue(0xDEADBEEF);
            Assert.Equal(RunResult.Interrupted, v.Run());
            Assert.Equal(CodeBase + 4, Pc(v));
            Assert.Equal(0x11223344UL, X(v, 1));
        }

        run.ImmediateExit = false;
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, run.ExitReason);
        Assert.True(run.Mmio.IsWrite);
        Assert.Equal(MarkerBase, run.Mmio.PhysAddr);
        Assert.Equal(101UL, X(v, 2));
        Assert.Equal(101UL, run.Mmio.Value);
        Assert.Equal(CodeBase + 8, Pc(v));
        Assert.Equal(0x11223344UL, X(v, 1));
        Assert.Equal(2UL, Stat(v, "mmio_exit_user"));
    }

    [Fact]
    public void Completion_UsesTheSavedSyndrome_NotTheVmmsEditsOfTheRunArea()
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        run.Mmio.SetValue(0xFFEE_DDCC_1122_3344);
        run.Mmio.Length = 8;
        run.Mmio.IsWrite = true;
        run.Mmio.PhysAddr = 0;
        run.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(0x1122_3344UL, X(v, 1));
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(1UL, Stat(v, "mmio_exit_user"));
        Assert.Equal(1UL, Stat(v, "exits"));
    }

    [Fact]
    public void KickBeforeCompletion_CompletesThenReturnsIntr_AndDoesNotSkipAgain()
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        run.Mmio.SetValue(0x55);
        v.Kick();
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(ExitReason.Intr, run.ExitReason);
        Assert.Equal(0x55UL, X(v, 1));
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(100UL, X(v, 2));
        Assert.Equal(1UL, Stat(v, "signal_exits"));

        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(MarkerBase, run.Mmio.PhysAddr);
        Assert.Equal(101UL, X(v, 2));
        Assert.Equal(CodeBase + 8, Pc(v));
    }

    [Fact]
    public void WritePath_CarriesDataAndRetiresOnce()
    {
        // str w3,[x0]; add x2,x2,#1; str x2,[x4]
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(0xb9000003u, 0x91000442u, 0xf9000082u);
        SetX(v, 0, MmioBase);
        SetX(v, 2, 7);
        SetX(v, 3, 0xFFFF_FFFF_AABB_CCDD);
        SetX(v, 4, MarkerBase);
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.True(run.Mmio.IsWrite);
        Assert.Equal(4u, run.Mmio.Length);
        Assert.Equal(new byte[] { 0xDD, 0xCC, 0xBB, 0xAA }, ((ReadOnlySpan<byte>)run.Mmio.Data)[..4].ToArray());
        Assert.Equal(CodeBase, Pc(v));
        run.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(CodeBase + 4, Pc(v));
        run.ImmediateExit = false;
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(8UL, X(v, 2));
        Assert.Equal(CodeBase + 8, Pc(v));
    }

    [Theory]
    [InlineData(0x39400001u, "ldrb w1,[x0]", new byte[] { 0x80 }, 0x0000000000000080UL)]
    [InlineData(0x39c00001u, "ldrsb w1,[x0]", new byte[] { 0x80 }, 0x00000000FFFFFF80UL)]
    [InlineData(0x39800001u, "ldrsb x1,[x0]", new byte[] { 0x80 }, 0xFFFFFFFFFFFFFF80UL)]
    [InlineData(0x79400001u, "ldrh w1,[x0]", new byte[] { 0x00, 0x80 }, 0x0000000000008000UL)]
    [InlineData(0x79c00001u, "ldrsh w1,[x0]", new byte[] { 0x00, 0x80 }, 0x00000000FFFF8000UL)]
    [InlineData(0x79800001u, "ldrsh x1,[x0]", new byte[] { 0x00, 0x80 }, 0xFFFFFFFFFFFF8000UL)]
    [InlineData(0xb9800001u, "ldrsw x1,[x0]", new byte[] { 0x00, 0x00, 0x00, 0x80 }, 0xFFFFFFFF80000000UL)]
    [InlineData(0xb9400001u, "ldr w1,[x0]", new byte[] { 0x44, 0x33, 0x22, 0x11 }, 0x0000000011223344UL)]
    [InlineData(0xf9400001u, "ldr x1,[x0]", new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 0x1122334455667788UL)]
    [InlineData(0x88dffc01u, "ldar w1,[x0]", new byte[] { 0x01, 0x00, 0x00, 0x80 }, 0x0000000080000001UL)]
    public void Loads_ExtendPerSyndrome(uint insn, string asm, byte[] data, ulong expected)
    {
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(insn, 0xf9000062u);
        SetX(v, 0, MmioBase);
        SetX(v, 1, 0xCAFE_CAFE_CAFE_CAFE);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.Equal((uint)data.Length, run.Mmio.Length);
        Assert.False(run.Mmio.IsWrite);
        data.CopyTo(run.Mmio.Data);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.True(expected == X(v, 1), $"{asm}: X1 = 0x{X(v, 1):x}, expected 0x{expected:x}");
        Assert.Equal(CodeBase + 4, Pc(v));
    }

    [Fact]
    public void LoadIntoXzr_IsDiscarded()
    {
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(0xf940001fu, 0xf9000062u);
        SetX(v, 0, MmioBase);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, v.Run());
        v.RunState.Mmio.SetValue(0x1234);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(CodeBase + 4, Pc(v));
    }

    [Theory]
    [InlineData(0x39000001u, "strb w1,[x0]", 1)]
    [InlineData(0x79000001u, "strh w1,[x0]", 2)]
    [InlineData(0xb9000001u, "str w1,[x0]", 4)]
    [InlineData(0xf9000001u, "str x1,[x0]", 8)]
    [InlineData(0xc89ffc01u, "stlr x1,[x0]", 8)]
    public void Stores_CarryTheLowBytes(uint insn, string asm, int length)
    {
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(insn);
        SetX(v, 0, MmioBase + 0x10);
        SetX(v, 1, 0x1122334455667788);
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.Equal(ExitReason.Mmio, run.ExitReason);
        Assert.True(run.Mmio.IsWrite, asm);
        Assert.Equal((uint)length, run.Mmio.Length);
        Assert.Equal(MmioBase + 0x10, run.Mmio.PhysAddr);
        byte[] expected = BitConverter.GetBytes(0x1122334455667788UL)[..length];
        Assert.Equal(expected, ((ReadOnlySpan<byte>)run.Mmio.Data)[..length].ToArray());
    }

    [Theory]
    [InlineData(0xa9400801u, "ldp x1,x2,[x0]", false, 0)]
    [InlineData(0xf8408401u, "ldr x1,[x0],#8", false, 0)]
    [InlineData(0xf8408c01u, "ldr x1,[x0,#8]!", false, 8)]
    [InlineData(0xc85f7c01u, "ldxr x1,[x0]", false, 0)]
    [InlineData(0xa9000801u, "stp x1,x2,[x0]", true, 0)]
    [InlineData(0xfd400001u, "ldr d1,[x0]", false, 0)]
    public void NoValidSyndrome_ExitsArmNisv(uint insn, string asm, bool write, int offset)
    {
        var m = new TestMachine();
        using var _ = m;
        m.Vm.NisvToUser = true;
        var v = m.Start(insn);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 2), 3UL << 20); // CPACR_EL1.FPEN = 11
        SetX(v, 0, MmioBase);
        Assert.Equal(RunResult.Ok, v.Run());
        ref var run = ref v.RunState;
        Assert.True(ExitReason.ArmNisv == run.ExitReason, asm);
        Assert.Equal(MmioBase + (ulong)offset, run.ArmNisv.FaultIpa);
        Assert.Equal(write, (run.ArmNisv.EsrIss & (1 << 6)) != 0);
        Assert.Equal(0UL, run.ArmNisv.EsrIss & ~0x17FUL);
        Assert.Equal(CodeBase, Pc(v));
    }

    [Fact]
    public void NoValidSyndrome_WithoutCapability_IsENOSYS()
    {
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(0xa9400801u);
        SetX(v, 0, MmioBase);
        Assert.Equal(RunResult.NoSyndrome, v.Run());
    }

    [Fact]
    public void Nisv_ThenInjectedExternalAbort_GuestTakesDataAbort()
    {
        var m = new TestMachine();
        using var _ = m;
        m.Vm.NisvToUser = true;
        var v = m.Start(0xa9400801u);
        SetX(v, 0, MmioBase);
        Assert.Equal(RunResult.Ok, v.Run());
        v.InjectExternalDataAbort();
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        ulong esr = v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0));
        Assert.Equal(0x25UL, esr >> 26);
        Assert.Equal(0x10UL, esr & 0x3F);
        Assert.Equal(MmioBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 6, 0, 0)));
        Assert.Equal(CodeBase, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }

    [Fact]
    public void MmioReadAnsweredByExternalAbort_IsNotRetired()
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        SetX(v, 1, 0x77);
        Assert.Equal(RunResult.Ok, v.Run());
        v.RunState.Mmio.SetValue(0x1234);
        v.InjectExternalDataAbort();
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(0x77UL, X(v, 1));
        Assert.Equal(CodeBase, v.GetRegister(Arm64CoreRegister.ElrEl1));
        Assert.Equal(100UL, X(v, 2));
    }

    private sealed class RegisterDevice : IIoDevice
    {
        public ulong Value = 0x8765_4321;
        public int Reads;
        public int Writes;
        public ulong Written;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            Reads++;
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(Value >> (8 * i));
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            Writes++;
            Written = 0;
            for (int i = 0; i < data.Length; i++)
            {
                Written |= (ulong)data[i] << (8 * i);
            }
        }
    }

    [Fact]
    public void InKernelDevice_CompletesWithoutExit_CountsKernel()
    {
        var (m, v) = Setup(LoadProgram);
        using var _ = m;
        var dev = new RegisterDevice();
        m.Vm.MmioBus.Register(MmioBase, 0x1000, dev);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(0x8765_4321UL, X(v, 1));
        Assert.Equal(101UL, X(v, 2));
        Assert.Equal(CodeBase + 8, Pc(v));
        Assert.Equal(1, dev.Reads);
        Assert.Equal(1UL, Stat(v, "mmio_exit_kernel"));
        Assert.Equal(1UL, Stat(v, "mmio_exit_user"));

        // The marker exit is the only pending completion; completing it does not re-run the device access.
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(CodeBase + 12, Pc(v));
        Assert.False(v.HasPendingCompletion);
        Assert.Equal(1, dev.Reads);
    }

    [Fact]
    public void ADeviceRegisteredWhereTheVmmServedTheLastAccess_TakesTheNextOne()
    {
        // The vCPU remembers that the in-kernel bus had nothing at MmioBase (IoBusCache); a device registered there
        // between two accesses must take the second. ldr w1,[x0]; ldr w2,[x0]; str x2,[x3] (the marker).
        var (m, v) = Setup([0xb9400001u, 0xb9400002u, 0xf9000062u]);
        using var _ = m;
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MmioBase, v.RunState.Mmio.PhysAddr);
        v.RunState.Mmio.SetValue(0x1111);

        var dev = new RegisterDevice { Value = 0x2222 };
        m.Vm.MmioBus.Register(MmioBase, 0x1000, dev);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(0x1111UL, X(v, 1));
        Assert.Equal(0x2222UL, X(v, 2));
        Assert.Equal(1, dev.Reads);
        Assert.Equal(1UL, Stat(v, "mmio_exit_kernel"));
        Assert.Equal(2UL, Stat(v, "mmio_exit_user"));
    }

    [Theory]
    [InlineData(0x39400001u, "ldrb w1,[x0]", 0x0000000000000080UL)]
    [InlineData(0x39c00001u, "ldrsb w1,[x0]", 0x00000000FFFFFF80UL)]
    [InlineData(0x39800001u, "ldrsb x1,[x0]", 0xFFFFFFFFFFFFFF80UL)]
    [InlineData(0x79400001u, "ldrh w1,[x0]", 0x000000000000A280UL)]
    [InlineData(0x79c00001u, "ldrsh w1,[x0]", 0x00000000FFFFA280UL)]
    [InlineData(0x79800001u, "ldrsh x1,[x0]", 0xFFFFFFFFFFFFA280UL)]
    [InlineData(0xb9800001u, "ldrsw x1,[x0]", 0xFFFFFFFF8433A280UL)]
    [InlineData(0xb9400001u, "ldr w1,[x0]", 0x000000008433A280UL)]
    [InlineData(0xb8400001u, "ldur w1,[x0]", 0x000000008433A280UL)]
    [InlineData(0xb8646801u, "ldr w1,[x0,x4]", 0x000000008433A280UL)]
    [InlineData(0xf9400001u, "ldr x1,[x0]", 0x887766558433A280UL)]
    public void InKernelDevice_LoadsExtendPerSyndrome_OnceEach(uint insn, string asm, ulong expected)
    {
        // In native code the access helper completes these (Arm64Cpu.ExitHelpers.cs): the width, sign extension and
        // W-register zeroing of the syndrome, the device read once, one exit counted as in-kernel.
        var (m, v, dev) = RunToMarkerWithDevice(insn, 0xCAFE_CAFE_CAFE_CAFE);
        using var _ = m;
        Assert.True(expected == X(v, 1), $"{asm}: X1 = 0x{X(v, 1):x}, expected 0x{expected:x}");
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.Equal(1, dev.Reads);
        Assert.Equal(1UL, Stat(v, "mmio_exit_kernel"));
        AssertAccessHelperRan(v);
    }

    [Theory]
    [InlineData(0x39000001u, "strb w1,[x0]", 0xF1UL)]
    [InlineData(0x79000001u, "strh w1,[x0]", 0xE1F1UL)]
    [InlineData(0xb9000001u, "str w1,[x0]", 0xC1D1E1F1UL)]
    [InlineData(0xf9000001u, "str x1,[x0]", 0x8191A1B1C1D1E1F1UL)]
    [InlineData(0xf900001fu, "str xzr,[x0]", 0UL)]
    public void InKernelDevice_StoresCarryTheLowBytes_OnceEach(uint insn, string asm, ulong expected)
    {
        var (m, v, dev) = RunToMarkerWithDevice(insn, 0x8191_A1B1_C1D1_E1F1);
        using var _ = m;
        Assert.True(expected == dev.Written, $"{asm}: wrote 0x{dev.Written:x}, expected 0x{expected:x}");
        Assert.Equal(1, dev.Writes);
        Assert.Equal(1UL, Stat(v, "mmio_exit_kernel"));
        AssertAccessHelperRan(v);
    }

    [Fact]
    public void InKernelValueDevice_RepeatedAccessesOfItsPage_CompleteOnceEach()
    {
        // The second and later accesses find the page in the IO TLB (native code: the access helper goes to the device
        // at once) and the device in the vCPU's route cache; each is still one in-kernel exit, one slow-path access,
        // one device call, in its value form.
        var m = new TestMachine();
        using var _ = m;
        var v = m.Start(
            0xb9400001u,  // ldr w1,[x0]
            0xb9400005u,  // ldr w5,[x0]
            0xb9000801u,  // str w1,[x0,#8]
            0x39800006u,  // ldrsb x6,[x0]
            0xf9000062u); // str x2,[x3]: the marker
        var dev = new ValueRegisterDevice { Value = 0x8877_6655_8433_A280 };
        m.Vm.MmioBus.Register(MmioBase, 0x1000, dev);
        SetX(v, 0, MmioBase);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(0x8433_A280UL, X(v, 1));
        Assert.Equal(0x8433_A280UL, X(v, 5));
        Assert.Equal(0xFFFF_FFFF_FFFF_FF80UL, X(v, 6));
        Assert.Equal(["R 0 4", "R 0 4", "W 8 4 8433a280", "R 0 1"], dev.Log);
        Assert.Equal(4UL, Stat(v, "mmio_exit_kernel"));
        long Counter(string name) => v.CpuModelCounters().Single(c => c.Key == name).Value;
        Assert.Equal(3, Counter("read_slow_paths"));
        Assert.True(Counter("write_slow_paths") >= 2, "the store and the marker took the slow path"); // the marker's fill may walk twice
        AssertAccessHelperRan(v);
    }

    private sealed class ValueRegisterDevice : IIoValueDevice
    {
        public ulong Value;

        public List<string> Log { get; } = [];

        public ulong ReadValue(Vcpu? vcpu, ulong offset, int size)
        {
            Log.Add($"R {offset:x} {size}");
            return size == 8 ? Value : Value & ((1UL << (8 * size)) - 1);
        }

        public void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value) => Log.Add($"W {offset:x} {size} {value:x}");

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => throw new InvalidOperationException("a vCPU's access takes the value form");

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => throw new InvalidOperationException("a vCPU's access takes the value form");
    }

    // Runs insn; str x2,[x3] with an in-kernel RegisterDevice at x0 (x1 given, x4 = 0) to the marker store's exit.
    private static (TestMachine M, Arm64Vcpu V, RegisterDevice Device) RunToMarkerWithDevice(uint insn, ulong x1)
    {
        var m = new TestMachine();
        var v = m.Start(insn, 0xf9000062u);
        var dev = new RegisterDevice { Value = 0x8877_6655_8433_A280 };
        m.Vm.MmioBus.Register(MmioBase, 0x1000, dev);
        SetX(v, 0, MmioBase);
        SetX(v, 1, x1);
        SetX(v, 3, MarkerBase);
        SetX(v, 4, 0);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        return (m, v, dev);
    }

    private static void AssertAccessHelperRan(Arm64Vcpu v)
    {
        if (Arm64Cpu.NativeSupported && Arm64Cpu.DefaultTranslation)
        {
            Assert.True(v.CpuModelCounters().Single(c => c.Key == "native_access_helper_calls").Value >= 1, "the access ran in the interpreter");
        }
    }

    [Fact]
    public void WriteToReadOnlySlot_IsMmio()
    {
        var m = new TestMachine();
        using var _ = m;
        m.Vm.SetMemoryRegion(1, new GuestPhysAddr(0x5000_0000), 0x1000, SoftKvm.Core.Memory.MemorySlotFlags.ReadOnly);
        m.Vm.Memory.Write(new GuestPhysAddr(0x5000_0000), 0xABCDUL);
        var v = m.Start(0xf9400001u, 0xf9000001u); // ldr x1,[x0]; str x1,[x0]
        SetX(v, 0, 0x5000_0000);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.True(v.RunState.Mmio.IsWrite);
        Assert.Equal(0xABCDUL, v.RunState.Mmio.Value);
        Assert.Equal(CodeBase + 4, Pc(v));
    }
}
