/* A compute-heavy guest: CRC-32, a prime sieve, integer matrix product, sort, 64-bit arithmetic. */
#include "lib.h"

static u32 crc_table[256];
static u8 buffer[65536];
static u8 sieve[200001];
static s32 ma[24][24], mb[24][24], mc[24][24];
static u32 numbers[8192];

static u64 lcg_state = 0x123456789abcdefUL;

static u64 lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005UL + 1442695040888963407UL;
    return lcg_state >> 17;
}

static u64 popcount(u64 v)
{
    u64 n = 0;
    while (v) {
        v &= v - 1;
        n++;
    }
    return n;
}

static u32 crc32(const u8 *p, u64 n)
{
    u32 c = 0xffffffffu;
    for (u64 i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static u32 crc32_hw(const u8 *p, u64 n)
{
    u32 c = 0xffffffffu;
    for (u64 i = 0; i + 8 <= n; i += 8) {
        u64 w = 0;
        for (int k = 7; k >= 0; k--)
            w = (w << 8) | p[i + k];
        __asm__("crc32x %w0, %w0, %x1" : "+r"(c) : "r"(w));
    }
    return c ^ 0xffffffffu;
}

static void quicksort(u32 *a, s64 lo, s64 hi)
{
    while (lo < hi) {
        u32 pivot = a[(lo + hi) / 2];
        s64 i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                u32 t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

/* One round of every workload; computebench.elf runs ROUNDS of them (the lcg state carries over,
 * so every round computes new numbers). */
static void run_round(void)
{
    puts("compute: start\n");
    for (u64 i = 0; i < sizeof sieve; i++)
        sieve[i] = 0;

    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_table[i] = c;
    }
    for (u32 i = 0; i < sizeof buffer; i++)
        buffer[i] = (u8)lcg();
    put_line("crc32", crc32(buffer, sizeof buffer));
    put_line("crc32x", crc32_hw(buffer, sizeof buffer));

    u64 primes = 0, last = 0;
    for (u64 i = 2; i < sizeof sieve; i++) {
        if (!sieve[i]) {
            primes++;
            last = i;
            for (u64 j = i * i; j < sizeof sieve; j += i)
                sieve[j] = 1;
        }
    }
    puts("primes ");
    put_dec(primes);
    puts(" last ");
    put_dec(last);
    puts("\n");

    for (int i = 0; i < 24; i++)
        for (int j = 0; j < 24; j++) {
            ma[i][j] = (s32)(lcg() % 2001) - 1000;
            mb[i][j] = (s32)(lcg() % 2001) - 1000;
        }
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 24; i++)
            for (int j = 0; j < 24; j++) {
                s64 s = 0;
                for (int k = 0; k < 24; k++)
                    s += (s64)ma[i][k] * mb[k][j];
                mc[i][j] = (s32)(s >> r);
            }
    u64 msum = 0;
    for (int i = 0; i < 24; i++)
        for (int j = 0; j < 24; j++)
            msum = msum * 31 + (u32)mc[i][j];
    put_line("matrix", msum);

    for (u32 i = 0; i < 8192; i++)
        numbers[i] = (u32)lcg();
    quicksort(numbers, 0, 8191);
    u64 sorted = 1, ssum = 0;
    for (u32 i = 0; i < 8192; i++) {
        if (i && numbers[i - 1] > numbers[i])
            sorted = 0;
        ssum = ssum * 1000003 + numbers[i];
    }
    put_line("sorted", sorted);
    put_line("sortsum", ssum);

    u64 acc = 0x9e3779b97f4a7c15UL;
    s64 sacc = -12345678901234L;
    for (u64 i = 1; i < 20000; i++) {
        acc ^= acc << 13;
        acc ^= acc >> 7;
        acc ^= acc << 17;
        acc += (acc / i) ^ (acc % (i + 3));
        sacc = sacc / 3 + (s64)(acc >> 40) - (s64)i * 7;
        acc = (acc >> 3) | (acc << 61);
        acc += (u64)__builtin_clzl(acc | 1) + (u64)__builtin_ctzl(acc | (1UL << 63)) + popcount(acc);
    }
    put_line("mix", acc);
    puts("smix ");
    put_sdec(sacc);
    puts("\n");

    u64 h = 1469598103934665603UL;
    for (int i = 0; i < 100000; i++) {
        u64 x = lcg();
        u32 lo32 = (u32)x;
        s32 s = (s32)(x >> 32);
        h ^= (u64)(lo32 >> (i & 31)) + (u64)(s64)(s >> (i & 15)) + (u64)(u16)(x >> 5) + (u64)(s64)(signed char)x;
        h *= 1099511628211UL;
        __uint128_t p = (__uint128_t)h * x;
        h ^= (u64)(p >> 64);
    }
    put_line("hash", h);
    puts("compute: done\n");
}

#ifndef ROUNDS
#define ROUNDS 1
#endif

int main(void)
{
    for (int r = 0; r < ROUNDS; r++)
        run_round();
    return 0;
}
