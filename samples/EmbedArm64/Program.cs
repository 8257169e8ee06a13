// An arm64 VM inside a .NET program: RAM, code, an MMIO device, run, read registers.
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Run;

const ulong Ram = 0x4000_0000, Device = 0x0900_0000;
using var vm = new Arm64Vm();
vm.SetMemoryRegion(0, new GuestPhysAddr(Ram), 1 << 20);
uint[] code =
[
    0xd2a12000, // movz x0, #0x0900, lsl #16   x0 = the device
    0xb9400001, // ldr  w1, [x0]               read its register 0
    0x11000421, // add  w1, w1, #1
    0xb9000401, // str  w1, [x0, #4]           write register 1
    0x52b08000, // movz w0, #0x8400, lsl #16
    0x11002000, // add  w0, w0, #8             PSCI SYSTEM_OFF
    0xd4000002, // hvc  #0
];
for (int i = 0; i < code.Length; i++)
{
    vm.Memory.Write(new GuestPhysAddr(Ram + (ulong)(4 * i)), code[i]);
}

var vcpu = vm.CreateVcpu(0);
vcpu.Init();
vcpu.SetRegister(Arm64CoreRegister.Pc, Ram);
while (vcpu.Run() == RunResult.Ok && vcpu.RunState.ExitReason == ExitReason.Mmio)
{
    ref var mmio = ref vcpu.RunState.Mmio;                   // the device callback, as KVM_EXIT_MMIO
    if (mmio.IsWrite)
    {
        Console.WriteLine($"device: write 0x{mmio.Value:x} at 0x{mmio.PhysAddr:x}");
    }
    else
    {
        mmio.SetValue(mmio.PhysAddr == Device ? 41UL : 0);
    }
}

ulong x1 = vcpu.GetRegister(Arm64CoreRegister.X0 + 1);
Console.WriteLine($"exit: {vcpu.RunState.ExitReason}, x1 = {x1}, pc = 0x{vcpu.GetRegister(Arm64CoreRegister.Pc):x}");
return x1 == 42 ? 0 : 1;
