/*
 * PCIe enumeration on the virt machine's host bridge (pci-host-ecam-generic): vCPU 0 scans bus 0 through
 * ECAM at 0x3f000000 (QEMU's low ECAM: run QEMU with -M virt,highmem=off -nic none -device pci-testdev), prints each
 * function's IDs and class, sizes pci-testdev's BARs, assigns them in the 32-bit memory and I/O windows,
 * enables decoding and reads the BARs back. Prints PASS or FAIL and powers off.
 */
#include "guest.h"

#define ECAM 0x3f000000UL
#define MMIO_WINDOW 0x10000000UL
#define IO_PORT 0x1000u

static void put_hex(u64 v, int digits)
{
    for (int s = (digits - 1) * 4; s >= 0; s -= 4) {
        int d = (int)(v >> s & 0xf);
        putc_raw((char)(d < 10 ? '0' + d : 'a' + d - 10));
    }
}

static u64 cfg(int dev, int reg) { return ECAM + ((u64)dev << 15) + (u64)reg; }

static void fail(const char *what)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

/* Writes all ones to a BAR and returns the size it decodes (the BAR is left at 0). */
static u32 bar_size(int dev, int bar, u32 *kind)
{
    u64 a = cfg(dev, 0x10 + 4 * bar);
    wr32(a, 0xffffffffu);
    u32 v = rd32(a);
    wr32(a, 0);
    *kind = v & 1;
    u32 mask = *kind ? (v & ~3u) | 0xffff0000u : v & ~15u;
    return ~mask + 1;
}

void secondary_main(u64 id) { (void)id; }

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    int testdev = -1;
    for (int dev = 0; dev < 32; dev++) {
        u32 id = rd32(cfg(dev, 0));
        if (id == 0xffffffffu)
            continue;
        u32 class = rd32(cfg(dev, 8)) >> 8;
        puts_raw("00:");
        put_hex((u64)dev, 2);
        puts_raw(".0 ");
        put_hex(id & 0xffff, 4);
        puts_raw(":");
        put_hex(id >> 16, 4);
        puts_raw(" class ");
        put_hex(class, 6);
        puts_raw("\n");
        if (id == 0x00051b36u)
            testdev = dev;
    }
    if (rd32(cfg(0, 0)) != 0x00081b36u)
        fail("no gpex-root host bridge at 00.0");
    if (testdev < 0)
        fail("no pci-testdev");
    if (rd32(ECAM + (1UL << 20)) != 0xffffffffu)
        fail("a device on bus 1");

    u32 kind0, kind1;
    u32 size0 = bar_size(testdev, 0, &kind0), size1 = bar_size(testdev, 1, &kind1);
    puts_raw("pci-testdev: BAR0 ");
    puts_raw(kind0 ? "io " : "mem ");
    put_dec(size0);
    puts_raw(" bytes, BAR1 ");
    puts_raw(kind1 ? "io " : "mem ");
    put_dec(size1);
    puts_raw(" bytes, interrupt pin ");
    put_dec(rd32(cfg(testdev, 0x3c)) >> 8 & 0xff);
    puts_raw("\n");

    wr32(cfg(testdev, 0x10), (u32)MMIO_WINDOW);
    wr32(cfg(testdev, 0x14), IO_PORT);
    wr32(cfg(testdev, 0x04), rd32(cfg(testdev, 0x04)) | 3); /* I/O and memory decoding */
    u32 bar0 = rd32(cfg(testdev, 0x10)), bar1 = rd32(cfg(testdev, 0x14));
    puts_raw("assigned: BAR0 0x");
    put_hex(bar0, 8);
    puts_raw(", BAR1 0x");
    put_hex(bar1, 8);
    puts_raw(", command 0x");
    put_hex(rd32(cfg(testdev, 0x04)) & 0xffff, 4);
    puts_raw("\n");
    if ((bar0 & ~15u) != MMIO_WINDOW || (bar1 & ~3u) != IO_PORT)
        fail("the BARs did not take their addresses");
    puts_raw("PASS\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}
