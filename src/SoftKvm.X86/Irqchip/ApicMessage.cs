namespace SoftKvm.X86.Irqchip;

/// <summary>
/// One interrupt message on the APIC bus (an IPI from an ICR write, an IOAPIC redirection, an MSI):
/// destination, destination mode, delivery mode, vector, trigger. A small value, never allocated.
/// </summary>
/// <param name="Destination">The destination field: an APIC id (physical) or a logical mask; 8 bits in xAPIC mode, 32 in x2APIC mode.</param>
/// <param name="Logical">Logical destination mode.</param>
/// <param name="Mode">The delivery mode.</param>
/// <param name="Vector">The vector (Fixed, LowestPriority, StartUp).</param>
/// <param name="Level">Level-triggered.</param>
/// <param name="Shorthand">ICR shorthand: 0 none, 1 self, 2 all including self, 3 all excluding self.</param>
public readonly record struct ApicMessage(uint Destination, bool Logical, ApicDeliveryMode Mode, int Vector, bool Level = false, int Shorthand = 0);
