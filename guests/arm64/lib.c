#include "lib.h"

void putc(char c)
{
    *(volatile u32 *)PL011_BASE = (u8)c;
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

void put_hex(u64 v)
{
    puts("0x");
    for (int i = 60; i >= 0; i -= 4)
        putc("0123456789abcdef"[(v >> i) & 15]);
}

void put_dec(u64 v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc(buf[--n]);
}

void put_sdec(s64 v)
{
    if (v < 0) {
        putc('-');
        put_dec((u64)-v);
    } else {
        put_dec((u64)v);
    }
}

void put_line(const char *label, u64 v)
{
    puts(label);
    puts(" ");
    put_hex(v);
    puts("\n");
}

s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3)
{
    register u64 x0 __asm__("x0") = fn;
    register u64 x1 __asm__("x1") = a1;
    register u64 x2 __asm__("x2") = a2;
    register u64 x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return (s64)x0;
}

void psci_system_off(void)
{
    psci_call(0x84000008UL, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

void psci_cpu_off(void)
{
    psci_call(0x84000002UL, 0, 0, 0);
}

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* Programs without secondary CPUs need no secondary_main. */
__attribute__((weak)) void secondary_main(u64 index)
{
    (void)index;
}
