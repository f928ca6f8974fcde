/* wasip3.c — the "wasi 0.3" provider (wasip3.h): clocks, random and stdout/stderr. */
#include "host/wasip3/wasip3.h"
#include "engine/runtime.h"
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
    struct p3_ctx *c;
    int slot; /* 0 stdin, 1 stdout, 2 stderr */
    int failed;
    kiln_cval io; /* error-code.io, the error's payload (zero: case 0) */
    kiln_chost_future *done;
    struct p3_pipe *next;
} p3_pipe;

typedef struct p3_ctx {
    kiln_wasi_stdio out[3]; /* the granted stdio */
    size_t in_off;          /* stdin from memory: bytes already read */
    p3_pipe *pipes;
} p3_ctx;

static void *p3_new(const kiln_grants *g, char **err)
{
    (void)err;
    p3_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    for (int i = 0; i < 3; i++) {
        if (g)
            c->out[i] = g->wasi.stdio[i];
        else
            c->out[i].fd = i;
    }
    return c;
}

static void p3_free(void *ctx)
{
    p3_ctx *c = ctx;
    while (c->pipes) {
        p3_pipe *p = c->pipes;
        c->pipes = p->next;
        kiln_free(p);
    }
    kiln_free(c);
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

/* ---- wasi:random/random ---- */

/* Fills buf from the kernel's CSPRNG; 0, or -1 with cx->err. */
static int rnd_fill(kiln_cabi_cx *cx, void *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t k = getrandom((char *)buf + done, n - done, 0);
        if (k < 0 && errno != EINTR) return fail(cx, "getrandom failed");
        if (k > 0) done += (size_t)k;
    }
    return 0;
}

static int rnd_bytes(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx;
    if (args[0].u > MAX_BYTES) return fail(cx, "get-random-bytes: too many bytes");
    size_t n = (size_t)args[0].u;
    char *p = kiln_cabi_alloc(cx, n ? n : 1);
    if (!p) return fail(cx, "out of memory");
    if (rnd_fill(cx, p, n) < 0) return -1;
    res[0].str.ptr = p;
    res[0].str.len = n;
    return 0;
}

static int rnd_u64(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)args;
    return rnd_fill(cx, &res[0].u, sizeof res[0].u);
}

static const kiln_chost_func rnd_funcs[] = {{"get-random-bytes", "(u64) -> list<u8>", rnd_bytes},
                                            {"get-random-u64", "() -> u64", rnd_u64}};

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

static const kiln_chost_func exit_funcs[] = {{"exit", "(result)", exit_status}};

#define WVS_SHAPE "(stream<u8>) -> future<result<_, enum{io, illegal-byte-sequence, pipe}>>"
static const kiln_chost_func stdout_funcs[] = {{"write-via-stream", WVS_SHAPE, stdout_write}};
static const kiln_chost_func stderr_funcs[] = {{"write-via-stream", WVS_SHAPE, stderr_write}};

/* ---- the provider ---- */

#define IFACE(var, name, funcs, n)                                                                 \
    static const kiln_chost_iface var##_rc = {name, RC, NULL, 0, funcs, n};                        \
    static const kiln_chost_iface var##_rel = {name, REL, NULL, 0, funcs, n};

IFACE(clk, "wasi:clocks/monotonic-clock", clk_funcs, 4)
IFACE(clk_types, "wasi:clocks/types", NULL, 0)
IFACE(rnd, "wasi:random/random", rnd_funcs, 2)
IFACE(out, "wasi:cli/stdout", stdout_funcs, 1)
IFACE(err, "wasi:cli/stderr", stderr_funcs, 1)
IFACE(cli_types, "wasi:cli/types", NULL, 0)
IFACE(in, "wasi:cli/stdin", stdin_funcs, 1)
IFACE(ex, "wasi:cli/exit", exit_funcs, 1)

static const kiln_chost_iface *const ifaces[] = {
    &clk_rc, &clk_rel, &clk_types_rc, &clk_types_rel, &rnd_rc, &rnd_rel, &out_rc, &out_rel,
    &err_rc, &err_rel, &cli_types_rc, &cli_types_rel, &in_rc,  &in_rel,  &ex_rc,  &ex_rel};

const kiln_chost_provider kiln_wasip3_provider = {
    "wasi 0.3", ifaces, sizeof ifaces / sizeof ifaces[0], p3_new, p3_free, NULL};
