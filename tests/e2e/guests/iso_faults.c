/* iso_faults.c — a WAGI handler that misbehaves on request, for the isolation tests
 * (tests/e2e/isolation_*.sh). What it does is chosen by the MODE variable of its
 * component's environment (so that each misbehaviour is its own named component), or
 * else by PATH_INFO without its leading '/'. QUERY_STRING, when it is a number, is the
 * mode's parameter N.
 *   hello      "hello" (200)
 *   loop       spins forever (never returns)
 *   sleep      sleeps N ms (default 100000) in poll_oneoff (nanosleep), then "slept N"
 *   mem        mallocs and touches 1 MiB blocks until malloc returns NULL, then prints
 *              "got K MiB" to stderr and exits 1; stops at N MiB (default 64) and
 *              answers 200 "got K MiB (cap)" so that a missing limit cannot take the
 *              host's memory
 *   trap       prints a header block and some body, then traps (unreachable)
 *   stack      unbounded recursion through a function pointer (the Wasm call stack)
 *   stack2     unbounded recursion with a 1 KiB frame each (the C shadow stack)
 *   raise      prints some output, then calls proc_raise(SIGABRT)
 *   exit1      prints some output, then exits 1
 *   flood      a header block, then N MiB of body (default 8)
 *   garbage    a header block of binary garbage (no valid header), a blank line, a body
 *   badstatus  "Status: 2000 Bogus" among binary junk
 *   inject_cr  a header value with a bare CR in it: "X-Evil: a\rInjected: yes"
 *   inject_crlf  the bytes "X-Evil: a\r\nInjected: yes" in the header block
 *   inject_loc   a Location header value with a bare CR and a Set-Cookie after it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise"))) int
raw_proc_raise(int sig);

static long param(long def)
{
    const char *q = getenv("QUERY_STRING");
    if (!q || !*q) return def;
    char *end;
    long n = strtol(q, &end, 10);
    return *end || n < 0 ? def : n;
}

static volatile unsigned long spin;
/* the blocks of "mem", chained and published so that the compiler keeps every malloc */
static void *volatile keep;
static unsigned long rec(unsigned long n);
static unsigned long (*volatile recp)(unsigned long) = rec;
static unsigned long rec(unsigned long n)
{
    return n ? recp(n - 1) + 1 : 0;
}

static unsigned long rec2(unsigned long n)
{
    volatile char frame[1024];
    frame[n % sizeof frame] = (char)n;
    return n ? rec2(n - 1) + frame[(n + 1) % sizeof frame] : 0;
}

int main(void)
{
    const char *m = getenv("MODE");
    if (!m || !*m) {
        m = getenv("PATH_INFO");
        if (!m) m = "";
        if (*m == '/') m++;
    }
    if (strcmp(m, "loop") == 0) {
        for (;;)
            spin++;
    } else if (strcmp(m, "sleep") == 0) {
        long ms = param(100000);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        printf("Content-Type: text/plain\n\nslept %ld\n", ms);
    } else if (strcmp(m, "mem") == 0) {
        long cap = param(64), got = 0;
        while (got < cap) {
            char *p = malloc(1 << 20);
            if (!p) {
                fprintf(stderr, "malloc failed after %ld MiB\n", got);
                printf("Content-Type: text/plain\n\ngot %ld MiB\n", got);
                exit(1);
            }
            memset(p, (int)got + 1, 1 << 20);
            *(void **)p = keep;
            keep = p;
            got++;
        }
        printf("Content-Type: text/plain\n\ngot %ld MiB (cap)\n", got);
    } else if (strcmp(m, "trap") == 0) {
        printf("Content-Type: text/plain\n\nabout to trap\n");
        fflush(stdout);
        __builtin_trap();
    } else if (strcmp(m, "stack") == 0) {
        printf("Content-Type: text/plain\n\n%lu\n", rec(4000000000ul));
    } else if (strcmp(m, "stack2") == 0) {
        printf("Content-Type: text/plain\n\n%lu\n", rec2(4000000000ul));
    } else if (strcmp(m, "raise") == 0) {
        printf("Content-Type: text/plain\n\nabout to raise\n");
        fflush(stdout);
        raw_proc_raise(6 /* __WASI_SIGNAL_ABRT */);
        printf("still here after proc_raise\n");
    } else if (strcmp(m, "exit1") == 0) {
        printf("Content-Type: text/plain\n\nabout to exit 1\n");
        fflush(stdout);
        exit(1);
    } else if (strcmp(m, "flood") == 0) {
        long mib = param(8);
        static char line[1024];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        printf("Content-Type: text/plain\n\n");
        for (long i = 0; i < mib * 1024; i++)
            fwrite(line, 1, sizeof line, stdout);
    } else if (strcmp(m, "garbage") == 0) {
        static const char junk[] = "\x01\x02\xff\xfe\x80 garbage\n\x7f:\x01\x02\n:::\n"
                                   "\xc3\x28 \xa0\xa1\n\n\x00\xff body";
        fwrite(junk, 1, sizeof junk - 1, stdout);
    } else if (strcmp(m, "badstatus") == 0) {
        static const char junk[] = "\xff\xfe\nStatus: 2000 Bogus\n\x01\x02\n\nbody";
        fwrite(junk, 1, sizeof junk - 1, stdout);
    } else if (strcmp(m, "inject_cr") == 0) {
        static const char out[] = "Content-Type: text/plain\nX-Evil: a\rInjected: yes\n"
                                  "X-After: fine\n\nbody\n";
        fwrite(out, 1, sizeof out - 1, stdout);
    } else if (strcmp(m, "inject_crlf") == 0) {
        static const char out[] = "Content-Type: text/plain\r\nX-Evil: a\r\nInjected: yes\r\n"
                                  "X-After: fine\r\n\r\nbody\n";
        fwrite(out, 1, sizeof out - 1, stdout);
    } else if (strcmp(m, "inject_loc") == 0) {
        static const char out[] = "Location: /x\rSet-Cookie: pwned=1\n"
                                  "Content-Type: text/plain\n\nbody\n";
        fwrite(out, 1, sizeof out - 1, stdout);
    } else {
        printf("Content-Type: text/plain\n\nhello\n");
    }
    return 0;
}
