// Unicorn-style instrumentation of an arm64 guest with SoftKvm's hooks (docs/hooks.md): block coverage,
// an instruction hook on one address, a memory hook on a range, an exception hook, and a hook that
// changes a register.
using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Hooks;
using SoftKvm.Core.Run;

const ulong Ram = 0x4000_0000, Table = Ram + 0x1000;
using var vm = new Arm64Vm();
vm.SetMemoryRegion(0, new GuestPhysAddr(Ram), 1 << 20);
uint[] code =
[
    0xd2a80000, // movz x0, #0x4000, lsl #16
    0x91400400, // add  x0, x0, #1, lsl #12     x0 = the table
    0xd2800141, // movz x1, #10                 10 entries
    0xd2800002, // movz x2, #0                  sum
    0xf8408403, // 1: ldr x3, [x0], #8
    0x8b030042, // add  x2, x2, x3
    0xf81f8002, // stur x2, [x0, #-8]           running sum back into the table
    0xf1000421, // subs x1, x1, #1
    0x54ffff81, // b.ne 1b
    0xd4000021, // svc  #1                      an exception the hook sees (the vector powers off)
];
for (int i = 0; i < code.Length; i++)
{
    vm.Memory.Write(new GuestPhysAddr(Ram + (ulong)(4 * i)), code[i]);
}

for (ulong i = 0; i < 10; i++)
{
    vm.Memory.Write(new GuestPhysAddr(Table + 8 * i), i + 1);
}

// The exception vectors at Ram + 0x800: every entry powers the VM off (PSCI SYSTEM_OFF).
for (ulong v = 0; v < 16; v++)
{
    ulong at = Ram + 0x800 + v * 0x80;
    vm.Memory.Write(new GuestPhysAddr(at), 0x52b08000u);      // movz w0, #0x8400, lsl #16
    vm.Memory.Write(new GuestPhysAddr(at + 4), 0x11002000u);  // add  w0, w0, #8
    vm.Memory.Write(new GuestPhysAddr(at + 8), 0xd4000002u);  // hvc  #0
}

var blocks = new Dictionary<ulong, int>();
using var onBlock = vm.Hooks.AddBlockHook((_, address, size) => blocks[address] = blocks.GetValueOrDefault(address) + 1);
int loads = 0;
using var onLoad = vm.Hooks.AddInstructionHook((vcpu, _, _) =>
{
    loads++;
    if (loads == 10)
    {
        var v = (Arm64Vcpu)vcpu;                                    // registers can be changed from a hook
        v.SetRegister(Arm64CoreRegister.X0 + 2, v.GetRegister(Arm64CoreRegister.X0 + 2) + 1000);
    }
}, new AddressRange(Ram + 16, Ram + 16));
using var onStore = vm.Hooks.AddMemoryHook(
    (_, kind, address, size, value) => Console.WriteLine($"{kind} {size} bytes at 0x{address:x}: {value}"),
    MemoryAccessKind.Write, AddressRange.FromStart(Table + 8 * 7, 24));
using var onException = vm.Hooks.AddExceptionHook((Vcpu _, in GuestException e) =>
    Console.WriteLine($"{e.Kind}: ESR 0x{e.Syndrome:x}, returns to 0x{e.ReturnAddress:x}, handler 0x{e.HandlerAddress:x}"));

var vcpu = vm.CreateVcpu(0);
vcpu.Init();
vcpu.SetRegister(Arm64CoreRegister.Pc, Ram);
vcpu.SetSystemRegister(SysRegKey.Of(3, 0, 12, 0, 0), Ram + 0x800); // VBAR_EL1
vcpu.SetRegister(Arm64CoreRegister.SpEl1, Ram + 0x8000);
var result = vcpu.Run();

foreach (var (address, count) in blocks.OrderBy(b => b.Key))
{
    Console.WriteLine($"block 0x{address:x}: {count}");
}

ulong sum = vcpu.GetRegister(Arm64CoreRegister.X0 + 2);
Console.WriteLine($"{result} {vcpu.RunState.ExitReason}: {loads} loads, sum {sum}");
return result == RunResult.Ok && vcpu.RunState.ExitReason == ExitReason.SystemEvent && loads == 10 && sum == 1055 ? 0 : 1;
