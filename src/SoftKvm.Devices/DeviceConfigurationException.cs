using SoftKvm.Core.Errors;

namespace SoftKvm.Devices;

/// <summary>A device cannot be created as asked (for example a disk image that cannot be opened); one-line message.</summary>
public sealed class DeviceConfigurationException : SoftKvmException
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public DeviceConfigurationException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public DeviceConfigurationException(string message, Exception inner) : base(message, inner) { }
}
