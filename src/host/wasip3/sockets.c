/* sockets.c — the "wasi:sockets 0.3" provider (sockets.h): its context and socket table,
 * results, wasi:sockets/ip-name-lookup and the interfaces (grants, addresses, errno and the
 * resolver thread: host/sockets_common.c, shared with wasi:sockets 0.2). */
#include "host/wasip3/sockets.h"
#include "engine/fiber.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int p3s_fail(kiln_cabi_cx *cx, const char *msg)
{
    snprintf(cx->err, sizeof cx->err, "wasi:sockets: %s", msg);
    return -1;
}

int p3s_wait(int fd, short events, uint64_t ns)
{
    int w = kiln_wait_fd(fd, events, ns);
    return w == KILN_WAIT_INTERRUPTED ? -1 : 0;
}

/* ---- the context and its table ---- */

static void *s_new(const kiln_grants *g, char **err)
{
    (void)err;
    p3s_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (ks_grants_init(&c->gr, g) < 0) {
        kiln_free(c);
        return NULL;
    }
    return c;
}

/* A lookup in flight: the resolution and the pending call waiting for it. */
struct p3s_lookup {
    ks_resolve *r;
    char name[256];
    kiln_chost_pending *p;
    p3s_ctx *c;
    p3s_lookup *next;
};

static void lookup_unref(p3s_lookup *l)
{
    ks_resolve_free(l->r);
    kiln_free(l);
}

static void s_free(void *ctx)
{
    p3s_ctx *c = ctx;
    for (uint32_t i = 0; i < c->nsocks; i++) /* the guest's references, then the streams' */
        if (c->socks[i]) p3s_sock_release(c->socks[i]);
    while (c->ios) {
        p3s_io *io = c->ios;
        c->ios = io->next;
        p3s_sock_release(io->s);
        kiln_free(io);
    }
    while (c->lookups) {
        p3s_lookup *l = c->lookups;
        c->lookups = l->next;
        lookup_unref(l);
    }
    kiln_free(c->socks);
    kiln_free(c->dgram_buf);
    ks_grants_fini(&c->gr);
    kiln_free(c);
}

/* s's slot, or NULL. The table owns a socket while refs > 0 or its slot is used. */
static uint32_t table_put(p3s_ctx *c, p3s_sock *s)
{
    for (uint32_t i = 0; i < c->nsocks; i++)
        if (!c->socks[i]) {
            c->socks[i] = s;
            return i + 1;
        }
    if (c->nsocks >= P3S_MAX_SOCKETS) return 0;
    if (c->nsocks == c->capsocks) {
        uint32_t cap = c->capsocks ? c->capsocks * 2 : 16;
        p3s_sock **t = kiln_realloc(c->socks, cap * sizeof *t);
        if (!t) return 0;
        c->socks = t;
        c->capsocks = cap;
    }
    c->socks[c->nsocks++] = s;
    return c->nsocks;
}

int p3s_allowed(p3s_ctx *c, const struct sockaddr_storage *sa, int proto)
{
    return ks_allowed(&c->gr, sa, proto);
}

/* Closes a socket's fd taken with ks_fd_take. */
static void fd_close(int fd)
{
    close(fd);
    ks_fd_give();
}

uint32_t p3s_sock_adopt(p3s_ctx *c, int fd, int af, int state)
{
    p3s_sock *s = kiln_calloc(1, sizeof *s);
    uint32_t rep = s ? table_put(c, s) : 0;
    if (!rep) {
        kiln_free(s);
        fd_close(fd);
        return 0;
    }
    s->fd = fd;
    s->family = af;
    s->state = state;
    s->refs = 1; /* the guest's handle (the table's slot) */
    s->c = c;
    return rep;
}

uint32_t p3s_sock_new(p3s_ctx *c, int af, int udp, uint32_t *ecode)
{
    if (ks_fd_take() < 0) {
        *ecode = KS_E_OUT_OF_MEMORY; /* ENFILE's case (ENOBUFS, ENOMEM) */
        return 0;
    }
    int fd = socket(af, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *ecode = ks_errno_code(errno);
        ks_fd_give();
        return 0;
    }
    int one = 1;
    if (af == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
        *ecode = ks_errno_code(errno);
        fd_close(fd);
        return 0;
    }
    uint32_t rep = p3s_sock_adopt(c, fd, af, P3S_UNBOUND);
    if (!rep) {
        *ecode = KS_E_OUT_OF_MEMORY;
        return 0;
    }
    c->socks[rep - 1]->udp = udp;
    return rep;
}

p3s_sock *p3s_sock_get(p3s_ctx *c, kiln_cabi_cx *cx, uint32_t rep, int udp)
{
    p3s_sock *s = rep >= 1 && rep <= c->nsocks ? c->socks[rep - 1] : NULL;
    if (!s || s->udp != udp || s->fd < 0) {
        p3s_fail(cx, "no such socket");
        return NULL;
    }
    return s;
}

void p3s_sock_retain(p3s_sock *s)
{
    s->refs++;
}

void p3s_sock_release(p3s_sock *s)
{
    if (--s->refs > 0) return;
    if (s->fd >= 0) fd_close(s->fd);
    kiln_free(s);
}

/* The guest dropped its handle: its slot and reference go (streams and pending calls
 * may still hold the socket). */
static void sock_dtor(void *ctx, uint32_t rep)
{
    p3s_ctx *c = ctx;
    p3s_sock *s = rep >= 1 && rep <= c->nsocks ? c->socks[rep - 1] : NULL;
    if (!s) return;
    c->socks[rep - 1] = NULL;
    p3s_sock_release(s);
}

/* ---- streams' states ---- */

p3s_io *p3s_io_new(p3s_ctx *c, p3s_sock *s, kiln_cabi_cx *cx, kiln_cval *fut)
{
    p3s_io *io = kiln_calloc(1, sizeof *io);
    if (!io) return p3s_fail(cx, "out of memory"), NULL;
    io->c = c;
    io->s = s;
    p3s_sock_retain(s);
    io->next = c->ios;
    c->ios = io;
    if (fut && !(io->done = kiln_chost_future_writer(cx, fut))) return NULL;
    return io;
}

void p3s_io_resolve(p3s_io *io, uint32_t ecode)
{
    if (io->ended) return;
    io->ended = 1;
    if (io->done) {
        kiln_cval *v = kiln_chost_future_values(io->done, 3);
        if (v) {
            kiln_cval r;
            memset(&r, 0, sizeof r);
            if (ecode) {
                r.var.disc = 1;
                r.var.payload = &v[0];
                v[0].var.disc = ecode - 1;
                if (ecode == KS_E_OTHER) v[0].var.payload = &v[1]; /* other(none) */
            }
            kiln_chost_future_resolve(io->done, &r);
        }
        io->done = NULL;
    }
}

void p3s_io_finish(p3s_io *io)
{
    p3s_io_resolve(io, 0);
    if (io->building) {
        io->finish_later = 1;
        return;
    }
    for (p3s_io **pp = &io->c->ios; *pp; pp = &(*pp)->next)
        if (*pp == io) {
            *pp = io->next;
            break;
        }
    p3s_sock_release(io->s);
    kiln_free(io);
}

/* ---- errors and results ---- */

void p3s_ok(kiln_cval *res, kiln_cval *payload)
{
    res->var.disc = 0;
    res->var.payload = payload;
}

int p3s_err(kiln_cabi_cx *cx, kiln_cval *res, uint32_t ecode)
{
    kiln_cval *e = kiln_cabi_alloc(cx, 2 * sizeof *e);
    if (!e) return p3s_fail(cx, "out of memory");
    memset(e, 0, 2 * sizeof *e);
    e->var.disc = ecode - 1;
    if (ecode == KS_E_OTHER) e->var.payload = &e[1]; /* other(none) */
    res->var.disc = 1;
    res->var.payload = e;
    return 0;
}

/* ---- wasi:sockets/ip-name-lookup ---- */

/* error-code of ip-name-lookup */
enum {
    NL_ACCESS_DENIED,
    NL_INVALID_ARGUMENT,
    NL_UNRESOLVABLE,
    NL_TEMPORARY,
    NL_PERMANENT,
    NL_OTHER
};

static int nl_err(kiln_cabi_cx *cx, kiln_cval *res, uint32_t code)
{
    kiln_cval *e = kiln_cabi_alloc(cx, 2 * sizeof *e);
    if (!e) return p3s_fail(cx, "out of memory");
    memset(e, 0, 2 * sizeof *e);
    e->var.disc = code;
    if (code == NL_OTHER) e->var.payload = &e[1];
    res->var.disc = 1;
    res->var.payload = e;
    return 0;
}

/* ok(list<ip-address>) of addrs[0..n) into res. */
static int nl_ok(kiln_cabi_cx *cx, kiln_cval *res, const struct sockaddr_storage *addrs, size_t n)
{
    kiln_cval *list = kiln_cabi_alloc(cx, (n + 1) * sizeof *list + sizeof *list);
    if (!list) return p3s_fail(cx, "out of memory");
    memset(list, 0, (n + 2) * sizeof *list);
    kiln_cval *items = &list[1];
    for (size_t i = 0; i < n; i++)
        if (ks_ip_to_cval(&addrs[i], cx, &items[i]) < 0) return p3s_fail(cx, "out of memory");
    list->agg.items = items;
    list->agg.n = (uint32_t)n;
    p3s_ok(res, list);
    return 0;
}

/* The finished lookup l's answer into res (the names learned first). */
static int lookup_answer(p3s_ctx *c, p3s_lookup *l, kiln_cabi_cx *cx, kiln_cval *res)
{
    int gai = 0;
    const struct sockaddr_storage *addrs = NULL;
    size_t n = 0;
    ks_resolve_done(l->r, &gai, &addrs, &n);
    if (gai != 0 || n == 0)
        return nl_err(cx, res,
                      gai == EAI_AGAIN                                 ? NL_TEMPORARY
                      : gai == EAI_FAIL                                ? NL_PERMANENT
                      : gai == EAI_NONAME || gai == EAI_NODATA || !gai ? NL_UNRESOLVABLE
                                                                       : NL_OTHER);
    for (size_t i = 0; i < n; i++)
        ks_learn(&c->gr, l->name, &addrs[i]);
    return nl_ok(cx, res, addrs, n);
}

static void lookup_forget(p3s_ctx *c, p3s_lookup *l)
{
    for (p3s_lookup **pp = &c->lookups; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            c->nlookups--;
            break;
        }
    lookup_unref(l);
}

static int lookup_done(p3s_lookup *l)
{
    int gai;
    const struct sockaddr_storage *a;
    size_t n;
    return ks_resolve_done(l->r, &gai, &a, &n);
}

static void lookup_fire(kiln_chost_pending *p, void *arg)
{
    p3s_lookup *l = arg;
    if (!lookup_done(l)) {
        if (p3s_wait(ks_resolve_fd(l->r), POLLIN, P3S_SLICE_NS) < 0 || !lookup_done(l)) {
            kiln_chost_pending_again(p, mono_ns());
            return;
        }
    }
    p3s_ctx *c = l->c;
    int rc = lookup_answer(c, l, kiln_chost_pending_cx(p), kiln_chost_pending_results(p));
    lookup_forget(c, l);
    if (rc < 0)
        kiln_chost_pending_fail(p, kiln_chost_pending_cx(p)->err);
    else
        kiln_chost_complete(p);
}

static void lookup_abandon(void *arg)
{
    p3s_lookup *l = arg;
    lookup_forget(l->c, l);
}

static int resolve_addresses(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_ctx *c = ctx;
    char name[256];
    if (ks_norm_name(args[0].str.ptr, args[0].str.len, name, sizeof name) < 0)
        return nl_err(cx, res, NL_INVALID_ARGUMENT); /* a port or a bracketed form */
    if (!ks_name_allowed(&c->gr, name)) return nl_err(cx, res, NL_ACCESS_DENIED);
    struct sockaddr_storage lit;
    memset(&lit, 0, sizeof lit);
    if (inet_pton(AF_INET, name, &((struct sockaddr_in *)&lit)->sin_addr) == 1) {
        lit.ss_family = AF_INET;
        return nl_ok(cx, res, &lit, 1);
    }
    if (inet_pton(AF_INET6, name, &((struct sockaddr_in6 *)&lit)->sin6_addr) == 1) {
        lit.ss_family = AF_INET6;
        return nl_ok(cx, res, &lit, 1);
    }
    if (c->nlookups >= P3S_MAX_LOOKUPS) return nl_err(cx, res, NL_TEMPORARY);
    p3s_lookup *l = kiln_calloc(1, sizeof *l);
    if (!l) return p3s_fail(cx, "out of memory");
    if (!(l->r = ks_resolve_start(name))) {
        kiln_free(l);
        return nl_err(cx, res, NL_TEMPORARY);
    }
    snprintf(l->name, sizeof l->name, "%s", name);
    l->c = c;
    l->next = c->lookups;
    c->lookups = l;
    c->nlookups++;
    kiln_chost_later later = {mono_ns(), lookup_fire, lookup_abandon, l};
    if ((l->p = kiln_chost_defer(cx, &later))) return KILN_CHOST_PENDING;
    /* a synchronous call: wait here, within the time limit */
    while (!lookup_done(l))
        if (p3s_wait(ks_resolve_fd(l->r), POLLIN, P3S_SLICE_NS) < 0) {
            lookup_forget(c, l);
            return nl_err(cx, res, NL_TEMPORARY);
        }
    int rc = lookup_answer(c, l, cx, res);
    lookup_forget(c, l);
    return rc;
}

/* ---- the interfaces ---- */

#define ERR_SHAPE                                                                                  \
    "variant{access-denied, not-supported, invalid-argument, out-of-memory, timeout, "             \
    "invalid-state, address-not-bindable, address-in-use, remote-unreachable, "                    \
    "connection-refused, connection-broken, connection-reset, connection-aborted, "                \
    "datagram-too-large, other(option<string>)}"

static const kiln_chost_func lookup_funcs[] = {
    {"resolve-addresses",
     "(string) -> result<list<variant{ipv4(tuple<u8, u8, u8, u8>), ipv6(tuple<u16, u16, u16, "
     "u16, u16, u16, u16, u16>)}>, variant{access-denied, invalid-argument, name-unresolvable, "
     "temporary-resolver-failure, permanent-resolver-failure, other(option<string>)}>",
     resolve_addresses}};

static const kiln_chost_resource types_res[] = {{"tcp-socket", sock_dtor},
                                                {"udp-socket", sock_dtor}};

#define ADDR_SHAPE                                                                                 \
    "variant{ipv4(record{port: u16, address: tuple<u8, u8, u8, u8>}), ipv6(record{port: u16, "     \
    "flow-info: u32, address: tuple<u16, u16, u16, u16, u16, u16, u16, u16>, scope-id: u32})}"
#define FAMILY_SHAPE "enum{ipv4, ipv6}"
#define TCP "[method]tcp-socket."
#define UDP "[method]udp-socket."
#define R_UNIT "result<_, " ERR_SHAPE ">"

static const kiln_chost_func types_funcs[] = {
    {"[static]tcp-socket.create", "(" FAMILY_SHAPE ") -> result<own<tcp-socket>, " ERR_SHAPE ">",
     p3s_tcp_create},
    {TCP "bind", "(borrow<tcp-socket>, " ADDR_SHAPE ") -> " R_UNIT, p3s_tcp_bind},
    {TCP "connect", "(borrow<tcp-socket>, " ADDR_SHAPE ") -> " R_UNIT, p3s_tcp_connect},
    {TCP "listen", "(borrow<tcp-socket>) -> result<stream<own<tcp-socket>>, " ERR_SHAPE ">",
     p3s_tcp_listen},
    {TCP "send", "(borrow<tcp-socket>, stream<u8>) -> future<" R_UNIT ">", p3s_tcp_send},
    {TCP "receive", "(borrow<tcp-socket>) -> tuple<stream<u8>, future<" R_UNIT ">>",
     p3s_tcp_receive},
    {TCP "get-local-address", "(borrow<tcp-socket>) -> result<" ADDR_SHAPE ", " ERR_SHAPE ">",
     p3s_tcp_local},
    {TCP "get-remote-address", "(borrow<tcp-socket>) -> result<" ADDR_SHAPE ", " ERR_SHAPE ">",
     p3s_tcp_remote},
    {TCP "get-is-listening", "(borrow<tcp-socket>) -> bool", p3s_tcp_is_listening},
    {TCP "get-address-family", "(borrow<tcp-socket>) -> " FAMILY_SHAPE, p3s_tcp_family},
    {TCP "set-listen-backlog-size", "(borrow<tcp-socket>, u64) -> " R_UNIT, p3s_tcp_set_backlog},
    {TCP "get-keep-alive-enabled", "(borrow<tcp-socket>) -> result<bool, " ERR_SHAPE ">",
     p3s_tcp_get_keepalive},
    {TCP "set-keep-alive-enabled", "(borrow<tcp-socket>, bool) -> " R_UNIT, p3s_tcp_set_keepalive},
    {TCP "get-keep-alive-idle-time", "(borrow<tcp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_tcp_get_idle},
    {TCP "set-keep-alive-idle-time", "(borrow<tcp-socket>, u64) -> " R_UNIT, p3s_tcp_set_idle},
    {TCP "get-keep-alive-interval", "(borrow<tcp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_tcp_get_interval},
    {TCP "set-keep-alive-interval", "(borrow<tcp-socket>, u64) -> " R_UNIT, p3s_tcp_set_interval},
    {TCP "get-keep-alive-count", "(borrow<tcp-socket>) -> result<u32, " ERR_SHAPE ">",
     p3s_tcp_get_count},
    {TCP "set-keep-alive-count", "(borrow<tcp-socket>, u32) -> " R_UNIT, p3s_tcp_set_count},
    {TCP "get-hop-limit", "(borrow<tcp-socket>) -> result<u8, " ERR_SHAPE ">", p3s_tcp_get_hop},
    {TCP "set-hop-limit", "(borrow<tcp-socket>, u8) -> " R_UNIT, p3s_tcp_set_hop},
    {TCP "get-receive-buffer-size", "(borrow<tcp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_tcp_get_rcvbuf},
    {TCP "set-receive-buffer-size", "(borrow<tcp-socket>, u64) -> " R_UNIT, p3s_tcp_set_rcvbuf},
    {TCP "get-send-buffer-size", "(borrow<tcp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_tcp_get_sndbuf},
    {TCP "set-send-buffer-size", "(borrow<tcp-socket>, u64) -> " R_UNIT, p3s_tcp_set_sndbuf},
    {"[static]udp-socket.create", "(" FAMILY_SHAPE ") -> result<own<udp-socket>, " ERR_SHAPE ">",
     p3s_udp_create},
    {UDP "bind", "(borrow<udp-socket>, " ADDR_SHAPE ") -> " R_UNIT, p3s_udp_bind},
    {UDP "connect", "(borrow<udp-socket>, " ADDR_SHAPE ") -> " R_UNIT, p3s_udp_connect},
    {UDP "disconnect", "(borrow<udp-socket>) -> " R_UNIT, p3s_udp_disconnect},
    {UDP "send", "(borrow<udp-socket>, list<u8>, option<" ADDR_SHAPE ">) -> " R_UNIT, p3s_udp_send},
    {UDP "receive",
     "(borrow<udp-socket>) -> result<tuple<list<u8>, " ADDR_SHAPE ">, " ERR_SHAPE ">",
     p3s_udp_receive},
    {UDP "get-local-address", "(borrow<udp-socket>) -> result<" ADDR_SHAPE ", " ERR_SHAPE ">",
     p3s_udp_local},
    {UDP "get-remote-address", "(borrow<udp-socket>) -> result<" ADDR_SHAPE ", " ERR_SHAPE ">",
     p3s_udp_remote},
    {UDP "get-address-family", "(borrow<udp-socket>) -> " FAMILY_SHAPE, p3s_udp_family},
    {UDP "get-unicast-hop-limit", "(borrow<udp-socket>) -> result<u8, " ERR_SHAPE ">",
     p3s_udp_get_hop},
    {UDP "set-unicast-hop-limit", "(borrow<udp-socket>, u8) -> " R_UNIT, p3s_udp_set_hop},
    {UDP "get-receive-buffer-size", "(borrow<udp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_udp_get_rcvbuf},
    {UDP "set-receive-buffer-size", "(borrow<udp-socket>, u64) -> " R_UNIT, p3s_udp_set_rcvbuf},
    {UDP "get-send-buffer-size", "(borrow<udp-socket>) -> result<u64, " ERR_SHAPE ">",
     p3s_udp_get_sndbuf},
    {UDP "set-send-buffer-size", "(borrow<udp-socket>, u64) -> " R_UNIT, p3s_udp_set_sndbuf},
};
#define NTYPES (sizeof types_funcs / sizeof types_funcs[0])

static const kiln_chost_iface types_rc = {"wasi:sockets/types", RC,    types_res, 2,
                                          types_funcs,          NTYPES};
static const kiln_chost_iface types_rel = {"wasi:sockets/types", REL,   types_res, 2,
                                           types_funcs,          NTYPES};
static const kiln_chost_iface lookup_rc = {
    "wasi:sockets/ip-name-lookup", RC, NULL, 0, lookup_funcs, 1};
static const kiln_chost_iface lookup_rel = {
    "wasi:sockets/ip-name-lookup", REL, NULL, 0, lookup_funcs, 1};

static const kiln_chost_iface *const ifaces[] = {&types_rc, &types_rel, &lookup_rc, &lookup_rel};

const kiln_chost_provider kiln_p3sockets_provider = {
    "wasi:sockets 0.3", ifaces, sizeof ifaces / sizeof ifaces[0], s_new, s_free, NULL};
