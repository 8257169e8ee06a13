using System.Text;
using SoftKvm.Core;

namespace SoftKvm.Vmm.Gdb;

/// <summary>
/// One gdb connection: the packets of the remote serial protocol, answered over <see cref="GdbStub"/>. Every
/// malformed or unsupported packet gets an error (<c>E..</c>) or the empty reply, never an exception.
/// </summary>
internal sealed class GdbSession(GdbStub stub, Vm vm, RspChannel channel)
{
    private readonly IGdbTarget _target = stub.Target;
    private int _generalThread; // Hg: the vCPU index registers and memory go through
    private bool _physical; // "monitor phys on": m/M/X addresses are guest-physical

    /// <summary>Answers packets until detach, kill, the end of the run or a closed connection.</summary>
    public void Run()
    {
        while (channel.Receive() is { } packet)
        {
            string text = Encoding.Latin1.GetString(packet);
            string? reply;
            try
            {
                reply = Handle(text, packet, out bool end);
                if (reply is not null)
                {
                    channel.Send(Encoding.Latin1.GetBytes(reply));
                }

                if (end)
                {
                    return;
                }
            }
            catch (SoftKvm.Core.Errors.VcpuException e)
            {
                channel.Send("E.vcpu: " + e.Message);
            }
        }
    }

    private Vcpu? VcpuOf(int thread) => thread >= 1 && thread <= vm.Vcpus.Count ? vm.Vcpus[thread - 1] : null;

    private Vcpu General => vm.Vcpus[Math.Clamp(_generalThread, 1, vm.Vcpus.Count) - 1];

    private int ThreadOf(int vcpuId)
    {
        for (int i = 0; i < vm.Vcpus.Count; i++)
        {
            if (vm.Vcpus[i].Id == vcpuId)
            {
                return i + 1;
            }
        }

        return 1;
    }

    private string? Handle(string p, byte[] raw, out bool end)
    {
        end = false;
        if (p.Length == 0)
        {
            return "E01";
        }

        switch (p[0])
        {
            case '?':
                return StopReply(stub.WaitForStop(out var ended), ended, ref end);
            case 'g':
                return ReadAllRegisters();
            case 'G':
                return WriteAllRegisters(p.AsSpan(1));
            case 'p':
                return ReadOneRegister(p.AsSpan(1));
            case 'P':
                return WriteOneRegister(p.AsSpan(1));
            case 'm':
                return ReadMemory(p.AsSpan(1));
            case 'M':
                return WriteMemoryHex(p.AsSpan(1));
            case 'X':
                return WriteMemoryBinary(p, raw);
            case 'Z':
            case 'z':
                return Point(p);
            case 'H':
                return SetThread(p.AsSpan(1));
            case 'T':
                return int.TryParse(p.AsSpan(1), System.Globalization.NumberStyles.HexNumber, null, out int t) && VcpuOf(t) is not null ? "OK" : "E01";
            case 'c':
                return Resume(-1, ref end);
            case 's':
                return Resume(_generalThread > 0 ? General.Id : vm.Vcpus[0].Id, ref end);
            case 'D':
                end = true;
                return "OK"; // the session's end gives the guest its debug back and resumes it
            case 'k':
                stub.Kill();
                end = true;
                return null;
            case 'v':
                return VPacket(p, ref end);
            case 'q':
            case 'Q':
                return Query(p);
            default:
                return "";
        }
    }

    private string? VPacket(string p, ref bool end)
    {
        if (p == "vCont?")
        {
            return "vCont;c;C;s;S;t";
        }

        if (p.StartsWith("vCont;", StringComparison.Ordinal))
        {
            // All-stop: the first action that steps a thread makes it the only one to run, for one step;
            // otherwise everything continues. 't' (stop) on a stopped target changes nothing. Signals are not
            // delivered to the guest (C and S act as c and s).
            int step = -1;
            bool any = false;
            foreach (string action in p[6..].Split(';'))
            {
                string[] parts = action.Split(':');
                char a = parts[0].Length > 0 ? parts[0][0] : '?';
                if (a is not ('c' or 'C' or 's' or 'S' or 't'))
                {
                    return "E01";
                }

                int thread = parts.Length > 1 && int.TryParse(parts[1], System.Globalization.NumberStyles.HexNumber, null, out int th) ? th
                    : parts.Length > 1 && parts[1] == "-1" ? -1 : 0;
                if (parts.Length > 1 && thread > 0 && VcpuOf(thread) is null)
                {
                    return "E02";
                }

                if ((a is 's' or 'S') && step < 0)
                {
                    step = thread > 0 ? VcpuOf(thread)!.Id : General.Id;
                }

                any |= a != 't';
            }

            return any ? Resume(step, ref end) : "OK";
        }

        if (p.StartsWith("vKill", StringComparison.Ordinal))
        {
            stub.Kill();
            end = true;
            return "OK";
        }

        return ""; // vMustReplyEmpty, vFile, vRun...: not supported
    }

    private string? Resume(int stepVcpu, ref bool end)
    {
        stub.Resume(stepVcpu);
        return StopReply(stub.WaitForStop(out var ended), ended, ref end);
    }

    private string StopReply(GdbStop? stop, Runner.RunOutcome? ended, ref bool end)
    {
        if (stop is null)
        {
            end = true;
            int code = ended?.ExitCode ?? 0;
            return $"W{Math.Clamp(code, 0, 255):x2}";
        }

        _generalThread = ThreadOf(stop.VcpuId);
        var sb = new StringBuilder($"T{stop.Signal:x2}thread:{_generalThread:x};");
        switch (stop.Kind)
        {
            case GdbStopKind.SoftwareBreakpoint:
                sb.Append("swbreak:;");
                break;
            case GdbStopKind.HardwareBreakpoint:
                sb.Append("hwbreak:;");
                break;
            case GdbStopKind.Watchpoint:
                string kind = stop.Watch.Kind switch { GdbPointKind.Write => "watch", GdbPointKind.Read => "rwatch", _ => "awatch" };
                sb.Append($"{kind}:{stop.Watch.Address:x};");
                break;
        }

        return sb.ToString();
    }

    private string ReadAllRegisters()
    {
        var sb = new StringBuilder();
        Span<byte> buffer = stackalloc byte[16];
        for (int n = 0; n < _target.RegisterSizes.Count; n++)
        {
            var value = buffer[.._target.RegisterSizes[n]];
            _target.ReadRegister(General, n, value);
            sb.Append(Hex.Encode(value));
        }

        return sb.ToString();
    }

    private string WriteAllRegisters(ReadOnlySpan<char> hex)
    {
        Span<byte> buffer = stackalloc byte[16];
        int at = 0;
        for (int n = 0; n < _target.RegisterSizes.Count && at < hex.Length; n++)
        {
            int size = _target.RegisterSizes[n];
            if (at + (2 * size) > hex.Length || !Hex.TryDecode(hex.Slice(at, 2 * size), buffer[..size]))
            {
                return "E01";
            }

            // Registers that cannot change (a segment selector, a control register) are left alone.
            _target.WriteRegister(General, n, buffer[..size]);
            at += 2 * size;
        }

        return "OK";
    }

    private string ReadOneRegister(ReadOnlySpan<char> args)
    {
        if (!Hex.TryParse(args, out ulong n) || n >= (ulong)_target.RegisterSizes.Count)
        {
            return "E01";
        }

        Span<byte> value = stackalloc byte[_target.RegisterSizes[(int)n]];
        _target.ReadRegister(General, (int)n, value);
        return Hex.Encode(value);
    }

    private string WriteOneRegister(ReadOnlySpan<char> args)
    {
        int eq = args.IndexOf('=');
        if (eq < 0 || !Hex.TryParse(args[..eq], out ulong n) || n >= (ulong)_target.RegisterSizes.Count)
        {
            return "E01";
        }

        Span<byte> value = stackalloc byte[_target.RegisterSizes[(int)n]];
        if (!Hex.TryDecode(args[(eq + 1)..], value))
        {
            return "E01";
        }

        return _target.WriteRegister(General, (int)n, value) ? "OK" : "E02";
    }

    private static bool TryAddressLength(ReadOnlySpan<char> s, out ulong address, out int length)
    {
        length = 0;
        address = 0;
        int comma = s.IndexOf(',');
        if (comma < 0 || !Hex.TryParse(s[..comma], out address) || !Hex.TryParse(s[(comma + 1)..], out ulong len) || len > 0x10000)
        {
            return false;
        }

        length = (int)len;
        return true;
    }

    private string ReadMemory(ReadOnlySpan<char> args)
    {
        if (!TryAddressLength(args, out ulong address, out int length))
        {
            return "E01";
        }

        var data = new byte[length];
        return stub.ReadMemory(General, address, data, _physical) ? Hex.Encode(data) : "E14";
    }

    private string WriteMemoryHex(ReadOnlySpan<char> args)
    {
        int colon = args.IndexOf(':');
        if (colon < 0 || !TryAddressLength(args[..colon], out ulong address, out int length))
        {
            return "E01";
        }

        var data = new byte[length];
        if (!Hex.TryDecode(args[(colon + 1)..], data))
        {
            return "E01";
        }

        return stub.WriteMemory(General, address, data, _physical) ? "OK" : "E14";
    }

    private string WriteMemoryBinary(string p, byte[] raw)
    {
        int colon = p.IndexOf(':');
        if (colon < 0 || !TryAddressLength(p.AsSpan(1, colon - 1), out ulong address, out int length) || raw.Length - colon - 1 != length)
        {
            return "E01";
        }

        return length == 0 || stub.WriteMemory(General, address, raw[(colon + 1)..], _physical) ? "OK" : "E14";
    }

    private string Point(string p)
    {
        // Z<type>,<addr>,<kind>: kind is the breakpoint length (ignored for software ones) or the watched length.
        string[] parts = p[1..].Split(',');
        if (parts.Length < 3 || parts[0].Length != 1 || !Hex.TryParse(parts[1], out ulong address) || !Hex.TryParse(parts[2].Split(';')[0], out ulong kind) || kind > 64)
        {
            return "E01";
        }

        bool insert = p[0] == 'Z';
        var type = (GdbPointKind)(parts[0][0] - '0');
        if (type == GdbPointKind.Software)
        {
            return (insert ? stub.InsertSoftwareBreakpoint(General, address) : stub.RemoveSoftwareBreakpoint(General, address)) ? "OK" : "E14";
        }

        if (type is < GdbPointKind.Hardware or > GdbPointKind.Access)
        {
            return "";
        }

        var point = new GdbHardwarePoint(type, address, type == GdbPointKind.Hardware ? 0 : (int)kind);
        return (insert ? stub.InsertHardwarePoint(point) : stub.RemoveHardwarePoint(point)) ? "OK" : "E28";
    }

    private string SetThread(ReadOnlySpan<char> args)
    {
        if (args.Length < 2)
        {
            return "E01";
        }

        ReadOnlySpan<char> id = args[1..];
        if (id is "0" or "-1")
        {
            return "OK"; // any thread: keep the current one
        }

        if (!int.TryParse(id, System.Globalization.NumberStyles.HexNumber, null, out int t) || VcpuOf(t) is null)
        {
            return "E01";
        }

        if (args[0] == 'g')
        {
            _generalThread = t;
        }

        return "OK";
    }

    private string Query(string p)
    {
        if (p.StartsWith("qSupported", StringComparison.Ordinal))
        {
            return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+";
        }

        if (p == "QStartNoAckMode")
        {
            channel.Send("OK");
            channel.StartNoAckMode();
            return null!;
        }

        if (p.StartsWith("qXfer:features:read:target.xml:", StringComparison.Ordinal))
        {
            return Transfer(_target.TargetXml, p["qXfer:features:read:target.xml:".Length..]);
        }

        if (p.StartsWith("qXfer:", StringComparison.Ordinal))
        {
            return "E00";
        }

        switch (p)
        {
            case "qAttached":
                return "1";
            case "qC":
                return $"QC{Math.Max(1, _generalThread):x}";
            case "qfThreadInfo":
                return "m" + string.Join(',', Enumerable.Range(1, vm.Vcpus.Count).Select(i => i.ToString("x")));
            case "qsThreadInfo":
                return "l";
            case "qOffsets":
                return "Text=0;Data=0;Bss=0";
        }

        if (p.StartsWith("qThreadExtraInfo,", StringComparison.Ordinal)
            && int.TryParse(p.AsSpan(17), System.Globalization.NumberStyles.HexNumber, null, out int t) && VcpuOf(t) is { } v)
        {
            return Hex.EncodeText($"vCPU {v.Id}");
        }

        if (p.StartsWith("qRcmd,", StringComparison.Ordinal))
        {
            return Monitor(Hex.DecodeText(p.AsSpan(6)));
        }

        return p.Length > 5 && p.AsSpan(1).StartsWith("qemu.", StringComparison.Ordinal) ? QemuQuery(p[6..]) : "";
    }

    /// <summary>
    /// QEMU's own q/Q packets (gdb's <c>maintenance packet qqemu.…</c>): the single-step flags (<c>sstepbits</c>,
    /// <c>sstep</c>, <c>sstep=N</c>) and the physical-memory mode (<c>PhyMemMode</c>, <c>PhyMemMode:N</c>, the same
    /// switch as <c>monitor phys</c>), answered as QEMU answers them.
    /// </summary>
    private string QemuQuery(string q)
    {
        switch (q)
        {
            case "Supported":
                return "sstepbits;sstep;PhyMemMode";
            case "sstepbits":
                return $"ENABLE={(int)GdbStepFlags.Enable:x},NOIRQ={(int)GdbStepFlags.NoIrq:x}";
            case "sstep":
                return $"0x{(int)stub.StepFlags:x}";
            case "PhyMemMode":
                return _physical ? "1" : "0";
        }

        if (q.StartsWith("sstep=", StringComparison.Ordinal))
        {
            // A hex number, with or without 0x (QEMU reads it with strtoul base 16).
            var digits = q.AsSpan(6);
            if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                digits = digits[2..];
            }

            if (!Hex.TryParse(digits, out ulong flags) || (flags & ~(ulong)GdbStepFlags.Supported) != 0)
            {
                return "E22";
            }

            stub.StepFlags = (GdbStepFlags)flags;
            return "OK";
        }

        if (q.StartsWith("PhyMemMode:", StringComparison.Ordinal))
        {
            if (!Hex.TryParse(q.AsSpan(11), out ulong mode))
            {
                return "E22";
            }

            _physical = mode != 0;
            return "OK";
        }

        return "";
    }

    private static string Transfer(string document, string range)
    {
        int comma = range.IndexOf(',');
        if (comma < 0 || !Hex.TryParse(range.AsSpan(0, comma), out ulong offset) || !Hex.TryParse(range.AsSpan(comma + 1), out ulong length))
        {
            return "E01";
        }

        if (offset >= (ulong)document.Length)
        {
            return "l";
        }

        int n = (int)Math.Min(length, (ulong)document.Length - offset);
        return ((ulong)n + offset >= (ulong)document.Length ? "l" : "m") + document.Substring((int)offset, n);
    }

    private string Monitor(string? command)
    {
        string text = command?.Trim() switch
        {
            "phys on" => SetPhysical(true),
            "phys off" => SetPhysical(false),
            "phys" => $"m/M/X addresses are {(_physical ? "guest-physical" : "guest-virtual")}\n",
            _ => "softkvm monitor commands:\n  phys on|off  m/M/X (x, set, dump) use guest-physical (on) or guest-virtual (off) addresses\n",
        };
        return Hex.EncodeText(text);
    }

    private string SetPhysical(bool on)
    {
        _physical = on;
        return $"memory addresses are now {(on ? "guest-physical" : "guest-virtual")}\n";
    }
}
