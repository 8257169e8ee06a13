namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// The operation numbers (W0) of Arm semihosting ("Semihosting for AArch32 and AArch64", release 2.0, chapter 6),
/// with the spec's names.
/// </summary>
internal static class SemihostingOperation
{
    public const uint SysOpen = 0x01;
    public const uint SysClose = 0x02;
    public const uint SysWritec = 0x03;
    public const uint SysWrite0 = 0x04;
    public const uint SysWrite = 0x05;
    public const uint SysRead = 0x06;
    public const uint SysReadc = 0x07;
    public const uint SysIserror = 0x08;
    public const uint SysIstty = 0x09;
    public const uint SysSeek = 0x0A;
    public const uint SysFlen = 0x0C;
    public const uint SysTmpnam = 0x0D;
    public const uint SysRemove = 0x0E;
    public const uint SysRename = 0x0F;
    public const uint SysClock = 0x10;
    public const uint SysTime = 0x11;
    public const uint SysSystem = 0x12;
    public const uint SysErrno = 0x13;
    public const uint SysGetCmdline = 0x15;
    public const uint SysHeapinfo = 0x16;
    public const uint SysExit = 0x18;
    public const uint SysSynccache = 0x19;
    public const uint SysExitExtended = 0x20;
    public const uint SysElapsed = 0x30;
    public const uint SysTickfreq = 0x31;

    /// <summary>The name of operation <paramref name="op"/>, for messages.</summary>
    public static string Name(uint op) => op switch
    {
        SysTmpnam => "SYS_TMPNAM",
        SysSystem => "SYS_SYSTEM",
        _ => $"operation 0x{op:x2}",
    };
}

/// <summary>The reason codes of SYS_EXIT and SYS_EXIT_EXTENDED (the spec's <c>ADP_Stopped_*</c>, section 6.4.1).</summary>
internal static class StoppedReason
{
    public const ulong ApplicationExit = 0x20026;

    /// <summary>The spec's name of <paramref name="reason"/>, or null for a number it does not define.</summary>
    public static string? Name(ulong reason) => reason switch
    {
        0x20000 => "ADP_Stopped_BranchThroughZero",
        0x20001 => "ADP_Stopped_UndefinedInstr",
        0x20002 => "ADP_Stopped_SoftwareInterrupt",
        0x20003 => "ADP_Stopped_PrefetchAbort",
        0x20004 => "ADP_Stopped_DataAbort",
        0x20005 => "ADP_Stopped_AddressException",
        0x20006 => "ADP_Stopped_IRQ",
        0x20007 => "ADP_Stopped_FIQ",
        0x20020 => "ADP_Stopped_BreakPoint",
        0x20021 => "ADP_Stopped_WatchPoint",
        0x20022 => "ADP_Stopped_StepComplete",
        0x20023 => "ADP_Stopped_RunTimeErrorUnknown",
        0x20024 => "ADP_Stopped_InternalError",
        0x20025 => "ADP_Stopped_UserInterruption",
        ApplicationExit => "ADP_Stopped_ApplicationExit",
        0x20027 => "ADP_Stopped_StackOverflow",
        0x20028 => "ADP_Stopped_DivisionByZero",
        0x20029 => "ADP_Stopped_OSSpecific",
        _ => null,
    };
}

/// <summary>The errno values SYS_ERRNO reports: Linux's numbers, as QEMU reports its host's on Linux.</summary>
internal static class SemihostingErrno
{
    public const int Enoent = 2;
    public const int Eio = 5;
    public const int E2big = 7;
    public const int Ebadf = 9;
    public const int Eacces = 13;
    public const int Efault = 14;
    public const int Eisdir = 21;
    public const int Einval = 22;
    public const int Emfile = 24;
    public const int Enotty = 25;
    public const int Espipe = 29;
    public const int Enametoolong = 36;
    public const int Enosys = 38;
}
