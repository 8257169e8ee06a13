/*
 * Stage-1 MMU and EL0: 4 KiB-granule tables for a 39-bit VA space (RAM identity-mapped with 4 KiB
 * pages for the image and 2 MiB blocks above it, devices as a 1 GiB Device-nGnRnE block), MMU on,
 * then user programs at EL0 that make system calls (SVC), and that fault on kernel memory, unmapped
 * memory and a kernel-only page; ESR_EL1/FAR_EL1 of each fault are printed.
 */
#include "lib.h"

#define SYSREG_WRITE(name, v) __asm__ volatile("msr " name ", %0" : : "r"((u64)(v)) : "memory")
#define SYSREG_READ(name) ({ u64 _v; __asm__ volatile("mrs %0, " name : "=r"(_v) : : "memory"); _v; })

#define PAGE 4096UL
#define USER_VA 0x0000000080000000UL /* L1 index 2: the user page */

extern char __text_start[], __text_end[], __stack_top[];
extern char user_vectors[];
s64 run_user(void (*entry)(u64), u64 sp, u64 arg);

static u64 l1[512] __attribute__((aligned(4096)));
static u64 l2_ram[512] __attribute__((aligned(4096)));
static u64 l3_image[512] __attribute__((aligned(4096)));
static u64 l2_user[512] __attribute__((aligned(4096)));
static u64 l3_user[512] __attribute__((aligned(4096)));
static u8 user_page[2][PAGE] __attribute__((aligned(4096)));
static volatile u64 kernel_secret = 0x5ec7e7;

#define VALID 1UL
#define TABLE 3UL
#define PAGE_DESC 3UL
#define AF (1UL << 10)
#define SH_INNER (3UL << 8)
#define AP_EL0 (1UL << 6)
#define AP_RO (1UL << 7)
#define PXN (1UL << 53)
#define UXN (1UL << 54)
#define ATTR_NORMAL (0UL << 2)
#define ATTR_DEVICE (1UL << 2)

void unexpected_exception(u64 esr, u64 elr)
{
    put_line("unexpected exception, esr", esr);
    put_line("elr", elr);
    psci_system_off();
}

/* System calls: x8 = 1 putc(x0), 2 exit(x0). A fault ends the program with -1. */
u64 sync_lower(u64 *frame, u64 esr, u64 far)
{
    u64 ec = esr >> 26;
    if (ec == 0x15) {
        if (frame[8] == 1) {
            putc((char)frame[0]);
            return 0;
        }
        if (frame[8] == 2) {
            put_line("exit", frame[0]);
            return 1;
        }
    }
    put_line("fault esr", esr);
    if (ec == 0x24)
        put_line("fault far", far);
    return 1;
}

static void user_syscall(u64 nr, u64 a0)
{
    register u64 x0 __asm__("x0") = a0;
    register u64 x8 __asm__("x8") = nr;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8) : "memory");
}

/* EL0 code: uses only its stack, its argument and system calls. */
static void user_hello(u64 arg)
{
    const char msg[] = { 'u', 's', 'e', 'r', ' ', 'h', 'i', '\n', 0 };
    for (int i = 0; msg[i]; i++)
        user_syscall(1, (u64)msg[i]);
    u64 acc = arg;
    for (int i = 0; i < 1000; i++)
        acc = acc * 6364136223846793005UL + 1442695040888963407UL;
    *(volatile u64 *)(USER_VA + 64) = acc;
    user_syscall(2, *(volatile u64 *)(USER_VA + 64) & 0xffff);
}

static void user_read_kernel(u64 addr)
{
    user_syscall(2, *(volatile u64 *)addr);
}

static void user_write_readonly(u64 addr)
{
    *(volatile u64 *)addr = 1;
    user_syscall(2, 0);
}

static void user_privileged(u64 unused)
{
    (void)unused;
    SYSREG_WRITE("vbar_el1", 0);
    user_syscall(2, 0);
}

static void map_tables(void)
{
    u64 ram = 0x40000000UL;
    l1[0] = 0x00000000UL | VALID | AF | ATTR_DEVICE | UXN | PXN; /* 1 GiB device block */
    l1[1] = (u64)l2_ram | TABLE;
    l1[2] = (u64)l2_user | TABLE;
    l2_ram[0] = (u64)l3_image | TABLE;
    for (u64 i = 1; i < 64; i++)
        l2_ram[i] = (ram + i * 0x200000UL) | VALID | AF | SH_INNER | ATTR_NORMAL | UXN;
    for (u64 i = 0; i < 512; i++) {
        u64 pa = ram + i * PAGE;
        u64 desc = pa | PAGE_DESC | AF | SH_INNER | ATTR_NORMAL;
        if (pa >= (u64)__text_start && pa < (u64)__text_end)
            desc |= AP_RO | AP_EL0; /* text: read-only, executable at EL0 and EL1 */
        else
            desc |= UXN | PXN;      /* data: EL1 read-write, never executable */
        l3_image[i] = desc;
    }
    l2_user[0] = (u64)l3_user | TABLE;
    l3_user[0] = (u64)user_page[0] | PAGE_DESC | AF | SH_INNER | AP_EL0 | UXN | PXN;
    l3_user[1] = (u64)user_page[1] | PAGE_DESC | AF | SH_INNER | AP_EL0 | AP_RO | UXN | PXN;
}

static void enable_mmu(void)
{
    SYSREG_WRITE("mair_el1", 0x00ffUL);                    /* attr0 normal WB, attr1 device nGnRnE */
    SYSREG_WRITE("tcr_el1", 25UL | (1UL << 8) | (1UL << 10) | (3UL << 12) | (1UL << 23) | (2UL << 32));
    SYSREG_WRITE("ttbr0_el1", (u64)l1);
    __asm__ volatile("dsb ish\n isb");
    SYSREG_WRITE("sctlr_el1", SYSREG_READ("sctlr_el1") | 1 | (1 << 2) | (1 << 12));
    __asm__ volatile("isb");
}

static s64 run(void (*fn)(u64), u64 arg)
{
    return run_user(fn, USER_VA + PAGE, arg);
}

int main(void)
{
    puts("mmu: start\n");
    map_tables();
    SYSREG_WRITE("vbar_el1", (u64)user_vectors);
    enable_mmu();
    put_line("sctlr.m", SYSREG_READ("sctlr_el1") & 1);

    __asm__ volatile("at s1e1r, %0" : : "r"(USER_VA + 8));
    put_line("par user page", SYSREG_READ("par_el1") & ~0xfffUL & 0xffffffffffUL ? 1 : 0);
    __asm__ volatile("at s1e1r, %0" : : "r"(0x7000000000UL));
    put_line("par unmapped", SYSREG_READ("par_el1") & 0x7f);

    run(user_hello, 7);
    run(user_read_kernel, (u64)&kernel_secret);
    run(user_read_kernel, 0xc0000000UL);
    run(user_write_readonly, USER_VA + PAGE + 8);
    run(user_privileged, 0);
    put_line("secret", kernel_secret);
    puts("mmu: done\n");
    return 0;
}
