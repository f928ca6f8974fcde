/* wasip3.c — the "wasi 0.3" provider (wasip3.h): clocks, random and wasi:cli. */
#include "host/wasip3/wasip3.h"
#include "engine/runtime.h"
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"
/* At most this many random bytes per call (the guest asks again for more). */
#define MAX_BYTES (1u << 20)

/* A write-via-stream in progress: the guest's stream drained into stdio slot `slot`, the
 * returned future resolved when the stream ends. Kept until the context goes. */
typedef struct p3_pipe {
    kiln_wasip3 *c;
    int slot; /* 0 stdin, 1 stdout, 2 stderr */
    int failed;
    kiln_cval io; /* error-code.io, the error's payload (zero: case 0) */
    kiln_chost_future *done;
    struct p3_pipe *next;
} p3_pipe;

typedef kiln_wasip3 p3_ctx;

static void p3_free(void *ctx)
{
    p3_ctx *c = ctx;
    while (c->pipes) {
        p3_pipe *p = c->pipes;
        c->pipes = p->next;
        kiln_free(p);
    }
    kiln_wasip3_files_free(c);
    if (c->p2) kiln_wasip2_provider.ctx_free(c->p2);
    kiln_free(c);
}

static void *p3_new(const kiln_grants *g, char **err)
{
    static const kiln_grants none = {.wasi.stdio = {{.fd = 0}, {.fd = 1}, {.fd = 2}}};
    p3_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (!g) g = &none;
    memcpy(c->out, g->wasi.stdio, sizeof c->out);
    if (!(c->p2 = kiln_wasip2_provider.ctx_new(g, err))) {
        p3_free(c);
        return NULL;
    }
    return c;
}

/* A context for a copy of an instance whose context was tmpl (host.h ctx_clone, for
 * component images): its 0.2 context is the 0.2 host's copy of the template's (the
 * descriptors get-directories handed out, under the same reps, over the template's
 * directory fds when the grants name the same ones: no system call per copy), refused
 * when the template holds more (files it opened) or a file stream of its own; stdio
 * streams still open in the template are not copied (as a fresh context would not). */
static void *p3_clone(const void *tmpl, const kiln_grants *g, char **err)
{
    const p3_ctx *t = tmpl;
    if (t->files) {
        *err = kiln_strdup("wasi 0.3: the template has file streams open");
        return NULL;
    }
    p3_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    memcpy(c->out, g->wasi.stdio, sizeof c->out);
    if (!(c->p2 = kiln_wasip2_provider.ctx_clone(t->p2, g, err))) {
        p3_free(c);
        return NULL;
    }
    return c;
}

int kiln_wasip3_p2_call(kiln_wasip3 *c, const kiln_chost_iface *i, const char *name,
                        kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const kiln_chost_func *f = kiln_chost_find_func(i, name);
    if (!f) {
        snprintf(cx->err, sizeof cx->err, "%s.%s: not in the WASI 0.2 host", i->name, name);
        return -1;
    }
    return f->fn(c->p2, cx, args, res);
}

/* A 0.3 function that is the 0.2 function `name` of interface `iface`. */
#define VIA_P2(fn, iface, name)                                                                    \
    static int fn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)              \
    {                                                                                              \
        return kiln_wasip3_p2_call(ctx, &(iface), (name), cx, args, res);                          \
    }

static int fail(kiln_cabi_cx *cx, const char *msg)
{
    snprintf(cx->err, sizeof cx->err, "%s", msg);
    return -1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- wasi:clocks/monotonic-clock ---- */

static int clk_now(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)args;
    res[0].u = mono_ns();
    return 0;
}

static int clk_resolution(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)args;
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC, &ts) < 0) return fail(cx, "clock_getres failed");
    res[0].u = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

static void clk_fire(kiln_chost_pending *p, void *arg)
{
    (void)arg;
    kiln_chost_complete(p); /* no results: cannot fail */
}

/* Waits until CLOCK_MONOTONIC time `when`: a pending call when lowered async (the driver
 * fires it when due), else a sleep. */
static int clk_wait(kiln_cabi_cx *cx, uint64_t when)
{
    kiln_chost_later l = {when ? when : 1, clk_fire, NULL, NULL};
    if (kiln_chost_defer(cx, &l)) return KILN_CHOST_PENDING;
    while (mono_ns() < when) {
        struct timespec ts = {(time_t)(when / 1000000000u), (long)(when % 1000000000u)};
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc != 0 && rc != EINTR) return fail(cx, "clock_nanosleep failed");
    }
    return 0;
}

static int clk_wait_for(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)res;
    uint64_t now = mono_ns(), d = args[0].u;
    return clk_wait(cx, d > UINT64_MAX - now ? UINT64_MAX : now + d);
}

static int clk_wait_until(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)res;
    return clk_wait(cx, args[0].u);
}

static const kiln_chost_func clk_funcs[] = {{"now", "() -> u64", clk_now},
                                            {"get-resolution", "() -> u64", clk_resolution},
                                            {"wait-for", "(u64)", clk_wait_for},
                                            {"wait-until", "(u64)", clk_wait_until}};

/* ---- wasi:clocks/system-clock, timezone ---- */

/* instant {seconds: s64, nanoseconds: u32} has the values of 0.2's datetime. */
VIA_P2(sys_now, kiln_wasip2_clocks_wall, "now")
VIA_P2(sys_resolution, kiln_wasip2_clocks_wall, "resolution")
#define INSTANT "record{seconds: s64, nanoseconds: u32}"

/* get-resolution is a duration (u64 ns) in 0.3: 0.2's datetime resolution, folded. */
static int sys_res_ns(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_cval r[2];
    memset(r, 0, sizeof r);
    if (sys_resolution(ctx, cx, args, r) < 0) return -1;
    res[0].u = r[0].agg.items[0].u * 1000000000u + r[0].agg.items[1].u;
    return 0;
}

static const kiln_chost_func sys_funcs[] = {{"now", "() -> " INSTANT, sys_now},
                                            {"get-resolution", "() -> u64", sys_res_ns}};

/* Sets r to some(*v) (v copied into memory from cx). */
static int some(kiln_cabi_cx *cx, kiln_cval *r, const kiln_cval *v)
{
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return fail(cx, "out of memory");
    *p = *v;
    r->var.disc = 1;
    r->var.payload = p;
    return 0;
}

/* Kiln's guests see UTC, whatever the host's zone (nothing of the host leaks). */
static int tz_id(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)args;
    kiln_cval s = {.str = {"UTC", 3}};
    return some(cx, &res[0], &s);
}

static int tz_offset(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)args;
    kiln_cval zero = {.s = 0};
    return some(cx, &res[0], &zero);
}

static int tz_debug(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)args;
    res[0].str.ptr = "UTC";
    res[0].str.len = 3;
    return 0;
}

static const kiln_chost_func tz_funcs[] = {
    {"iana-id", "() -> option<string>", tz_id},
    {"utc-offset", "(" INSTANT ") -> option<s64>", tz_offset},
    {"to-debug-string", "() -> string", tz_debug}};

/* ---- wasi:random ---- */

VIA_P2(rnd_bytes, kiln_wasip2_random_random, "get-random-bytes")
VIA_P2(rnd_u64, kiln_wasip2_random_random, "get-random-u64")
VIA_P2(insecure_bytes, kiln_wasip2_random_insecure, "get-insecure-random-bytes")
VIA_P2(insecure_u64, kiln_wasip2_random_insecure, "get-insecure-random-u64")
VIA_P2(insecure_seed, kiln_wasip2_random_insecure_seed, "insecure-seed")

static const kiln_chost_func rnd_funcs[] = {{"get-random-bytes", "(u64) -> list<u8>", rnd_bytes},
                                            {"get-random-u64", "() -> u64", rnd_u64}};
static const kiln_chost_func insecure_funcs[] = {
    {"get-insecure-random-bytes", "(u64) -> list<u8>", insecure_bytes},
    {"get-insecure-random-u64", "() -> u64", insecure_u64}};
static const kiln_chost_func seed_funcs[] = {
    {"get-insecure-seed", "() -> tuple<u64, u64>", insecure_seed}};

/* ---- wasi:cli/environment, terminal-* ---- */

VIA_P2(env_get, kiln_wasip2_cli_environment, "get-environment")
VIA_P2(env_args, kiln_wasip2_cli_environment, "get-arguments")
VIA_P2(env_cwd, kiln_wasip2_cli_environment, "initial-cwd")
VIA_P2(term_stdin, kiln_wasip2_cli_terminal_stdin, "get-terminal-stdin")
VIA_P2(term_stdout, kiln_wasip2_cli_terminal_stdout, "get-terminal-stdout")
VIA_P2(term_stderr, kiln_wasip2_cli_terminal_stderr, "get-terminal-stderr")
VIA_P2(exit_code, kiln_wasip2_cli_exit, "exit-with-code")

static const kiln_chost_func env_funcs[] = {
    {"get-environment", "() -> list<tuple<string, string>>", env_get},
    {"get-arguments", "() -> list<string>", env_args},
    {"get-initial-cwd", "() -> option<string>", env_cwd}};
static const kiln_chost_func tstdin_funcs[] = {
    {"get-terminal-stdin", "() -> option<own<terminal-input>>", term_stdin}};
static const kiln_chost_func tstdout_funcs[] = {
    {"get-terminal-stdout", "() -> option<own<terminal-output>>", term_stdout}};
static const kiln_chost_func tstderr_funcs[] = {
    {"get-terminal-stderr", "() -> option<own<terminal-output>>", term_stderr}};
static const kiln_chost_resource term_in_res[] = {{"terminal-input", NULL}};
static const kiln_chost_resource term_out_res[] = {{"terminal-output", NULL}};

/* ---- wasi:cli/stdout, stderr ---- */

/* Writes the guest's bytes to the pipe's stdio slot at once (all of them, or the pipe
 * fails: the rest is dropped and the future reports an error). */
static size_t pipe_consume(void *arg, const uint8_t *data, size_t n)
{
    p3_pipe *p = arg;
    kiln_wasi_stdio *o = &p->c->out[p->slot];
    if (p->failed) return n;
    if (o->fd >= 0) {
        for (size_t done = 0; done < n;) {
            ssize_t k = write(o->fd, data + done, n - done);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                p->failed = 1;
                break;
            }
            done += (size_t)k;
        }
    } else if (!o->out || (o->limit && o->out->len + n > o->limit) ||
               kiln_buf_append(o->out, data, n) < 0) {
        p->failed = 1;
    }
    return n;
}

/* The guest dropped its writable end: the future resolves, ok or error-code.io. */
static void pipe_dropped(void *arg)
{
    p3_pipe *p = arg;
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.var.disc = p->failed ? 1 : 0; /* result: ok | err(error-code.io) */
    if (p->failed) v.var.payload = &p->io;
    if (p->done) kiln_chost_future_resolve(p->done, &v);
    p->done = NULL;
}

/* A pipe of slot `slot` with its future in *fut: NULL with cx->err. */
static p3_pipe *pipe_new(p3_ctx *c, int slot, kiln_cabi_cx *cx, kiln_cval *fut)
{
    p3_pipe *p = kiln_calloc(1, sizeof *p);
    if (!p) return fail(cx, "out of memory"), NULL;
    p->c = c;
    p->slot = slot;
    p->next = c->pipes;
    c->pipes = p;
    p->done = kiln_chost_future_writer(cx, fut);
    return p->done ? p : NULL;
}

static int write_via_stream(p3_ctx *c, int slot, kiln_cabi_cx *cx, const kiln_cval *args,
                            kiln_cval *res)
{
    p3_pipe *p = pipe_new(c, slot, cx, &res[0]);
    if (!p) return -1;
    kiln_chost_stream_ops ops = {pipe_consume, NULL, pipe_dropped, p};
    return kiln_chost_stream_reader(cx, &args[0], &ops) ? 0 : -1;
}

static int stdout_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return write_via_stream(ctx, 1, cx, args, res);
}

static int stderr_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return write_via_stream(ctx, 2, cx, args, res);
}

/* ---- wasi:cli/stdin ---- */

/* Gives what stdin has (a blocking read of the granted fd, or the granted bytes); at its
 * end, or on an error, the stream ends and the future resolves. */
static size_t pipe_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3_pipe *p = arg;
    p3_ctx *c = p->c;
    kiln_wasi_stdio *in = &c->out[0];
    ssize_t k = 0;
    if (in->fd >= 0) {
        do
            k = read(in->fd, buf, n);
        while (k < 0 && errno == EINTR);
        if (k < 0) p->failed = 1;
    } else if (in->in_data && c->in_off < in->in_len) {
        k = (ssize_t)(in->in_len - c->in_off < n ? in->in_len - c->in_off : n);
        memcpy(buf, in->in_data + c->in_off, (size_t)k);
        c->in_off += (size_t)k;
    }
    if (k > 0) return (size_t)k;
    *end = 1;
    pipe_dropped(p);
    return 0;
}

static int stdin_read(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)args;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    p3_pipe *p = pipe_new(ctx, 0, cx, &two[1]);
    if (!p) return -1;
    kiln_chost_stream_ops ops = {NULL, pipe_produce, pipe_dropped, p};
    if (!kiln_chost_stream_writer(cx, &two[0], &ops)) return -1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

static const kiln_chost_func stdin_funcs[] = {
    {"read-via-stream",
     "() -> tuple<stream<u8>, future<result<_, enum{io, illegal-byte-sequence, pipe}>>>",
     stdin_read}};

/* ---- wasi:cli/exit ---- */

static int exit_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)res;
    kiln_rt_exit(args[0].var.disc == 0 ? 0 : 1);
}

static const kiln_chost_func exit_funcs[] = {{"exit", "(result)", exit_status},
                                             {"exit-with-code", "(u8)", exit_code}};

#define WVS_SHAPE "(stream<u8>) -> future<result<_, enum{io, illegal-byte-sequence, pipe}>>"
static const kiln_chost_func stdout_funcs[] = {{"write-via-stream", WVS_SHAPE, stdout_write}};
static const kiln_chost_func stderr_funcs[] = {{"write-via-stream", WVS_SHAPE, stderr_write}};

/* ---- the provider ---- */

#define IFACE_R(var, name, res, nres, funcs, n)                                                    \
    static const kiln_chost_iface var##_rc = {name, RC, res, nres, funcs, n};                      \
    static const kiln_chost_iface var##_rel = {name, REL, res, nres, funcs, n};
#define IFACE(var, name, funcs, n) IFACE_R(var, name, NULL, 0, funcs, n)
#define N(a) (sizeof(a) / sizeof(a)[0])

IFACE(clk, "wasi:clocks/monotonic-clock", clk_funcs, 4)
IFACE(sys, "wasi:clocks/system-clock", sys_funcs, 2)
IFACE(tz, "wasi:clocks/timezone", tz_funcs, 3)
IFACE(clk_types, "wasi:clocks/types", NULL, 0)
IFACE(rnd, "wasi:random/random", rnd_funcs, 2)
IFACE(insecure, "wasi:random/insecure", insecure_funcs, 2)
IFACE(seed, "wasi:random/insecure-seed", seed_funcs, 1)
IFACE(env, "wasi:cli/environment", env_funcs, 3)
IFACE(out, "wasi:cli/stdout", stdout_funcs, 1)
IFACE(err, "wasi:cli/stderr", stderr_funcs, 1)
IFACE(cli_types, "wasi:cli/types", NULL, 0)
IFACE(in, "wasi:cli/stdin", stdin_funcs, 1)
IFACE(ex, "wasi:cli/exit", exit_funcs, 2)
IFACE_R(tin, "wasi:cli/terminal-input", term_in_res, 1, NULL, 0)
IFACE_R(tout, "wasi:cli/terminal-output", term_out_res, 1, NULL, 0)
IFACE(tstdin, "wasi:cli/terminal-stdin", tstdin_funcs, 1)
IFACE(tstdout, "wasi:cli/terminal-stdout", tstdout_funcs, 1)
IFACE(tstderr, "wasi:cli/terminal-stderr", tstderr_funcs, 1)

#define BOTH(v) &v##_rc, &v##_rel
static const kiln_chost_iface *const ifaces[] = {BOTH(clk),
                                                 BOTH(sys),
                                                 BOTH(tz),
                                                 BOTH(clk_types),
                                                 BOTH(rnd),
                                                 BOTH(insecure),
                                                 BOTH(seed),
                                                 BOTH(env),
                                                 BOTH(out),
                                                 BOTH(err),
                                                 BOTH(cli_types),
                                                 BOTH(in),
                                                 BOTH(ex),
                                                 BOTH(tin),
                                                 BOTH(tout),
                                                 BOTH(tstdin),
                                                 BOTH(tstdout),
                                                 BOTH(tstderr),
                                                 BOTH(kiln_wasip3_fs_types),
                                                 BOTH(kiln_wasip3_fs_preopens)};

const kiln_chost_provider kiln_wasip3_provider = {"wasi 0.3", ifaces,  N(ifaces),
                                                  p3_new,     p3_free, p3_clone};
