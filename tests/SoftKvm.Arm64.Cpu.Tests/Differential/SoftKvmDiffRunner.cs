using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Cpu.Tests.Harness;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Memory;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The SoftKvm side of the differential test: runs a case on the CPU model directly (no vCPU, no
/// hypervisor layer) at EL0 with the MMU on and the low gigabyte identity-mapped as Normal memory, as
/// Linux runs user space (<see cref="Harness.UserIdentityMap"/>: with the MMU off every access would be
/// Device memory, where unaligned accesses fault), RAM only at the code page and the scratch page, and
/// SCTLR_EL1 as KVM resets it (SA0 set, as Linux runs user space), CPACR_EL1.FPEN = 3. Steps one instruction at a time
/// until PC reaches the end of the block; an exception taken to EL1 or a stage-2 trap ends the case
/// with the Linux signal the reference would see.
/// </summary>
internal sealed class SoftKvmDiffRunner : IDisposable
{
    private readonly GuestMemory _memory = new();
    private readonly Arm64Cpu _cpu;
    private readonly byte[] _code = new byte[4096];
    private readonly DiffEngine _engine;
    private readonly bool _translated;
    private readonly CpuShared _shared = new();

    /// <param name="engine">
    /// Step the interpreter, or run each case as translated blocks of the given tier: every block is
    /// translated on its first entry, and one run of the CPU executes the case, its branch to the
    /// epilogue, and then spins there (for cases that run to their end without a signal).
    /// </param>
    /// <param name="model">The CPU model (default cortex-a57).</param>
    public SoftKvmDiffRunner(DiffEngine engine = DiffEngine.Interpreter, CpuModel? model = null)
    {
        _engine = engine;
        _translated = engine != DiffEngine.Interpreter;
        _memory.SetRegion(0, new GuestPhysAddr(DiffLayout.CodeBase), 4096, MemorySlotFlags.None);
        _memory.SetRegion(1, new GuestPhysAddr(DiffLayout.ScratchBase), DiffLayout.ScratchSize, MemorySlotFlags.None);
        Harness.UserIdentityMap.Install(_memory, 2);
        _cpu = new Arm64Cpu(_memory, _shared, new NoHypervisor(), 0x8000_0000, model);
    }

    public DiffState Run(DiffCase c, DiffState initial)
    {
        Array.Clear(_code);
        int block = (int)(DiffLayout.BlockBase - DiffLayout.CodeBase);
        for (int i = 0; i < c.Words.Length; i++)
        {
            BitConverter.TryWriteBytes(_code.AsSpan(block + (4 * i)), c.Words[i]);
        }

        BitConverter.TryWriteBytes(_code.AsSpan(block + (4 * c.Words.Length)), DiffLayout.EndBranch(c.Words.Length));
        if (_translated)
        {
            // The epilogue spins (b .): a translated run ends there.
            BitConverter.TryWriteBytes(_code.AsSpan((int)(DiffLayout.EpilogueBase - DiffLayout.CodeBase)), 0x1400_0000u);
        }

        _memory.Write(new GuestPhysAddr(DiffLayout.CodeBase), _code);
        _memory.Write(new GuestPhysAddr(DiffLayout.ScratchBase), initial.Scratch);

        _cpu.Reset();
        Harness.UserIdentityMap.Enable(_cpu);
        ref CpuState s = ref _cpu.State;
        for (int i = 0; i < 31; i++)
        {
            s.X[i] = initial.X[i];
        }

        for (int i = 0; i < 64; i++)
        {
            s.V[i] = initial.V[i];
        }

        s.CpacrEl1 = 3UL << 20; // FPEN: FP/SIMD enabled at EL0, as Linux runs user space
        if (_cpu.Model.Has(CpuFeatures.Mte))
        {
            // As QEMU's linux-user starts a process: EL0 tag access on, every tag excluded (RRND), no tag checks.
            s.SctlrEl1 |= 1UL << 42;
            s.GcrEl1 = 0x1_FFFF;
        }

        s.SpEl0 = initial.Sp;
        s.TrySetPstate(initial.Nzcv);
        _cpu.OnPstateChanged();
        s.Pc = DiffLayout.BlockBase;

        var result = new DiffState();
        ulong end = DiffLayout.BlockBase + (4UL * (ulong)c.Words.Length);
        int requests = 0;
        if (_translated)
        {
            _cpu.TranslationEnabled = true;
            _translatedBefore = _cpu.Counters.TranslatedInstructions;
            var exit = _cpu.Run(ref requests, SoftKvm.Arm64.Cpu.Translation.Native.NativeTranslator.MaxInstructions + 64 + (2 * c.Words.Length));
            if (!CaseRanTranslated())
            {
                result.Signal = DiffState.NotTranslated;
            }
            else if (exit != CpuExit.Budget || _cpu.State.El != 0 || _cpu.State.Pc != DiffLayout.EpilogueBase)
            {
                result.Signal = DiffState.Runaway;
                result.FaultPc = _cpu.State.El != 0 ? _cpu.State.ElrEl1 : _cpu.State.Pc;
            }
        }

        for (int step = 0; !_translated; step++)
        {
            if (_cpu.State.Pc == end && _cpu.State.El == 0)
            {
                break;
            }

            if (step > c.Words.Length)
            {
                result.Signal = DiffState.Runaway;
                result.FaultPc = _cpu.State.Pc;
                break;
            }

            ulong pc = _cpu.State.Pc;
            var exit = _cpu.Run(ref requests, 1);
            if (exit == CpuExit.DataAbort)
            {
                result.Signal = DiffState.SigSegv;
                result.FaultPc = pc;
                break;
            }

            if (exit != CpuExit.Budget)
            {
                result.Signal = 2000 + (int)exit;
                result.FaultPc = pc;
                break;
            }

            if (_cpu.State.El != 0)
            {
                uint ec = (uint)(_cpu.State.EsrEl1 >> 26) & 0x3F;
                uint fsc = (uint)_cpu.State.EsrEl1 & 0x3F;
                result.Signal = ec switch
                {
                    Esr.EcUnknown => DiffState.SigIll,
                    Esr.EcDabtLow or Esr.EcIabtLow => fsc == Esr.FscAlignment ? DiffState.SigBus : DiffState.SigSegv,
                    Esr.EcSpAlign or Esr.EcPcAlign => DiffState.SigBus,
                    Esr.EcBrk64 => DiffState.SigTrap,
                    _ => 3000 + (int)ec,
                };
                result.FaultPc = _cpu.State.ElrEl1;
                break;
            }
        }

        ref CpuState f = ref _cpu.State;
        for (int i = 0; i < 31; i++)
        {
            result.X[i] = f.X[i];
        }

        for (int i = 0; i < 64; i++)
        {
            result.V[i] = f.V[i];
        }

        result.Sp = f.SpEl0;
        result.Nzcv = f.El == 0 ? f.Nzcv : (uint)f.SpsrEl1 & 0xF000_0000;
        _memory.Read(new GuestPhysAddr(DiffLayout.ScratchBase), result.Scratch);
        return result;
    }

    public void Dispose() => _memory.Dispose();

    /// <summary>Whether the block cache holds a translated entry at the first word of the case.</summary>
    private unsafe bool CaseRanTranslated()
    {
        byte* host = _memory.TryGetHostPointer(DiffLayout.BlockBase, false, out _);
        return host != null && _cpu.Counters.TranslatedInstructions > _translatedBefore;
    }

    private long _translatedBefore;
}

/// <summary>How <see cref="SoftKvmDiffRunner"/> runs a case.</summary>
public enum DiffEngine
{
    /// <summary>The interpreter, one instruction at a time.</summary>
    Interpreter,

    /// <summary>Native x86-64 blocks (Translation/Native), translated at their first entry.</summary>
    Native,
}
