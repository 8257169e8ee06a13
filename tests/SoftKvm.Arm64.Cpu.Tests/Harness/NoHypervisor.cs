namespace SoftKvm.Arm64.Cpu.Tests.Harness;

/// <summary>
/// A host for a PE without a hypervisor behind it: no interrupt controller owns a system register, SEV
/// reaches nobody, and no trap has a fast path (every trap stops the PE, so a test sees it).
/// </summary>
internal sealed class NoHypervisor : ICpuHost
{
    public bool TryReadControllerRegister(SysRegKey key, out ulong value)
    {
        value = 0;
        return false;
    }

    public bool TryWriteControllerRegister(SysRegKey key, ulong value) => false;

    public void SendEvent()
    {
    }

    public bool TryCompleteTrap(CpuExit exit) => false;

    public bool TryCompleteMmio(ulong ipa, uint iss, ref ulong value) => false;
}
