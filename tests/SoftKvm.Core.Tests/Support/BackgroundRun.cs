using SoftKvm.Core.Run;

namespace SoftKvm.Core.Tests.Support;

/// <summary>Runs a vCPU on its own host thread, as a VMM does, and joins it with a timeout.</summary>
public sealed class BackgroundRun
{
    private readonly Thread _thread;
    private RunResult _result;

    public BackgroundRun(Vcpu vcpu)
    {
        _thread = new Thread(() => _result = vcpu.Run()) { IsBackground = true, Name = $"vcpu{vcpu.Id}" };
        _thread.Start();
    }

    public RunResult Join()
    {
        Assert.True(_thread.Join(TimeSpan.FromSeconds(10)), "the vCPU thread did not return within 10 s");
        return _result;
    }
}
