/* String port IO through the VMM (issue #16): KVM's emulator reads a batch of REP INS elements per
   KVM_EXIT_IO (io.count elements in the PIO data page: at most 1024 bytes and what is left of RDI's page)
   and writes REP OUTS one element per exit; the VMM serves every element from its device. The 16550A's
   scratch register (0x3FF) is the device: reads return the last byte written. PASS/FAIL lines on COM1,
   isa-debug-exit 0 = all passed. */
#include "lib.h"

#define SCRATCH 0x3FF

static u8 buf[2048] __attribute__((aligned(4096)));

static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* 200 bytes from the page's start: one exit with io.count = 200. */
static int rep_insb(void)
{
    u32 di = (u32)buf, cx = 200;
    outb(SCRATCH, 0x5A);
    __asm__ volatile("cld\n\trep insb" : "+D"(di), "+c"(cx) : "d"(SCRATCH) : "memory");
    int ok = di == (u32)buf + 200 && cx == 0 && buf[200] == 0;
    for (int i = 0; i < 200; i++)
    {
        ok &= buf[i] == 0x5A;
    }

    return ok;
}

/* 1500 bytes: a batch of 1024 (KVM's read-ahead), then one of 476. */
static int rep_insb_two_batches(void)
{
    u32 di = (u32)buf, cx = 1500;
    outb(SCRATCH, 0xA7);
    __asm__ volatile("cld\n\trep insb" : "+D"(di), "+c"(cx) : "d"(SCRATCH) : "memory");
    int ok = di == (u32)buf + 1500 && cx == 0;
    for (int i = 0; i < 1500; i++)
    {
        ok &= buf[i] == 0xA7;
    }

    return ok;
}

/* REP OUTSB: every element reaches the device, the last one stays in the scratch register. */
static int rep_outsb(void)
{
    static const u8 src[5] = { 1, 2, 3, 4, 5 };
    u32 si = (u32)src, cx = 5;
    __asm__ volatile("cld\n\trep outsb" : "+S"(si), "+c"(cx) : "d"(SCRATCH) : "memory");
    return si == (u32)src + 5 && cx == 0 && inb(SCRATCH) == 5;
}

int main(u32 info)
{
    (void)info;
    int failures = 0;
    failures += check("REP INSB: 200 bytes from the VMM's device", rep_insb());
    failures += check("REP INSB: 1500 bytes in two batches", rep_insb_two_batches());
    failures += check("REP OUTSB: 5 bytes to the VMM's device", rep_outsb());
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}
