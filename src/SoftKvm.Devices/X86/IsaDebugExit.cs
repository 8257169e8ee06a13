using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.X86;

/// <summary>
/// QEMU's <c>isa-debug-exit</c> device (as <c>-device isa-debug-exit,iobase=0xf4,iosize=0x04</c>): a write
/// of value <c>v</c> ends the VM with exit code <c>(v &lt;&lt; 1) | 1</c>, so a guest can report success or
/// failure to a test harness and 0 stays "powered off normally". Reads return 0.
/// </summary>
public sealed class IsaDebugExit : IIoDevice
{
    private readonly Action<int> _exit;

    /// <summary>Creates the device; <paramref name="exit"/> receives the exit code (for example the runner's stop).</summary>
    public IsaDebugExit(Action<int> exit)
    {
        ArgumentNullException.ThrowIfNull(exit);
        _exit = exit;
    }

    /// <summary>The usual base port.</summary>
    public const ushort DefaultPort = 0xF4;

    /// <summary>The number of ports to register (4).</summary>
    public const ulong PortCount = 4;

    /// <summary>QEMU's exit code for a written value.</summary>
    public static int ExitCode(uint value) => (int)((value << 1) | 1);

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        Span<byte> tmp = stackalloc byte[4];
        tmp.Clear();
        data[..Math.Min(data.Length, 4)].CopyTo(tmp);
        _exit(ExitCode(BinaryPrimitives.ReadUInt32LittleEndian(tmp)));
    }
}
