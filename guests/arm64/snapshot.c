/*
 * The guest of the snapshot tests: fills a table, prints SNAPSHOT-MARKER, then runs 24 rounds that
 * rewrite the table (loads and stores across 64 KiB), the FP/SIMD registers (a running sum of doubles
 * kept in d8 across the rounds) and a value kept in x19-x28, printing each round's digest. Nothing
 * depends on time, so a run restored from a snapshot taken at the marker prints the same rounds as
 * an uninterrupted run.
 */
#include "lib.h"

#define WORDS 8192

static u64 table[WORDS];
static u64 state = 0x9e3779b97f4a7c15UL;

static u64 next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(void)
{
    /* CPACR_EL1.FPEN = 0b11: FP/SIMD without traps (start.S leaves it at reset, trapping). */
    __asm__ volatile("msr cpacr_el1, %0\n isb" : : "r"(3UL << 20));
    puts("snapshot guest: filling 64 KiB\n");
    for (u64 i = 0; i < WORDS; i++)
        table[i] = next();
    puts("SNAPSHOT-MARKER\n");

    u64 fsum_bits = 0;
    for (u64 round = 0; round < 24; round++) {
        u64 sum = 0;
        for (u64 i = 0; i < WORDS; i++) {
            table[i] = table[i] * 6364136223846793005UL + table[(i * 7 + round) % WORDS] + round;
            sum ^= table[i] + i;
        }
        /* A double accumulated in a callee-saved FP register across the rounds. */
        __asm__ volatile(
            "fmov d0, %1\n"
            "ucvtf d1, %2\n"
            "fmov d8, %0\n"
            "fmul d1, d1, d0\n"
            "fadd d8, d8, d1\n"
            "fmov %0, d8\n"
            : "+r"(fsum_bits)
            : "r"(0x3ff8000000000000UL), "r"(sum >> 40)
            : "d0", "d1", "d8");
        puts("round ");
        put_dec(round);
        puts(" digest ");
        put_hex(sum ^ next());
        puts(" fsum ");
        put_hex(fsum_bits);
        puts("\n");
    }
    puts("snapshot guest: done\n");
    return 0;
}
