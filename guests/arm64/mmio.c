/*
 * MMIO widths: loads of every width, with and without sign extension, into W and X registers, from
 * the PL011's identification registers (0xFE0..0xFFC: 0x11 0x10 0x14 0x00 0x0d 0xf0 0x05 0xb1), and
 * stores of every width to its data register.
 */
#include "lib.h"

#define ID(off) (PL011_BASE + (off))

static u64 ldrb_w(u64 a) { u64 v; __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrsb_w(u64 a) { u64 v; __asm__ volatile("mov %0, #-1\n ldrsb %w0, [%1]" : "=&r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrsb_x(u64 a) { u64 v; __asm__ volatile("ldrsb %x0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrh_w(u64 a) { u64 v; __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrsh_w(u64 a) { u64 v; __asm__ volatile("ldrsh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrsh_x(u64 a) { u64 v; __asm__ volatile("ldrsh %x0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldr_w(u64 a) { u64 v; __asm__ volatile("mov %0, #-1\n ldr %w0, [%1]" : "=&r"(v) : "r"(a) : "memory"); return v; }
static u64 ldrsw_x(u64 a) { u64 v; __asm__ volatile("ldrsw %x0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldr_x(u64 a) { u64 v; __asm__ volatile("ldr %x0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
static u64 ldar_w(u64 a) { u64 v; __asm__ volatile("ldar %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }

static void strh_dr(u16 v) { __asm__ volatile("strh %w0, [%1]" : : "r"(v), "r"(PL011_BASE) : "memory"); }
static void str_w_dr(u32 v) { __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(PL011_BASE) : "memory"); }
static void str_x_dr(u64 v) { __asm__ volatile("str %x0, [%1]" : : "r"(v), "r"(PL011_BASE) : "memory"); }
static void stlr_w_dr(u32 v) { __asm__ volatile("stlr %w0, [%1]" : : "r"(v), "r"(PL011_BASE) : "memory"); }

int main(void)
{
    puts("mmio: start\n");
    put_line("ldrb  w fe0", ldrb_w(ID(0xfe0)));
    put_line("ldrb  w ffc", ldrb_w(ID(0xffc)));
    put_line("ldrsb w ffc", ldrsb_w(ID(0xffc)));
    put_line("ldrsb x ffc", ldrsb_x(ID(0xffc)));
    put_line("ldrsb x ff4", ldrsb_x(ID(0xff4)));
    put_line("ldrsb x ff0", ldrsb_x(ID(0xff0)));
    put_line("ldrh  w fe4", ldrh_w(ID(0xfe4)));
    put_line("ldrsh w ff4", ldrsh_w(ID(0xff4)));
    put_line("ldrsh x ffc", ldrsh_x(ID(0xffc)));
    put_line("ldr   w ffc", ldr_w(ID(0xffc)));
    put_line("ldrsw x ff8", ldrsw_x(ID(0xff8)));
    put_line("ldar  w fe8", ldar_w(ID(0xfe8)));
    put_line("ldr   x ff8", ldr_x(ID(0xff8)));
    put_line("ldr   x fe0", ldr_x(ID(0xfe0)));
    strh_dr('h');
    str_w_dr('w');
    str_x_dr('x');
    stlr_w_dr('r');
    putc('\n');
    puts("mmio: done\n");
    return 0;
}
