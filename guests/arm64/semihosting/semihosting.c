/* SoftKvm's Arm semihosting guest: one check per operation, results on the semihosting console (SYS_WRITE0), the
 * verdict as the exit code of SYS_EXIT_EXTENDED. The command line (SYS_GET_CMDLINE: the kernel's path, then the
 * --append / -append words) may ask for "readc" (echo one console character), "exit=plain" (SYS_EXIT with
 * ApplicationExit, subcode 7) or "exit=abnormal" (SYS_EXIT with ADP_Stopped_RunTimeErrorUnknown). */
#include "guest.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITEC 0x03
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_READC 0x07
#define SYS_ISERROR 0x08
#define SYS_ISTTY 0x09
#define SYS_SEEK 0x0a
#define SYS_FLEN 0x0c
#define SYS_REMOVE 0x0e
#define SYS_RENAME 0x0f
#define SYS_CLOCK 0x10
#define SYS_TIME 0x11
#define SYS_ERRNO 0x13
#define SYS_GET_CMDLINE 0x15
#define SYS_HEAPINFO 0x16
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define SYS_ELAPSED 0x30
#define SYS_TICKFREQ 0x31

#define ADP_Stopped_ApplicationExit 0x20026UL
#define ADP_Stopped_RunTimeErrorUnknown 0x20023UL

#define MODE_R 0
#define MODE_W 4
#define MODE_A 8

static long semi(u64 op, u64 arg)
{
    register u64 x0 __asm__("x0") = op;
    register u64 x1 __asm__("x1") = arg;
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    return (long)x0;
}

static void print(const char *s) { semi(SYS_WRITE0, (u64)s); }

static void print_dec(long v)
{
    char buf[24];
    int n = sizeof buf - 1;
    int neg = v < 0;
    unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
    buf[n] = 0;
    do {
        buf[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        buf[--n] = '-';
    print(buf + n);
}

static unsigned long length(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static int same(const char *a, const char *b, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int failed;

static void check(int n, int ok, const char *what)
{
    print(ok ? "ok   " : "FAIL ");
    print(what);
    print("\n");
    if (!ok && !failed)
        failed = n;
}

static long sys_open(const char *name, u64 mode)
{
    u64 block[3] = { (u64)name, mode, length(name) };
    return semi(SYS_OPEN, (u64)block);
}

static long sys_close(long h)
{
    u64 block[1] = { (u64)h };
    return semi(SYS_CLOSE, (u64)block);
}

static long sys_write(long h, const void *buf, u64 len)
{
    u64 block[3] = { (u64)h, (u64)buf, len };
    return semi(SYS_WRITE, (u64)block);
}

static long sys_read(long h, void *buf, u64 len)
{
    u64 block[3] = { (u64)h, (u64)buf, len };
    return semi(SYS_READ, (u64)block);
}

static long sys_one(u64 op, u64 a)
{
    u64 block[1] = { a };
    return semi(op, (u64)block);
}

static long sys_remove(const char *name)
{
    u64 block[2] = { (u64)name, length(name) };
    return semi(SYS_REMOVE, (u64)block);
}

static long sys_rename(const char *from, const char *to)
{
    u64 block[4] = { (u64)from, length(from), (u64)to, length(to) };
    return semi(SYS_RENAME, (u64)block);
}

static long sys_seek(long h, u64 pos)
{
    u64 block[2] = { (u64)h, pos };
    return semi(SYS_SEEK, (u64)block);
}

static void sys_exit(u64 op, u64 reason, u64 subcode)
{
    u64 block[2] = { reason, subcode };
    semi(op, (u64)block);
    for (;;)
        __asm__ volatile("wfi");
}

static int has_word(const char *line, const char *word)
{
    unsigned long w = length(word);
    for (const char *p = line; *p; p++)
        if ((p == line || p[-1] == ' ') && same(p, word, w) && (p[w] == 0 || p[w] == ' '))
            return 1;
    return 0;
}

static char cmdline[256];

/* "compare" on the command line (SemihostingGuestTests, beside QEMU): skip the checks whose answers differ from
 * QEMU's by design or by a QEMU bug: QEMU confines no files (a path outside the root opens or fails with ENOENT),
 * and QEMU 7.2 opens mode "a" without O_APPEND (the write lands at offset 0). */
static int compare;

/* Files under the root: returns whether the guest may use files at all. */
static int files(void)
{
    static const char text[] = "hello semihosting\n";
    char buf[32];
    long h = sys_open("out.txt", MODE_W);
    if (h == -1) {
        long e = semi(SYS_ERRNO, 0);
        print("files: open for writing refused, errno ");
        print_dec(e);
        print("\n");
        check(20, e == 13, "no file access without a root: EACCES");
        return 0;
    }
    check(21, h > 0, "SYS_OPEN out.txt for writing");
    check(22, sys_write(h, text, sizeof text - 1) == 0, "SYS_WRITE 18 bytes (0 left)");
    check(23, sys_one(SYS_ISTTY, (u64)h) == 0, "SYS_ISTTY of a file is 0");
    check(24, sys_close(h) == 0, "SYS_CLOSE");

    h = sys_open("out.txt", MODE_R);
    check(25, h > 0, "SYS_OPEN out.txt for reading");
    check(26, sys_one(SYS_FLEN, (u64)h) == 18, "SYS_FLEN is 18");
    check(27, sys_seek(h, 6) == 0, "SYS_SEEK to 6");
    check(28, sys_read(h, buf, 11) == 0 && same(buf, "semihosting", 11), "SYS_READ 11 bytes after the seek: 'semihosting'");
    check(29, sys_read(h, buf, 8) == 7, "SYS_READ of 8 at 17: 1 byte read, 7 left");
    check(30, sys_read(h, buf, 4) == 4, "SYS_READ at the end: nothing read");
    sys_close(h);

    if (!compare) {
        h = sys_open("out.txt", MODE_A);
        check(31, h > 0 && sys_write(h, "more\n", 5) == 0, "SYS_OPEN for appending and SYS_WRITE");
        sys_close(h);
        h = sys_open("out.txt", MODE_R);
        check(32, sys_one(SYS_FLEN, (u64)h) == 23, "SYS_FLEN after the append is 23");
        sys_close(h);
    }

    check(33, sys_open("missing.txt", MODE_R) == -1 && semi(SYS_ERRNO, 0) == 2, "SYS_OPEN of a missing file: -1, errno ENOENT");

    sys_close(sys_open("tmp.txt", MODE_W));
    check(35, sys_rename("tmp.txt", "tmp2.txt") == 0, "SYS_RENAME tmp.txt to tmp2.txt");
    check(36, sys_open("tmp.txt", MODE_R) == -1 && semi(SYS_ERRNO, 0) == 2, "the old name is gone");
    h = sys_open("tmp2.txt", MODE_R);
    check(37, h > 0, "the new name opens");
    sys_close(h);
    check(38, sys_remove("tmp2.txt") == 0, "SYS_REMOVE tmp2.txt");
    check(39, sys_open("tmp2.txt", MODE_R) == -1 && semi(SYS_ERRNO, 0) == 2, "the removed file is gone");
    if (!compare) {
        h = sys_open("../outside.txt", MODE_R);
        check(34, h == -1 && semi(SYS_ERRNO, 0) == 13, "SYS_OPEN of a path outside the root: -1, errno EACCES");
        check(40, sys_remove("../outside.txt") == -1 && semi(SYS_ERRNO, 0) == 13, "SYS_REMOVE outside the root: -1, errno EACCES");
    }
    return 1;
}

void secondary_main(void) {}

void primary_main(void)
{
    print("semihosting guest\n");
    semi(SYS_WRITEC, (u64)"W");
    semi(SYS_WRITEC, (u64)"\n");

    /* The console as a file (":tt" for writing: the console output) and the feature file. */
    long tt = sys_open(":tt", MODE_W);
    check(1, tt > 0 && sys_write(tt, "SYS_WRITE to :tt\n", 17) == 0, "SYS_OPEN :tt and SYS_WRITE");
    check(2, sys_one(SYS_ISTTY, (u64)tt) >= 0, "SYS_ISTTY of :tt is no error (1 for a terminal, QEMU's 0 for a redirected stdout)");
    sys_close(tt);
    long f = sys_open(":semihosting-features", MODE_R);
    unsigned char feat[8];
    check(3, f > 0 && sys_read(f, feat, 8) == 3 && same((char *)feat, "SHFB", 4) && (feat[4] & 1), "the feature file: SHFB, SH_EXT_EXIT_EXTENDED");
    sys_close(f);

    check(4, sys_close(77) == -1 && semi(SYS_ERRNO, 0) == 9, "SYS_CLOSE of a bad handle: -1, errno EBADF");
    check(5, sys_one(SYS_ISERROR, (u64)-1L) == 1 && sys_one(SYS_ISERROR, 3) == 0, "SYS_ISERROR");

    u64 block[2] = { (u64)cmdline, sizeof cmdline };
    check(6, semi(SYS_GET_CMDLINE, (u64)block) == 0 && block[1] == length(cmdline), "SYS_GET_CMDLINE");
    compare = has_word(cmdline, "compare");
    print("cmdline: ");
    print(cmdline);
    print("\n");
    u64 small[2] = { (u64)cmdline, 1 };
    check(7, length(cmdline) == 0 || semi(SYS_GET_CMDLINE, (u64)small) == -1, "SYS_GET_CMDLINE into a buffer too small fails");

    u64 info[4];
    u64 pinfo = (u64)info;
    check(8, semi(SYS_HEAPINFO, (u64)&pinfo) == 0, "SYS_HEAPINFO");
    /* QEMU's heap starts after the image's file contents (its .bss included), SoftKvm's after the whole image. */
    check(9, info[0] > (u64)primary_main && info[0] < info[1] && info[1] <= 0x40000000UL + (128UL << 20) && info[2] == info[1] && info[3] == info[0],
          "heap above the code, below the end of RAM (-m 128M); the stack above it");

    long c1 = semi(SYS_CLOCK, 0);
    u64 e1, e2;
    semi(SYS_ELAPSED, (u64)&e1);
    for (volatile int i = 0; i < 200000; i++)
        ;
    semi(SYS_ELAPSED, (u64)&e2);
    long c2 = semi(SYS_CLOCK, 0);
    check(10, c1 >= 0 && c2 >= c1, "SYS_CLOCK is monotonic");
    check(11, e2 > e1, "SYS_ELAPSED advances");
    check(12, semi(SYS_TICKFREQ, 0) > 0, "SYS_TICKFREQ");
    check(13, semi(SYS_TIME, 0) > 1700000000L, "SYS_TIME is after 2023");

    int with_files = files();

    if (has_word(cmdline, "readc")) {
        long c = semi(SYS_READC, 0);
        print("read: ");
        semi(SYS_WRITEC, (u64)&c);
        print("\n");
    }

    print(failed ? "FAIL\n" : "PASS\n");
    if (has_word(cmdline, "exit=plain"))
        sys_exit(SYS_EXIT, ADP_Stopped_ApplicationExit, 7);
    if (has_word(cmdline, "exit=abnormal"))
        sys_exit(SYS_EXIT, ADP_Stopped_RunTimeErrorUnknown, 5);
    sys_exit(SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit, failed ? 100 + failed : with_files ? 42 : 43);
}
