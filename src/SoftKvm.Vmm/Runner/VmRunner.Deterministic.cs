using System.Diagnostics;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.Core.Time;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Deterministic execution (docs/snapshots.md#deterministic-execution): every vCPU runs on the calling thread,
/// in rounds of turns in vCPU order; a turn is a fixed number of retired instructions
/// (<see cref="Vcpu.BeginTurn"/>), ended early by a halt (WFI, HLT, powered off) or a WFE. Guest time is the
/// VM's virtual clock, advanced by the running vCPU's instructions. After every round the clock's timers fire
/// and console input is delivered; when every vCPU is halted with nothing pending, the clock jumps to the
/// earliest deadline instead of sleeping. Exits are handled exactly as in the threaded run.
/// </summary>
public sealed partial class VmRunner
{
    private RunOutcome RunDeterministic(IReadOnlyList<Vcpu> vcpus, DeterministicOptions options)
    {
        var clock = _vm.Clock;
        if (!clock.IsVirtual)
        {
            return Finish(new RunOutcome(RunOutcome.InternalErrorExitCode, StopReason.InternalError, "deterministic execution needs the VM's virtual clock (Vm.MakeClockVirtual)"));
        }

        if (_options.Debugger is not null)
        {
            return Finish(new RunOutcome(RunOutcome.InternalErrorExitCode, StopReason.InternalError, "deterministic execution runs without a debugger"));
        }

        foreach (var v in vcpus)
        {
            _options.Trace?.NameVcpu(v.Id);
        }

        var input = options.Input;
        long hostStart = Stopwatch.GetTimestamp();
        long virtualStart = clock.Nanoseconds;
        try
        {
            while (!Stopping)
            {
                for (int i = clock.TurnIndex; i < vcpus.Count; i++)
                {
                    if (Stopping)
                    {
                        return Volatile.Read(ref _outcome)!;
                    }

                    clock.TurnIndex = i;
                    var vcpu = vcpus[i];
                    long quantum = clock.TurnLeft >= 0 ? clock.TurnLeft : options.Quantum;
                    clock.TurnLeft = -1;
                    clock.BeginTurn(vcpu);
                    vcpu.BeginTurn(quantum);
                    RunTurn(vcpu);
                    if (vcpu.TurnEnd == VcpuTurnEnd.None)
                    {
                        // Stopped in the middle of the turn: it stays open, so that the completion of the vCPU's last
                        // exit before a snapshot counts on the clock as it would have (a restore resumes the turn).
                        return Volatile.Read(ref _outcome)!;
                    }

                    clock.EndTurn();
                    clock.TurnIndex = i + 1;
                    if (vcpu.TurnEnd == VcpuTurnEnd.Halted)
                    {
                        clock.RoundDeadline = Math.Min(clock.RoundDeadline, GuestClock.NanosecondsOf(vcpu.HaltDeadline));
                    }
                    else
                    {
                        clock.RoundBusy = true;
                    }
                }

                if (Stopping)
                {
                    break;
                }

                bool allHalted = !clock.RoundBusy;
                long deadline = clock.RoundDeadline;
                clock.RoundBusy = false;
                clock.RoundDeadline = long.MaxValue;
                clock.TurnIndex = 0;
                clock.FireDueTimers();
                bool delivered = input is not null && input.Deliver(clock.Round, clock.Nanoseconds, options.InputSink!, _options.Log);
                clock.Round++;
                if (!allHalted || delivered || AnyHasPendingWork(vcpus))
                {
                    continue;
                }

                // Every vCPU is halted: time jumps to the next deadline (a guest timer or a device's).
                long next = Math.Min(deadline, clock.NextTimerDue);
                if (input is not null && input.MayArrive)
                {
                    // A live console: first wait for the host's time to catch up with the virtual time the jump goes
                    // to, or for input, so an idle interactive guest does not spin through its timers. Only the host
                    // waits: the rounds and the jump are the same as a replay's, which does not wait.
                    WaitForHostTime(input, next, virtualStart, hostStart);
                }

                if (next == long.MaxValue)
                {
                    if (input is not null && (input.HasPending || input.MayArrive))
                    {
                        continue; // input comes at a later round
                    }

                    // Nothing can ever wake a vCPU: wait for a stop from outside (Ctrl-C), as the threaded run does.
                    _stopped.Wait();
                    break;
                }

                clock.AdvanceTo(next);
            }
        }
        catch (Exception e)
        {
            Fail(vcpus[Math.Min(clock.TurnIndex, vcpus.Count - 1)], $"vCPU {vcpus[Math.Min(clock.TurnIndex, vcpus.Count - 1)].Id}: host error {e.GetType().Name}: {Loaders.InputFiles.OneLine(e.Message)}");
        }

        Finish(new RunOutcome(0, StopReason.AllVcpusEnded, "every vCPU ended"));
        return Volatile.Read(ref _outcome)!;
    }

    // Waits until the host's time since the run started reaches the virtual time `next` (or a while, without a
    // deadline), or input arrives, or the run stops.
    private void WaitForHostTime(ConsoleInputSchedule input, long next, long virtualStart, long hostStart)
    {
        while (!Stopping && input.MayArrive)
        {
            long ahead = next == long.MaxValue ? long.MaxValue : next - virtualStart - (long)Stopwatch.GetElapsedTime(hostStart).TotalNanoseconds;
            if (ahead <= 0 || input.WaitForInput(TimeSpan.FromTicks(Math.Clamp(ahead / 100, 1, TimeSpan.TicksPerSecond / 10))))
            {
                return;
            }
        }
    }

    // One turn: Run and handle exits until the turn ends (its quantum used, a halt, a yield) or the run stops.
    private void RunTurn(Vcpu vcpu)
    {
        var trace = _options.Trace;
        while (true)
        {
            var result = vcpu.Run();
            long start = trace?.Timestamp() ?? 0;
            bool go = result switch
            {
                RunResult.Ok => HandleExit(vcpu, ref vcpu.RunState),
                RunResult.Interrupted => true,
                _ => Fail(vcpu, $"vCPU {vcpu.Id}: KVM_RUN failed with {result} ({(int)result})"),
            };
            trace?.WriteExit(vcpu.Id, start, result, in vcpu.RunState);
            if (!go || Stopping || vcpu.TurnEnd != VcpuTurnEnd.None)
            {
                return;
            }
        }
    }

    private static bool AnyHasPendingWork(IReadOnlyList<Vcpu> vcpus)
    {
        foreach (var v in vcpus)
        {
            if (v.HasPendingWork)
            {
                return true;
            }
        }

        return false;
    }
}
