#include "lib.h"

void other_entry(void);

#ifdef __x86_64__
static struct { u16 lo, sel; u8 ist, type; u16 mid; u32 hi, zero; } __attribute__((packed, aligned(16))) idt[256];

/* The 64-bit guests' GDT (as smp_tramp64.S's): 0x08 64-bit code, 0x10 32-bit code, 0x18 data. */
static const u64 gdt[4] __attribute__((aligned(8))) = {
    0, 0x00AF9B000000FFFFull, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull,
};

struct __attribute__((packed)) gdtr_t { u16 limit; u64 base; };
const struct gdtr_t gdt_descriptor = { sizeof(gdt) - 1, (u64)gdt };
#define CODE_SELECTOR 0x08
#else
static struct { u16 lo, sel; u8 zero, type; u16 hi; } __attribute__((packed, aligned(8))) idt[256];

/* Flat segments as the Multiboot entry state: 0x10 code, 0x18 data (so CS and the selectors stay valid). */
static const u64 gdt[4] __attribute__((aligned(8))) = {
    0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull,
};

struct __attribute__((packed)) gdtr_t { u16 limit; u32 base; };
const struct gdtr_t gdt_descriptor = { sizeof(gdt) - 1, (u32)gdt };
#define CODE_SELECTOR 0x10
#endif

void putc(char c) { outb(0x3F8, (u8)c); }

void puts(const char *s)
{
    while (*s)
    {
        putc(*s++);
    }
}

void putdec(u32 v)
{
    char buf[11];
    int n = 0;
    do
    {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
    {
        putc(buf[--n]);
    }
}

void puthex(u32 v)
{
    puts("0x");
    for (int s = 28; s >= 0; s -= 4)
    {
        putc("0123456789abcdef"[(v >> s) & 15]);
    }
}

int check(const char *name, int ok)
{
    puts(ok ? "PASS " : "FAIL ");
    puts(name);
    putc('\n');
    return ok ? 0 : 1;
}

void die(const char *why)
{
    puts("FAIL ");
    puts(why);
    putc('\n');
    outl(0xF4, 0x7F);
    for (;;)
    {
        __asm__ volatile("cli; hlt");
    }
}

void idt_set(int vector, void (*handler)(void))
{
#ifdef __x86_64__
    u64 a = (u64)handler;
    idt[vector].lo = (u16)a;
    idt[vector].mid = (u16)(a >> 16);
    idt[vector].hi = (u32)(a >> 32);
    idt[vector].sel = CODE_SELECTOR;
    idt[vector].ist = 0;
    idt[vector].type = 0x8E;
    idt[vector].zero = 0;
#else
    idt[vector].lo = (u16)(u32)handler;
    idt[vector].hi = (u16)((u32)handler >> 16);
    idt[vector].sel = CODE_SELECTOR;
    idt[vector].zero = 0;
    idt[vector].type = 0x8E;
#endif
}

void idt_init(void)
{
    for (int v = 0; v < 256; v++)
    {
        idt_set(v, other_entry);
    }
}

void idt_load(void)
{
    struct __attribute__((packed)) { u16 limit; ureg base; } idtr = { sizeof(idt) - 1, (ureg)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void gdt_load(void)
{
#ifdef __x86_64__
    __asm__ volatile("lgdt %0\n\t"
                     "pushq $0x08\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\tmov $0x18, %%eax\n\t"
                     "mov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\tmov %%eax, %%fs\n\tmov %%eax, %%gs"
                     : : "m"(gdt_descriptor) : "rax", "memory");
#else
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x10, $1f\n"
                     "1:\tmov $0x18, %%eax\n\t"
                     "mov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\tmov %%eax, %%fs\n\tmov %%eax, %%gs"
                     : : "m"(gdt_descriptor) : "eax", "memory");
#endif
}

static u32 parse_hex(const char **p)
{
    u32 v = 0;
    for (;;)
    {
        char c = **p;
        u32 d;
        if (c >= '0' && c <= '9') d = (u32)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (u32)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (u32)(c - 'A' + 10);
        else return v;
        v = (v << 4) | d;
        (*p)++;
    }
}

u32 virtio_find(u32 multiboot_info, u32 device_id)
{
    const u32 *mbi = (const u32 *)(ureg)multiboot_info;
    if (!(mbi[0] & 4))
    {
        return 0;
    }

    static const char key[] = "virtio_mmio.device=512@0x";
    for (const char *p = (const char *)(ureg)mbi[4]; *p; p++)
    {
        int i = 0;
        while (key[i] && p[i] == key[i])
        {
            i++;
        }

        if (key[i])
        {
            continue;
        }

        const char *q = p + i;
        u32 base = parse_hex(&q);
        if (mmio_read(base + VIRTIO_MAGIC) == 0x74726976 && mmio_read(base + VIRTIO_DEVICE_ID) == device_id)
        {
            return base;
        }
    }

    return 0;
}

void lapic_enable(void) { lapic_write(LAPIC_SVR, 0x1FF); }

void lapic_wait_icr(void)
{
    for (int i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LO) & (1u << 12)); i++)
    {
        __asm__ volatile("pause");
    }
}

/* Vectors a guest does not use end the run. */
__attribute__((weak)) void on_db(ureg *f) { (void)f; die("unexpected #DB"); }
__attribute__((weak)) void on_bp(ureg *f) { (void)f; die("unexpected #BP"); }
__attribute__((weak)) void on_of(ureg *f) { (void)f; die("unexpected #OF"); }
__attribute__((weak)) void on_ud(ureg *f) { (void)f; die("unexpected #UD"); }
__attribute__((weak)) void on_pf(ureg *f) { (void)f; die("unexpected #PF"); }
__attribute__((weak)) void on_irq40(ureg *f) { (void)f; die("unexpected vector 0x40"); }
__attribute__((weak)) void on_irq41(ureg *f) { (void)f; die("unexpected vector 0x41"); }
__attribute__((weak)) void on_irq42(ureg *f) { (void)f; die("unexpected vector 0x42"); }
__attribute__((weak)) void on_irq43(ureg *f) { (void)f; die("unexpected vector 0x43"); }
