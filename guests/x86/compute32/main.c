/* 32-bit protected-mode compute guest: integer workloads whose results go to the serial port. */
#include "../common/io.h"

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--) {
        *p++ = (u8)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--) {
        *p++ = *q++;
    }
    return d;
}

static u8 sieve[20000];
static u32 data[512];
static u32 crc_table[256];

static u32 count_primes(u32 limit)
{
    u32 count = 0;
    memset(sieve, 1, limit);
    for (u32 i = 2; i < limit; i++) {
        if (sieve[i]) {
            count++;
            for (u32 j = i * i; j < limit; j += i) {
                sieve[j] = 0;
            }
        }
    }
    return count;
}

static u32 crc32(const u8 *p, u32 n)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
    u32 crc = 0xFFFFFFFFu;
    while (n--) {
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

static u32 lcg_state = 12345;
static u32 lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static void insertion_sort(u32 *a, int n)
{
    for (int i = 1; i < n; i++) {
        u32 v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static u32 collatz_max_steps(u32 limit, u32 *arg)
{
    u32 best = 0;
    for (u32 n = 1; n < limit; n++) {
        u64 x = n;
        u32 steps = 0;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x >> 1;
            steps++;
        }
        if (steps > best) {
            best = steps;
            *arg = n;
        }
    }
    return best;
}

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static u32 dispatch(u32 op, u32 a, u32 b)
{
    switch (op & 7) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return b ? a / b : 0;
    case 4: return a ^ b;
    case 5: return (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31));
    case 6: return (u32)((int)a >> (b & 31));
    default: return ~a;
    }
}

/* One round of every workload; compute32bench.elf runs ROUNDS of them (the lcg state carries over). */
static void run_round(u32 magic)
{
    puts_serial("SoftKvm x86 compute32\n");
    line("multiboot", magic == 0x2BADB002u);
    line("primes<20000", count_primes(20000));

    for (int i = 0; i < 512; i++) {
        data[i] = lcg();
    }
    line("crc32", crc32((const u8 *)data, sizeof data));
    insertion_sort(data, 512);
    u32 sorted = 1;
    for (int i = 1; i < 512; i++) {
        sorted &= data[i - 1] <= data[i];
    }
    line("sorted", sorted);
    line("median", data[256]);

    u32 arg = 0;
    u32 steps = collatz_max_steps(30000, &arg);
    line("collatz-steps", steps);
    line("collatz-arg", arg);

    u64 f0 = 0, f1 = 1;
    for (int i = 0; i < 90; i++) {
        u64 t = f0 + f1;
        f0 = f1;
        f1 = t;
    }
    line("fib90-lo", (u32)f0);
    line("fib90-hi", (u32)(f0 >> 32));

    int g = 0;
    for (int i = 1; i < 300; i++) {
        g += gcd(i * 7919, 123456 - i);
    }
    line("gcd-sum", (u32)g);

    u32 acc = 0x9E3779B9u;
    for (u32 i = 0; i < 2000; i++) {
        acc = dispatch(i * 2654435761u >> 29, acc, i + 3);
    }
    line("dispatch", acc);

    u64 m = 0xFFFFFFFFull * 0xFFFFFFFFull;
    line("mul64-lo", (u32)m);
    line("mul64-hi", (u32)(m >> 32));
    int neg = -123456789;
    line("sdiv", (u32)(neg / 1000));
    line("smod", (u32)(neg % 1000));
}

#ifndef ROUNDS
#define ROUNDS 1
#endif

int main(u32 magic, u32 info)
{
    (void)info;
    for (int r = 0; r < ROUNDS; r++) {
        run_round(magic);
    }

    puts_serial("PASS\n");
    guest_exit(0);
    return 0;
}
