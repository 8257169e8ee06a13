/*
 * Linux user space on --cpu max with FEAT_MTE (the kernel's MTE ABI, Documentation/arch/arm64/memory-tagging-extension.rst):
 * HWCAP2_MTE, prctl(PR_SET_TAGGED_ADDR_CTRL) with synchronous and then asynchronous tag checks, an mmap with
 * PROT_MTE (its tags start at 0), IRG/STG/LDG on it, a load with the wrong tag (SIGSEGV, si_code SEGV_MTESERR,
 * si_addr with the tag under SA_EXPOSE_TAGBITS), a store with the wrong tag under asynchronous checks (SIGSEGV SEGV_MTEAERR at the next
 * kernel entry, which reads TFSRE0_EL1), and a fork that copies the tags of a private page (the kernel's
 * mte_copy_page_tags: LDGM/STGM). One line per check, "MTE-USER-DONE" at the end.
 * Built by LinuxBootTests (aarch64-linux-gnu-gcc -static -march=armv8.5-a+memtag), not committed.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef HWCAP2_MTE
#define HWCAP2_MTE (1 << 18)
#endif
#ifndef PROT_MTE
#define PROT_MTE 0x20
#endif
#ifndef PR_SET_TAGGED_ADDR_CTRL
#define PR_SET_TAGGED_ADDR_CTRL 55
#define PR_TAGGED_ADDR_ENABLE (1UL << 0)
#endif
#ifndef PR_MTE_TCF_SYNC
#define PR_MTE_TCF_SYNC (1UL << 1)
#define PR_MTE_TCF_ASYNC (1UL << 2)
#define PR_MTE_TAG_SHIFT 3
#endif
#ifndef SA_EXPOSE_TAGBITS
#define SA_EXPOSE_TAGBITS 0x00000800
#endif
#ifndef SEGV_MTEAERR
#define SEGV_MTEAERR 8
#define SEGV_MTESERR 9
#endif

static volatile int signals, last_code;
static volatile unsigned long last_addr;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    signals++;
    last_code = si->si_code;
    last_addr = (unsigned long)si->si_addr;
    if (si->si_code == SEGV_MTESERR)
        ((ucontext_t *)ctx)->uc_mcontext.pc += 4; /* skip the faulting access */
}

static unsigned long tagged(unsigned long p, unsigned long tag) { return (p & ~(0xfUL << 56)) | (tag << 56); }

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("MTE hwcap2 %d\n", (getauxval(AT_HWCAP2) & HWCAP2_MTE) != 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_EXPOSE_TAGBITS; /* si_addr keeps the tag (FAR_EL1's bits 59:56) */
    sigaction(SIGSEGV, &sa, NULL);

    int r = prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_SYNC | (0xfffeUL << PR_MTE_TAG_SHIFT), 0, 0, 0);
    printf("MTE prctl sync %d\n", r);
    unsigned long p = (unsigned long)mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_MTE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long g;
    __asm__ volatile("ldg %0, [%1]" : "=r"(g) : "r"(p), "0"(p));
    printf("MTE fresh tag %lu\n", g >> 56 & 0xf);

    unsigned long q;
    __asm__ volatile("irg %0, %1" : "=r"(q) : "r"(p));
    __asm__ volatile("stg %0, [%0]" ::"r"(q) : "memory");
    *(volatile unsigned long *)q = 42;
    printf("MTE irg tag nonzero %d, read back %lu\n", (q >> 56 & 0xf) != 0, *(volatile unsigned long *)q);

    unsigned long bad = tagged(q, (q >> 56 & 0xf) ^ 1), v = 0;
    __asm__ volatile("ldr %0, [%1]" : "+r"(v) : "r"(bad) : "memory");
    printf("MTE sync load: signals %d code %d addr matches %d\n", signals, last_code, last_addr == bad);

    r = prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_ASYNC | (0xfffeUL << PR_MTE_TAG_SHIFT), 0, 0, 0);
    printf("MTE prctl async %d\n", r);
    signals = 0;
    *(volatile unsigned long *)bad = 7;
    getpid(); /* a kernel entry: the fault is reported on the way back */
    printf("MTE async store: signals %d code %d, the store happened %d\n", signals, last_code, *(volatile unsigned long *)q == 7);

    pid_t child = fork();
    if (child == 0) {
        *(volatile unsigned long *)q = 1; /* the write copies the page, and the kernel its tags */
        unsigned long t;
        __asm__ volatile("ldg %0, [%1]" : "=r"(t) : "r"(p), "0"(p));
        _exit((t >> 56 & 0xf) == (q >> 56 & 0xf) ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("MTE fork keeps the tag %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("MTE-USER-DONE\n");
    return 0;
}
