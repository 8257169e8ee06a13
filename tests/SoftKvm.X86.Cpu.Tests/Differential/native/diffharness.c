/*
 * Native reference for SoftKvm's x86 differential tests (x86-64 Linux host, user mode).
 *
 * Input (stdin):  records of { u64 seed; u32 n; { u64 offset; u64 flags_mask; } masks[n]; u32 code_len; u8 code[code_len]; }.
 * masks[k] gives the defined flags before the instruction at offset (the last one: after the sequence);
 * the mask used is the one for the RIP where execution stopped (end of sequence or faulting instruction).
 * Output (stdout): per record { u32 hash; } or, with -v, the full final state as text.
 * With -s (SSE mode) the state also holds XMM0-15 and MXCSR, derived from the seed (derive_sse) and
 * included in the hash; the C# side is SseDiffCase / SseDiffRunner.
 *
 * For each record the registers, RFLAGS and the 4 KiB data page are derived from the seed with
 * splitmix64 (the C# side does the same), the code is copied to a fixed RWX page followed by an
 * indirect jump to the epilogue, and executed natively. A fault (SIGFPE, SIGSEGV, SIGILL, SIGBUS)
 * is caught and its state taken from the signal context. The final state is hashed with FNV-1a.
 *
 * Sandboxing: all cases run in a forked child; after reading its input and mapping its pages the
 * child enters seccomp strict mode (read, write, exit, sigreturn only), so the random code cannot
 * make any other system call. Build: gcc -O2 -o diffharness diffharness.c
 */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x800000UL
#define DATA_ADDR 0xA00000UL
#define DATA_SIZE 4096
#define R15_VALUE (DATA_ADDR + 0x200)
#define RSP_VALUE (DATA_ADDR + 0xC00)

struct state {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t rip;
    uint64_t kind; /* 0 completed, else 0x100 + signal */
    uint64_t xmm[32]; /* offset 152: XMM0-15, low quadword first */
    uint64_t mxcsr;   /* offset 408 */
    uint64_t fcw;     /* offset 416: loaded after FNINIT */
};

static int sse_mode;
uint64_t host_mxcsr;

struct state in_state, out_state;
uint64_t host_rsp;
static sigjmp_buf fault_env;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Initial state from the seed: interesting values for some registers, RSP and R15 fixed. */
static void derive(uint64_t seed, struct state *s, uint8_t *data)
{
    static const uint64_t special[] = { 0, 1, ~0ULL, 0x80000000ULL, 0x7FFFFFFFULL, 0x8000000000000000ULL,
                                        0xFFFFFFFFULL, 0x100000000ULL, 0x80, 0x7F, 0xFF, 0x8000, 0xFFFF };
    uint64_t st = seed;
    for (int i = 0; i < 16; i++) {
        uint64_t r = splitmix(&st);
        uint64_t v = splitmix(&st);
        s->gpr[i] = (r & 3) == 0 ? special[(r >> 8) % (sizeof special / sizeof special[0])] : (r & 3) == 1 ? (v & 0xFF) : v;
    }
    s->gpr[4] = RSP_VALUE;
    s->gpr[15] = R15_VALUE;
    s->rflags = 0x202 | (splitmix(&st) & 0x8D5);
    for (int i = 0; i < DATA_SIZE; i += 8) {
        uint64_t v = splitmix(&st);
        memcpy(data + i, &v, 8);
    }
}

/* SSE mode: XMM values mixing random bits, special and "nearby" floats/doubles, and a random MXCSR. */
static uint64_t sse_half(uint64_t *st)
{
    static const uint32_t sf[] = { 0, 0x80000000u, 0x3F800000u, 0xBF800000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
                                   0x7FA00000u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu, 0x4F000000u, 0xCF000000u, 0x5F000000u };
    static const uint64_t sd[] = { 0, 0x8000000000000000ULL, 0x3FF0000000000000ULL, 0x7FF0000000000000ULL, 0xFFF0000000000000ULL,
                                   0x7FF8000000000000ULL, 0x7FF4000000000000ULL, 0x0000000000000001ULL, 0x800FFFFFFFFFFFFFULL,
                                   0x0010000000000000ULL, 0x7FEFFFFFFFFFFFFFULL, 0x41E0000000000000ULL, 0xC3E0000000000000ULL,
                                   0x43E0000000000000ULL, 0x3FE0000000000000ULL, 0x4330000000000000ULL };
    uint64_t r = splitmix(st), v = splitmix(st);
    switch (r & 7) {
    case 0: return v;
    case 1: return sf[(r >> 8) & 15] | ((uint64_t)sf[(r >> 12) & 15] << 32);
    case 2: return sd[(r >> 8) & 15];
    case 3: { /* floats with exponents 120..135 */
        uint64_t a = (v & 0x807FFFFFu) | ((uint64_t)(120 + ((r >> 8) & 15)) << 23);
        uint64_t b = ((v >> 32) & 0x807FFFFFu) | ((uint64_t)(120 + ((r >> 12) & 15)) << 23);
        return a | (b << 32);
    }
    case 4: return (v & 0x800FFFFFFFFFFFFFULL) | ((uint64_t)(1015 + ((r >> 8) & 15)) << 52);
    case 5: return v & 0x00FF00FF00FF00FFULL;
    case 6: { /* tiny floats: exponents 0..3 */
        uint64_t a = (v & 0x807FFFFFu) | ((uint64_t)((r >> 8) & 3) << 23);
        uint64_t b = ((v >> 32) & 0x807FFFFFu) | ((uint64_t)((r >> 12) & 3) << 23);
        return a | (b << 32);
    }
    default: { /* tiny or huge doubles */
        uint64_t e = (r & 0x100) ? ((r >> 9) & 3) : 2044 + ((r >> 9) & 3);
        return (v & 0x800FFFFFFFFFFFFFULL) | (e << 52);
    }
    }
}

static void derive_sse(uint64_t seed, struct state *s)
{
    uint64_t st = seed ^ 0x5353455353455353ULL;
    for (int i = 0; i < 32; i++) {
        s->xmm[i] = sse_half(&st);
    }
    uint64_t r = splitmix(&st);
    uint64_t m = 0x1F80 | ((r & 3) << 13);
    if ((r >> 2 & 3) == 0) m |= 0x40;   /* DAZ */
    if ((r >> 4 & 3) == 0) m |= 0x8000; /* FTZ */
    if ((r >> 6 & 7) == 0) m &= ~(0x80ULL << ((r >> 9) % 6)); /* one exception unmasked */
    if ((r >> 12 & 1) == 0) m |= (r >> 13) & 0x3F;             /* sticky flags already set */
    s->mxcsr = m;
    /* x87: random precision control (extended, double, single) and rounding, now and then one exception unmasked. */
    uint64_t f = splitmix(&st);
    static const uint64_t pc[4] = { 3, 3, 2, 0 };
    s->fcw = 0x7F | (pc[(f >> 2) & 3] << 8) | ((f & 3) << 10);
    if (((f >> 4) & 7) == 0) {
        s->fcw &= ~(1ULL << ((f >> 7) % 6)); /* one x87 exception unmasked */
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ULL;
    }
    return h;
}

static uint32_t state_hash(const struct state *s, uint64_t flags_mask, const uint8_t *data)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    uint64_t masked = s->rflags & flags_mask;
    h = fnv(h, &s->kind, 8);
    h = fnv(h, &s->rip, 8);
    h = fnv(h, s->gpr, sizeof s->gpr);
    h = fnv(h, &masked, 8);
    h = fnv(h, data, DATA_SIZE);
    if (sse_mode) {
        uint32_t mx = (uint32_t)s->mxcsr;
        h = fnv(h, s->xmm, sizeof s->xmm);
        h = fnv(h, &mx, 4);
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* run_case: load in_state, jump to CODE_ADDR; the code ends with jmp *epilogue. */
extern void run_case(void);
extern void epilogue(void);
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "  mov %rsp, host_rsp(%rip)\n"
    "  stmxcsr host_mxcsr(%rip)\n"
    "  movdqu in_state+152(%rip), %xmm0\n"
    "  movdqu in_state+168(%rip), %xmm1\n"
    "  movdqu in_state+184(%rip), %xmm2\n"
    "  movdqu in_state+200(%rip), %xmm3\n"
    "  movdqu in_state+216(%rip), %xmm4\n"
    "  movdqu in_state+232(%rip), %xmm5\n"
    "  movdqu in_state+248(%rip), %xmm6\n"
    "  movdqu in_state+264(%rip), %xmm7\n"
    "  movdqu in_state+280(%rip), %xmm8\n"
    "  movdqu in_state+296(%rip), %xmm9\n"
    "  movdqu in_state+312(%rip), %xmm10\n"
    "  movdqu in_state+328(%rip), %xmm11\n"
    "  movdqu in_state+344(%rip), %xmm12\n"
    "  movdqu in_state+360(%rip), %xmm13\n"
    "  movdqu in_state+376(%rip), %xmm14\n"
    "  movdqu in_state+392(%rip), %xmm15\n"
    "  ldmxcsr in_state+408(%rip)\n"
    "  fninit\n"
    "  fldcw in_state+416(%rip)\n"
    "  pushq in_state+128(%rip)\n"
    "  popfq\n"
    "  mov in_state+0(%rip), %rax\n"
    "  mov in_state+8(%rip), %rcx\n"
    "  mov in_state+16(%rip), %rdx\n"
    "  mov in_state+24(%rip), %rbx\n"
    "  mov in_state+40(%rip), %rbp\n"
    "  mov in_state+48(%rip), %rsi\n"
    "  mov in_state+56(%rip), %rdi\n"
    "  mov in_state+64(%rip), %r8\n"
    "  mov in_state+72(%rip), %r9\n"
    "  mov in_state+80(%rip), %r10\n"
    "  mov in_state+88(%rip), %r11\n"
    "  mov in_state+96(%rip), %r12\n"
    "  mov in_state+104(%rip), %r13\n"
    "  mov in_state+112(%rip), %r14\n"
    "  mov in_state+120(%rip), %r15\n"
    "  mov in_state+32(%rip), %rsp\n"
    "  jmp *code_ptr(%rip)\n"
    ".globl epilogue\n"
    "epilogue:\n"
    "  mov %rax, out_state+0(%rip)\n"
    "  mov %rcx, out_state+8(%rip)\n"
    "  mov %rdx, out_state+16(%rip)\n"
    "  mov %rbx, out_state+24(%rip)\n"
    "  mov %rsp, out_state+32(%rip)\n"
    "  mov %rbp, out_state+40(%rip)\n"
    "  mov %rsi, out_state+48(%rip)\n"
    "  mov %rdi, out_state+56(%rip)\n"
    "  mov %r8, out_state+64(%rip)\n"
    "  mov %r9, out_state+72(%rip)\n"
    "  mov %r10, out_state+80(%rip)\n"
    "  mov %r11, out_state+88(%rip)\n"
    "  mov %r12, out_state+96(%rip)\n"
    "  mov %r13, out_state+104(%rip)\n"
    "  mov %r14, out_state+112(%rip)\n"
    "  mov %r15, out_state+120(%rip)\n"
    "  movdqu %xmm0, out_state+152(%rip)\n"
    "  movdqu %xmm1, out_state+168(%rip)\n"
    "  movdqu %xmm2, out_state+184(%rip)\n"
    "  movdqu %xmm3, out_state+200(%rip)\n"
    "  movdqu %xmm4, out_state+216(%rip)\n"
    "  movdqu %xmm5, out_state+232(%rip)\n"
    "  movdqu %xmm6, out_state+248(%rip)\n"
    "  movdqu %xmm7, out_state+264(%rip)\n"
    "  movdqu %xmm8, out_state+280(%rip)\n"
    "  movdqu %xmm9, out_state+296(%rip)\n"
    "  movdqu %xmm10, out_state+312(%rip)\n"
    "  movdqu %xmm11, out_state+328(%rip)\n"
    "  movdqu %xmm12, out_state+344(%rip)\n"
    "  movdqu %xmm13, out_state+360(%rip)\n"
    "  movdqu %xmm14, out_state+376(%rip)\n"
    "  movdqu %xmm15, out_state+392(%rip)\n"
    "  stmxcsr out_state+408(%rip)\n"
    "  ldmxcsr host_mxcsr(%rip)\n"
    "  fninit\n"
    "  mov host_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  popq out_state+128(%rip)\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    ".data\n"
    "code_ptr: .quad 0x800000\n"
    ".text\n");

static const int greg_map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                  REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)si;
    ucontext_t *uc = ctx;
    for (int i = 0; i < 16; i++) {
        out_state.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[greg_map[i]];
    }
    out_state.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
    if (uc->uc_mcontext.fpregs) {
        for (int i = 0; i < 16; i++) {
            memcpy(&out_state.xmm[2 * i], uc->uc_mcontext.fpregs->_xmm[i].element, 16);
        }
        out_state.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    }
    out_state.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - CODE_ADDR;
    out_state.kind = 0x100 + (uint64_t)sig;
    siglongjmp(fault_env, 1);
}

static int read_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            return 0;
        }
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

static void write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r <= 0) {
            syscall(SYS_exit, 3);
        }
        p += r;
        n -= (size_t)r;
    }
}

static int child(int verbose)
{
    uint8_t *code = mmap((void *)CODE_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *data = mmap((void *)DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (code == MAP_FAILED || data == MAP_FAILED) {
        return 2;
    }
    /* Signal frames go to an alternate stack: RSP points into the data page, which is compared. */
    static uint8_t altstack[256 * 1024];
    stack_t ss;
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        return 5;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);
    static char line[4096];
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) {
        return 4;
    }
    for (;;) {
        uint64_t seed;
        uint32_t len, nmasks;
        static uint64_t masks[2 * 64];
        if (!read_all(0, &seed, 8) || !read_all(0, &nmasks, 4) || nmasks > 64 || !read_all(0, masks, 16 * nmasks)
            || !read_all(0, &len, 4) || len > 4000) {
            break;
        }
        if (!read_all(0, code, len)) {
            break;
        }
        /* jmp *[rip+0]; .quad epilogue */
        code[len] = 0xFF;
        code[len + 1] = 0x25;
        memset(code + len + 2, 0, 4);
        uint64_t ep = (uint64_t)(uintptr_t)epilogue;
        memcpy(code + len + 6, &ep, 8);
        derive(seed, &in_state, data);
        memset(in_state.xmm, 0, sizeof in_state.xmm);
        in_state.mxcsr = 0x1F80;
        in_state.fcw = 0x37F;
        if (sse_mode) {
            derive_sse(seed, &in_state);
        }
        memset(&out_state, 0, sizeof out_state);
        if (sigsetjmp(fault_env, 0) == 0) {
            run_case();
            out_state.rip = len;
            out_state.kind = 0;
        }
        uint64_t mask = 0;
        for (uint32_t k = 0; k < nmasks; k++) {
            if (masks[2 * k] == out_state.rip) {
                mask = masks[2 * k + 1];
            }
        }
        uint32_t h = state_hash(&out_state, mask, data);
        if (verbose) {
            int n = 0;
            n += snprintf(line + n, sizeof line - (size_t)n, "seed %llu kind %llx rip %llx flags %llx mask %llx hash %08x\n",
                          (unsigned long long)seed, (unsigned long long)out_state.kind, (unsigned long long)out_state.rip,
                          (unsigned long long)out_state.rflags, (unsigned long long)mask, h);
            for (int i = 0; i < 16; i++) {
                n += snprintf(line + n, sizeof line - (size_t)n, " r%d=%llx", i, (unsigned long long)out_state.gpr[i]);
            }
            uint64_t dh = fnv(0xCBF29CE484222325ULL, data, DATA_SIZE);
            n += snprintf(line + n, sizeof line - (size_t)n, " data=%llx", (unsigned long long)dh);
            if (sse_mode) {
                n += snprintf(line + n, sizeof line - (size_t)n, " mxcsr=%llx\n", (unsigned long long)out_state.mxcsr);
                for (int i = 0; i < 16; i++) {
                    n += snprintf(line + n, sizeof line - (size_t)n, " x%d=%016llx:%016llx", i, (unsigned long long)out_state.xmm[2 * i + 1],
                                  (unsigned long long)out_state.xmm[2 * i]);
                }
            }
            n += snprintf(line + n, sizeof line - (size_t)n, "\n");
            write_all(1, line, (size_t)n);
        } else {
            write_all(1, &h, 4);
        }
    }
    syscall(SYS_exit, 0);
    return 0;
}

int main(int argc, char **argv)
{
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "-s") == 0) {
            sse_mode = 1;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        _exit(child(verbose));
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "diffharness: child failed (status 0x%x)\n", status);
        return 1;
    }
    return 0;
}
