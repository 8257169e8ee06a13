using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Kvm;
using SoftKvm.X86.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Irqchip;

/// <summary>
/// Four vCPUs on four threads: the BSP (64-bit) wakes the APs with INIT and a start-up IPI; each AP
/// leaves real mode for 32-bit protected mode, enables its local APIC, reports alive, sends the BSP a
/// fixed IPI (vector 0x40 + APIC id) and halts; the BSP then sends each AP a fixed IPI (vector 0x50).
/// </summary>
public class SmpBringUpTests
{
    private const ulong Trampoline = 0xC000;   // SIPI vector 0x0C
    private const ulong Gdtr = 0xC100, Idtr = 0xC108;
    private const ulong Protected = 0xC200, ApHandler = 0xC400;
    private const ulong Idt32 = 0xA000;
    private const ulong ApAlive = 0xB100, ApReceived = 0xB000;

    [Fact]
    public void Four_vcpus_start_by_init_sipi_and_exchange_fixed_ipis()
    {
        using var m = new KvmMachine(irqchip: true, vcpus: 4);
        var mem = m.Vm.Memory;
        for (int i = 1; i < 4; i++)
        {
            Assert.Equal(X86MpState.Uninitialized, ((X86Vcpu)m.Vm.Vcpus[i]).MpState);
        }

        mem.Write(Trampoline, Assemble(16, Trampoline, a =>
        {
            a.cli();
            a.lgdt(__[(uint)Gdtr]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.jmp(0x18, (uint)Protected);
        }));
        mem.Write<ushort>(Gdtr, 10 * 8 - 1);
        mem.Write<uint>(Gdtr + 2, (uint)Gdt);
        mem.Write<ushort>(Idtr, 0x51 * 8 - 1);
        mem.Write<uint>(Idtr + 2, (uint)Idt32);
        ulong gate = (ApHandler & 0xFFFF) | (0x18UL << 16) | (0x8EUL << 40) | ((ApHandler >> 16) << 48);
        mem.Write(Idt32 + 0x50 * 8, gate);
        mem.Write(Protected, Assemble(32, Protected, a =>
        {
            var wait = a.CreateLabel();
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(ebx, 0xFEE00000);
            a.mov(esi, __dword_ptr[ebx + 0x20]);
            a.shr(esi, 24);                          // APIC id
            a.mov(esp, esi);
            a.shl(esp, 12);
            a.add(esp, 0x70000);
            a.lidt(__[(uint)Idtr]);
            a.mov(__dword_ptr[ebx + 0xF0], 0x1FF);   // software enable
            a.mov(__dword_ptr[esi * 4 + (int)ApAlive], 1);
            a.mov(__dword_ptr[ebx + 0x310], 0);      // destination: APIC 0
            a.lea(eax, __[esi + 0x4040]);            // fixed, assert, vector 0x40 + id
            a.mov(__dword_ptr[ebx + 0x300], eax);
            a.Label(ref wait);
            a.sti();
            a.hlt();
            a.jmp(wait);
        }));
        mem.Write(ApHandler, Assemble(32, ApHandler, a =>
        {
            a.push(eax);
            a.push(ebx);
            a.mov(ebx, 0xFEE00000);
            a.mov(eax, __dword_ptr[ebx + 0x20]);
            a.shr(eax, 24);
            a.inc(__dword_ptr[eax * 4 + (int)ApReceived]);
            a.mov(__dword_ptr[ebx + 0xB0], 0);       // EOI
            a.pop(ebx);
            a.pop(eax);
            a.iretd();
        }));
        m.Load(a =>
        {
            var w1 = a.CreateLabel();
            var w2 = a.CreateLabel();
            var send = a.CreateLabel();
            var w3 = a.CreateLabel();
            a.mov(rbx, 0xFEE00000UL);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__byte_ptr[(uint)EoiFlag], 1);
            a.mov(__dword_ptr[rbx + 0x300], 0xC4500); // INIT, all excluding self
            a.mov(__dword_ptr[rbx + 0x300], 0xC460C); // start-up at 0xC000, all excluding self
            a.Label(ref w1);
            a.pause();
            a.mov(eax, __dword_ptr[(uint)ApAlive + 4]);
            a.add(eax, __dword_ptr[(uint)ApAlive + 8]);
            a.add(eax, __dword_ptr[(uint)ApAlive + 12]);
            a.cmp(eax, 3);
            a.jne(w1);
            a.sti();
            a.Label(ref w2);
            a.pause();
            a.cmp(__dword_ptr[(uint)EventCount], 3);
            a.jb(w2);
            a.cli();
            a.mov(ecx, 1);
            a.Label(ref send);
            a.mov(eax, ecx);
            a.shl(eax, 24);
            a.mov(__dword_ptr[rbx + 0x310], eax);
            a.mov(__dword_ptr[rbx + 0x300], 0x4050);
            a.inc(ecx);
            a.cmp(ecx, 4);
            a.jne(send);
            a.Label(ref w3);
            a.pause();
            a.mov(eax, __dword_ptr[(uint)ApReceived + 4]);
            a.add(eax, __dword_ptr[(uint)ApReceived + 8]);
            a.add(eax, __dword_ptr[(uint)ApReceived + 12]);
            a.cmp(eax, 3);
            a.jne(w3);
            a.@out(0x80, al);
        });

        var stop = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = new List<Thread>();
        for (int i = 1; i < 4; i++)
        {
            var v = (X86Vcpu)m.Vm.Vcpus[i];
            var t = new Thread(() =>
            {
                while (Volatile.Read(ref stop) == 0)
                {
                    var r = v.Run();
                    if (r == RunResult.Interrupted)
                    {
                        continue;
                    }

                    failures.Add($"vCPU {v.Id}: {r} {v.RunState.ExitReason} at 0x{v.LinearRip:x}");
                    return;
                }
            });
            t.Start();
            threads.Add(t);
        }

        var bsp = new Thread(() =>
        {
            var r = m.Vcpu.Run();
            if (r != RunResult.Ok || m.Run.ExitReason != ExitReason.Io)
            {
                failures.Add($"BSP: {r} {m.Run.ExitReason}");
            }
        });
        bsp.Start();
        bool finished = bsp.Join(TimeSpan.FromSeconds(20));
        Volatile.Write(ref stop, 1);
        if (!finished)
        {
            m.Vcpu.Kick();
            bsp.Join();
        }

        foreach (var v in m.Vm.Vcpus)
        {
            v.Kick();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.True(finished, "the BSP did not finish");
        Assert.Empty(failures);
        Assert.Equal(1u, m.Count(0x41));
        Assert.Equal(1u, m.Count(0x42));
        Assert.Equal(1u, m.Count(0x43));
        for (ulong id = 1; id < 4; id++)
        {
            Assert.Equal(1u, mem.Read<uint>(ApAlive + id * 4));
            Assert.Equal(1u, mem.Read<uint>(ApReceived + id * 4));
            Assert.NotEqual(X86MpState.Uninitialized, ((X86Vcpu)m.Vm.Vcpus[(int)id]).MpState);
        }
    }
}
