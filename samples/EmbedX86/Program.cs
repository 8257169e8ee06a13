// An x86 VM inside a .NET program: RAM, real-mode code, an MMIO device and a port, run, read registers.
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Kvm;

using var vm = new X86Vm();
vm.SetMemoryRegion(0, new GuestPhysAddr(0), 0xA0000);          // 640 KiB of RAM; 0xA0000 and above is MMIO
byte[] code =
[
    0xB8, 0x00, 0xD0,                   // mov ax, 0xD000
    0x8E, 0xD8,                         // mov ds, ax            ds:0 = the device at 0xD0000
    0x66, 0xA1, 0x00, 0x00,             // mov eax, [0]          read its register 0
    0x66, 0x40,                         // inc eax
    0x66, 0xA3, 0x04, 0x00,             // mov [4], eax          write register 1
    0xE6, 0x80,                         // out 0x80, al          and a port
    0xF4,                               // hlt
];
vm.Memory.Write(new GuestPhysAddr(0x7C00), code);

var vcpu = vm.CreateVcpu(0);
var r = vcpu.GetRegisters();                                   // real mode, CS:IP = 0:7C00
r.Cr0 = 0x10;
for (int s = 0; s < 6; s++)
{
    r.Seg[s] = SegmentRegister.RealMode(0, s == SegmentIndex.Cs ? 0x9Bu : 3u);
}

r.Rip = 0x7C00;
r.Rflags = 2;
vcpu.SetRegisters(r);
while (vcpu.Run() == RunResult.Ok && vcpu.RunState.ExitReason is ExitReason.Mmio or ExitReason.Io)
{
    ref var run = ref vcpu.RunState;
    if (run.ExitReason == ExitReason.Io)
    {
        Console.WriteLine($"port 0x{run.Io.Port:x}: out 0x{run.PioData[0]:x}");
    }
    else if (run.Mmio.IsWrite)
    {
        Console.WriteLine($"device: write 0x{run.Mmio.Value:x} at 0x{run.Mmio.PhysAddr:x}");
    }
    else
    {
        run.Mmio.SetValue(run.Mmio.PhysAddr == 0xD0000 ? 41UL : 0);
    }
}

ulong eax = vcpu.GetRegisters().Gpr[Gpr.Rax] & 0xFFFF_FFFF;
Console.WriteLine($"exit: {vcpu.RunState.ExitReason}, eax = {eax}");
return eax == 42 && vcpu.RunState.ExitReason == ExitReason.Hlt ? 0 : 1;
