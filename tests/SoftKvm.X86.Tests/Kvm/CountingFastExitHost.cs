using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>Passes every fast-path offer on to the vCPU, counting the offers of each kind and the WRMSRs completed.</summary>
internal sealed class CountingFastExitHost(IX86FastExitHost inner) : IX86FastExitHost
{
    public int MmioOffers;
    public int PortOffers;
    public int MsrOffers;
    public int MsrCompleted;

    public bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index)
    {
        MmioOffers++;
        return inner.TryCompleteMmio(gpa, size, write, ref value, index);
    }

    public bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value)
    {
        PortOffers++;
        return inner.TryCompletePortIo(port, size, write, ref value);
    }

    public bool TryCompleteMsrWrite(uint msr, ulong value)
    {
        MsrOffers++;
        bool done = inner.TryCompleteMsrWrite(msr, value);
        MsrCompleted += done ? 1 : 0;
        return done;
    }
}
