// A device-model test harness: SoftKvm's virtio-blk under a guest driver (guests/arm64/virtioblk), driven
// through the KVM-shaped exit loop, then checked from the host side: what the driver negotiated, the requests
// the device saw, the disk's contents and the guest's own verdict.
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.Devices.Virtio;

const ulong Ram = 0x4000_0000, Entry = 0x4008_0000, Virtio = 0x0A00_0000, Mailbox = 0x0B00_0000;
const int QueueNotify = 0x50;

// The disk: 8 sectors, sector 0 holding what the guest must read.
string image = Path.GetTempFileName();
var sectors = new byte[8 * VirtioBlock.SectorSize];
"written by the host"u8.CopyTo(sectors);
File.WriteAllBytes(image, sectors);

using var vm = new Arm64Vm();
vm.SetMemoryRegion(0, new GuestPhysAddr(Ram), 16 << 20);
vm.Memory.Write(new GuestPhysAddr(Entry), File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "virtioblk.bin")));

var disk = new VirtioBlock(image, readOnly: false);
var irq = new CountingIrqLine();
var transport = new VirtioMmioTransport(disk, vm.Memory, irq);
var notifies = new List<uint>();
var devices = new IoBus(IoBusKind.Mmio, "harness");
devices.Register(Virtio, VirtioMmioTransport.Size, new Watch(transport, QueueNotify, notifies));

var vcpu = vm.CreateVcpu(0);
vcpu.Init();
vcpu.SetRegister(Arm64CoreRegister.Pc, Entry);
uint? verdict = null;
while (vcpu.Run() == RunResult.Ok && vcpu.RunState.ExitReason == ExitReason.Mmio)
{
    ref var mmio = ref vcpu.RunState.Mmio;
    Span<byte> data = mmio.Data;
    data = data[..(int)mmio.Length];
    if (mmio.PhysAddr == Mailbox && mmio.IsWrite)
    {
        verdict = (uint)mmio.Value;
    }
    else if (mmio.IsWrite)
    {
        devices.Write(vcpu, mmio.PhysAddr, data);
    }
    else if (!devices.Read(vcpu, mmio.PhysAddr, data))
    {
        data.Clear();
    }
}

disk.Dispose();
byte[] written = File.ReadAllBytes(image)[VirtioBlock.SectorSize..(VirtioBlock.SectorSize + 20)];
File.Delete(image);
bool ok = vcpu.RunState.ExitReason == ExitReason.SystemEvent   // the guest powered off
    && verdict == 0                                            // and says every step worked
    && transport.Status == 0xF                                 // ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK
    && transport.DriverErrors == 0
    && notifies.SequenceEqual([0u, 0u])                        // two requests on queue 0
    && irq.Raised == 2                                         // one used-buffer interrupt each
    && "written by the guest"u8.SequenceEqual(written);        // the write reached sector 1
Console.WriteLine($"guest verdict {verdict}, status 0x{transport.Status:x}, notifies [{string.Join(", ", notifies)}], interrupts {irq.Raised}, sector 1 \"{System.Text.Encoding.ASCII.GetString(written)}\"");
Console.WriteLine(ok ? "virtio-blk harness: PASS" : "virtio-blk harness: FAIL");
return ok ? 0 : 1;

/// <summary>Passes every access to the device and records the values written to one register.</summary>
sealed class Watch(IIoDevice device, ulong register, List<uint> seen) : IIoDevice
{
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => device.Read(vcpu, offset, data);

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == register)
        {
            seen.Add(BitConverter.ToUInt32(data));
        }

        device.Write(vcpu, offset, data);
    }
}

/// <summary>The device's interrupt line, counting rising edges (no interrupt controller in this VM: the driver polls).</summary>
sealed class CountingIrqLine : IIrqLine
{
    private bool _level;

    public int Raised { get; private set; }

    public void Set(bool level)
    {
        Raised += level && !_level ? 1 : 0;
        _level = level;
    }
}
