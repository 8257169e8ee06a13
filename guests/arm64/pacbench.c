/*
 * pacbench.elf: what pointer authentication and BTI cost per call, as the Linux kernel uses them (issue 22). Not a
 * test (no expected output): a benchmark run with --cpu max and --cpu cortex-a57, where PACIASP, AUTIASP and BTI
 * are hints that do nothing. The MMU maps RAM in 2 MiB blocks, all guarded (GP) on a BTI model, the IA key is
 * enabled with SCTLR_EL1.BT1 set, as Debian's kernel runs. Rows, each ROUNDS calls, timed with CNTVCT_EL0:
 *   plain  BL to a function without PACIASP/AUTIASP (the loop's own cost);
 *   bl     BL to a function that signs and authenticates its return address (a kernel function called directly);
 *   blr    the same through BLR (BTYPE 10, the callee's PACIASP is its landing pad: an indirect call);
 *   br     BR x16 to a BTI c/j pad that returns through x17 (BTYPE 01: a jump through a table or a veneer).
 * The line of each row gives the counter ticks (62.5 MHz under QEMU's virt timer) and picoseconds per call. On a loaded
 * host time whole processes of single-row builds instead (-DROWS=1, 2, 4 or 8, -DROUNDS=...: docs/performance.md).
 */
#include "lib.h"

#define SYSREG_WRITE(name, v) __asm__ volatile("msr " name ", %0" : : "r"((u64)(v)) : "memory")
#define SYSREG_READ(name) ({ u64 _v; __asm__ volatile("mrs %0, " name : "=r"(_v) : : "memory"); _v; })
#define ISB() __asm__ volatile("isb" : : : "memory")

#ifndef ROUNDS
#define ROUNDS 20000000UL
#endif
#ifndef ROWS
#define ROWS 0xf /* plain, bl, blr, br: a single-row build (-DROWS=2) times one row as a whole process */
#endif

#define RAM 0x40000000UL

static u64 l1[512] __attribute__((aligned(4096)));
static u64 l2[512] __attribute__((aligned(4096)));

u64 signed_fn(u64 x);
u64 plain_fn(u64 x);
u64 br_loop(u64 n);

/* The callees, in assembly so that every build has exactly these instructions. */
__asm__(
    ".text\n"
    ".balign 64\n"
    ".global signed_fn\n"
    "signed_fn:\n"
    "    paciasp\n"
    "    stp x29, x30, [sp, #-16]!\n"
    "    mov x29, sp\n"
    "    add x0, x0, #1\n"
    "    ldp x29, x30, [sp], #16\n"
    "    autiasp\n"
    "    ret\n"
    ".balign 64\n"
    ".global plain_fn\n"
    "plain_fn:\n"
    "    stp x29, x30, [sp, #-16]!\n"
    "    mov x29, sp\n"
    "    add x0, x0, #1\n"
    "    ldp x29, x30, [sp], #16\n"
    "    ret\n"
    ".balign 64\n"
    ".global br_loop\n"
    "br_loop:\n"               /* x0 = n: n jumps through x16 to a pad, back through x17 */
    "    adr x16, 2f\n"
    "    adr x17, 1f\n"
    "1:  hint #36\n"           /* BTI j: BR x17 comes back here with BTYPE 01 */
    "    cbz x0, 3f\n"
    "    sub x0, x0, #1\n"
    "    br x16\n"
    "2:  hint #38\n"           /* BTI jc */
    "    br x17\n"
    "3:  ret\n");

static void map(void)
{
    l1[0] = 0x00000000UL | 1 | (1UL << 10) | (1UL << 2) | (3UL << 53); /* devices: 1 GiB Device-nGnRnE, never executable */
    l1[1] = (u64)l2 | 3;
    for (u64 i = 0; i < 512; i++)
        l2[i] = (RAM + i * 0x200000UL) | 1 | (1UL << 10) | (3UL << 8) | (1UL << 50); /* Normal, EL1 RWX, GP */
    SYSREG_WRITE("mair_el1", 0x00ffUL);
    SYSREG_WRITE("tcr_el1", 25UL | (25UL << 16) | (1UL << 8) | (1UL << 10) | (3UL << 12) | (1UL << 23) | (2UL << 32));
    SYSREG_WRITE("ttbr0_el1", (u64)l1);
    ISB();
    __asm__ volatile("tlbi vmalle1; dsb sy; isb" : : : "memory");
}

static void row(const char *name, u64 t0, u64 t1)
{
    u64 freq = SYSREG_READ("cntfrq_el0");
    puts(name);
    puts(" ticks "); put_dec(t1 - t0); puts("\n");
    puts(name);
    puts(" ps_per_call "); put_dec((t1 - t0) * (1000000000000UL / freq) / ROUNDS); puts("\n");
}

int main(void)
{
    u64 isar1 = SYSREG_READ("id_aa64isar1_el1"), pfr1 = SYSREG_READ("id_aa64pfr1_el1");
    int pauth = ((isar1 >> 4) & 0xff) != 0, bti = (pfr1 & 0xf) != 0;
    put_line("pauth", pauth);
    put_line("bti", bti);
    map();
    u64 sctlr = SYSREG_READ("sctlr_el1") | 1 | (1UL << 2) | (1UL << 12); /* M, C, I */
    if (pauth) {
        SYSREG_WRITE("apiakeylo_el1", 0x0123456789abcdefUL);
        SYSREG_WRITE("apiakeyhi_el1", 0xfedcba9876543210UL);
        sctlr |= 1UL << 31; /* EnIA */
    }
    if (bti)
        sctlr |= 1UL << 36; /* BT1: PACIASP is no pad for BTYPE 11 */
    SYSREG_WRITE("sctlr_el1", sctlr);
    ISB();

    u64 (*volatile indirect)(u64) = signed_fn;
    u64 x = 0, t0, t1;

    if (ROWS & 1) {
        t0 = SYSREG_READ("cntvct_el0");
        for (u64 i = 0; i < ROUNDS; i++)
            x = plain_fn(x);
        t1 = SYSREG_READ("cntvct_el0");
        row("plain", t0, t1);
    }

    if (ROWS & 2) {
        t0 = SYSREG_READ("cntvct_el0");
        for (u64 i = 0; i < ROUNDS; i++)
            x = signed_fn(x);
        t1 = SYSREG_READ("cntvct_el0");
        row("bl", t0, t1);
    }

    if (ROWS & 4) {
        u64 (*fn)(u64) = indirect;
        t0 = SYSREG_READ("cntvct_el0");
        for (u64 i = 0; i < ROUNDS; i++)
            x = fn(x);
        t1 = SYSREG_READ("cntvct_el0");
        row("blr", t0, t1);
    }

    if (ROWS & 8) {
        t0 = SYSREG_READ("cntvct_el0");
        br_loop(ROUNDS);
        t1 = SYSREG_READ("cntvct_el0");
        row("br", t0, t1);
    }

    put_line("sum", x);
    return 0;
}
