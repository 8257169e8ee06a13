/* 64-bit long-mode compute guest: 64-bit integer workloads, an IDT with #BP and #DE handlers. */
#include "../common/io.h"

extern void bp_stub(void);
extern void de_stub(void);
extern volatile u64 bp_count;
extern volatile u64 de_count;

struct idt_entry {
    u16 off0;
    u16 sel;
    u8 ist;
    u8 type;
    u16 off1;
    u32 off2;
    u32 zero;
} __attribute__((packed));

static struct idt_entry idt[256];

static void set_gate(int v, void (*fn)(void))
{
    u64 a = (u64)fn;
    idt[v].off0 = (u16)a;
    idt[v].sel = 0x08;
    idt[v].ist = 0;
    idt[v].type = 0x8E;
    idt[v].off1 = (u16)(a >> 16);
    idt[v].off2 = (u32)(a >> 32);
    idt[v].zero = 0;
}

static void put_hex64(u64 v)
{
    put_hex((u32)(v >> 32));
    put_hex((u32)v);
}

static void line64(const char *label, u64 v)
{
    puts_serial(label);
    puts_serial(": 0x");
    put_hex64(v);
    putc_serial('\n');
}

static u64 isqrt(u64 n)
{
    u64 x = n, y = (x + 1) / 2;
    while (y < x) {
        x = y;
        y = (x + n / x) / 2;
    }
    return x;
}

static u64 powmod(u64 b, u64 e, u64 m)
{
    u64 r = 1;
    b %= m;
    while (e) {
        if (e & 1) {
            r = (r * b) % m;
        }
        b = (b * b) % m;
        e >>= 1;
    }
    return r;
}

static u64 xorshift(u64 *s)
{
    u64 x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static u32 popcount(u64 v)
{
    u32 n = 0;
    while (v) {
        v &= v - 1;
        n++;
    }
    return n;
}

static u64 divide(u64 a, u64 b)
{
    u64 q;
    /* A plain DIV so the #DE handler can skip exactly this 3-byte instruction. */
    __asm__ volatile("xorl %%edx, %%edx\n\tdivq %%rcx" : "=a"(q) : "a"(a), "c"(b) : "rdx");
    return q;
}

void main64(u32 magic)
{
    puts_serial("SoftKvm x86 longmode\n");
    line("multiboot", magic == 0x2BADB002u);

    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
    line("efer.lma", (lo >> 10) & 1);

    struct { u16 limit; u64 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u64)idt };
    set_gate(3, bp_stub);
    set_gate(0, de_stub);
    __asm__ volatile("lidt %0" : : "m"(idtr));
    for (int i = 0; i < 5; i++) {
        __asm__ volatile("int3");
    }
    line("breakpoints", (u32)bp_count);
    u64 q = divide(1000, 0);
    line("divide-errors", (u32)de_count);
    line("q-after-de", (u32)q);
    line64("divide", divide(0xFFFFFFFFFFFFFFFFull, 7));

    u64 count = 0;
    for (u64 n = 2; n < 20000; n++) {
        u64 r = isqrt(n), p = 1;
        for (u64 d = 2; d <= r; d++) {
            if (n % d == 0) {
                p = 0;
                break;
            }
        }
        count += p;
    }
    line64("primes<20000", count);
    line64("powmod", powmod(0x123456789ull, 0xFEDCBA987ull, 0xFFFFFFFFFFFFFFC5ull >> 4));

    u64 s = 88172645463325252ull, acc = 0;
    for (int i = 0; i < 10000; i++) {
        u64 v = xorshift(&s);
        acc += v >> (v & 31);
        acc ^= (u64)popcount(v) << (i & 63);
        acc = (acc << 7) | (acc >> 57);
    }
    line64("xorshift-acc", acc);

    long long sm = -9876543210123ll;
    line64("sdiv64", (u64)(sm / 12345));
    line64("smod64", (u64)(sm % 12345));
    line64("mulhi", (u64)(((unsigned __int128)0xDEADBEEFCAFEBABEull * 0x0123456789ABCDEFull) >> 64));

    puts_serial("PASS\n");
    guest_exit(0);
}
