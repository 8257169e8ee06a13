// arm64-diff reference harness: runs A64 test blocks natively (under qemu-aarch64 -cpu cortex-a57)
// and reports the final registers, NZCV and scratch memory. Protocol and layout: README.md; the C#
// side is tests/SoftKvm.Arm64.Cpu.Tests/Differential/ (DiffLayout.cs must match the constants below).
//
// Input on stdin, records until count == 0 or EOF:
//   u32 count, u32 reserved, u64 x[31], u64 sp, u64 nzcv, u8 v[32][16], u8 scratch[4096], u32 words[count]
// Output on stdout, one record per input record:
//   u32 signal (0: the block ran to its end), u32 reserved, u64 fault_pc, u64 fault_addr,
//   u64 x[31], u64 sp, u64 nzcv, u8 v[32][16], u8 scratch[4096]
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <asm/sigcontext.h>

#define CODE_BASE    0x10000000UL
#define BLOCK_BASE   (CODE_BASE + 0x400)
#define EPI_BASE     (CODE_BASE + 0xC00)
#define MAX_WORDS    ((EPI_BASE - BLOCK_BASE) / 4 - 1)
#define DATA_BASE    0x11000000UL
#define SCRATCH_BASE 0x20008000UL
#define SCRATCH_SIZE 4096

struct in_header
{
    uint32_t count;
    uint32_t reserved;
    uint64_t x[31];
    uint64_t sp;
    uint64_t nzcv;
    uint8_t v[512];
};

struct out_record
{
    uint32_t signal;
    uint32_t reserved;
    uint64_t fault_pc;
    uint64_t fault_addr;
    uint64_t x[31];
    uint64_t sp;
    uint64_t nzcv;
    uint8_t v[512];
    uint8_t scratch[SCRATCH_SIZE];
};

extern char loader_start[], loader_end[], epi_start[], epi_end[], fault_exit[];

static volatile uint32_t g_signal;
static volatile uint64_t g_fault_pc, g_fault_addr;
static uint64_t g_fault_regs[34];
static uint8_t g_fault_v[512];
static int g_fault_have_v;

static void on_fault(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    g_signal = (uint32_t)sig;
    g_fault_pc = uc->uc_mcontext.pc;
    g_fault_addr = (uint64_t)si->si_addr;
    for (int i = 0; i < 31; i++)
    {
        g_fault_regs[i] = uc->uc_mcontext.regs[i];
    }

    g_fault_regs[31] = uc->uc_mcontext.sp;
    g_fault_regs[32] = uc->uc_mcontext.pstate & 0xF0000000UL;
    struct fpsimd_context *fp = (struct fpsimd_context *)uc->uc_mcontext.__reserved;
    g_fault_have_v = fp->head.magic == FPSIMD_MAGIC;
    if (g_fault_have_v)
    {
        memcpy(g_fault_v, fp->vregs, sizeof g_fault_v);
    }

    uc->uc_mcontext.pc = (uint64_t)fault_exit;
}

static void *map_fixed(uint64_t addr, size_t size, int prot)
{
    void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)addr)
    {
        fprintf(stderr, "arm64-diff-ref: cannot map 0x%lx\n", (unsigned long)addr);
        exit(2);
    }

    return p;
}

static int read_exact(void *buffer, size_t size)
{
    return fread(buffer, 1, size, stdin) == size;
}

int main(void)
{
    static char altstack[65536];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    int signals[] = { SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGFPE, SIGSYS };
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    {
        sigaction(signals[i], &sa, NULL);
    }

    uint8_t *code = map_fixed(CODE_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    uint8_t *data = map_fixed(DATA_BASE, 4096, PROT_READ | PROT_WRITE);
    uint8_t *scratch = map_fixed(SCRATCH_BASE, SCRATCH_SIZE, PROT_READ | PROT_WRITE);
    size_t loader_size = (size_t)(loader_end - loader_start);
    size_t epi_size = (size_t)(epi_end - epi_start);
    static char inbuf[1 << 20], outbuf[1 << 20];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int (*enter)(void) = (int (*)(void))(BLOCK_BASE - loader_size);

    struct in_header header;
    static struct out_record out;
    static uint32_t words[MAX_WORDS];
    while (read_exact(&header, sizeof header) && header.count != 0)
    {
        if (header.count > MAX_WORDS || !read_exact(scratch, SCRATCH_SIZE)
            || !read_exact(words, header.count * sizeof(uint32_t)))
        {
            fprintf(stderr, "arm64-diff-ref: malformed input record\n");
            return 2;
        }

        // The whole code page is rewritten for every case: an unconstrained store of an earlier case
        // may have hit the loader or the epilogue.
        uint8_t *block = code + (BLOCK_BASE - CODE_BASE);
        memset(code, 0, 4096);
        memcpy(block - loader_size, loader_start, loader_size);
        memcpy(code + (EPI_BASE - CODE_BASE), epi_start, epi_size);
        memcpy(block, words, header.count * sizeof(uint32_t));
        uint64_t end = BLOCK_BASE + 4UL * header.count;
        uint32_t branch = 0x14000000u | (uint32_t)(((EPI_BASE - end) / 4) & 0x3FFFFFF);
        memcpy(block + 4UL * header.count, &branch, 4);
        __builtin___clear_cache((char *)code, (char *)code + 4096);

        memcpy(data, header.x, sizeof header.x + 16);
        memcpy(data + 0x600, header.v, sizeof header.v);
        g_signal = 0;
        int faulted = enter();
        memset(&out, 0, sizeof out);
        if (faulted)
        {
            out.signal = g_signal;
            out.fault_pc = g_fault_pc;
            out.fault_addr = g_fault_addr;
            memcpy(out.x, g_fault_regs, 33 * sizeof(uint64_t));
            memcpy(out.v, g_fault_have_v ? g_fault_v : header.v, sizeof out.v);
        }
        else
        {
            memcpy(out.x, data + 0x200, 33 * sizeof(uint64_t));
            memcpy(out.v, data + 0x800, sizeof out.v);
        }

        memcpy(out.scratch, scratch, SCRATCH_SIZE);
        if (fwrite(&out, sizeof out, 1, stdout) != 1)
        {
            return 2;
        }
    }

    fflush(stdout);
    return 0;
}
