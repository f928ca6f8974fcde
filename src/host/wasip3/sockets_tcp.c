/* sockets_tcp.c — wasi:sockets/types' tcp-socket (sockets.h), and the socket options TCP
 * and UDP share. */
#include "host/wasip3/sockets.h"
#include "util/alloc.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BACKLOG 128

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static p3s_sock *tcp(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    return p3s_sock_get(ctx, cx, args[0].res.rep, 0);
}

int p3s_tcp_create(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    int af = ks_af_of(args[0].var.disc);
    uint32_t ecode = KS_E_NOT_SUPPORTED;
    uint32_t rep = af < 0 ? 0 : p3s_sock_new(ctx, af, 0, &ecode);
    if (!rep) return p3s_err(cx, res, ecode);
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v) return p3s_fail(cx, "out of memory");
    memset(v, 0, sizeof *v);
    v->res.rep = rep;
    p3s_ok(res, v);
    return 0;
}

/* Binds s to sa (checked against the grants for proto): 0, or an error-code case. */
static uint32_t do_bind(p3s_sock *s, const struct sockaddr_storage *sa, socklen_t len, int proto)
{
    if (sa->ss_family != s->family) return KS_E_INVALID_ARGUMENT;
    if (sa->ss_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
        return KS_E_INVALID_ARGUMENT;
    if (!p3s_allowed(s->c, sa, proto == KS_TCP ? KS_TCP_BIND : proto)) return KS_E_ACCESS_DENIED;
    int one = 1;
    if (proto == KS_TCP && setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return ks_errno_code(errno);
    if (bind(s->fd, (const struct sockaddr *)sa, len) < 0) return ks_errno_code(errno);
    s->state = P3S_BOUND;
    return 0;
}

/* The argument address (ip-socket-address) of args[1]: 0, or -1 (malformed). */
static int arg_addr(const kiln_cval *args, struct sockaddr_storage *sa, socklen_t *len)
{
    return ks_addr_from_cval(&args[1], sa, len);
}

uint32_t p3s_bind_common(p3s_sock *s, const kiln_cval *args, int proto)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (s->state != P3S_UNBOUND) return KS_E_INVALID_STATE;
    if (arg_addr(args, &sa, &len) < 0) return KS_E_INVALID_ARGUMENT;
    return do_bind(s, &sa, len, proto);
}

int p3s_tcp_bind(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    uint32_t e = p3s_bind_common(s, args, KS_TCP);
    if (e) return p3s_err(cx, res, e);
    p3s_ok(res, NULL);
    return 0;
}

/* ---- connect ---- */

typedef struct conn_op {
    p3s_sock *s;
} conn_op;

/* 1 when the connect finished (*ecode 0: connected), 0 not yet, -1 the time limit
 * ended the wait. */
static int conn_check(p3s_sock *s, uint64_t wait_ns, uint32_t *ecode)
{
    struct pollfd pfd = {s->fd, POLLOUT, 0};
    int r = poll(&pfd, 1, 0);
    if (r == 0 && wait_ns) {
        if (p3s_wait(s->fd, POLLOUT, wait_ns) < 0) return -1;
        r = poll(&pfd, 1, 0);
    }
    if (r <= 0) return 0;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
    *ecode = err ? ks_errno_code(err) : 0;
    s->state = err ? P3S_CLOSED : P3S_CONNECTED;
    return 1;
}

static void conn_fire(kiln_chost_pending *p, void *arg)
{
    conn_op *o = arg;
    uint32_t ecode = 0;
    if (conn_check(o->s, P3S_SLICE_NS, &ecode) != 1) {
        kiln_chost_pending_again(p, now_ns());
        return;
    }
    kiln_cabi_cx *cx = kiln_chost_pending_cx(p);
    kiln_cval *res = kiln_chost_pending_results(p);
    p3s_sock_release(o->s);
    kiln_free(o);
    if (ecode ? p3s_err(cx, res, ecode) : (p3s_ok(res, NULL), 0)) {
        kiln_chost_pending_fail(p, cx->err);
        return;
    }
    kiln_chost_complete(p);
}

static void conn_abandon(void *arg)
{
    conn_op *o = arg;
    o->s->state = P3S_CLOSED;
    p3s_sock_release(o->s);
    kiln_free(o);
}

int p3s_tcp_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    struct sockaddr_storage sa;
    socklen_t len;
    if (s->state == P3S_CONNECTING || s->state == P3S_CONNECTED || s->state == P3S_LISTENING ||
        s->state == P3S_CLOSED)
        return p3s_err(cx, res, KS_E_INVALID_STATE);
    if (arg_addr(args, &sa, &len) < 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    int bad = ks_addr_check(&sa, s->family, 1);
    if (bad >= 0) return p3s_err(cx, res, (uint32_t)bad);
    if (!p3s_allowed(ctx, &sa, KS_TCP)) return p3s_err(cx, res, KS_E_ACCESS_DENIED);
    int r;
    do
        r = connect(s->fd, (const struct sockaddr *)&sa, len);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        s->state = P3S_CONNECTED;
        p3s_ok(res, NULL);
        return 0;
    }
    if (errno != EINPROGRESS) {
        s->state = P3S_CLOSED;
        return p3s_err(cx, res, ks_errno_code(errno));
    }
    s->state = P3S_CONNECTING;
    conn_op *o = kiln_calloc(1, sizeof *o);
    if (!o) return p3s_fail(cx, "out of memory");
    o->s = s;
    p3s_sock_retain(s);
    kiln_chost_later later = {now_ns(), conn_fire, conn_abandon, o};
    if (kiln_chost_defer(cx, &later)) return KILN_CHOST_PENDING;
    uint32_t ecode = 0; /* a synchronous call: wait here, within the time limit */
    int done;
    while ((done = conn_check(s, P3S_SLICE_NS, &ecode)) == 0)
        ;
    p3s_sock_release(s);
    kiln_free(o);
    if (done < 0) {
        s->state = P3S_CLOSED;
        return p3s_err(cx, res, KS_E_TIMEOUT);
    }
    if (ecode) return p3s_err(cx, res, ecode);
    p3s_ok(res, NULL);
    return 0;
}

/* ---- listen: a stream of accepted sockets ---- */

/* Accepts up to n connections; with none waiting the guest's read stays pending until
 * the listener is readable (the driver polls it). */
static size_t accept_values(void *arg, kiln_cabi_cx *cx, kiln_cval *vals, size_t n, int *end)
{
    (void)cx;
    p3s_io *io = arg;
    p3s_sock *s = io->s;
    size_t got = 0;
    if (s->fd < 0) {
        *end = 1;
        p3s_io_finish(io);
        return 0;
    }
    while (got < n) {
        if (ks_fd_take() < 0) { /* at the process's cap: the connections wait */
            *end = got == 0;
            break;
        }
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            ks_fd_give();
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && got == 0) {
                kiln_chost_stream_wait_fd(io->hs, s->fd, POLLIN); /* the copy stays pending */
                return 0;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EMFILE || errno == ENFILE)
                break; /* a transient failure: the stream stays */
            *end = got == 0;
            break;
        }
        uint32_t rep = p3s_sock_adopt(s->c, fd, s->family, P3S_CONNECTED);
        if (!rep) { /* the instance's table is full: the stream ends */
            *end = got == 0;
            break;
        }
        vals[got++].res.rep = rep; /* an own<tcp-socket> */
    }
    if (*end) p3s_io_finish(io); /* the stream ends: no more calls */
    return got;
}

/* The guest dropped the stream (receive's or listen's). */
static void io_dropped(void *arg)
{
    p3s_io_finish(arg);
}

int p3s_tcp_listen(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (s->state != P3S_UNBOUND && s->state != P3S_BOUND)
        return p3s_err(cx, res, KS_E_INVALID_STATE);
    if (s->state == P3S_UNBOUND) { /* the implicit bind, to any address: granted too */
        struct sockaddr_storage any;
        memset(&any, 0, sizeof any);
        any.ss_family = (sa_family_t)s->family;
        uint32_t e =
            do_bind(s, &any,
                    s->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
                    KS_TCP);
        if (e) return p3s_err(cx, res, e);
    }
    if (listen(s->fd, s->backlog ? (int)s->backlog : DEFAULT_BACKLOG) < 0)
        return p3s_err(cx, res, ks_errno_code(errno));
    s->state = P3S_LISTENING;
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v) return p3s_fail(cx, "out of memory");
    memset(v, 0, sizeof *v);
    p3s_io *io = p3s_io_new(ctx, s, cx, NULL);
    if (!io) return -1;
    kiln_chost_stream_ops ops = {NULL, NULL, io_dropped, io};
    if (!(io->hs = kiln_chost_stream_values(cx, v, accept_values, &ops))) return -1;
    p3s_ok(res, v);
    return 0;
}

/* ---- send and receive ---- */

/* The host reads the guest's bytes and sends what the socket takes; with no room the
 * guest's write stays pending until the socket is writable (the driver polls it). A
 * failure resolves the future with its error and drops the host's end. */
static size_t send_consume(void *arg, const uint8_t *data, size_t n)
{
    p3s_io *io = arg;
    p3s_sock *s = io->s;
    if (io->ended) return n;
    for (;;) {
        ssize_t k = send(s->fd, data, n, MSG_NOSIGNAL);
        if (k > 0) return (size_t)k;
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (io->hs) {
                kiln_chost_stream_wait_fd(io->hs, s->fd, POLLOUT);
                return 0;
            }
            /* a write pending before the host's end existed: wait here, in the limit */
            if (p3s_wait(s->fd, POLLOUT, UINT64_MAX) < 0) return 0;
            continue;
        }
        p3s_io_resolve(io, k < 0 ? ks_errno_code(errno) : KS_E_CONNECTION_BROKEN);
        if (io->hs) { /* else (a write met before the end existed) later writes drop */
            kiln_chost_stream_close(io->hs);
            p3s_io_finish(io);
        }
        return 0;
    }
}

/* The guest ended its stream: the sending side of the connection is shut down. */
static void send_dropped(void *arg)
{
    p3s_io *io = arg;
    if (!io->ended && io->s->fd >= 0 && shutdown(io->s->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        p3s_io_resolve(io, ks_errno_code(errno));
    p3s_io_finish(io);
}

/* The host writes what the socket received; with nothing there the guest's read stays
 * pending until the socket is readable (the driver polls it). The end of the connection
 * or a failure ends the stream and resolves the future. */
static size_t recv_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3s_io *io = arg;
    p3s_sock *s = io->s;
    if (io->ended || s->fd < 0) {
        *end = 1;
        p3s_io_finish(io);
        return 0;
    }
    for (;;) {
        ssize_t k = recv(s->fd, buf, n, 0);
        if (k > 0) return (size_t)k;
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (io->hs) kiln_chost_stream_wait_fd(io->hs, s->fd, POLLIN);
            return 0;
        }
        p3s_io_resolve(io, k < 0 ? ks_errno_code(errno) : 0);
        p3s_io_finish(io);
        *end = 1;
        return 0;
    }
}

/* A stream whose use is refused (not connected, taken already): its future says why. */
static int refused_future(p3s_ctx *c, p3s_sock *s, kiln_cabi_cx *cx, kiln_cval *fut, uint32_t ecode)
{
    p3s_io *io = p3s_io_new(c, s, cx, fut);
    if (!io) return -1;
    p3s_io_resolve(io, ecode);
    p3s_io_finish(io); /* no stream uses it */
    return 0;
}

/* The reader of a stream refused at once: whatever the guest wrote already is dropped. */
static size_t discard(void *arg, const uint8_t *data, size_t n)
{
    (void)arg, (void)data;
    return n;
}

int p3s_tcp_send(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (s->state != P3S_CONNECTED || s->sending) {
        if (refused_future(ctx, s, cx, &res[0], KS_E_INVALID_STATE) < 0) return -1;
        kiln_chost_stream_ops ops = {discard, NULL, NULL, NULL};
        kiln_chost_stream *hs = kiln_chost_stream_reader(cx, &args[1], &ops);
        if (!hs) return -1;
        kiln_chost_stream_close(hs); /* the guest's writes end DROPPED */
        return 0;
    }
    p3s_io *io = p3s_io_new(ctx, s, cx, &res[0]);
    if (!io) return -1;
    s->sending = 1;
    kiln_chost_stream_ops ops = {send_consume, NULL, send_dropped, io};
    io->building = 1; /* the guest may have dropped its end already: dropped comes now */
    kiln_chost_stream *hs = kiln_chost_stream_reader(cx, &args[1], &ops);
    io->building = 0;
    if (io->finish_later) {
        p3s_io_finish(io);
        return hs ? 0 : -1;
    }
    io->hs = hs;
    return hs ? 0 : -1;
}

int p3s_tcp_receive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return p3s_fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    res[0].agg.items = two;
    res[0].agg.n = 2;
    int ok = s->state == P3S_CONNECTED && !s->receiving;
    p3s_io *io = p3s_io_new(ctx, s, cx, &two[1]);
    if (!io) return -1;
    if (ok) s->receiving = 1;
    kiln_chost_stream_ops ops = {NULL, recv_produce, io_dropped, io};
    if (!ok) p3s_io_resolve(io, KS_E_INVALID_STATE); /* the stream ends at once */
    return (io->hs = kiln_chost_stream_writer(cx, &two[0], &ops)) ? 0 : -1;
}

/* ---- getters and setters ---- */

int p3s_get_addr(p3s_sock *s, int remote, kiln_cabi_cx *cx, kiln_cval *res)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (remote ? s->state != P3S_CONNECTED && !s->udp_connected : s->state == P3S_UNBOUND)
        return p3s_err(cx, res, KS_E_INVALID_STATE);
    int r = remote ? getpeername(s->fd, (struct sockaddr *)&sa, &len)
                   : getsockname(s->fd, (struct sockaddr *)&sa, &len);
    if (r < 0) return p3s_err(cx, res, ks_errno_code(errno));
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v || ks_addr_to_cval(&sa, cx, v, NULL) < 0) return p3s_fail(cx, "out of memory");
    p3s_ok(res, v);
    return 0;
}

int p3s_tcp_local(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_get_addr(s, 0, cx, res) : -1;
}

int p3s_tcp_remote(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_get_addr(s, 1, cx, res) : -1;
}

int p3s_tcp_is_listening(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    res[0].u = s->state == P3S_LISTENING;
    return 0;
}

int p3s_tcp_family(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    res[0].var.disc = (uint32_t)ks_family_of(s->family);
    return 0;
}

int p3s_tcp_set_backlog(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (args[1].u == 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    uint64_t b = args[1].u > INT_MAX ? INT_MAX : args[1].u;
    if (s->state == P3S_LISTENING && listen(s->fd, (int)b) < 0)
        return p3s_err(cx, res, ks_errno_code(errno));
    if (s->state == P3S_CONNECTING || s->state == P3S_CONNECTED || s->state == P3S_CLOSED)
        return p3s_err(cx, res, KS_E_INVALID_STATE);
    s->backlog = b;
    p3s_ok(res, NULL);
    return 0;
}

/* getsockopt of an int option into *v; 0 or an error-code. */
static uint32_t get_int(p3s_sock *s, int level, int opt, int *v)
{
    socklen_t l = sizeof *v;
    return getsockopt(s->fd, level, opt, v, &l) < 0 ? ks_errno_code(errno) : 0;
}

/* result<u64, error-code> of an int option (scaled by mul). */
static int answer_int(p3s_sock *s, int level, int opt, uint64_t mul, kiln_cabi_cx *cx,
                      kiln_cval *res)
{
    int v = 0;
    uint32_t e = get_int(s, level, opt, &v);
    if (e) return p3s_err(cx, res, e);
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return p3s_fail(cx, "out of memory");
    p->u = (uint64_t)(v < 0 ? 0 : v) * mul;
    p3s_ok(res, p);
    return 0;
}

/* setsockopt of an int option; result<_, error-code>. */
static int set_int(p3s_sock *s, int level, int opt, int v, kiln_cabi_cx *cx, kiln_cval *res)
{
    if (setsockopt(s->fd, level, opt, &v, sizeof v) < 0)
        return p3s_err(cx, res, ks_errno_code(errno));
    p3s_ok(res, NULL);
    return 0;
}

int p3s_tcp_get_keepalive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? answer_int(s, SOL_SOCKET, SO_KEEPALIVE, 1, cx, res) : -1;
}

int p3s_tcp_set_keepalive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? set_int(s, SOL_SOCKET, SO_KEEPALIVE, args[1].u != 0, cx, res) : -1;
}

/* A duration (ns) as whole seconds for the keep-alive options: rounded up, at most the
 * kernel's 32767; 0 for a zero duration (invalid). */
static int secs_of(uint64_t ns)
{
    uint64_t s = ns / 1000000000u + (ns % 1000000000u != 0);
    return s > 32767 ? 32767 : (int)s;
}

int p3s_tcp_get_idle(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? answer_int(s, IPPROTO_TCP, TCP_KEEPIDLE, 1000000000u, cx, res) : -1;
}

int p3s_tcp_set_idle(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (args[1].u == 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    return set_int(s, IPPROTO_TCP, TCP_KEEPIDLE, secs_of(args[1].u), cx, res);
}

int p3s_tcp_get_interval(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? answer_int(s, IPPROTO_TCP, TCP_KEEPINTVL, 1000000000u, cx, res) : -1;
}

int p3s_tcp_set_interval(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (args[1].u == 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    return set_int(s, IPPROTO_TCP, TCP_KEEPINTVL, secs_of(args[1].u), cx, res);
}

int p3s_tcp_get_count(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? answer_int(s, IPPROTO_TCP, TCP_KEEPCNT, 1, cx, res) : -1;
}

int p3s_tcp_set_count(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    if (!s) return -1;
    if (args[1].u == 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    return set_int(s, IPPROTO_TCP, TCP_KEEPCNT, args[1].u > 127 ? 127 : (int)args[1].u, cx, res);
}

int p3s_get_hop(p3s_sock *s, kiln_cabi_cx *cx, kiln_cval *res)
{
    return s->family == AF_INET ? answer_int(s, IPPROTO_IP, IP_TTL, 1, cx, res)
                                : answer_int(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 1, cx, res);
}

int p3s_set_hop(p3s_sock *s, uint64_t v, kiln_cabi_cx *cx, kiln_cval *res)
{
    if (v == 0 || v > 255) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    return s->family == AF_INET ? set_int(s, IPPROTO_IP, IP_TTL, (int)v, cx, res)
                                : set_int(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, (int)v, cx, res);
}

int p3s_get_buf(p3s_sock *s, int opt, kiln_cabi_cx *cx, kiln_cval *res)
{
    return answer_int(s, SOL_SOCKET, opt, 1, cx, res);
}

int p3s_set_buf(p3s_sock *s, int opt, uint64_t v, kiln_cabi_cx *cx, kiln_cval *res)
{
    if (v == 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    /* the kernel doubles what it is given (and caps it): ask for half, at most INT_MAX */
    uint64_t half = v / 2 ? v / 2 : 1;
    return set_int(s, SOL_SOCKET, opt, half > INT_MAX ? INT_MAX : (int)half, cx, res);
}

int p3s_tcp_get_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_get_hop(s, cx, res) : -1;
}

int p3s_tcp_set_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_set_hop(s, args[1].u, cx, res) : -1;
}

int p3s_tcp_get_rcvbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_get_buf(s, SO_RCVBUF, cx, res) : -1;
}

int p3s_tcp_set_rcvbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_set_buf(s, SO_RCVBUF, args[1].u, cx, res) : -1;
}

int p3s_tcp_get_sndbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_get_buf(s, SO_SNDBUF, cx, res) : -1;
}

int p3s_tcp_set_sndbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = tcp(ctx, cx, args);
    return s ? p3s_set_buf(s, SO_SNDBUF, args[1].u, cx, res) : -1;
}
