/* Port IO, serial output and exit for the SoftKvm x86 test guests (QEMU isa-debug-exit at 0xF4). */
#ifndef SOFTKVM_GUEST_IO_H
#define SOFTKVM_GUEST_IO_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* MMIO at a physical address (paging off or identity-mapped). */
static inline u8 rd8(u32 a) { return *(volatile u8 *)(unsigned long)a; }
static inline u16 rd16(u32 a) { return *(volatile u16 *)(unsigned long)a; }
static inline u32 rd32(u32 a) { return *(volatile u32 *)(unsigned long)a; }
static inline void wr8(u32 a, u8 v) { *(volatile u8 *)(unsigned long)a = v; }
static inline void wr16(u32 a, u16 v) { *(volatile u16 *)(unsigned long)a = v; }
static inline void wr32(u32 a, u32 v) { *(volatile u32 *)(unsigned long)a = v; }

static void putc_serial(char c) { outb(0x3F8, (u8)c); }

static void puts_serial(const char *s)
{
    while (*s) {
        putc_serial(*s++);
    }
}

static void put_hex(u32 v)
{
    for (int i = 28; i >= 0; i -= 4) {
        putc_serial("0123456789abcdef"[(v >> i) & 15]);
    }
}

static void put_dec(u32 v)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        putc_serial(buf[--n]);
    }
}

static void line(const char *label, u32 value)
{
    puts_serial(label);
    puts_serial(": ");
    put_dec(value);
    puts_serial(" 0x");
    put_hex(value);
    putc_serial('\n');
}

/* isa-debug-exit: QEMU exits with status (code << 1) | 1. */
static void guest_exit(u32 code)
{
    outl(0xF4, code);
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}

#endif
