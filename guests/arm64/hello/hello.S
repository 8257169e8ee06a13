// The trivial guest: prints one line on the PL011 and powers off with PSCI SYSTEM_OFF.
// Used to measure start-up time (bench/compare/compare-qemu.sh startup).
    .section .text.boot, "ax"
    .global _start
_start:
    ldr     x1, =0x09000000             // PL011 UARTDR
    adr     x2, message
1:  ldrb    w3, [x2], #1
    cbz     w3, 2f
    str     w3, [x1]
    b       1b
2:  ldr     x0, =0x84000008             // PSCI SYSTEM_OFF
    hvc     #0
3:  wfi
    b       3b

message:
    .asciz  "hello from a trivial guest\r\n"
