/*
 * FEAT_FP16 guest (run with --cpu max): half-precision arithmetic compiled by gcc for
 * -march=armv8.2-a+fp16 (scalar H-register instructions and, vectorised, the 8H forms), under each
 * FPCR rounding mode and with FZ16, printing result bits and FPSR. Its output is what
 * qemu-system-aarch64 -M virt -cpu max prints (fp16.expected.txt).
 */
#include "lib.h"

typedef _Float16 half;

#define N 64

static half a[N], b[N], c[N];

static u16 bits(half h)
{
    u16 v;
    __builtin_memcpy(&v, &h, sizeof v);
    return v;
}

static void set_fpcr(u64 v)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

static u64 take_fpsr(void)
{
    u64 v;
    __asm__ volatile("mrs %0, fpsr\n\tmsr fpsr, xzr" : "=r"(v));
    return v;
}

/* A checksum of the bit patterns, so every lane counts. */
static u64 mix(u64 h, u16 v)
{
    return (h ^ v) * 0x100000001B3UL;
}

static u64 run(void)
{
    u64 h = 0xCBF29CE484222325UL;
    half s = 0, p = 1;
    for (int i = 0; i < N; i++) {
        c[i] = a[i] * b[i] + c[i];        /* FMLA .8h (vectorised) */
        c[i] = c[i] / (a[i] + (half)3);   /* FADD, FDIV .8h */
    }

    for (int i = 0; i < N; i++) {
        s += c[i] / (half)(i + 1);        /* SCVTF h, FDIV h, FADD h */
        p *= (half)1.0009765625 - c[i] * (half)0.0001;
        h = mix(h, bits(c[i]));
        h = mix(h, bits(c[i] * (half)0.00006103515625 * (half)0.125)); /* subnormal results: FZ16 */
    }

    half r = __builtin_sqrtf16(s < 0 ? -s : s);     /* FSQRT h */
    h = mix(h, bits(s));
    h = mix(h, bits(p));
    h = mix(h, bits(r));
    h = mix(h, (u16)(int)s);                        /* FCVTZS w, h */
    h = mix(h, bits(__builtin_fmaf16(s, p, r)));   /* FMADD h */
    h = mix(h, s > p ? 1 : 0);                      /* FCMPE h */
    return h;
}

/* Everything that may touch FP registers (callee-saved d8-d15 too) runs after CPACR_EL1.FPEN is set. */
static __attribute__((noinline)) void body(void)
{
    for (int mode = 0; mode < 8; mode++) {
        set_fpcr(((u64)(mode & 3) << 22) | ((u64)(mode >> 2) << 19));
        for (int i = 0; i < N; i++) {
            a[i] = (half)(i - 20) / (half)7;
            b[i] = (half)1000 / (half)(i + 1);
            c[i] = (half)(i * i) * (half)0.001;
        }

        take_fpsr();
        u64 h = run();
        put_line(mode < 4 ? "rmode" : "rmode+fz16", mode & 3);
        put_line("  hash", h);
        put_line("  fpsr", take_fpsr());
    }

    set_fpcr(0);
}

int main(void)
{
    __asm__ volatile("msr cpacr_el1, %0\n\tisb" : : "r"(3UL << 20));
    puts("fp16: start\n");
    body();
    puts("fp16: done\n");
    return 0;
}
