/* Small freestanding helpers shared by the PC guests: COM1 output, isa-debug-exit, the IDT, the local
   APIC, the Multiboot command line, and the virtio-mmio windows it announces. */
#ifndef LIB_H
#define LIB_H

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef unsigned long long u64;
typedef unsigned long ureg; /* a register's width: 32 bits in the 32-bit guests, 64 in the 64-bit ones (exits64) */

#define LAPIC 0xFEE00000u
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

#define VIRTIO_MAGIC 0x000
#define VIRTIO_DEVICE_ID 0x008
#define VIRTIO_QUEUE_NOTIFY 0x050

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 mmio_read(u32 addr) { return *(volatile u32 *)(ureg)addr; }
static inline void mmio_write(u32 addr, u32 v) { *(volatile u32 *)(ureg)addr = v; }
static inline u32 lapic_read(u32 reg) { return mmio_read(LAPIC + reg); }
static inline void lapic_write(u32 reg, u32 v) { mmio_write(LAPIC + reg, v); }

static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

void putc(char c);
void puts(const char *s);
void putdec(u32 v);
void puthex(u32 v);
int check(const char *name, int ok);
void die(const char *why) __attribute__((noreturn));
void idt_init(void);
void idt_set(int vector, void (*handler)(void));
void idt_load(void);
void gdt_load(void);
/* The first virtio-mmio window on the Multiboot command line whose DeviceID is device_id, or 0. */
u32 virtio_find(u32 multiboot_info, u32 device_id);
void lapic_enable(void);
void lapic_wait_icr(void);

#endif
