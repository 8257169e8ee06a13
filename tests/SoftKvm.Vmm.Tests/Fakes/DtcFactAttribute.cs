namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>A fact that is skipped, with a message saying why, when dtc is not installed.</summary>
public sealed class DtcFactAttribute : FactAttribute
{
    public DtcFactAttribute()
    {
        if (Dtc.Path is null)
        {
            Skip = "dtc is not installed (Debian package device-tree-compiler): the blob is not decompiled";
        }
    }
}

/// <summary>A theory that is skipped when dtc is not installed.</summary>
public sealed class DtcTheoryAttribute : TheoryAttribute
{
    public DtcTheoryAttribute()
    {
        if (Dtc.Path is null)
        {
            Skip = "dtc is not installed (Debian package device-tree-compiler): the blob is not decompiled";
        }
    }
}
