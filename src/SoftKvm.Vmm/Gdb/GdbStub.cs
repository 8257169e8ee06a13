using System.Net;
using System.Net.Sockets;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Gdb;

/// <summary>
/// The gdb remote-serial-protocol server of <c>softkvm run --gdb tcp:HOST:PORT</c> (docs/architecture.md#gdb-stub).
/// It is VMM-level: it holds the vCPU threads of a <see cref="VmRunner"/> between runs (all-stop: when one
/// vCPU stops, every vCPU is kicked and held), reads and writes them through their KVM-shaped API while they
/// are held, and programs guest debugging (single-step, breakpoints, watchpoints) the way a VMM does with
/// KVM_SET_GUEST_DEBUG. One debugger at a time: a second connection is told so and closed. vCPUs are gdb's
/// threads, numbered from 1 in VM order.
/// </summary>
public sealed class GdbStub : IVcpuDebugger, IDisposable
{
    private readonly object _gate = new();
    private readonly Vm _vm;
    private readonly TcpListener _listener;
    private readonly TextWriter? _log;
    private readonly Dictionary<int, long> _applied = [];
    private readonly Dictionary<ulong, byte[]> _softwareBreakpoints = [];
    private readonly List<GdbHardwarePoint> _hardwarePoints = [];
    private Action<string>? _kill;
    private bool _halted;
    private bool _ended;
    private int _held;
    private int _stepVcpu = -1;
    private long _generation;
    private GdbStop? _stop;
    private RunOutcome? _outcome;
    private int _sessionActive;
    private GdbStepFlags _stepFlags = GdbStepFlags.Supported;

    internal IGdbTarget Target { get; }

    /// <summary>
    /// Listens on <paramref name="endpoint"/> for gdb. With <paramref name="waitForDebugger"/> the vCPUs are held
    /// at their first instruction until a debugger attaches and continues (QEMU's <c>-S</c>).
    /// </summary>
    /// <exception cref="SocketException">the address cannot be bound.</exception>
    public GdbStub(Vm vm, IPEndPoint endpoint, bool waitForDebugger, TextWriter? log = null)
    {
        _vm = vm;
        _log = log;
        Target = vm.Vcpus.Count > 0 && vm.Vcpus[0] is SoftKvm.X86.Kvm.X86Vcpu ? new X86.X86GdbTarget() : new Arm64.Arm64GdbTarget();
        _halted = waitForDebugger;
        _listener = new TcpListener(endpoint);
        _listener.Start(1);
        LocalEndpoint = (IPEndPoint)_listener.LocalEndpoint;
        var accept = new Thread(AcceptLoop) { IsBackground = true, Name = "gdb-accept" };
        accept.Start();
    }

    /// <summary>The address the server listens on (the port chosen when 0 was asked for).</summary>
    public IPEndPoint LocalEndpoint { get; }

    /// <summary>What gdb's <c>k</c> does: stop the run (set by the VMM that runs the VM).</summary>
    public void OnKill(Action<string> kill) => _kill = kill;

    /// <summary>Parses <c>tcp:HOST:PORT</c> (<c>tcp::1234</c> = localhost); null with <paramref name="error"/> when malformed.</summary>
    public static IPEndPoint? ParseEndpoint(string spec, out string? error)
    {
        error = null;
        string rest = spec.StartsWith("tcp:", StringComparison.Ordinal) ? spec[4..] : spec;
        int colon = rest.LastIndexOf(':');
        if (colon < 0 || !ushort.TryParse(rest[(colon + 1)..], out ushort port))
        {
            error = $"--gdb {spec}: expected tcp:HOST:PORT (for example tcp::1234)";
            return null;
        }

        string host = rest[..colon].Trim('[', ']');
        if (host.Length == 0 || host == "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        if (!IPAddress.TryParse(host, out var address))
        {
            error = $"--gdb {spec}: '{host}' is not an IP address (or empty for localhost)";
            return null;
        }

        return new IPEndPoint(address, port);
    }

    // ---- the vCPU side (IVcpuDebugger) ----

    /// <inheritdoc />
    public void BeforeRun(Vcpu vcpu)
    {
        lock (_gate)
        {
            bool counted = false;
            while (!_ended && (_halted || (_stepVcpu >= 0 && _stepVcpu != vcpu.Id)))
            {
                if (!counted)
                {
                    counted = true;
                    _held++;
                    Monitor.PulseAll(_gate);
                }

                Monitor.Wait(_gate);
            }

            if (counted)
            {
                _held--;
            }

            if (!_ended && (!_applied.TryGetValue(vcpu.Id, out long g) || g != _generation))
            {
                _applied[vcpu.Id] = _generation;
                Target.Apply(vcpu, new GdbDebugSettings(_stepVcpu == vcpu.Id, _softwareBreakpoints.Count != 0, [.. _hardwarePoints], (_stepFlags & GdbStepFlags.NoIrq) != 0));
            }
        }
    }

    /// <inheritdoc />
    public void OnDebugExit(Vcpu vcpu, in DebugExit exit)
    {
        lock (_gate)
        {
            if (!Target.Classify(vcpu, in exit, _softwareBreakpoints.ContainsKey, _hardwarePoints, out var kind, out var watch))
            {
                return; // the guest's own event, given back to it
            }

            // All-stop: the first event stops everyone; one that races with it is dropped (a breakpoint or
            // watchpoint hits again when its vCPU resumes).
            if (!_halted)
            {
                _stop = new GdbStop(vcpu.Id, 5, kind, watch);
                HaltLocked();
            }
        }
    }

    /// <inheritdoc />
    public void RunEnded(RunOutcome outcome)
    {
        lock (_gate)
        {
            _ended = true;
            _outcome = outcome;
            Monitor.PulseAll(_gate);
        }
    }

    // ---- the debugger side ----

    private void HaltLocked()
    {
        _halted = true;
        _stepVcpu = -1;
        _vm.KickAll();
        Monitor.PulseAll(_gate);
    }

    /// <summary>Ctrl-C, or a debugger attaching: stops every vCPU (SIGINT on the first).</summary>
    internal void Interrupt()
    {
        lock (_gate)
        {
            if (!_halted && !_ended)
            {
                _stop = new GdbStop(_vm.Vcpus[0].Id, 2, GdbStopKind.Step, default);
                HaltLocked();
            }
        }
    }

    /// <summary>
    /// Waits until every vCPU is held after a stop, or the run ended. Returns the stop, or null with the run's
    /// outcome when it ended.
    /// </summary>
    internal GdbStop? WaitForStop(out RunOutcome? ended)
    {
        lock (_gate)
        {
            while (!_ended && !(_halted && _held == _vm.Vcpus.Count))
            {
                Monitor.Wait(_gate);
            }

            ended = _ended ? _outcome : null;
            if (_ended)
            {
                return null;
            }

            return _stop ??= new GdbStop(_vm.Vcpus[0].Id, 5, GdbStopKind.Step, default);
        }
    }

    /// <summary>Resumes: every vCPU, or only <paramref name="stepVcpu"/> for one step (the others stay held).</summary>
    internal void Resume(int stepVcpu)
    {
        lock (_gate)
        {
            _stop = null;
            _stepVcpu = stepVcpu;
            _halted = false;
            _generation++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>How single-steps treat interrupts (<c>qqemu.sstep</c>); a change applies from the next step.</summary>
    internal GdbStepFlags StepFlags
    {
        get
        {
            lock (_gate)
            {
                return _stepFlags;
            }
        }

        set
        {
            lock (_gate)
            {
                _stepFlags = value;
                _generation++;
            }
        }
    }

    /// <summary>Whether the run ended.</summary>
    internal bool Ended
    {
        get
        {
            lock (_gate)
            {
                return _ended;
            }
        }
    }

    internal RunOutcome? Outcome
    {
        get
        {
            lock (_gate)
            {
                return _outcome;
            }
        }
    }

    internal void Kill() => _kill?.Invoke("the debugger killed the VM");

    /// <summary>Inserts a software breakpoint at <paramref name="address"/> (virtual, through <paramref name="vcpu"/>'s MMU).</summary>
    internal bool InsertSoftwareBreakpoint(Vcpu vcpu, ulong address)
    {
        lock (_gate)
        {
            if (_softwareBreakpoints.ContainsKey(address))
            {
                return true;
            }

            var original = new byte[Target.BreakpointInstruction.Length];
            if (!ReadMemory(vcpu, address, original, physical: false) || !WriteMemory(vcpu, address, Target.BreakpointInstruction.ToArray(), physical: false))
            {
                return false;
            }

            _softwareBreakpoints[address] = original;
            _generation++;
            return true;
        }
    }

    internal bool RemoveSoftwareBreakpoint(Vcpu vcpu, ulong address)
    {
        lock (_gate)
        {
            if (!_softwareBreakpoints.Remove(address, out var original))
            {
                return true;
            }

            _generation++;
            return WriteMemory(vcpu, address, original, physical: false);
        }
    }

    internal bool InsertHardwarePoint(GdbHardwarePoint point)
    {
        lock (_gate)
        {
            if (_hardwarePoints.Contains(point))
            {
                return true;
            }

            List<GdbHardwarePoint> wanted = [.. _hardwarePoints, point];
            if (!Target.Fits(wanted))
            {
                return false;
            }

            _hardwarePoints.Add(point);
            _generation++;
            return true;
        }
    }

    internal bool RemoveHardwarePoint(GdbHardwarePoint point)
    {
        lock (_gate)
        {
            _hardwarePoints.Remove(point);
            _generation++;
            return true;
        }
    }

    /// <summary>Removes every breakpoint and watchpoint (detach, a closed connection).</summary>
    internal void ClearAll(Vcpu vcpu)
    {
        lock (_gate)
        {
            foreach (ulong address in _softwareBreakpoints.Keys.ToList())
            {
                RemoveSoftwareBreakpoint(vcpu, address);
            }

            _hardwarePoints.Clear();
            _generation++;
        }
    }

    /// <summary>Reads guest memory at a virtual (through the vCPU's MMU, page by page) or physical address.</summary>
    internal bool ReadMemory(Vcpu vcpu, ulong address, byte[] data, bool physical) =>
        Copy(vcpu, address, data.Length, physical, (gpa, at, n) => _vm.Memory.Read(gpa, data.AsSpan(at, n)));

    /// <summary>Writes guest memory at a virtual or physical address.</summary>
    internal bool WriteMemory(Vcpu vcpu, ulong address, byte[] data, bool physical) =>
        Copy(vcpu, address, data.Length, physical, (gpa, at, n) => _vm.Memory.Write(gpa, data.AsSpan(at, n)));

    // Splits an access at page boundaries, translating each page; false when a page is unmapped or not RAM.
    private bool Copy(Vcpu vcpu, ulong address, int length, bool physical, Action<ulong, int, int> chunk)
    {
        try
        {
            for (int done = 0, n; done < length; done += n)
            {
                ulong va = address + (ulong)done;
                n = (int)Math.Min((ulong)(length - done), 4096 - (va & 0xFFF));
                ulong gpa = va;
                if (!physical && !Target.Translate(vcpu, va, out gpa))
                {
                    return false;
                }

                chunk(gpa, done, n);
            }

            return true;
        }
        catch (Exception e) when (e is GuestMemoryAccessException or VcpuException)
        {
            return false; // not RAM (a device, or nothing), or a vCPU that is not held
        }
    }

    // ---- connections ----

    private void AcceptLoop()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _sessionActive, 1, 0) != 0)
            {
                Refuse(socket);
                continue;
            }

            var thread = new Thread(() => RunSession(socket)) { IsBackground = true, Name = "gdb-session" };
            thread.Start();
        }
    }

    private void Refuse(Socket socket)
    {
        _log?.WriteLine($"softkvm: gdb: refused a second debugger from {socket.RemoteEndPoint}: one is attached already");
        try
        {
            // A console-output packet gdb prints, then an error reply to whatever it asks first.
            byte[] text = Encoding.ASCII.GetBytes("softkvm: a debugger is already attached to this VM\n");
            string o = "O" + Hex.Encode(text);
            socket.Send(Encoding.ASCII.GetBytes($"${o}#{Checksum(o):x2}$E.a debugger is already attached#{Checksum("E.a debugger is already attached"):x2}"));
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        socket.Dispose();
    }

    private static byte Checksum(string s)
    {
        byte sum = 0;
        foreach (char c in s)
        {
            sum += (byte)c;
        }

        return sum;
    }

    private void RunSession(Socket socket)
    {
        try
        {
            _log?.WriteLine($"softkvm: gdb: debugger attached from {socket.RemoteEndPoint}");
            using var channel = new RspChannel(socket, Interrupt);
            Interrupt(); // attaching stops the VM, as with QEMU's stub
            new GdbSession(this, _vm, channel).Run();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of the stub ends the session, never the process (the guest runs on).
            _log?.WriteLine($"softkvm: gdb: the session ended on an error: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            // Whatever ended the session (detach, kill, a connection closed while the guest ran): hold the
            // vCPUs, give the guest its memory and debug state back, and resume it.
            Interrupt();
            if (WaitForStop(out _) is not null)
            {
                ClearAll(_vm.Vcpus[0]);
                Resume(-1);
            }

            Volatile.Write(ref _sessionActive, 0);
            _log?.WriteLine("softkvm: gdb: debugger detached");
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Stop();
}

/// <summary>Why the VM stopped for the debugger: the vCPU, the signal (5 SIGTRAP, 2 SIGINT), and the event.</summary>
internal sealed record GdbStop(int VcpuId, int Signal, GdbStopKind Kind, GdbHardwarePoint Watch);
