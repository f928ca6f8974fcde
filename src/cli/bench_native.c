/* bench_native.c — the process and container baselines of `kiln bench` (see
 * bench_native.h). */
#include "cli/bench_native.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Spawns argv (PATH searched) with stdin from fd in (-1: /dev/null), stdout to fd out (-1:
 * /dev/null), stderr to /dev/null or to err_fd. The pid, or -1. */
static pid_t spawn(char *const argv[], int in, int out, int err_fd)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    int rc = 0;
    rc |= in >= 0 ? posix_spawn_file_actions_adddup2(&fa, in, 0)
                  : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc |= out >= 0 ? posix_spawn_file_actions_adddup2(&fa, out, 1)
                   : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    rc |= err_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, err_fd, 2)
                      : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    if (rc != 0 || posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Waits for pid: its exit status (0..255), or -1 when it was killed or waitpid failed. */
static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One invocation: argv's output read whole from a pipe (the response), then its exit. 0
 * when it exited 0 with some output; its stderr goes to err (may be NULL). */
static int invoke(char *const argv[], kiln_buf *err)
{
    int out[2], errp[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0) return -1;
    if (err && pipe2(errp, O_CLOEXEC) < 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    pid_t pid = spawn(argv, -1, out[1], errp[1]);
    close(out[1]);
    if (errp[1] >= 0) close(errp[1]);
    char buf[4096];
    ssize_t n;
    size_t got = 0;
    while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) got += (size_t)n;
    close(out[0]);
    if (errp[0] >= 0) {
        kiln_read_all(errp[0], err);
        close(errp[0]);
    }
    int st = pid > 0 ? reap(pid) : -1;
    return st == 0 && got > 0 ? 0 : -1;
}

/* Start-to-exit quantiles of `runs` invocations one after the other. 0 or -1 (err). */
static int measure_starts(char *const argv[], size_t runs, kiln_bench_base *out, char *err,
                          size_t cap)
{
    double *t = kiln_calloc(runs, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < runs; i++) {
        kiln_buf e = KILN_BUF_INIT;
        double t0 = mono_s();
        int rc = invoke(argv, i == 0 ? &e : NULL);
        t[i] = mono_s() - t0;
        if (rc < 0) {
            int len = e.len > 300 ? 300 : (int)e.len;
            snprintf(err, cap, "%s failed%s%.*s", argv[0], len ? ": " : "", len,
                     e.data ? e.data : "");
            for (char *p = err; *p; p++)
                if (*p == '\n') *p = ' ';
            kiln_buf_free(&e);
            kiln_free(t);
            return -1;
        }
        kiln_buf_free(&e);
    }
    qsort(t, runs, sizeof *t, cmp_double);
    out->start_p50_s = t[runs / 2];
    out->start_p99_s = t[(size_t)((double)(runs - 1) * 0.99)];
    kiln_free(t);
    return 0;
}

typedef struct rate_arg {
    pthread_t t;
    char *const *argv;
    double until;
    unsigned long done, failed;
} rate_arg;

static void *rate_main(void *p)
{
    rate_arg *a = p;
    while (mono_s() < a->until) {
        if (invoke(a->argv, NULL) == 0)
            a->done++;
        else
            a->failed++;
    }
    return NULL;
}

/* Invocations per second from `threads` threads for `seconds`. */
static double measure_rate(char *const argv[], unsigned threads, double seconds)
{
    rate_arg *a = kiln_calloc(threads, sizeof *a);
    if (!a) return -1;
    double t0 = mono_s();
    unsigned started = 0;
    for (unsigned i = 0; i < threads; i++) {
        a[i].argv = argv;
        a[i].until = t0 + seconds;
        if (pthread_create(&a[i].t, NULL, rate_main, &a[i]) != 0) break;
        started++;
    }
    unsigned long done = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(a[i].t, NULL);
        done += a[i].done;
    }
    double dt = mono_s() - t0;
    kiln_free(a);
    return started && dt > 0 ? (double)done / dt : -1;
}

/* The proportional set size of pid plus its page tables in KiB (/proc/PID/smaps_rollup,
 * VmPTE of /proc/PID/status), or -1. */
static long pss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long v = -1, pte = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %ld", &v) == 1) break;
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "re")) != NULL) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmPTE: %ld", &pte) == 1) break;
        fclose(f);
    }
    return v < 0 ? -1 : v + pte;
}

int kiln_bench_native_build(const char *dir, const char *body, size_t len, char *err, size_t cap)
{
    kiln_buf src = KILN_BUF_INIT, resp = KILN_BUF_INIT;
    int rc = kiln_buf_puts(&resp, "Status: 200\r\nContent-Type: text/plain\r\n\r\n") |
             kiln_buf_append(&resp, body, len);
    rc |= kiln_buf_puts(&src, "#include <string.h>\n#include <unistd.h>\n"
                              "static const char r[] = \"");
    for (size_t i = 0; i < resp.len && rc == 0; i++)
        rc = kiln_buf_printf(&src, "\\x%02x", (unsigned char)resp.data[i]);
    rc |= kiln_buf_puts(&src, "\";\nint main(int argc, char **argv)\n{\n"
                              "    size_t n = sizeof r - 1, off = 0;\n"
                              "    while (off < n) {\n"
                              "        ssize_t w = write(1, r + off, n - off);\n"
                              "        if (w <= 0) return 1;\n"
                              "        off += (size_t)w;\n    }\n"
                              "    char c;\n"
                              "    if (argc > 1 && strcmp(argv[1], \"--hold\") == 0)\n"
                              "        while (read(0, &c, 1) > 0) {}\n"
                              "    return 0;\n}\n");
    char cpath[4096], bin[4096];
    snprintf(cpath, sizeof cpath, "%s/hello.c", dir);
    snprintf(bin, sizeof bin, "%s/hello", dir);
    if (rc != 0 || kiln_write_file(cpath, src.data, src.len) < 0) {
        snprintf(err, cap, "cannot write %s", cpath);
        rc = -1;
    } else {
        char *argv[] = {"cc", "-static", "-O2", "-o", bin, cpath, NULL};
        pid_t pid = spawn(argv, -1, -1, -1);
        if (pid < 0 || reap(pid) != 0) {
            snprintf(err, cap, "cc -static could not build the native program");
            rc = -1;
        }
    }
    kiln_buf_free(&src);
    kiln_buf_free(&resp);
    return rc;
}

/* Raises the soft limit of open files to the hard one (many children's pipes). */
static void more_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* `live` holders at once: each started by argv with stdin the read end of one shared
 * pipe (they wait on it) and stdout a shared pipe whose first bytes say it ran; pid_of
 * finds the process whose memory counts (NULL: the spawned one). Then the pipe closes and
 * every one ends (stop, when not NULL, ends container i). */
static int measure_live(char *const *(*argv_of)(void *ctx, size_t i), void *ctx, size_t live,
                        size_t resp_len, pid_t (*pid_of)(void *ctx, size_t i, pid_t spawned),
                        void (*stop)(void *ctx, size_t i), kiln_bench_base *out, char *err,
                        size_t cap)
{
    int in[2], o[2];
    pid_t *pids = kiln_calloc(live, sizeof *pids);
    if (!pids || pipe2(in, O_CLOEXEC) < 0) {
        kiln_free(pids);
        return -1;
    }
    if (pipe2(o, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        kiln_free(pids);
        return -1;
    }
    more_files();
    double t0 = mono_s();
    size_t alive = 0;
    char *buf = kiln_malloc(resp_len + 1);
    for (; buf && alive < live; alive++) {
        pid_t pid = spawn(argv_of(ctx, alive), in[0], o[1], -1);
        if (pid < 0) break;
        size_t got = 0; /* its response: it is running (10 s at most for each read) */
        while (got < resp_len) {
            struct pollfd pfd = {o[0], POLLIN, 0};
            int pr = poll(&pfd, 1, 10000);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) break; /* the 10 s passed, or poll failed */
            ssize_t n = read(o[0], buf, resp_len - got);
            if (n > 0)
                got += (size_t)n;
            else if (!(n < 0 && errno == EINTR))
                break;
        }
        if (got < resp_len) { /* it failed, or hangs: not counted */
            kill(pid, SIGKILL);
            reap(pid);
            break;
        }
        pids[alive] = pid;
    }
    out->live_seconds = mono_s() - t0;
    out->live = alive;
    long total = 0;
    for (size_t i = 0; i < alive; i++) {
        pid_t p = pid_of ? pid_of(ctx, i, pids[i]) : pids[i];
        long k = p > 0 ? pss_kib(p) : -1;
        total += k > 0 ? k : 0;
    }
    out->kib_per_inst = alive ? (double)total / (double)alive : -1;
    close(in[1]); /* end of their stdin: they exit */
    close(in[0]);
    close(o[1]);
    for (size_t i = 0; i < alive; i++) {
        if (stop) stop(ctx, i);
        reap(pids[i]);
    }
    close(o[0]);
    kiln_free(buf);
    kiln_free(pids);
    if (alive < live) snprintf(err, cap, "only %zu of %zu could be held at once", alive, live);
    return alive == live ? 0 : -1;
}

static char *const *native_hold_argv(void *ctx, size_t i)
{
    (void)i;
    return ctx;
}

/* Runs argv to its end with its stdout appended to out (stderr to /dev/null). */
static void capture(char *const argv[], kiln_buf *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return;
    pid_t pid = spawn(argv, -1, p[1], -1);
    close(p[1]);
    kiln_read_all(p[0], out);
    close(p[0]);
    if (pid > 0) reap(pid);
}

/* The size of the native program's response (what a live one writes first). */
static size_t resp_size(const char *dir)
{
    char bin[4096];
    snprintf(bin, sizeof bin, "%s/hello", dir);
    char *argv[] = {bin, NULL};
    kiln_buf b = KILN_BUF_INIT;
    capture(argv, &b);
    size_t n = b.len;
    kiln_buf_free(&b);
    return n;
}

int kiln_bench_native_run(const char *dir, size_t runs, unsigned threads, double seconds,
                          size_t live, kiln_bench_base *out, char *err, size_t cap)
{
    char bin[4096];
    snprintf(bin, sizeof bin, "%s/hello", dir);
    char *argv[] = {bin, NULL}, *hold[] = {bin, "--hold", NULL};
    memset(out, 0, sizeof *out);
    if (measure_starts(argv, runs, out, err, cap) < 0) return -1;
    out->rps = measure_rate(argv, threads, seconds);
    return measure_live(native_hold_argv, hold, live, resp_size(dir), NULL, NULL, out, err, cap);
}

/* ---- runc ---- */

typedef struct runc_ctx {
    char bundle[4096], hold[4096];
    char id[64];
    char *argv[8];
    char idbuf[64];
} runc_ctx;

static atomic_uint next_id;

/* A fresh container id for this process. */
static void new_id(char *out, size_t cap)
{
    snprintf(out, cap, "kiln-bench-%d-%u", (int)getpid(), atomic_fetch_add(&next_id, 1));
}

static char *const *runc_hold_argv(void *ctx, size_t i)
{
    runc_ctx *c = ctx;
    snprintf(c->idbuf, sizeof c->idbuf, "kiln-bench-%d-live-%zu", (int)getpid(), i);
    c->argv[0] = "runc";
    c->argv[1] = "run";
    c->argv[2] = "-d";
    c->argv[3] = "--bundle";
    c->argv[4] = c->hold;
    c->argv[5] = c->idbuf;
    c->argv[6] = NULL;
    return c->argv;
}

/* The pid of live container i (`runc state`), or -1. */
static pid_t runc_pid(void *ctx, size_t i, pid_t spawned)
{
    (void)ctx;
    (void)spawned;
    char id[64];
    snprintf(id, sizeof id, "kiln-bench-%d-live-%zu", (int)getpid(), i);
    char *argv[] = {"runc", "state", id, NULL};
    kiln_buf b = KILN_BUF_INIT;
    capture(argv, &b);
    const char *s = b.data ? strstr(b.data, "\"pid\":") : NULL;
    long v = s ? strtol(s + 6, NULL, 10) : -1;
    kiln_buf_free(&b);
    return v > 0 ? (pid_t)v : -1;
}

static void runc_stop(void *ctx, size_t i)
{
    (void)ctx;
    char id[64];
    snprintf(id, sizeof id, "kiln-bench-%d-live-%zu", (int)getpid(), i);
    char *argv[] = {"runc", "delete", "-f", id, NULL};
    pid_t pid = spawn(argv, -1, -1, -1);
    if (pid > 0) reap(pid);
}

/* Writes dir/NAME/config.json from runc's default spec with the process's args and the
 * rootfs at root (absolute). 0 or -1. */
static int runc_config(const char *tmpl, const char *bundle, const char *args, const char *root)
{
    kiln_buf c = KILN_BUF_INIT;
    const char *a = strstr(tmpl, "\"sh\""), *t = strstr(tmpl, "\"terminal\": true"),
               *r = strstr(tmpl, "\"path\": \"rootfs\"");
    if (!a || !t || !r || !(t < a && a < r)) return -1;
    int rc =
        kiln_buf_append(&c, tmpl, (size_t)(t - tmpl)) | kiln_buf_puts(&c, "\"terminal\": false");
    const char *p = t + strlen("\"terminal\": true");
    rc |= kiln_buf_append(&c, p, (size_t)(a - p)) | kiln_buf_puts(&c, args);
    p = a + 4;
    rc |= kiln_buf_append(&c, p, (size_t)(r - p)) | kiln_buf_printf(&c, "\"path\": \"%s\"", root);
    p = r + strlen("\"path\": \"rootfs\"");
    rc |= kiln_buf_puts(&c, p);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", bundle);
    if (rc == 0) rc = kiln_write_file(path, c.data, c.len);
    kiln_buf_free(&c);
    return rc;
}

int kiln_bench_runc_run(const char *dir, size_t runs, unsigned threads, double seconds, size_t live,
                        kiln_bench_base *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    char *ver[] = {"runc", "--version", NULL};
    pid_t vp = spawn(ver, -1, -1, -1);
    if (vp < 0 || reap(vp) != 0) {
        snprintf(err, cap, "runc is not installed (Debian package runc)");
        return -1;
    }
    runc_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return -1;
    char root[4200];
    snprintf(c->bundle, sizeof c->bundle, "%s/bundle", dir);
    snprintf(c->hold, sizeof c->hold, "%s/bundle-hold", dir);
    snprintf(root, sizeof root, "%s/rootfs", c->bundle);
    /* dir is the bench's own mkdtemp directory: no quote in it */
    kiln_buf cmd = KILN_BUF_INIT, script = KILN_BUF_INIT;
    pid_t sp = -1;
    if (kiln_buf_printf(&cmd,
                        "mkdir -p '%s' '%s' && cp '%s/hello' '%s/hello' && cd '%s' && runc spec",
                        root, c->hold, dir, root, c->bundle) == 0) {
        char *sh[] = {"/bin/sh", "-c", cmd.data, NULL};
        sp = spawn(sh, -1, -1, -1);
    }
    kiln_buf tmpl = KILN_BUF_INIT;
    char spec[4300];
    snprintf(spec, sizeof spec, "%s/config.json", c->bundle);
    int rc = -1;
    if (sp < 0 || reap(sp) != 0 || kiln_read_file(spec, &tmpl) < 0 ||
        runc_config(tmpl.data, c->bundle, "\"/hello\"", root) < 0 ||
        runc_config(tmpl.data, c->hold, "\"/hello\", \"--hold\"", root) < 0) {
        snprintf(err, cap, "cannot make a runc bundle from `runc spec`");
        goto out;
    }
    new_id(c->id, sizeof c->id);
    char *argv[] = {"runc", "run", "--bundle", c->bundle, c->id, NULL};
    /* each run needs its own id: a wrapper that picks one per invocation */
    if (kiln_buf_printf(&script, "exec runc run --bundle '%s' kiln-bench-%d-$$", c->bundle,
                        (int)getpid()) < 0)
        goto out;
    char *wrap[] = {"/bin/sh", "-c", script.data, NULL};
    if (measure_starts(argv, 1, out, err, cap) < 0) goto out; /* can runc run here at all? */
    if (measure_starts(wrap, runs, out, err, cap) < 0) goto out;
    out->rps = measure_rate(wrap, threads, seconds);
    rc = measure_live(runc_hold_argv, c, live, resp_size(dir), runc_pid, runc_stop, out, err, cap);
out:
    kiln_buf_free(&script);
    kiln_buf_free(&cmd);
    kiln_buf_free(&tmpl);
    kiln_free(c);
    return rc;
}
