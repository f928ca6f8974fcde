/* io.c — wasi:io 0.2: error, streams (over the granted stdio or a file) and poll
 * (wasip2.h).
 *
 * Output streams write synchronously: every write has reached the host fd, file or memory
 * buffer when it returns, so flush has nothing to do and check-write always offers the
 * full budget again. The permit protocol is still enforced as the spec says: write (and
 * write-zeroes) of more than the last check-write allowed traps, as does a
 * blocking-write-and-flush of more than 4096 bytes. Input streams over a host fd (real
 * stdin under `kiln run`) never block in read (empty list when nothing is there); the
 * blocking variants and pollables wait through p2_wait. */
#include "host/wasip2/wasip2.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SE "variant{last-operation-failed(own<error>), closed}"

int p2_wait(int fd, short events, uint64_t t)
{
    uint64_t now = p2_monotonic_now();
    uint64_t left = t == UINT64_MAX ? UINT64_MAX : (t > now ? t - now : 0);
    if (fd >= 0) {
        int r = kiln_wait_fd(fd, events, left);
        if (r == KILN_WAIT_INTERRUPTED) return -1;
        return r < 0 ? events : r; /* an fd that cannot be watched: try the operation */
    }
    if (left == UINT64_MAX) left = 1000000000u; /* never forever without an fd */
    return kiln_wait_sleep(left) == KILN_WAIT_INTERRUPTED ? -1 : 0;
}

static void error_dtor(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&((kiln_wasip2 *)ctx)->errors, rep));
}

static int error_to_debug_string(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const p2_error *m = p2_table_get(&((kiln_wasip2 *)ctx)->errors, (uint32_t)args[0].res.rep);
    if (!m) return p2_fail(cx, "error.to-debug-string: unknown error");
    size_t n = strlen(m->msg);
    char *p = kiln_cabi_alloc(cx, n + 1);
    if (!p) return p2_fail(cx, "out of memory");
    memcpy(p, m->msg, n);
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
    if (rep < 1 || rep > w->nstreams) return;
    p2_stream *s = &w->streams[rep - 1];
    if (s->kind != P2_STREAM_FREE && s->file_fd >= 0) close(s->file_fd);
    if (s->kind != P2_STREAM_FREE && s->ops && s->ops->close) s->ops->close(s->ops_arg);
    s->ops = NULL;
    s->kind = P2_STREAM_FREE;
    s->file_fd = -1;
}

/* Sets r to err(closed) (e < 0) or err(last-operation-failed(error)) with errno e. The
 * error carries e for filesystem-error-code only when it came from a file (stream s). */
static int stream_error_of(kiln_wasip2 *w, kiln_cabi_cx *cx, kiln_cval *r, int e,
                           const p2_stream *s)
{
    kiln_cval *se = kiln_cabi_alloc(cx, sizeof *se);
    if (!se) return p2_fail(cx, "out of memory");
    r->var.disc = 1;
    r->var.payload = se;
    se->var.payload = NULL;
    if (e < 0) {
        se->var.disc = 1; /* closed */
        return 0;
    }
    uint32_t rep = p2_error_new(w, strerror(e), s && s->file_fd >= 0 ? e : 0);
    kiln_cval *ev = kiln_cabi_alloc(cx, sizeof *ev);
    if (!rep || !ev) return p2_fail(cx, "out of memory");
    ev->res.rep = rep;
    ev->res.type = NULL;
    se->var.disc = 0;
    se->var.payload = ev;
    return 0;
}

static int stream_error(kiln_wasip2 *w, kiln_cabi_cx *cx, kiln_cval *r, int e)
{
    return stream_error_of(w, cx, r, e, NULL);
}

static int ok_u64(kiln_cabi_cx *cx, kiln_cval *r, uint64_t v)
{
    kiln_cval *n = kiln_cabi_alloc(cx, sizeof *n);
    if (!n) return p2_fail(cx, "out of memory");
    n->u = v;
    r->var.disc = 0;
    r->var.payload = n;
    return 0;
}

static p2_stream *out_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    p2_stream *s = p2_stream_get(ctx, args[0].res.rep, P2_STREAM_OUT);
    if (!s) p2_fail(cx, "output-stream: not an output stream");
    return s;
}

static p2_stream *in_stream(void *ctx, kiln_cabi_cx *cx, uint32_t rep)
{
    p2_stream *s = p2_stream_get(ctx, rep, P2_STREAM_IN);
    if (!s) p2_fail(cx, "input-stream: not an input stream");
    return s;
}

/* Writes all of data to the stream: 0, or an errno (EPIPE when the memory sink is gone,
 * EFBIG past its limit). */
static int stream_write_all(p2_stream *s, const uint8_t *data, size_t n)
{
    if (s->ops) return s->ops->write(s->ops_arg, data, n);
    if (s->file_fd >= 0) {
        if (s->append) {
            struct stat st;
            if (fstat(s->file_fd, &st) < 0) return errno;
            s->off = (uint64_t)st.st_size;
        }
        while (n) {
            ssize_t k = pwrite(s->file_fd, data, n, (off_t)s->off);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return k < 0 ? errno : EIO;
            data += k, n -= (size_t)k, s->off += (uint64_t)k;
        }
        return 0;
    }
    if (s->io.fd >= 0) {
        while (n) {
            ssize_t k = write(s->io.fd, data, n);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && errno == EAGAIN) {
                if (p2_wait(s->io.fd, POLLOUT, UINT64_MAX) < 0) return EINTR;
                continue;
            }
            if (k <= 0) return k < 0 ? errno : EIO;
            data += k, n -= (size_t)k;
        }
        return 0;
    }
    if (!s->io.out) return EPIPE;
    if (s->io.limit && s->io.out->len + n > s->io.limit) return EFBIG;
    return kiln_buf_append(s->io.out, data, n) < 0 ? ENOMEM : 0;
}

/* One write of n bytes (data NULL: zeroes). blocking: the blocking-*-and-flush form (at
 * most P2_BLOCKING_MAX, no permit needed); otherwise n must be within the permit. */
static int write_common(kiln_wasip2 *w, kiln_cabi_cx *cx, p2_stream *s, const uint8_t *data,
                        uint64_t n, int blocking, const char *fn, kiln_cval *res)
{
    if (blocking) {
        if (n > P2_BLOCKING_MAX)
            return p2_fail(cx, "output-stream.%s: %llu bytes is more than %u", fn,
                           (unsigned long long)n, P2_BLOCKING_MAX);
    } else {
        if (n > s->permit)
            return p2_fail(cx,
                           "output-stream.%s: %llu bytes is more than check-write permitted (%llu)",
                           fn, (unsigned long long)n, (unsigned long long)s->permit);
        s->permit -= n;
    }
    if (s->closed) return stream_error(w, cx, &res[0], -1);
    if (!data) {
        uint8_t *z = kiln_cabi_alloc(cx, n ? (size_t)n : 1);
        if (!z) return p2_fail(cx, "out of memory");
        memset(z, 0, (size_t)n);
        data = z;
    }
    int e = stream_write_all(s, data, (size_t)n);
    if (e) {
        s->closed = 1;
        return stream_error_of(w, cx, &res[0], e == EPIPE ? -1 : e, s);
    }
    p2_ok(&res[0]);
    return 0;
}

static int do_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    return write_common(ctx, cx, s, (const uint8_t *)args[1].str.ptr, args[1].str.len, 0, "write",
                        res);
}

static int blocking_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    return write_common(ctx, cx, s, (const uint8_t *)args[1].str.ptr, args[1].str.len, 1,
                        "blocking-write-and-flush", res);
}

static int write_zeroes(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    return write_common(ctx, cx, s, NULL, args[1].u, 0, "write-zeroes", res);
}

static int blocking_write_zeroes(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    return write_common(ctx, cx, s, NULL, args[1].u, 1, "blocking-write-zeroes-and-flush", res);
}

static int check_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], -1);
    s->permit = P2_WRITE_BUDGET;
    return ok_u64(cx, &res[0], s->permit);
}

static int flush(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = out_stream(ctx, cx, args);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], -1);
    p2_ok(&res[0]);
    return 0;
}

static int set_pollable(kiln_cabi_cx *cx, kiln_cval *r, uint32_t rep)
{
    if (!rep) return p2_fail(cx, "out of memory");
    r->res.rep = rep;
    r->res.type = NULL;
    return 0;
}

static int out_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    if (!out_stream(ctx, cx, args)) return -1;
    return set_pollable(cx, &res[0], p2_pollable_new(ctx, 0));
}

static int in_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_stream *s = in_stream(ctx, cx, args[0].res.rep);
    if (!s) return -1;
    if (s->file_fd < 0 && s->io.fd >= 0 && !s->closed)
        return set_pollable(cx, &res[0], p2_pollable_new_fd(ctx, s->io.fd, POLLIN));
    if (s->ready && !s->closed)
        return set_pollable(cx, &res[0], p2_pollable_new_host(ctx, s->ready, s->ops_arg));
    return set_pollable(cx, &res[0], p2_pollable_new(ctx, 0));
}

/* Reads at most want bytes into buf: the count (0 with *eof at the end, 0 without when
 * nothing is there yet and !blocking), or -1 with *err (an errno, or -1 interrupted). */
static ssize_t stream_read(p2_stream *s, char *buf, size_t want, int blocking, int *eof, int *err)
{
    *eof = 0;
    if (want == 0) return 0;
    if (s->ops) {
        for (;;) {
            long k = s->ops->read(s->ops_arg, buf, want, eof, err);
            if (k != 0 || *eof || !blocking || !s->ready) return k;
            int fd;
            short ev;
            uint64_t t;
            if (s->ready->check(s->ops_arg, &fd, &ev, &t)) continue;
            if (p2_wait(fd, ev, t) < 0) {
                *err = -1;
                return -1;
            }
        }
    }
    if (s->file_fd >= 0) {
        ssize_t k;
        do
            k = pread(s->file_fd, buf, want, (off_t)s->off);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
            *err = errno;
            return -1;
        }
        s->off += (uint64_t)k;
        *eof = k == 0;
        return k;
    }
    if (s->io.fd >= 0) {
        for (;;) {
            struct pollfd p = {s->io.fd, POLLIN, 0};
            int r = poll(&p, 1, 0);
            if (r == 0 && !blocking) return 0;
            if (r == 0) {
                if (p2_wait(s->io.fd, POLLIN, UINT64_MAX) < 0) {
                    *err = -1;
                    return -1;
                }
                continue;
            }
            ssize_t k = read(s->io.fd, buf, want);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && errno == EAGAIN) {
                if (!blocking) return 0;
                if (p2_wait(s->io.fd, POLLIN, UINT64_MAX) < 0) {
                    *err = -1;
                    return -1;
                }
                continue;
            }
            if (k < 0) {
                *err = errno;
                return -1;
            }
            *eof = k == 0;
            return k;
        }
    }
    if (!s->io.in_data) {
        *eof = 1;
        return 0;
    }
    size_t left = s->io.in_len - s->in_pos;
    size_t got = left < want ? left : want;
    memcpy(buf, s->io.in_data + s->in_pos, got);
    s->in_pos += got;
    *eof = got == 0;
    return (ssize_t)got;
}

/* read / blocking-read / skip / blocking-skip. */
static int read_common(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                       int blocking, int skip)
{
    p2_stream *s = in_stream(ctx, cx, args[0].res.rep);
    if (!s) return -1;
    if (s->closed) return stream_error(ctx, cx, &res[0], -1);
    size_t want = args[1].u > P2_WRITE_BUDGET ? P2_WRITE_BUDGET : (size_t)args[1].u;
    char *buf = kiln_cabi_alloc(cx, want ? want : 1);
    if (!buf) return p2_fail(cx, "out of memory");
    int eof, err = 0;
    ssize_t got = stream_read(s, buf, want, blocking, &eof, &err);
    if (got < 0 && err == -1) got = 0, eof = 0; /* interrupted: the guest unwinds on return */
    if (got < 0) {
        s->closed = 1;
        return stream_error_of(ctx, cx, &res[0], err, s);
    }
    if (eof) {
        s->closed = 1;
        return stream_error(ctx, cx, &res[0], -1);
    }
    if (skip) return ok_u64(cx, &res[0], (uint64_t)got);
    kiln_cval *list = kiln_cabi_alloc(cx, sizeof *list);
    if (!list) return p2_fail(cx, "out of memory");
    list->str.ptr = buf; /* list<u8> crosses as bytes (host.h) */
    list->str.len = (size_t)got;
    res[0].var.disc = 0;
    res[0].var.payload = list;
    return 0;
}

static int do_read(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return read_common(ctx, cx, args, res, 0, 0);
}
static int blocking_read(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return read_common(ctx, cx, args, res, 1, 0);
}
static int do_skip(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return read_common(ctx, cx, args, res, 0, 1);
}
static int blocking_skip(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return read_common(ctx, cx, args, res, 1, 1);
}

/* splice / blocking-splice: reads at most len bytes from src and writes them to the
 * output stream (no permit needed: the host moves the bytes itself). */
static int splice_common(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                         int blocking)
{
    p2_stream *d = out_stream(ctx, cx, args);
    p2_stream *s = d ? in_stream(ctx, cx, args[1].res.rep) : NULL;
    if (!s) return -1;
    if (d->closed || s->closed) return stream_error(ctx, cx, &res[0], -1);
    size_t want = args[2].u > P2_WRITE_BUDGET ? P2_WRITE_BUDGET : (size_t)args[2].u;
    char *buf = kiln_cabi_alloc(cx, want ? want : 1);
    if (!buf) return p2_fail(cx, "out of memory");
    int eof, err = 0;
    ssize_t got = stream_read(s, buf, want, blocking, &eof, &err);
    if (got < 0 && err == -1) return ok_u64(cx, &res[0], 0);
    if (got < 0 || eof) {
        s->closed = 1;
        return stream_error_of(ctx, cx, &res[0], got < 0 ? err : -1, s);
    }
    int e = stream_write_all(d, (const uint8_t *)buf, (size_t)got);
    if (e) {
        d->closed = 1;
        return stream_error_of(ctx, cx, &res[0], e == EPIPE ? -1 : e, d);
    }
    return ok_u64(cx, &res[0], (uint64_t)got);
}

static int do_splice(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return splice_common(ctx, cx, args, res, 0);
}
static int blocking_splice(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return splice_common(ctx, cx, args, res, 1);
}

#define OUT "(borrow<output-stream>"
#define IN "(borrow<input-stream>"
static const kiln_chost_resource stream_res[] = {{"input-stream", stream_dtor},
                                                 {"output-stream", stream_dtor}};
static const kiln_chost_func stream_funcs[] = {
    {"[method]output-stream.check-write", OUT ") -> result<u64, " SE ">", check_write},
    {"[method]output-stream.write", OUT ", list<u8>) -> result<_, " SE ">", do_write},
    {"[method]output-stream.blocking-write-and-flush", OUT ", list<u8>) -> result<_, " SE ">",
     blocking_write},
    {"[method]output-stream.flush", OUT ") -> result<_, " SE ">", flush},
    {"[method]output-stream.blocking-flush", OUT ") -> result<_, " SE ">", flush},
    {"[method]output-stream.subscribe", OUT ") -> own<pollable>", out_subscribe},
    {"[method]output-stream.write-zeroes", OUT ", u64) -> result<_, " SE ">", write_zeroes},
    {"[method]output-stream.blocking-write-zeroes-and-flush", OUT ", u64) -> result<_, " SE ">",
     blocking_write_zeroes},
    {"[method]output-stream.splice", OUT ", borrow<input-stream>, u64) -> result<u64, " SE ">",
     do_splice},
    {"[method]output-stream.blocking-splice",
     OUT ", borrow<input-stream>, u64) -> result<u64, " SE ">", blocking_splice},
    {"[method]input-stream.read", IN ", u64) -> result<list<u8>, " SE ">", do_read},
    {"[method]input-stream.blocking-read", IN ", u64) -> result<list<u8>, " SE ">", blocking_read},
    {"[method]input-stream.skip", IN ", u64) -> result<u64, " SE ">", do_skip},
    {"[method]input-stream.blocking-skip", IN ", u64) -> result<u64, " SE ">", blocking_skip},
    {"[method]input-stream.subscribe", IN ") -> own<pollable>", in_subscribe},
};
const kiln_chost_iface kiln_wasip2_io_streams = {
    "wasi:io/streams", KILN_WASIP2_VERSION,
    stream_res,        2,
    stream_funcs,      sizeof stream_funcs / sizeof stream_funcs[0]};

/* ---- poll ---- */

static void pollable_dtor(void *ctx, uint32_t rep)
{
    p2_pollable *p = p2_table_take(&((kiln_wasip2 *)ctx)->pollables, rep);
    if (p && p->kind == P2_POLL_HOST) p->ready->release(p->arg);
    kiln_free(p);
}

static p2_pollable *pollable(void *ctx, kiln_cabi_cx *cx, uint32_t rep)
{
    p2_pollable *p = p2_table_get(&((kiln_wasip2 *)ctx)->pollables, rep);
    if (!p) p2_fail(cx, "pollable: unknown pollable");
    return p;
}

/* 1 if p is ready now; otherwise 0 with what to wait for (fd -1: none; deadline). */
static int check_ready(const p2_pollable *p, uint64_t now, int *fd, short *ev, uint64_t *deadline)
{
    *fd = -1;
    *ev = 0;
    *deadline = UINT64_MAX;
    if (p->kind == P2_POLL_HOST) return p->ready->check(p->arg, fd, ev, deadline);
    if (p->kind == P2_POLL_CLOCK) {
        *deadline = p->deadline;
        return p->deadline <= now;
    }
    struct pollfd f = {p->fd, p->events, 0};
    *fd = p->fd;
    *ev = p->events;
    return poll(&f, 1, 0) != 0; /* an error counts as ready: the operation reports it */
}

static int is_ready(const p2_pollable *p, uint64_t now)
{
    int fd;
    short ev;
    uint64_t d;
    return check_ready(p, now, &fd, &ev, &d);
}

/* Waits for the first of several fds (with their events) or time t: through an epoll
 * set when there is more than one fd, so the fiber parks on one descriptor. -1 when
 * interrupted. */
static int wait_fds(const int *fds, const short *evs, uint32_t n, uint64_t t)
{
    if (n <= 1) return p2_wait(n ? fds[0] : -1, n ? evs[0] : 0, t) < 0 ? -1 : 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { /* watch the first and look again within 10 ms */
        uint64_t soon = p2_monotonic_now() + 10000000u;
        return p2_wait(fds[0], evs[0], t < soon ? t : soon) < 0 ? -1 : 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct epoll_event e = {0};
        e.events = (evs[i] & POLLIN ? EPOLLIN : 0) | (evs[i] & POLLOUT ? EPOLLOUT : 0);
        e.data.fd = fds[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0 && errno == EEXIST) {
            e.events |= EPOLLIN | EPOLLOUT; /* the same fd twice: either event wakes */
            (void)epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &e);
        }
    }
    int r = p2_wait(ep, POLLIN, t);
    close(ep);
    return r < 0 ? -1 : 0;
}

/* Waits until at least one of ps[0..n) is ready. 0, or -1 when interrupted (or out of
 * memory). */
static int wait_any(p2_pollable *const *ps, uint32_t n)
{
    int *fds = kiln_malloc((size_t)n * sizeof *fds);
    short *evs = kiln_malloc((size_t)n * sizeof *evs);
    int rc = fds && evs ? 0 : -1;
    while (rc == 0) {
        uint64_t now = p2_monotonic_now(), first = UINT64_MAX;
        uint32_t nfds = 0;
        int ready = 0;
        for (uint32_t i = 0; i < n && !ready; i++) {
            int fd;
            short ev;
            uint64_t d;
            ready = check_ready(ps[i], now, &fd, &ev, &d);
            if (d < first) first = d;
            if (fd >= 0) fds[nfds] = fd, evs[nfds++] = ev;
        }
        if (ready) break;
        rc = wait_fds(fds, evs, nfds, first);
    }
    kiln_free(fds);
    kiln_free(evs);
    return rc;
}

static int pollable_ready(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_pollable *p = pollable(ctx, cx, args[0].res.rep);
    if (!p) return -1;
    res[0].u = (uint64_t)is_ready(p, p2_monotonic_now());
    return 0;
}

static int pollable_block(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_pollable *p = pollable(ctx, cx, args[0].res.rep);
    if (!p) return -1;
    wait_any(&p, 1);
    return 0;
}

/* poll(list<borrow<pollable>>) -> list<u32>: waits until at least one is ready and
 * returns the indices of all that are ready then. Traps on an empty list (the spec). */
static int poll_(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    uint32_t n = args[0].agg.n;
    if (n == 0) return p2_fail(cx, "poll: empty list of pollables");
    p2_pollable **ps = kiln_cabi_alloc(cx, n * sizeof *ps);
    kiln_cval *out = kiln_cabi_alloc(cx, n * sizeof *out);
    if (!ps || !out) return p2_fail(cx, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        if (!(ps[i] = pollable(ctx, cx, args[0].agg.items[i].res.rep))) return -1;
    uint32_t k = 0;
    if (wait_any(ps, n) == 0) {
        uint64_t now = p2_monotonic_now();
        for (uint32_t i = 0; i < n; i++)
            if (is_ready(ps[i], now)) out[k++].u = i;
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
