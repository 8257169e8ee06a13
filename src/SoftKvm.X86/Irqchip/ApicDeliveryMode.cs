namespace SoftKvm.X86.Irqchip;

/// <summary>The delivery mode of an interrupt message (ICR, LVT and IOAPIC redirection entry bits 10:8).</summary>
public enum ApicDeliveryMode
{
    /// <summary>Fixed: the vector goes to the IRR of every destination.</summary>
    Fixed = 0,

    /// <summary>Lowest priority: one of the destinations (SoftKvm picks the first, as KVM may).</summary>
    LowestPriority = 1,

    /// <summary>SMI: not modelled (no SMM); the message is dropped and counted in <see cref="X86Irqchip.DroppedMessages"/>.</summary>
    Smi = 2,

    /// <summary>NMI.</summary>
    Nmi = 4,

    /// <summary>INIT: the destination enters wait-for-SIPI.</summary>
    Init = 5,

    /// <summary>Start-up IPI: a vCPU in wait-for-SIPI starts in real mode at vector * 0x1000.</summary>
    StartUp = 6,

    /// <summary>ExtINT: the vector comes from the 8259 PIC.</summary>
    ExtInt = 7,
}
