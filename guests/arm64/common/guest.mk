# Shared rules of the SMP guests (demo, sgi): Debian's cross toolchain; reproducible (objects first,
# no build id, no temporary names, stripped of local symbols). A guest's Makefile sets GUEST,
# STACK_SIZE and MAX_CPUS, then includes this file.
CROSS   ?= aarch64-linux-gnu-
CC      := $(CROSS)gcc
LD      := $(CROSS)ld
COMMON  := ../common
CFLAGS  := -O2 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -mgeneral-regs-only \
           -mstrict-align -march=armv8-a -mno-outline-atomics -fno-asynchronous-unwind-tables -fno-ident \
           -Wall -Werror -I$(COMMON) -DSTACK_SIZE=$(STACK_SIZE) -DMAX_CPUS=$(MAX_CPUS)
LDFLAGS := -nostdlib --build-id=none -T $(COMMON)/smp.ld -z max-page-size=4096 -z noexecstack --no-warn-rwx-segments

all: $(GUEST).elf

smp_start.o: $(COMMON)/smp_start.S
	$(CC) $(CFLAGS) -c -o $@ $<

$(GUEST).o: $(GUEST).c $(COMMON)/guest.h $(COMMON)/its.h
	$(CC) $(CFLAGS) -c -o $@ $<

$(GUEST).elf: smp_start.o $(GUEST).o $(COMMON)/smp.ld
	$(LD) $(LDFLAGS) -o $@ smp_start.o $(GUEST).o
	$(CROSS)strip --strip-debug --discard-all $@

clean:
	rm -f *.o $(GUEST).elf

.PHONY: all clean
