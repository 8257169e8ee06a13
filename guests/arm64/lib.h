/* The tiny runtime of the SoftKvm arm64 test guests: PL011 output, PSCI over HVC, a few helpers. */
#ifndef SOFTKVM_GUEST_LIB_H
#define SOFTKVM_GUEST_LIB_H

typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;
typedef int s32;
typedef unsigned short u16;
typedef unsigned char u8;

#define PL011_BASE 0x09000000UL

void putc(char c);
void puts(const char *s);
void put_hex(u64 v);
void put_dec(u64 v);
void put_sdec(s64 v);
void put_line(const char *label, u64 v);

s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3);
void psci_system_off(void);
void psci_cpu_off(void);
void secondary_main(u64 index);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

#endif
