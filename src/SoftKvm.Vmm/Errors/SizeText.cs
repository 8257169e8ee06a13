namespace SoftKvm.Vmm.Errors;

/// <summary>Byte counts as the VMM's messages write them.</summary>
public static class SizeText
{
    /// <summary>A byte count for messages: "512 MiB", "3 KiB", "17 bytes".</summary>
    public static string Of(ulong bytes) => bytes switch
    {
        >= 1UL << 30 when bytes % (1UL << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1UL << 20 when bytes % (1UL << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1UL << 20 => $"{bytes / (double)(1UL << 20):0.#} MiB",
        >= 1UL << 10 => $"{bytes / 1024.0:0.#} KiB",
        _ => $"{bytes} bytes",
    };
}
