using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace SoftKvm.Vmm.Gdb;

/// <summary>
/// The framing of gdb's remote serial protocol over one connection: <c>$data#cs</c> packets with their
/// checksums, '+'/'-' acknowledgements until no-ack mode, '}' escapes on input (binary X packets) and
/// output, and the out-of-band interrupt byte (0x03, Ctrl-C). A reader thread parses the input: packets
/// queue for <see cref="Receive"/>, interrupts call the handler at once (the target is running then).
/// </summary>
internal sealed class RspChannel : IDisposable
{
    private const int MaxPacket = 0x4000;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly BlockingCollection<byte[]?> _packets = new();
    private readonly Action _interrupt;
    private readonly Lock _sendLock = new();
    private volatile bool _noAck;

    public RspChannel(Socket socket, Action interrupt)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _interrupt = interrupt;
        var reader = new Thread(ReadLoop) { IsBackground = true, Name = "gdb-reader" };
        reader.Start();
    }

    /// <summary>Stops acknowledging packets (after the reply to <c>QStartNoAckMode</c>).</summary>
    public void StartNoAckMode() => _noAck = true;

    /// <summary>The next packet's data (escapes removed), or null when the connection closed.</summary>
    public byte[]? Receive()
    {
        try
        {
            return _packets.Take();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Sends one packet (escaping '$', '#', '}' and '*').</summary>
    public void Send(string data) => Send(Encoding.ASCII.GetBytes(data));

    /// <summary>Sends one packet of raw bytes (escaping '$', '#', '}' and '*').</summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        var frame = new List<byte>(data.Length + 8) { (byte)'$' };
        byte sum = 0;
        foreach (byte b in data)
        {
            if (b is (byte)'$' or (byte)'#' or (byte)'}' or (byte)'*')
            {
                frame.Add((byte)'}');
                frame.Add((byte)(b ^ 0x20));
                sum += (byte)('}' + (b ^ 0x20));
            }
            else
            {
                frame.Add(b);
                sum += b;
            }
        }

        frame.Add((byte)'#');
        frame.AddRange(Encoding.ASCII.GetBytes(sum.ToString("x2")));
        lock (_sendLock)
        {
            try
            {
                _stream.Write(frame.ToArray());
            }
            catch (IOException)
            {
                // The debugger went away; the reader sees the end of the stream.
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void Ack(byte b)
    {
        if (_noAck)
        {
            return;
        }

        lock (_sendLock)
        {
            try
            {
                _stream.WriteByte(b);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
            }
        }
    }

    private void ReadLoop()
    {
        var data = new List<byte>();
        try
        {
            while (true)
            {
                int c = _stream.ReadByte();
                if (c < 0)
                {
                    break;
                }

                if (c == 0x03)
                {
                    _interrupt();
                    continue;
                }

                if (c != '$')
                {
                    continue; // '+', '-', noise between packets
                }

                data.Clear();
                byte sum = 0;
                bool escape = false, tooLong = false;
                while ((c = _stream.ReadByte()) >= 0 && c != '#')
                {
                    sum += (byte)c;
                    if (escape)
                    {
                        data.Add((byte)(c ^ 0x20));
                        escape = false;
                    }
                    else if (c == '}')
                    {
                        escape = true;
                    }
                    else
                    {
                        data.Add((byte)c);
                    }

                    tooLong |= data.Count > MaxPacket;
                }

                int h = _stream.ReadByte(), l = _stream.ReadByte();
                if (c < 0 || h < 0 || l < 0)
                {
                    break;
                }

                bool good = Hex.TryNibble((char)h, out int hi) && Hex.TryNibble((char)l, out int lo) && (byte)((hi << 4) | lo) == sum;
                if (!good && !_noAck)
                {
                    Ack((byte)'-');
                    continue;
                }

                Ack((byte)'+');
                _packets.Add(tooLong ? [] : data.ToArray());
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }

        _packets.CompleteAdding();
    }

    public void Dispose()
    {
        _packets.CompleteAdding();
        _stream.Dispose();
        _socket.Dispose();
    }
}
