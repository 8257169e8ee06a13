using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// Data aborts (docs/kvm-semantics.md#arm64-mmio-completion): the syndrome is decoded once at abort time
/// and kept here (kernel-private, as KVM keeps it in the vCPU); the VMM's edits to <c>mmio.len</c>,
/// <c>is_write</c> or <c>phys_addr</c> change nothing. Completion — register write-back with the
/// syndrome's extension rules and the PC advance — is the single routine <see cref="HandleMmioReturn"/>,
/// run at once for the in-kernel bus and through Core's one-shot pending completion for the VMM, so it
/// happens exactly once however many times Run is called (the fix of "Only skip MMIO insn once").
/// </summary>
public sealed partial class Arm64Vcpu
{
    private const int CompletionMmio = 1;

    private bool _mmioIsWrite;
    private int _mmioLength;
    private int _mmioRt;
    private bool _mmioSignExtend;
    private bool _mmioSixtyFour;
    private bool _mmioAborted;

    /// <summary>
    /// KVM_SET_VCPU_EVENTS with <c>ext_dabt_pending</c> (KVM_CAP_ARM_INJECT_EXT_DABT): injects a
    /// synchronous external data abort at the address of the last data abort. When an MMIO access is
    /// still waiting for completion, it is not retired: the guest takes the abort with ELR at the
    /// load or store and its destination register unchanged ("Don't retire aborted MMIO instruction").
    /// </summary>
    /// <exception cref="Core.Errors.VcpuException">the vCPU is running.</exception>
    public void InjectExternalDataAbort()
    {
        ThrowIfRunning();
        bool write = (_cpu.Trap.Esr & Esr.IssWnR) != 0;
        _cpu.InjectExternalDataAbort(_cpu.Trap.Far, write);
        if (HasPendingCompletion)
        {
            _mmioAborted = true;
        }
    }

    /// <inheritdoc />
    protected override bool CompletePending(int kind, out RunResult result)
    {
        result = RunResult.Ok;
        if (kind == CompletionMmio)
        {
            ArmStepBeforeCompletion();

            // The access's bytes at its width (the completion keeps no more of them): the VMM's device has just stored
            // them, and a load of that width is served from its store where a wider one would wait for it to retire.
            ReadOnlySpan<byte> data = RunState.Mmio.Data;
            HandleMmioReturn(_mmioLength switch
            {
                1 => data[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(data),
            });
        }

        return true;
    }

    /// <summary>Decodes the stage-2 data abort; false to return <paramref name="result"/> from Run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool HandleDataAbort(out RunResult result)
    {
        result = RunResult.Ok;
        ref RunState run = ref RunState;
        ref TrapInfo trap = ref _cpu.Trap;
        uint iss = (uint)trap.Esr & 0x1FF_FFFF;
        if ((iss & Esr.IssIsv) == 0)
        {
            if (!_vm.NisvToUser)
            {
                result = RunResult.NoSyndrome;
                return false;
            }

            run.ExitReason = ExitReason.ArmNisv;
            run.ArmNisv.EsrIss = iss & Esr.NisvMask;
            run.ArmNisv.FaultIpa = trap.Ipa;
            return false;
        }

        _mmioIsWrite = (iss & Esr.IssWnR) != 0;
        _mmioLength = 1 << (int)((iss >> Esr.IssSasShift) & 3);
        _mmioRt = (int)(iss >> Esr.IssSrtShift) & 31;
        _mmioSignExtend = (iss & Esr.IssSse) != 0;
        _mmioSixtyFour = (iss & Esr.IssSf) != 0;
        _mmioAborted = false;
        ulong ipa = trap.Ipa;

        // The access as the bus sees it: the bytes of one little-endian register value (a store's Rt).
        ulong value = _mmioIsWrite ? _cpu.X(_mmioRt) : 0;
        var access = MemoryMarshal.CreateSpan(ref Unsafe.As<ulong, byte>(ref value), _mmioLength);

        // The CPU offered this access to the in-kernel bus already (TryCompleteMmio) and no device took it: not twice.
        bool offered = TakeDeclinedMmio(ipa);
        bool handled = !offered && (_mmioIsWrite ? _vm.MmioBus.Write(this, ipa, access, ref _kernelMmio) : _vm.MmioBus.Read(this, ipa, access, ref _kernelMmio));
        if (handled)
        {
            Stats.Increment(Arm64Stat.MmioExitKernel);
            run.Mmio.SetValue(value);
            HandleMmioReturn(value);
            return true;
        }

        run.Mmio.PhysAddr = ipa;
        run.Mmio.Length = (uint)_mmioLength;
        run.Mmio.IsWrite = _mmioIsWrite;
        run.Mmio.SetValue(value);
        run.ExitReason = ExitReason.Mmio;
        BeginExit(Arm64Stat.MmioExitUser); // until the PE runs again: the VMM's handling is this exit's cost too
        Stats.Increment(Arm64Stat.MmioExitUser);
        SetPendingCompletion(CompletionMmio);
        return false;
    }

    /// <summary>
    /// The single completion routine (docs/kvm-semantics.md#arm64-mmio-completion and
    /// #arm64-data-abort-syndrome): for a read, the zero-extended little-endian value, sign-extended from
    /// the access size when SSE, truncated to 32 bits when SF = 0, written to Rt (XZR discards); then
    /// PC += 4 with software-step retirement.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering); inline in the completion
    private void HandleMmioReturn(ulong data)
    {
        if (_mmioAborted)
        {
            _mmioAborted = false;
            return;
        }

        if (!_mmioIsWrite)
        {
            int bits = 8 * _mmioLength;
            ulong value = bits == 64 ? data : data & ((1UL << bits) - 1);
            if (_mmioSignExtend && bits < 64)
            {
                value = (ulong)((long)(value << (64 - bits)) >> (64 - bits));
            }

            if (!_mmioSixtyFour)
            {
                value &= 0xFFFF_FFFF;
            }

            _cpu.SetX(_mmioRt, value);
        }

        _cpu.RetireTrappedInstruction();
    }
}
