/* sockets.c — wasi:sockets 0.2 (wasip2.h "Sockets"): network, instance-network,
 * tcp-create-socket, tcp, udp-create-socket, udp and ip-name-lookup over non-blocking host
 * sockets. The grant rules, address conversions, errno mapping, the process-wide socket
 * cap and the resolver thread are shared with wasi:sockets 0.3 (host/sockets_common.h).
 *
 * TCP follows the 0.2 state machine (start-/finish- pairs; finish-connect answers
 * would-block until the socket is writable); the connected socket's streams are wasi:io
 * host streams (p2_stream_ops): reads never block (nothing yet: an empty read), the
 * blocking forms and pollables wait on the fd through p2_wait (a guest on a fiber parks),
 * writes send everything, waiting the same way. A socket (p2_sock) is shared by the
 * guest's handle, its streams and pollables (refs); its fd closes with the last. */
#include "host/wasip2/wasip2.h"
#include "host/sockets_common.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* error-code of wasi:sockets/network 0.2 (enum indices) */
enum {
    E_UNKNOWN,
    E_ACCESS_DENIED,
    E_NOT_SUPPORTED,
    E_INVALID_ARGUMENT,
    E_OUT_OF_MEMORY,
    E_TIMEOUT,
    E_CONCURRENCY_CONFLICT,
    E_NOT_IN_PROGRESS,
    E_WOULD_BLOCK,
    E_INVALID_STATE,
    E_NEW_SOCKET_LIMIT,
    E_ADDRESS_NOT_BINDABLE,
    E_ADDRESS_IN_USE,
    E_REMOTE_UNREACHABLE,
    E_CONNECTION_REFUSED,
    E_CONNECTION_RESET,
    E_CONNECTION_ABORTED,
    E_DATAGRAM_TOO_LARGE,
    E_NAME_UNRESOLVABLE,
    E_TEMPORARY_RESOLVER_FAILURE,
    E_PERMANENT_RESOLVER_FAILURE,
};

/* TCP states (wasmtime's p2 TcpState) */
enum {
    T_UNBOUND,
    T_BIND_STARTED,
    T_BOUND,
    T_LISTEN_STARTED,
    T_LISTENING,
    T_CONNECTING,
    T_CONNECT_READY,
    T_CONNECTED,
    T_CLOSED
};

#define MAX_SOCKETS 256  /* per instance (sockets, datagram streams, lookups each) */
#define MAX_DGRAMS 64    /* datagrams per receive / check-send permit */
#define MAX_DGRAM 65535u /* bytes per datagram */
#define DEFAULT_BACKLOG 128

typedef struct p2_sock {
    int fd;
    int udp, family, state, refs;
    int connect_errno; /* start-connect's immediate result, for finish-connect */
    int udp_connected; /* UDP: stream gave a remote address */
    int streams;       /* UDP: datagram streams alive */
    uint64_t backlog;
    uint64_t permit; /* UDP outgoing: what the last check-send allows */
    struct sockaddr_storage remote;
} p2_sock;

/* A resolve-address-stream: an IP literal (r NULL: lit) or a resolution under way. The
 * guest's handle and its pollables hold references. */
typedef struct p2_lookup {
    ks_resolve *r;
    struct sockaddr_storage lit;
    char name[256];
    size_t next; /* addresses handed out */
    int learned, refs;
} p2_lookup;

typedef struct p2_net {
    ks_grants gr;      /* grants, learned names, component (host/sockets_common.h) */
    p2_table socks;    /* p2_sock*: tcp-socket and udp-socket reps */
    p2_table dstreams; /* p2_sock* (a reference): incoming / outgoing datagram streams */
    p2_table lookups;  /* p2_lookup: resolve-address-streams */
} p2_net;

static p2_net *net_of(void *ctx)
{
    return ((kiln_wasip2 *)ctx)->net;
}

/* ---- sockets' lifetimes ---- */

static void sock_retain(p2_sock *s)
{
    s->refs++;
}

static void sock_release(p2_sock *s)
{
    if (--s->refs > 0) return;
    if (s->fd >= 0) {
        close(s->fd);
        ks_fd_give();
    }
    kiln_free(s);
}

static uint32_t count(const p2_table *t)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n; i++)
        k += t->items[i] != NULL;
    return k;
}

int p2_net_new(kiln_wasip2 *w, const kiln_grants *g)
{
    p2_net *n = kiln_calloc(1, sizeof *n);
    if (!n) return -1;
    if (ks_grants_init(&n->gr, g) < 0) {
        kiln_free(n);
        return -1;
    }
    w->net = n;
    return 0;
}

int p2_net_idle(const kiln_wasip2 *w)
{
    const p2_net *n = w->net;
    return !n || (!count(&n->socks) && !count(&n->dstreams) && !count(&n->lookups));
}

static void lookup_release(void *arg)
{
    p2_lookup *l = arg;
    if (--l->refs > 0) return;
    if (l->r) ks_resolve_free(l->r);
    kiln_free(l);
}

void p2_net_free(kiln_wasip2 *w)
{
    p2_net *n = w->net;
    if (!n) return;
    for (uint32_t i = 0; i < n->socks.n; i++)
        if (n->socks.items[i]) sock_release(n->socks.items[i]);
    for (uint32_t i = 0; i < n->dstreams.n; i++)
        if (n->dstreams.items[i]) sock_release(n->dstreams.items[i]);
    for (uint32_t i = 0; i < n->lookups.n; i++)
        if (n->lookups.items[i]) lookup_release(n->lookups.items[i]);
    kiln_free(n->socks.items);
    kiln_free(n->dstreams.items);
    kiln_free(n->lookups.items);
    ks_grants_fini(&n->gr);
    kiln_free(n);
    w->net = NULL;
}

/* Puts s into n's socket table: its rep, or 0 (then s is released). */
static uint32_t sock_put(p2_net *n, p2_sock *s)
{
    uint32_t rep = count(&n->socks) < MAX_SOCKETS ? p2_table_put(&n->socks, s) : 0;
    if (!rep) sock_release(s);
    return rep;
}

/* A socket over fd (taken with ks_fd_take): NULL out of memory (fd closed). */
static p2_sock *sock_wrap(int fd, int af, int udp, int state)
{
    p2_sock *s = kiln_calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        ks_fd_give();
        return NULL;
    }
    s->fd = fd;
    s->family = af;
    s->udp = udp;
    s->state = state;
    s->refs = 1;
    return s;
}

/* The socket behind rep of kind udp, or NULL with cx->err (a forged handle traps). */
static p2_sock *sock_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *arg, int udp)
{
    p2_sock *s = p2_table_get(&net_of(ctx)->socks, arg->res.rep);
    if (!s || s->udp != udp) p2_fail(cx, "wasi:sockets: no such socket");
    return s && s->udp == udp ? s : NULL;
}

static void sock_dtor(void *ctx, uint32_t rep)
{
    p2_sock *s = p2_table_take(&net_of(ctx)->socks, rep);
    if (s) sock_release(s);
}

/* ---- results ---- */

/* The 0.2 error-code of a 0.3 one (KS_E_*, from ks_errno_code). */
static uint32_t code_of_p3(uint32_t c)
{
    switch (c) {
    case KS_E_ACCESS_DENIED:
        return E_ACCESS_DENIED;
    case KS_E_NOT_SUPPORTED:
        return E_NOT_SUPPORTED;
    case KS_E_INVALID_ARGUMENT:
        return E_INVALID_ARGUMENT;
    case KS_E_OUT_OF_MEMORY:
        return E_OUT_OF_MEMORY;
    case KS_E_TIMEOUT:
        return E_TIMEOUT;
    case KS_E_INVALID_STATE:
        return E_INVALID_STATE;
    case KS_E_ADDRESS_NOT_BINDABLE:
        return E_ADDRESS_NOT_BINDABLE;
    case KS_E_ADDRESS_IN_USE:
        return E_ADDRESS_IN_USE;
    case KS_E_REMOTE_UNREACHABLE:
        return E_REMOTE_UNREACHABLE;
    case KS_E_CONNECTION_REFUSED:
        return E_CONNECTION_REFUSED;
    case KS_E_CONNECTION_BROKEN:
    case KS_E_CONNECTION_RESET:
        return E_CONNECTION_RESET;
    case KS_E_CONNECTION_ABORTED:
        return E_CONNECTION_ABORTED;
    case KS_E_DATAGRAM_TOO_LARGE:
        return E_DATAGRAM_TOO_LARGE;
    default:
        return E_UNKNOWN;
    }
}

static uint32_t code_of_errno(int e)
{
    if (e == EAGAIN || e == EWOULDBLOCK) return E_WOULD_BLOCK;
    if (e == EMFILE || e == ENFILE) return E_NEW_SOCKET_LIMIT;
    return code_of_p3(ks_errno_code(e));
}

/* res = err(code). */
static int err(kiln_cabi_cx *cx, kiln_cval *res, uint32_t code)
{
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return p2_fail(cx, "out of memory");
    c->var.disc = code;
    c->var.payload = NULL;
    res->var.disc = 1;
    res->var.payload = c;
    return 0;
}

static int ok_or(kiln_cabi_cx *cx, kiln_cval *res, uint32_t code)
{
    if (code != UINT32_MAX) return err(cx, res, code);
    p2_ok(res);
    return 0;
}

/* res = ok(v) with v a u64. */
static int ok_u64(kiln_cabi_cx *cx, kiln_cval *res, uint64_t v)
{
    kiln_cval *c = kiln_cabi_alloc(cx, sizeof *c);
    if (!c) return p2_fail(cx, "out of memory");
    memset(c, 0, sizeof *c);
    c->u = v;
    res->var.disc = 0;
    res->var.payload = c;
    return 0;
}

/* ---- network, instance-network ---- */

static void network_dtor(void *ctx, uint32_t rep)
{
    (void)ctx, (void)rep;
}

static int instance_network(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    ((kiln_wasip2 *)ctx)->network = 1;
    res[0].res.rep = 1;
    res[0].res.type = NULL;
    return 0;
}

static int network_error_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    res[0].var.disc = 0; /* none: stream errors carry no socket error-code */
    res[0].var.payload = NULL;
    return 0;
}

/* ---- create ---- */

/* A new socket (udp or TCP) of the ip-address-family args[0] into res. */
static int create(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_net *n = net_of(ctx);
    int af = ks_af_of(args[0].var.disc);
    if (af < 0) return err(cx, res, E_NOT_SUPPORTED);
    if (count(&n->socks) >= MAX_SOCKETS || ks_fd_take() < 0)
        return err(cx, res, E_NEW_SOCKET_LIMIT);
    int fd = socket(af, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        ks_fd_give();
        return err(cx, res, code_of_errno(e));
    }
    int one = 1;
    if (af == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
        int e = errno;
        close(fd);
        ks_fd_give();
        return err(cx, res, code_of_errno(e));
    }
    p2_sock *s = sock_wrap(fd, af, udp, T_UNBOUND);
    uint32_t rep = s ? sock_put(n, s) : 0;
    if (!rep) return err(cx, res, E_OUT_OF_MEMORY);
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v) return p2_fail(cx, "out of memory");
    memset(v, 0, sizeof *v);
    v->res.rep = rep;
    res->var.disc = 0;
    res->var.payload = v;
    return 0;
}

static int create_tcp(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return create(ctx, cx, args, res, 0);
}

static int create_udp(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return create(ctx, cx, args, res, 1);
}

/* ---- shared by TCP and UDP ---- */

/* Binds s to the address v for proto (KS_TCP_BIND / KS_UDP), the grant checked:
 * UINT32_MAX, or an error-code. */
static uint32_t do_bind(void *ctx, p2_sock *s, const kiln_cval *v, int proto)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (ks_addr_from_cval(v, &sa, &len) < 0 || sa.ss_family != s->family ||
        (sa.ss_family == AF_INET6 &&
         IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&sa)->sin6_addr)))
        return E_INVALID_ARGUMENT;
    if (!ks_allowed(&net_of(ctx)->gr, &sa, proto)) return E_ACCESS_DENIED;
    int one = 1;
    if (!s->udp && setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return code_of_errno(errno);
    if (bind(s->fd, (const struct sockaddr *)&sa, len) < 0)
        return errno == EADDRINUSE ? E_ADDRESS_IN_USE : code_of_errno(errno);
    return UINT32_MAX;
}

/* result<ip-socket-address, error-code> of getsockname (remote 0) / getpeername. */
static int get_addr(p2_sock *s, int remote, kiln_cabi_cx *cx, kiln_cval *res)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if ((remote ? getpeername(s->fd, (struct sockaddr *)&sa, &len)
                : getsockname(s->fd, (struct sockaddr *)&sa, &len)) < 0)
        return err(cx, res, errno == ENOTCONN ? E_INVALID_STATE : code_of_errno(errno));
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v || ks_addr_to_cval(&sa, cx, v, NULL) < 0) return p2_fail(cx, "out of memory");
    res->var.disc = 0;
    res->var.payload = v;
    return 0;
}

/* An integer socket option: result<T, error-code> with the value scaled down by div. */
static int get_opt(p2_sock *s, int level, int opt, uint64_t div, kiln_cabi_cx *cx, kiln_cval *res)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(s->fd, level, opt, &v, &len) < 0) return err(cx, res, code_of_errno(errno));
    return ok_u64(cx, res, (uint64_t)(v < 0 ? 0 : v) / div);
}

/* Sets an integer socket option to v / div (0 after scaling, or above INT_MAX:
 * invalid-argument, unless zero_ok). */
static int set_opt(p2_sock *s, int level, int opt, uint64_t v, uint64_t div, int zero_ok,
                   kiln_cabi_cx *cx, kiln_cval *res)
{
    uint64_t x = v / div;
    if ((!zero_ok && x == 0) || x > 0x7fffffffu) return err(cx, res, E_INVALID_ARGUMENT);
    int i = (int)x;
    if (setsockopt(s->fd, level, opt, &i, sizeof i) < 0) return err(cx, res, code_of_errno(errno));
    p2_ok(res);
    return 0;
}

static int hop_level(const p2_sock *s, int *opt)
{
    *opt = s->family == AF_INET6 ? IPV6_UNICAST_HOPS : IP_TTL;
    return s->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
}

/* ---- readiness (pollables) ---- */

/* 1 if s's fd is ready for events now (or failed: the operation reports it); else 0
 * with the fd and events to wait for. */
static int fd_check(p2_sock *s, short events, int *fd, short *ev, uint64_t *deadline)
{
    *deadline = UINT64_MAX;
    struct pollfd p = {s->fd, events, 0};
    if (poll(&p, 1, 0) != 0) {
        *fd = -1;
        *ev = 0;
        return 1;
    }
    *fd = s->fd;
    *ev = events;
    return 0;
}

/* A socket's pollable: a connect under way waits for writable, a listener for readable;
 * anything else is ready. */
static int sock_check(void *arg, int *fd, short *events, uint64_t *deadline)
{
    p2_sock *s = arg;
    short ev = s->state == T_CONNECTING ? POLLOUT : s->state == T_LISTENING ? POLLIN : 0;
    if (ev && s->fd >= 0) return fd_check(s, ev, fd, events, deadline);
    *fd = -1;
    *events = 0;
    *deadline = UINT64_MAX;
    return 1;
}

static void sock_retain_v(void *arg)
{
    sock_retain(arg);
}

static void sock_release_v(void *arg)
{
    sock_release(arg);
}

static const p2_ready_ops sock_ready = {sock_check, sock_retain_v, sock_release_v};

/* A pollable over s's readiness into res. */
static int subscribe_with(void *ctx, kiln_cabi_cx *cx, kiln_cval *res, const p2_ready_ops *ops,
                          p2_sock *s)
{
    uint32_t rep = p2_pollable_new_host(ctx, ops, s);
    if (!rep) return p2_fail(cx, "out of memory");
    res[0].res.rep = rep;
    res[0].res.type = NULL;
    return 0;
}

/* ---- TCP streams ---- */

static long in_read(void *arg, void *buf, size_t cap, int *eof, int *e)
{
    p2_sock *s = arg;
    for (;;) {
        ssize_t k = recv(s->fd, buf, cap, MSG_DONTWAIT);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (k < 0) {
            *e = errno;
            return -1;
        }
        *eof = k == 0;
        return (long)k;
    }
}

static int out_write(void *arg, const void *data, size_t n)
{
    p2_sock *s = arg;
    const uint8_t *p = data;
    while (n) {
        ssize_t k = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (p2_wait(s->fd, POLLOUT, UINT64_MAX) < 0) return EINTR;
            continue;
        }
        if (k < 0) return errno;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static void stream_close(void *arg)
{
    sock_release(arg);
}

static int in_check(void *arg, int *fd, short *events, uint64_t *deadline)
{
    return fd_check(arg, POLLIN, fd, events, deadline);
}

static int out_check(void *arg, int *fd, short *events, uint64_t *deadline)
{
    return fd_check(arg, POLLOUT, fd, events, deadline);
}

static const p2_stream_ops in_ops = {in_read, NULL, stream_close};
static const p2_stream_ops out_ops = {NULL, out_write, stream_close};
static const p2_ready_ops in_ready = {in_check, sock_retain_v, sock_release_v};

/* Fills items[0..2) with new input and output streams over s (each holding a reference). */
static int make_streams(void *ctx, kiln_cabi_cx *cx, p2_sock *s, kiln_cval *items)
{
    uint32_t in = p2_stream_new_ready(ctx, &in_ops, s, &in_ready);
    if (!in) return p2_fail(cx, "out of memory");
    sock_retain(s);
    uint32_t out = p2_stream_new_ops(ctx, P2_STREAM_OUT, &out_ops, s);
    if (!out) return p2_fail(cx, "out of memory"); /* the input stream goes with the instance */
    sock_retain(s);
    items[0].res.rep = in;
    items[0].res.type = NULL;
    items[1].res.rep = out;
    items[1].res.type = NULL;
    return 0;
}

/* ---- TCP ---- */

#define TCP_SOCK(s)                                                                                \
    p2_sock *s = sock_get(ctx, cx, &args[0], 0);                                                   \
    if (!s) return -1

/* start-bind / finish-bind of TCP (a bind is granted only where binds are: KS_TCP_BIND)
 * and UDP. */
static int start_bind(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    if (s->state != T_UNBOUND) return err(cx, res, E_INVALID_STATE);
    uint32_t e = do_bind(ctx, s, &args[2], udp ? KS_UDP : KS_TCP_BIND);
    if (e == UINT32_MAX) s->state = T_BIND_STARTED;
    return ok_or(cx, res, e);
}

static int finish_bind(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    if (s->state != T_BIND_STARTED) return err(cx, res, E_NOT_IN_PROGRESS);
    s->state = T_BOUND;
    return ok_or(cx, res, UINT32_MAX);
}

static int tcp_start_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state == T_CONNECTING || s->state == T_CONNECT_READY)
        return err(cx, res, E_CONCURRENCY_CONFLICT);
    if (s->state != T_UNBOUND && s->state != T_BOUND) return err(cx, res, E_INVALID_STATE);
    struct sockaddr_storage sa;
    socklen_t len;
    if (ks_addr_from_cval(&args[2], &sa, &len) < 0 || ks_addr_check(&sa, s->family, 1) >= 0)
        return err(cx, res, E_INVALID_ARGUMENT);
    if (!ks_allowed(&net_of(ctx)->gr, &sa, KS_TCP)) return err(cx, res, E_ACCESS_DENIED);
    int r;
    do
        r = connect(s->fd, (const struct sockaddr *)&sa, len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EINPROGRESS) {
        int e = errno;
        s->state = T_CLOSED;
        return err(cx, res, code_of_errno(e));
    }
    s->connect_errno = 0;
    s->state = r == 0 ? T_CONNECT_READY : T_CONNECTING;
    return ok_or(cx, res, UINT32_MAX);
}

static int tcp_finish_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state != T_CONNECTING && s->state != T_CONNECT_READY)
        return err(cx, res, E_NOT_IN_PROGRESS);
    if (s->state == T_CONNECTING) {
        struct pollfd p = {s->fd, POLLOUT, 0};
        if (poll(&p, 1, 0) == 0) return err(cx, res, E_WOULD_BLOCK);
        int e = 0;
        socklen_t el = sizeof e;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
        if (e) {
            s->state = T_CLOSED;
            return err(cx, res, code_of_errno(e));
        }
    }
    s->state = T_CONNECTED;
    kiln_cval *t = kiln_cabi_alloc(cx, 3 * sizeof *t);
    if (!t) return p2_fail(cx, "out of memory");
    memset(t, 0, 3 * sizeof *t);
    t[0].agg.items = &t[1];
    t[0].agg.n = 2;
    if (make_streams(ctx, cx, s, &t[1]) < 0) return -1;
    res->var.disc = 0;
    res->var.payload = t;
    return 0;
}

static int tcp_start_listen(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state == T_LISTEN_STARTED) return err(cx, res, E_CONCURRENCY_CONFLICT);
    if (s->state != T_BOUND) return err(cx, res, E_INVALID_STATE);
    if (listen(s->fd, s->backlog ? (int)s->backlog : DEFAULT_BACKLOG) < 0)
        return err(cx, res, code_of_errno(errno));
    s->state = T_LISTEN_STARTED;
    return ok_or(cx, res, UINT32_MAX);
}

static int tcp_finish_listen(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state != T_LISTEN_STARTED) return err(cx, res, E_NOT_IN_PROGRESS);
    s->state = T_LISTENING;
    return ok_or(cx, res, UINT32_MAX);
}

static int tcp_accept(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    p2_net *n = net_of(ctx);
    if (s->state != T_LISTENING) return err(cx, res, E_INVALID_STATE);
    if (count(&n->socks) >= MAX_SOCKETS || ks_fd_take() < 0)
        return err(cx, res, E_NEW_SOCKET_LIMIT);
    int fd;
    do
        fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        ks_fd_give();
        return err(cx, res, code_of_errno(e));
    }
    p2_sock *a = sock_wrap(fd, s->family, 0, T_CONNECTED);
    uint32_t rep = a ? sock_put(n, a) : 0;
    if (!rep) return err(cx, res, E_OUT_OF_MEMORY);
    kiln_cval *t = kiln_cabi_alloc(cx, 4 * sizeof *t);
    if (!t) return p2_fail(cx, "out of memory");
    memset(t, 0, 4 * sizeof *t);
    t[0].agg.items = &t[1];
    t[0].agg.n = 3;
    t[1].res.rep = rep;
    if (make_streams(ctx, cx, a, &t[2]) < 0) return -1;
    res->var.disc = 0;
    res->var.payload = t;
    return 0;
}

static int tcp_local(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state == T_UNBOUND || s->state == T_BIND_STARTED) return err(cx, res, E_INVALID_STATE);
    return get_addr(s, 0, cx, res);
}

static int tcp_remote(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state != T_CONNECTED) return err(cx, res, E_INVALID_STATE);
    return get_addr(s, 1, cx, res);
}

static int tcp_is_listening(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    res[0].u = s->state == T_LISTENING;
    return 0;
}

static int sock_family(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    res[0].var.disc = (uint32_t)ks_family_of(s->family);
    res[0].var.payload = NULL;
    return 0;
}

static int tcp_family(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return sock_family(ctx, cx, args, res, 0);
}

static int tcp_set_backlog(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    uint64_t b = args[1].u;
    if (b == 0) return err(cx, res, E_INVALID_ARGUMENT);
    if (b > 0x7fffffffu) b = 0x7fffffffu;
    if (s->state == T_CONNECTING || s->state == T_CONNECTED || s->state == T_CONNECT_READY)
        return err(cx, res, E_INVALID_STATE);
    if (s->state == T_LISTENING && listen(s->fd, (int)b) < 0)
        return err(cx, res, code_of_errno(errno));
    s->backlog = b;
    return ok_or(cx, res, UINT32_MAX);
}

/* A TCP socket option as result<T, error-code>, the host's value times mul (keep-alive
 * times: seconds on the host, ns in the WIT). */
static int tcp_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int level,
                   int opt, uint64_t mul)
{
    TCP_SOCK(s);
    int rc = get_opt(s, level, opt, 1, cx, res);
    if (rc == 0 && res->var.disc == 0) res->var.payload->u *= mul;
    return rc;
}

/* Sets a TCP socket option to the value / div (0: invalid-argument; a duration below a
 * second: one second). */
static int tcp_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int level,
                   int opt, uint64_t div)
{
    TCP_SOCK(s);
    uint64_t v = args[1].u && args[1].u < div ? div : args[1].u;
    return set_opt(s, level, opt, v, div, 0, cx, res);
}

static int tcp_set_keepalive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    return set_opt(s, SOL_SOCKET, SO_KEEPALIVE, args[1].u ? 1 : 0, 1, 1, cx, res);
}

static int get_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    int opt, level = hop_level(s, &opt);
    return get_opt(s, level, opt, 1, cx, res);
}

static int set_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    int opt, level = hop_level(s, &opt);
    return set_opt(s, level, opt, args[1].u & 0xff, 1, 0, cx, res);
}

static int get_buf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp,
                   int opt)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    return get_opt(s, SOL_SOCKET, opt, 1, cx, res);
}

static int set_buf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int udp,
                   int opt)
{
    p2_sock *s = sock_get(ctx, cx, &args[0], udp);
    if (!s) return -1;
    uint64_t v = args[1].u > 0x7fffffffu ? 0x7fffffffu : args[1].u;
    return set_opt(s, SOL_SOCKET, opt, v, 1, 0, cx, res);
}

#define WRAP(name, fn, ...)                                                                        \
    static int name(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)            \
    {                                                                                              \
        return fn(ctx, cx, args, res, __VA_ARGS__);                                                \
    }
#define NS 1000000000ull
WRAP(tcp_get_keepalive, tcp_get, SOL_SOCKET, SO_KEEPALIVE, 1)
WRAP(tcp_get_idle, tcp_get, IPPROTO_TCP, TCP_KEEPIDLE, NS)
WRAP(tcp_set_idle, tcp_set, IPPROTO_TCP, TCP_KEEPIDLE, NS)
WRAP(tcp_get_interval, tcp_get, IPPROTO_TCP, TCP_KEEPINTVL, NS)
WRAP(tcp_set_interval, tcp_set, IPPROTO_TCP, TCP_KEEPINTVL, NS)
WRAP(tcp_get_count, tcp_get, IPPROTO_TCP, TCP_KEEPCNT, 1)
WRAP(tcp_set_count, tcp_set, IPPROTO_TCP, TCP_KEEPCNT, 1)
WRAP(tcp_start_bind, start_bind, 0)
WRAP(tcp_finish_bind, finish_bind, 0)
WRAP(udp_start_bind, start_bind, 1)
WRAP(udp_finish_bind, finish_bind, 1)
WRAP(tcp_get_hop, get_hop, 0)
WRAP(tcp_set_hop, set_hop, 0)
WRAP(tcp_get_rcvbuf, get_buf, 0, SO_RCVBUF)
WRAP(tcp_set_rcvbuf, set_buf, 0, SO_RCVBUF)
WRAP(tcp_get_sndbuf, get_buf, 0, SO_SNDBUF)
WRAP(tcp_set_sndbuf, set_buf, 0, SO_SNDBUF)
WRAP(udp_get_hop, get_hop, 1)
WRAP(udp_set_hop, set_hop, 1)
WRAP(udp_get_rcvbuf, get_buf, 1, SO_RCVBUF)
WRAP(udp_set_rcvbuf, set_buf, 1, SO_RCVBUF)
WRAP(udp_get_sndbuf, get_buf, 1, SO_SNDBUF)
WRAP(udp_set_sndbuf, set_buf, 1, SO_SNDBUF)

static int tcp_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    return subscribe_with(ctx, cx, res, &sock_ready, s);
}

static int tcp_shutdown(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    TCP_SOCK(s);
    if (s->state != T_CONNECTED) return err(cx, res, E_INVALID_STATE);
    uint32_t how = args[1].var.disc;
    if (how > 2) return p2_fail(cx, "wasi:sockets: bad shutdown-type");
    int h = how == 0 ? SHUT_RD : how == 1 ? SHUT_WR : SHUT_RDWR;
    if (shutdown(s->fd, h) < 0 && errno != ENOTCONN) return err(cx, res, code_of_errno(errno));
    return ok_or(cx, res, UINT32_MAX);
}

/* ---- UDP ---- */

#define UDP_SOCK(s)                                                                                \
    p2_sock *s = sock_get(ctx, cx, &args[0], 1);                                                   \
    if (!s) return -1

/* stream(option<ip-socket-address>): (re)connects or disconnects, then two datagram
 * streams (each holding a reference). The previous streams must be gone. */
static int udp_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    UDP_SOCK(s);
    p2_net *n = net_of(ctx);
    if (s->state != T_BOUND || s->streams) return err(cx, res, E_INVALID_STATE);
    if (args[1].var.disc == 1) {
        struct sockaddr_storage sa;
        socklen_t len;
        if (!args[1].var.payload || ks_addr_from_cval(args[1].var.payload, &sa, &len) < 0 ||
            ks_addr_check(&sa, s->family, 1) >= 0)
            return err(cx, res, E_INVALID_ARGUMENT);
        if (!ks_allowed(&n->gr, &sa, KS_UDP)) return err(cx, res, E_ACCESS_DENIED);
        if (connect(s->fd, (const struct sockaddr *)&sa, len) < 0)
            return err(cx, res, code_of_errno(errno));
        s->remote = sa;
        s->udp_connected = 1;
    } else if (s->udp_connected) {
        struct sockaddr un;
        memset(&un, 0, sizeof un);
        un.sa_family = AF_UNSPEC;
        if (connect(s->fd, &un, sizeof un) < 0 && errno != EAFNOSUPPORT)
            return err(cx, res, code_of_errno(errno));
        s->udp_connected = 0;
    }
    if (count(&n->dstreams) + 2 > 2 * MAX_SOCKETS) return err(cx, res, E_NEW_SOCKET_LIMIT);
    kiln_cval *t = kiln_cabi_alloc(cx, 3 * sizeof *t);
    if (!t) return p2_fail(cx, "out of memory");
    memset(t, 0, 3 * sizeof *t);
    uint32_t in = p2_table_put(&n->dstreams, s);
    if (!in) return p2_fail(cx, "out of memory");
    sock_retain(s);
    s->streams++;
    uint32_t out = p2_table_put(&n->dstreams, s);
    if (!out) return p2_fail(cx, "out of memory");
    sock_retain(s);
    s->streams++;
    t[0].agg.items = &t[1];
    t[0].agg.n = 2;
    t[1].res.rep = in;
    t[2].res.rep = out;
    res->var.disc = 0;
    res->var.payload = t;
    return 0;
}

static int udp_local(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    UDP_SOCK(s);
    if (s->state != T_BOUND) return err(cx, res, E_INVALID_STATE);
    return get_addr(s, 0, cx, res);
}

static int udp_remote(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    UDP_SOCK(s);
    if (!s->udp_connected) return err(cx, res, E_INVALID_STATE);
    return get_addr(s, 1, cx, res);
}

static int udp_family(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return sock_family(ctx, cx, args, res, 1);
}

static int udp_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    UDP_SOCK(s);
    return subscribe_with(ctx, cx, res, &sock_ready, s); /* UDP: always ready */
}

/* The datagram stream behind args[0] (either kind: the handle's type was checked). */
static p2_sock *dstream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    p2_sock *s = p2_table_get(&net_of(ctx)->dstreams, args[0].res.rep);
    if (!s) p2_fail(cx, "wasi:sockets: no such datagram stream");
    return s;
}

static void dstream_dtor(void *ctx, uint32_t rep)
{
    p2_sock *s = p2_table_take(&net_of(ctx)->dstreams, rep);
    if (!s) return;
    s->streams--;
    sock_release(s);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* receive(max-results) -> result<list<incoming-datagram>, error-code>: what is there now
 * (an empty list when nothing), at most MAX_DGRAMS. */
static int udp_receive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_sock *s = dstream(ctx, cx, args);
    if (!s) return -1;
    uint64_t max = args[1].u < MAX_DGRAMS ? args[1].u : MAX_DGRAMS;
    kiln_cval *list = kiln_cabi_alloc(cx, (size_t)(max + 1) * sizeof *list);
    uint8_t *buf = kiln_cabi_alloc(cx, MAX_DGRAM);
    if (!list || !buf) return p2_fail(cx, "out of memory");
    memset(list, 0, (size_t)(max + 1) * sizeof *list);
    kiln_cval *items = &list[1];
    uint32_t k = 0;
    while (k < max) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        memset(&from, 0, sizeof from);
        ssize_t got = recvfrom(s->fd, buf, MAX_DGRAM, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got < 0) {
            if (k) break;
            return err(cx, res, code_of_errno(errno));
        }
        if (s->udp_connected && !same_addr(&from, &s->remote)) continue;
        kiln_cval *rec = kiln_cabi_alloc(cx, 2 * sizeof *rec);
        if (!rec) return p2_fail(cx, "out of memory");
        memset(rec, 0, 2 * sizeof *rec);
        if (p2_bytes_list(cx, &rec[0], buf, (size_t)got) < 0 ||
            ks_addr_to_cval(&from, cx, &rec[1], NULL) < 0)
            return p2_fail(cx, "out of memory");
        items[k].agg.items = rec;
        items[k].agg.n = 2;
        k++;
    }
    list->agg.items = items;
    list->agg.n = k;
    res->var.disc = 0;
    res->var.payload = list;
    return 0;
}

static const p2_ready_ops out_ready = {out_check, sock_retain_v, sock_release_v};

static int in_dgram_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_sock *s = dstream(ctx, cx, args);
    if (!s) return -1;
    return subscribe_with(ctx, cx, res, &in_ready, s);
}

static int out_dgram_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_sock *s = dstream(ctx, cx, args);
    if (!s) return -1;
    return subscribe_with(ctx, cx, res, &out_ready, s);
}

static int check_send(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_sock *s = dstream(ctx, cx, args);
    if (!s) return -1;
    struct pollfd p = {s->fd, POLLOUT, 0};
    s->permit = poll(&p, 1, 0) != 0 ? MAX_DGRAMS : 0;
    return ok_u64(cx, res, s->permit);
}

/* send(list<outgoing-datagram>) -> result<u64, error-code>: sends in order until one
 * would block; more datagrams than check-send permitted trap (the spec). */
static int udp_send(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_sock *s = dstream(ctx, cx, args);
    if (!s) return -1;
    uint32_t nd = args[1].agg.n;
    if (nd > s->permit)
        return p2_fail(cx, "outgoing-datagram-stream.send: %u datagrams, check-send permitted %llu",
                       nd, (unsigned long long)s->permit);
    s->permit -= nd;
    uint64_t sent = 0;
    for (uint32_t i = 0; i < nd; i++) {
        const kiln_cval *d = &args[1].agg.items[i];
        if (!d->agg.items || d->agg.n != 2) return p2_fail(cx, "wasi:sockets: bad datagram");
        const kiln_cval *data = &d->agg.items[0], *ra = &d->agg.items[1];
        struct sockaddr_storage sa;
        socklen_t len = 0;
        uint32_t code = UINT32_MAX;
        if (ra->var.disc == 1) {
            if (!ra->var.payload || ks_addr_from_cval(ra->var.payload, &sa, &len) < 0 ||
                ks_addr_check(&sa, s->family, 1) >= 0 ||
                (s->udp_connected && !same_addr(&sa, &s->remote)))
                code = E_INVALID_ARGUMENT;
            else if (!s->udp_connected && !ks_allowed(&net_of(ctx)->gr, &sa, KS_UDP))
                code = E_ACCESS_DENIED;
        } else if (!s->udp_connected) {
            code = E_INVALID_ARGUMENT;
        }
        if (code == UINT32_MAX && data->str.len > MAX_DGRAM) code = E_DATAGRAM_TOO_LARGE;
        ssize_t k = -1;
        if (code == UINT32_MAX) {
            do
                k = s->udp_connected ? send(s->fd, data->str.ptr, data->str.len, MSG_DONTWAIT)
                                     : sendto(s->fd, data->str.ptr, data->str.len, MSG_DONTWAIT,
                                              (const struct sockaddr *)&sa, len);
            while (k < 0 && errno == EINTR);
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (k < 0) code = code_of_errno(errno);
        }
        if (code != UINT32_MAX) {
            if (sent) break; /* what went out is reported; the error comes next time */
            return err(cx, res, code);
        }
        sent++;
    }
    return ok_u64(cx, res, sent);
}

/* ---- ip-name-lookup ---- */

static void lookup_retain(void *arg)
{
    ((p2_lookup *)arg)->refs++;
}

static int lookup_check(void *arg, int *fd, short *events, uint64_t *deadline)
{
    p2_lookup *l = arg;
    int gai;
    const struct sockaddr_storage *a;
    size_t n;
    *fd = -1;
    *events = 0;
    *deadline = UINT64_MAX;
    if (!l->r || ks_resolve_done(l->r, &gai, &a, &n)) return 1;
    *fd = ks_resolve_fd(l->r);
    *events = POLLIN;
    return 0;
}

static const p2_ready_ops lookup_ready = {lookup_check, lookup_retain, lookup_release};

static void lookup_dtor(void *ctx, uint32_t rep)
{
    p2_lookup *l = p2_table_take(&net_of(ctx)->lookups, rep);
    if (l) lookup_release(l);
}

static int resolve_addresses(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_net *n = net_of(ctx);
    char name[256];
    if (ks_norm_name(args[1].str.ptr, args[1].str.len, name, sizeof name) < 0)
        return err(cx, res, E_INVALID_ARGUMENT);
    if (!ks_name_allowed(&n->gr, name)) return err(cx, res, E_ACCESS_DENIED);
    if (count(&n->lookups) >= MAX_SOCKETS) return err(cx, res, E_TEMPORARY_RESOLVER_FAILURE);
    p2_lookup *l = kiln_calloc(1, sizeof *l);
    if (!l) return p2_fail(cx, "out of memory");
    l->refs = 1;
    snprintf(l->name, sizeof l->name, "%s", name);
    struct sockaddr_in *in = (struct sockaddr_in *)&l->lit;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->lit;
    if (inet_pton(AF_INET, name, &in->sin_addr) == 1)
        l->lit.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, name, &in6->sin6_addr) == 1)
        l->lit.ss_family = AF_INET6;
    else if (!(l->r = ks_resolve_start(name))) {
        kiln_free(l);
        return err(cx, res, E_TEMPORARY_RESOLVER_FAILURE);
    }
    uint32_t rep = p2_table_put(&n->lookups, l);
    kiln_cval *v = rep ? kiln_cabi_alloc(cx, sizeof *v) : NULL;
    if (!v) {
        if (!rep) lookup_release(l);
        return p2_fail(cx, "out of memory");
    }
    memset(v, 0, sizeof *v);
    v->res.rep = rep;
    res->var.disc = 0;
    res->var.payload = v;
    return 0;
}

/* resolve-next-address -> result<option<ip-address>, error-code>: would-block until the
 * resolution is done; then the addresses one by one, then none. */
static int resolve_next(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_net *n = net_of(ctx);
    p2_lookup *l = p2_table_get(&n->lookups, args[0].res.rep);
    if (!l) return p2_fail(cx, "wasi:sockets: no such resolve-address-stream");
    const struct sockaddr_storage *addrs = &l->lit;
    size_t na = 1;
    if (l->r) {
        int gai;
        if (!ks_resolve_done(l->r, &gai, &addrs, &na)) return err(cx, res, E_WOULD_BLOCK);
        if (gai != 0 || na == 0)
            return err(cx, res,
                       gai == EAI_AGAIN  ? E_TEMPORARY_RESOLVER_FAILURE
                       : gai == EAI_FAIL ? E_PERMANENT_RESOLVER_FAILURE
                                         : E_NAME_UNRESOLVABLE);
        if (!l->learned)
            for (size_t i = 0; i < na; i++)
                ks_learn(&n->gr, l->name, &addrs[i]);
        l->learned = 1;
    }
    kiln_cval *opt = kiln_cabi_alloc(cx, sizeof *opt);
    if (!opt) return p2_fail(cx, "out of memory");
    memset(opt, 0, sizeof *opt);
    if (l->next < na) {
        kiln_cval *ip = kiln_cabi_alloc(cx, sizeof *ip);
        if (!ip || ks_ip_to_cval(&addrs[l->next], cx, ip) < 0) return p2_fail(cx, "out of memory");
        l->next++;
        opt->var.disc = 1;
        opt->var.payload = ip;
    }
    res->var.disc = 0;
    res->var.payload = opt;
    return 0;
}

static int resolve_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p2_lookup *l = p2_table_get(&net_of(ctx)->lookups, args[0].res.rep);
    if (!l) return p2_fail(cx, "wasi:sockets: no such resolve-address-stream");
    uint32_t rep = p2_pollable_new_host(ctx, &lookup_ready, l);
    if (!rep) return p2_fail(cx, "out of memory");
    res[0].res.rep = rep;
    res[0].res.type = NULL;
    return 0;
}

/* ---- the interfaces ---- */

#define ERR                                                                                        \
    "enum{unknown, access-denied, not-supported, invalid-argument, out-of-memory, timeout, "       \
    "concurrency-conflict, not-in-progress, would-block, invalid-state, new-socket-limit, "        \
    "address-not-bindable, address-in-use, remote-unreachable, connection-refused, "               \
    "connection-reset, connection-aborted, datagram-too-large, name-unresolvable, "                \
    "temporary-resolver-failure, permanent-resolver-failure}"
#define ADDR                                                                                       \
    "variant{ipv4(record{port: u16, address: tuple<u8, u8, u8, u8>}), ipv6(record{port: u16, "     \
    "flow-info: u32, address: tuple<u16, u16, u16, u16, u16, u16, u16, u16>, scope-id: u32})}"
#define IP                                                                                         \
    "variant{ipv4(tuple<u8, u8, u8, u8>), ipv6(tuple<u16, u16, u16, u16, u16, u16, u16, u16>)}"
#define FAMILY "enum{ipv4, ipv6}"
#define R_UNIT "result<_, " ERR ">"
#define R(T) "result<" T ", " ERR ">"
#define TS "(borrow<tcp-socket>"
#define US "(borrow<udp-socket>"
#define TCP "[method]tcp-socket."
#define UDP "[method]udp-socket."

static const kiln_chost_resource network_res[] = {{"network", network_dtor}};
static const kiln_chost_func network_funcs[] = {
    {"network-error-code", "(borrow<error>) -> option<" ERR ">", network_error_code}};
const kiln_chost_iface kiln_wasip2_sockets_network = {
    "wasi:sockets/network", KILN_WASIP2_VERSION, network_res, 1, network_funcs, 1};

static const kiln_chost_func instance_funcs[] = {
    {"instance-network", "() -> own<network>", instance_network}};
const kiln_chost_iface kiln_wasip2_sockets_instance_network = {
    "wasi:sockets/instance-network", KILN_WASIP2_VERSION, NULL, 0, instance_funcs, 1};

static const kiln_chost_func tcp_create_funcs[] = {
    {"create-tcp-socket", "(" FAMILY ") -> " R("own<tcp-socket>"), create_tcp}};
const kiln_chost_iface kiln_wasip2_sockets_tcp_create = {
    "wasi:sockets/tcp-create-socket", KILN_WASIP2_VERSION, NULL, 0, tcp_create_funcs, 1};

static const kiln_chost_func udp_create_funcs[] = {
    {"create-udp-socket", "(" FAMILY ") -> " R("own<udp-socket>"), create_udp}};
const kiln_chost_iface kiln_wasip2_sockets_udp_create = {
    "wasi:sockets/udp-create-socket", KILN_WASIP2_VERSION, NULL, 0, udp_create_funcs, 1};

static const kiln_chost_resource lookup_res[] = {{"resolve-address-stream", lookup_dtor}};
static const kiln_chost_func lookup_funcs[] = {
    {"resolve-addresses", "(borrow<network>, string) -> " R("own<resolve-address-stream>"),
     resolve_addresses},
    {"[method]resolve-address-stream.resolve-next-address",
     "(borrow<resolve-address-stream>) -> " R("option<" IP ">"), resolve_next},
    {"[method]resolve-address-stream.subscribe",
     "(borrow<resolve-address-stream>) -> own<pollable>", resolve_subscribe},
};
const kiln_chost_iface kiln_wasip2_sockets_ip_name_lookup = {
    "wasi:sockets/ip-name-lookup", KILN_WASIP2_VERSION, lookup_res, 1, lookup_funcs, 3};

static const kiln_chost_resource tcp_res[] = {{"tcp-socket", sock_dtor}};
static const kiln_chost_func tcp_funcs[] = {
    {TCP "start-bind", TS ", borrow<network>, " ADDR ") -> " R_UNIT, tcp_start_bind},
    {TCP "finish-bind", TS ") -> " R_UNIT, tcp_finish_bind},
    {TCP "start-connect", TS ", borrow<network>, " ADDR ") -> " R_UNIT, tcp_start_connect},
    {TCP "finish-connect", TS ") -> " R("tuple<own<input-stream>, own<output-stream>>"),
     tcp_finish_connect},
    {TCP "start-listen", TS ") -> " R_UNIT, tcp_start_listen},
    {TCP "finish-listen", TS ") -> " R_UNIT, tcp_finish_listen},
    {TCP "accept", TS ") -> " R("tuple<own<tcp-socket>, own<input-stream>, own<output-stream>>"),
     tcp_accept},
    {TCP "local-address", TS ") -> " R(ADDR), tcp_local},
    {TCP "remote-address", TS ") -> " R(ADDR), tcp_remote},
    {TCP "is-listening", TS ") -> bool", tcp_is_listening},
    {TCP "address-family", TS ") -> " FAMILY, tcp_family},
    {TCP "set-listen-backlog-size", TS ", u64) -> " R_UNIT, tcp_set_backlog},
    {TCP "keep-alive-enabled", TS ") -> " R("bool"), tcp_get_keepalive},
    {TCP "set-keep-alive-enabled", TS ", bool) -> " R_UNIT, tcp_set_keepalive},
    {TCP "keep-alive-idle-time", TS ") -> " R("u64"), tcp_get_idle},
    {TCP "set-keep-alive-idle-time", TS ", u64) -> " R_UNIT, tcp_set_idle},
    {TCP "keep-alive-interval", TS ") -> " R("u64"), tcp_get_interval},
    {TCP "set-keep-alive-interval", TS ", u64) -> " R_UNIT, tcp_set_interval},
    {TCP "keep-alive-count", TS ") -> " R("u32"), tcp_get_count},
    {TCP "set-keep-alive-count", TS ", u32) -> " R_UNIT, tcp_set_count},
    {TCP "hop-limit", TS ") -> " R("u8"), tcp_get_hop},
    {TCP "set-hop-limit", TS ", u8) -> " R_UNIT, tcp_set_hop},
    {TCP "receive-buffer-size", TS ") -> " R("u64"), tcp_get_rcvbuf},
    {TCP "set-receive-buffer-size", TS ", u64) -> " R_UNIT, tcp_set_rcvbuf},
    {TCP "send-buffer-size", TS ") -> " R("u64"), tcp_get_sndbuf},
    {TCP "set-send-buffer-size", TS ", u64) -> " R_UNIT, tcp_set_sndbuf},
    {TCP "subscribe", TS ") -> own<pollable>", tcp_subscribe},
    {TCP "shutdown", TS ", enum{receive, send, both}) -> " R_UNIT, tcp_shutdown},
};
const kiln_chost_iface kiln_wasip2_sockets_tcp = {"wasi:sockets/tcp",
                                                  KILN_WASIP2_VERSION,
                                                  tcp_res,
                                                  1,
                                                  tcp_funcs,
                                                  sizeof tcp_funcs / sizeof tcp_funcs[0]};

#define IDS "(borrow<incoming-datagram-stream>"
#define ODS "(borrow<outgoing-datagram-stream>"
static const kiln_chost_resource udp_res[] = {{"udp-socket", sock_dtor},
                                              {"incoming-datagram-stream", dstream_dtor},
                                              {"outgoing-datagram-stream", dstream_dtor}};
static const kiln_chost_func udp_funcs[] = {
    {UDP "start-bind", US ", borrow<network>, " ADDR ") -> " R_UNIT, udp_start_bind},
    {UDP "finish-bind", US ") -> " R_UNIT, udp_finish_bind},
    {UDP "stream",
     US ", option<" ADDR ">) -> " R("tuple<own<incoming-datagram-stream>, "
                                    "own<outgoing-datagram-stream>>"),
     udp_stream},
    {UDP "local-address", US ") -> " R(ADDR), udp_local},
    {UDP "remote-address", US ") -> " R(ADDR), udp_remote},
    {UDP "address-family", US ") -> " FAMILY, udp_family},
    {UDP "unicast-hop-limit", US ") -> " R("u8"), udp_get_hop},
    {UDP "set-unicast-hop-limit", US ", u8) -> " R_UNIT, udp_set_hop},
    {UDP "receive-buffer-size", US ") -> " R("u64"), udp_get_rcvbuf},
    {UDP "set-receive-buffer-size", US ", u64) -> " R_UNIT, udp_set_rcvbuf},
    {UDP "send-buffer-size", US ") -> " R("u64"), udp_get_sndbuf},
    {UDP "set-send-buffer-size", US ", u64) -> " R_UNIT, udp_set_sndbuf},
    {UDP "subscribe", US ") -> own<pollable>", udp_subscribe},
    {"[method]incoming-datagram-stream.receive",
     IDS ", u64) -> " R("list<record{data: list<u8>, remote-address: " ADDR "}>"), udp_receive},
    {"[method]incoming-datagram-stream.subscribe", IDS ") -> own<pollable>", in_dgram_subscribe},
    {"[method]outgoing-datagram-stream.check-send", ODS ") -> " R("u64"), check_send},
    {"[method]outgoing-datagram-stream.send",
     ODS ", list<record{data: list<u8>, remote-address: option<" ADDR ">}>) -> " R("u64"),
     udp_send},
    {"[method]outgoing-datagram-stream.subscribe", ODS ") -> own<pollable>", out_dgram_subscribe},
};
const kiln_chost_iface kiln_wasip2_sockets_udp = {"wasi:sockets/udp",
                                                  KILN_WASIP2_VERSION,
                                                  udp_res,
                                                  3,
                                                  udp_funcs,
                                                  sizeof udp_funcs / sizeof udp_funcs[0]};
