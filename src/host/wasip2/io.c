/* io.c — wasi:io 0.2: error, streams (over the granted stdio) and poll (wasip2.h). */
#include "host/wasip2/wasip2.h"
#include "engine/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SE "variant{last-operation-failed(own<error>), closed}"
/* How much check-write allows at once (the guest splits larger writes). */
#define WRITE_BUDGET 65536u

static void error_dtor(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&((kiln_wasip2 *)ctx)->errors, rep));
}

static int error_to_debug_string(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const char *m = p2_table_get(&((kiln_wasip2 *)ctx)->errors, (uint32_t)args[0].res.rep);
    if (!m) return p2_fail(cx, "error.to-debug-string: unknown error");
    size_t n = strlen(m);
    char *p = kiln_cabi_alloc(cx, n + 1);
    if (!p) return p2_fail(cx, "out of memory");
    memcpy(p, m, n);
    res[0].str.ptr = p;
    res[0].str.len = n;
    return 0;
}

static const kiln_chost_resource error_res[] = {{"error", error_dtor}};
static const kiln_chost_func error_funcs[] = {
    {"[method]error.to-debug-string", "(borrow<error>) -> string", error_to_debug_string}};
const kiln_chost_iface kiln_wasip2_io_error = {
    "wasi:io/error", KILN_WASIP2_VERSION, error_res, 1, error_funcs, 1};

/* ---- streams ---- */

static void stream_dtor(void *ctx, uint32_t rep)
{
    kiln_wasip2 *w = ctx;
    if (rep >= 1 && rep <= w->nstreams) w->streams[rep - 1].kind = P2_STREAM_FREE;
}

/* result<_, stream-error> / result<T, stream-error> as err(last-operation-failed(e)) or
 * err(closed). */
static int stream_error(kiln_wasip2 *w, kiln_cabi_cx *cx, kiln_cval *r, const char *msg)
{
    kiln_cval *se = kiln_cabi_alloc(cx, sizeof *se);
    if (!se) return p2_fail(cx, "out of memory");
    r->var.disc = 1;
    r->var.payload = se;
    se->var.payload = NULL;
    if (!msg) {
        se->var.disc = 1; /* closed */
        return 0;
    }
    char *copy = kiln_strdup(msg);
    uint32_t rep = copy ? p2_table_put(&w->errors, copy) : 0;
    if (!rep) {
        kiln_free(copy);
        return p2_fail(cx, "out of memory");
    }
    kiln_cval *e = kiln_cabi_alloc(cx, sizeof *e);
    if (!e) return p2_fail(cx, "out of memory");
    e->res.rep = rep;
    e->res.type = NULL;
    se->var.disc = 0;
    se->var.payload = e;
    return 0;
}

static p2_stream *out_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    p2_stream *s = p2_stream_get(ctx, args[0].res.rep, P2_STREAM_OUT);
    if (!s) p2_fail(cx, "output-stream: not an output stream");
    return s;
}

/* Writes all of data to the stream: NULL, or why it failed. */
static const char *stream_write_all(p2_stream *s, const uint8_t *data, size_t n)
{
    if (s->io.fd >= 0) {
        kiln_rt_host_enter();
        while (n) {
            ssize_t k = write(s->io.fd, data, n);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                kiln_rt_host_leave();
                return strerror(k < 0 ? errno : EIO);
            }
            data += k, n -= (size_t)k;
        }
        kiln_rt_host_leave();
        return NULL;
    }
    if (!s->io.out) return "stream closed";
    if (s->io.limit && s->io.out->len + n > s->io.limit) return "output limit reached";
    return kiln_buf_append(s->io.out, data, n) < 0 ? "out of memory" : NULL;
}

static int do_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], NULL);
    const char *why = stream_write_all(s, (const uint8_t *)args[1].str.ptr, args[1].str.len);
    if (why) {
        s->closed = 1;
        return stream_error(ctx, cx, &res[0], why);
    }
    p2_ok(&res[0]);
    return 0;
}

static int check_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], NULL);
    kiln_cval *n = kiln_cabi_alloc(cx, sizeof *n);
    if (!n) return p2_fail(cx, "out of memory");
    n->u = WRITE_BUDGET;
    res[0].var.disc = 0;
    res[0].var.payload = n;
    return 0;
}

static int flush(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], NULL);
    p2_ok(&res[0]);
    return 0;
}

static int subscribe_ready(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    uint32_t rep = p2_pollable_new(ctx, 0);
    if (!rep) return p2_fail(cx, "out of memory");
    res[0].res.rep = rep;
    res[0].res.type = NULL;
    return 0;
}

static p2_stream *in_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    p2_stream *s = p2_stream_get(ctx, args[0].res.rep, P2_STREAM_IN);
    if (!s) p2_fail(cx, "input-stream: not an input stream");
    return s;
}

static int do_read(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = in_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], NULL);
    uint64_t want = args[1].u > WRITE_BUDGET ? WRITE_BUDGET : args[1].u;
    kiln_cval *list = kiln_cabi_alloc(cx, sizeof *list);
    char *buf = kiln_cabi_alloc(cx, want ? want : 1);
    if (!list || !buf) return p2_fail(cx, "out of memory");
    size_t got = 0;
    if (s->io.fd >= 0) {
        ssize_t k;
        kiln_rt_host_enter();
        do
            k = read(s->io.fd, buf, want);
        while (k < 0 && errno == EINTR && !kiln_rt_interrupt_pending());
        kiln_rt_host_leave();
        if (k < 0) return stream_error(ctx, cx, &res[0], strerror(errno));
        got = (size_t)k;
    } else if (s->io.in_data) {
        size_t left = s->io.in_len - s->in_pos;
        got = left < want ? left : (size_t)want;
        memcpy(buf, s->io.in_data + s->in_pos, got);
        s->in_pos += got;
    }
    if (got == 0 && want > 0) {
        s->closed = 1;
        return stream_error(ctx, cx, &res[0], NULL);
    }
    list->str.ptr = buf;
    list->str.len = got;
    res[0].var.disc = 0;
    res[0].var.payload = list;
    return 0;
}

static const kiln_chost_resource stream_res[] = {{"input-stream", stream_dtor},
                                                 {"output-stream", stream_dtor}};
static const kiln_chost_func stream_funcs[] = {
    {"[method]output-stream.check-write", "(borrow<output-stream>) -> result<u64, " SE ">",
     check_write},
    {"[method]output-stream.write", "(borrow<output-stream>, list<u8>) -> result<_, " SE ">",
     do_write},
    {"[method]output-stream.blocking-write-and-flush",
     "(borrow<output-stream>, list<u8>) -> result<_, " SE ">", do_write},
    {"[method]output-stream.flush", "(borrow<output-stream>) -> result<_, " SE ">", flush},
    {"[method]output-stream.blocking-flush", "(borrow<output-stream>) -> result<_, " SE ">", flush},
    {"[method]output-stream.subscribe", "(borrow<output-stream>) -> own<pollable>",
     subscribe_ready},
    {"[method]input-stream.read", "(borrow<input-stream>, u64) -> result<list<u8>, " SE ">",
     do_read},
    {"[method]input-stream.blocking-read",
     "(borrow<input-stream>, u64) -> result<list<u8>, " SE ">", do_read},
    {"[method]input-stream.subscribe", "(borrow<input-stream>) -> own<pollable>", subscribe_ready},
};
const kiln_chost_iface kiln_wasip2_io_streams = {
    "wasi:io/streams", KILN_WASIP2_VERSION,
    stream_res,        2,
    stream_funcs,      sizeof stream_funcs / sizeof stream_funcs[0]};

/* ---- poll ---- */

static void pollable_dtor(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&((kiln_wasip2 *)ctx)->pollables, rep));
}

static p2_pollable *pollable(void *ctx, kiln_cabi_cx *cx, uint32_t rep)
{
    p2_pollable *p = p2_table_get(&((kiln_wasip2 *)ctx)->pollables, rep);
    if (!p) p2_fail(cx, "pollable: unknown pollable");
    return p;
}

/* Sleeps until monotonic time t (interruptible by the watchdog). */
static void sleep_until(uint64_t t)
{
    kiln_rt_host_enter();
    for (uint64_t now; (now = p2_monotonic_now()) < t && !kiln_rt_interrupt_pending();) {
        uint64_t d = t - now;
        struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    kiln_rt_host_leave();
}

static int pollable_ready(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_pollable *p = pollable(ctx, cx, args[0].res.rep);
    if (!p) return -1;
    res[0].u = p->deadline <= p2_monotonic_now();
    return 0;
}

static int pollable_block(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_pollable *p = pollable(ctx, cx, args[0].res.rep);
    if (!p) return -1;
    sleep_until(p->deadline);
    return 0;
}

/* poll(list<borrow<pollable>>) -> list<u32>: waits for the earliest, returns the ready. */
static int poll_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    uint32_t n = args[0].agg.n;
    if (n == 0) return p2_fail(cx, "poll: empty list");
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < n; i++) {
        p2_pollable *p = pollable(ctx, cx, args[0].agg.items[i].res.rep);
        if (!p) return -1;
        if (p->deadline < first) first = p->deadline;
    }
    sleep_until(first);
    uint64_t now = p2_monotonic_now();
    kiln_cval *out = kiln_cabi_alloc(cx, n * sizeof *out);
    if (!out) return p2_fail(cx, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        p2_pollable *p = pollable(ctx, cx, args[0].agg.items[i].res.rep);
        if (p->deadline <= now) out[k++].u = i;
    }
    res[0].agg.items = out;
    res[0].agg.n = k;
    return 0;
}

static const kiln_chost_resource poll_res[] = {{"pollable", pollable_dtor}};
static const kiln_chost_func poll_funcs[] = {
    {"[method]pollable.ready", "(borrow<pollable>) -> bool", pollable_ready},
    {"[method]pollable.block", "(borrow<pollable>)", pollable_block},
    {"poll", "(list<borrow<pollable>>) -> list<u32>", poll_},
};
const kiln_chost_iface kiln_wasip2_io_poll = {
    "wasi:io/poll", KILN_WASIP2_VERSION, poll_res, 1, poll_funcs, 3};
