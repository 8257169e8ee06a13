namespace SoftKvm.Core.Run;

/// <summary><c>KVM_SYSTEM_EVENT_*</c> types.</summary>
public enum SystemEventType : uint
{
    /// <summary>Power off (PSCI SYSTEM_OFF).</summary>
    Shutdown = 1,

    /// <summary>Reset (PSCI SYSTEM_RESET).</summary>
    Reset = 2,

    /// <summary>The guest reported a crash.</summary>
    Crash = 3,
}
