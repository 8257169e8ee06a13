/*
 * PSCI through HVC with 4 CPUs: FEATURES, an unknown function, CPU_ON of three secondaries that add
 * to a shared counter with load-exclusive/store-exclusive, CPU_ON races and errors, AFFINITY_INFO,
 * CPU_OFF, and SYSTEM_OFF at the end.
 */
#include "lib.h"

#define PSCI_VERSION 0x84000000UL
#define PSCI_CPU_ON 0xC4000003UL
#define PSCI_AFFINITY_INFO 0xC4000004UL
#define PSCI_MIGRATE_INFO_TYPE 0x84000006UL
#define PSCI_FEATURES 0x8400000AUL

extern char secondary_entry[];
static volatile u64 counter;
static volatile u64 done;
static volatile u64 started[8];

static void atomic_add(volatile u64 *p, u64 v)
{
    u64 tmp, status;
    __asm__ volatile("1: ldaxr %0, [%2]\n"
                     "   add %0, %0, %3\n"
                     "   stlxr %w1, %0, [%2]\n"
                     "   cbnz %w1, 1b\n"
                     : "=&r"(tmp), "=&r"(status)
                     : "r"(p), "r"(v)
                     : "memory");
}

void secondary_main(u64 index)
{
    started[index] = 1;
    for (int i = 0; i < 20000; i++)
        atomic_add(&counter, index);
    atomic_add(&done, 1);
}

static void wait_off(u64 cpu)
{
    while (psci_call(PSCI_AFFINITY_INFO, cpu, 0, 0) != 1)
        ;
}

int main(void)
{
    puts("psci: start\n");
    puts("version major ");
    put_dec((u64)psci_call(PSCI_VERSION, 0, 0, 0) >> 16);
    puts("\nfeatures cpu_on ");
    put_sdec(psci_call(PSCI_FEATURES, PSCI_CPU_ON, 0, 0));
    puts("\nfeatures unknown ");
    put_sdec(psci_call(PSCI_FEATURES, 0x8400001FUL, 0, 0));
    puts("\nunknown ");
    put_sdec(psci_call(0x8400001FUL, 0, 0, 0));
    puts("\nmigrate_info_type ");
    put_sdec(psci_call(PSCI_MIGRATE_INFO_TYPE, 0, 0, 0));
    puts("\naffinity cpu1 before ");
    put_sdec(psci_call(PSCI_AFFINITY_INFO, 1, 0, 0));
    puts("\ncpu_on self ");
    put_sdec(psci_call(PSCI_CPU_ON, 0, (u64)secondary_entry, 0));
    puts("\ncpu_on bad mpidr ");
    put_sdec(psci_call(PSCI_CPU_ON, 0x100, (u64)secondary_entry, 0));
    puts("\n");

    for (u64 cpu = 1; cpu <= 3; cpu++) {
        s64 r = psci_call(PSCI_CPU_ON, cpu, (u64)secondary_entry, cpu);
        puts("cpu_on ");
        put_dec(cpu);
        puts(" ");
        put_sdec(r);
        puts("\n");
    }
    while (done != 3)
        ;
    for (u64 cpu = 1; cpu <= 3; cpu++)
        wait_off(cpu);
    puts("counter ");
    put_dec(counter);
    puts("\n");

    /* Start cpu 1 again: it was turned off, so CPU_ON succeeds once more. */
    puts("cpu_on again ");
    put_sdec(psci_call(PSCI_CPU_ON, 1, (u64)secondary_entry, 1));
    puts("\n");
    while (done != 4)
        ;
    wait_off(1);
    puts("counter ");
    put_dec(counter);
    puts("\nstarted ");
    put_dec(started[1] + started[2] + started[3]);
    puts("\npsci: done\n");
    return 0;
}
