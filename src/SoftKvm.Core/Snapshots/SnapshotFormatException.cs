using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// A snapshot file cannot be restored here: not a snapshot, another format version, architecture or
/// machine, a changed disk image, a failed checksum, or a truncated file. The message is one line.
/// </summary>
public sealed class SnapshotFormatException(string message) : SoftKvmException(message);
