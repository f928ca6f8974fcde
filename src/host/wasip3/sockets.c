/* sockets.c — the "wasi:sockets 0.3" provider (sockets.h): its context and socket table,
 * grants, address conversions, errors, wasi:sockets/ip-name-lookup and the interfaces. */
#include "host/wasip3/sockets.h"
#include "engine/fiber.h"
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"
/* At most this many addresses from one lookup. */
#define MAX_ADDRS 64

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
    return p3s_ctx_new(g);
}

p3s_ctx *p3s_ctx_new(const kiln_grants *g)
{
    p3s_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    size_t n = 0;
    const char *const *gr = g ? kiln_grants_outbound(g, &n) : NULL;
    if (n) {
        c->grants = kiln_calloc(n, sizeof *c->grants);
        if (!c->grants) goto oom;
        for (; c->ngrants < n; c->ngrants++)
            if (!(c->grants[c->ngrants] = kiln_strdup(gr[c->ngrants]))) goto oom;
    }
    if (g && g->component && !(c->component = kiln_strdup(g->component))) goto oom;
    c->allow_tcp_bind = g ? g->allow_tcp_bind : 0;
    return c;
oom:
    for (size_t i = 0; i < c->ngrants; i++)
        kiln_free(c->grants[i]);
    kiln_free(c->grants);
    kiln_free(c);
    return NULL;
}

struct p3s_lookup {
    pthread_mutex_t mu;
    int refs; /* the context and the thread (under mu) */
    int done, efd;
    char name[256];
    int gai; /* getaddrinfo's result */
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t naddrs;
    kiln_chost_pending *p;
    p3s_ctx *c;
    p3s_lookup *next;
};

static void lookup_unref(p3s_lookup *l)
{
    pthread_mutex_lock(&l->mu);
    int last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last) return;
    close(l->efd);
    pthread_mutex_destroy(&l->mu);
    kiln_free(l);
}

static void s_free(void *ctx)
{
    p3s_ctx_free(ctx);
}

void p3s_ctx_free(p3s_ctx *c)
{
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
    for (size_t i = 0; i < c->ngrants; i++)
        kiln_free(c->grants[i]);
    kiln_free(c->grants);
    kiln_free((char *)c->component);
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

/* Sockets open in the process (every instance's), and the most allowed: a quarter of the
 * descriptor limit, so that guests cannot take the server's descriptors. */
static atomic_long nopen, maxopen;

int p3s_fd_take(void)
{
    long max = atomic_load(&maxopen);
    if (!max) {
        struct rlimit rl;
        max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                  ? (long)(rl.rlim_cur / 4)
                  : 4096;
        if (max < 16) max = 16;
        atomic_store(&maxopen, max);
    }
    if (atomic_fetch_add(&nopen, 1) >= max) {
        atomic_fetch_sub(&nopen, 1);
        return -1;
    }
    return 0;
}

void p3s_fd_give(void)
{
    atomic_fetch_sub(&nopen, 1);
}

/* Closes a socket's fd taken with p3s_fd_take. */
static void fd_close(int fd)
{
    close(fd);
    p3s_fd_give();
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
    if (p3s_fd_take() < 0) {
        *ecode = P3S_E_OUT_OF_MEMORY; /* ENFILE's case (ENOBUFS, ENOMEM) */
        return 0;
    }
    int fd = socket(af, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *ecode = p3s_errno_code(errno);
        p3s_fd_give();
        return 0;
    }
    int one = 1;
    if (af == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
        *ecode = p3s_errno_code(errno);
        fd_close(fd);
        return 0;
    }
    uint32_t rep = p3s_sock_adopt(c, fd, af, P3S_UNBOUND);
    if (!rep) {
        *ecode = P3S_E_OUT_OF_MEMORY;
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
                if (ecode == P3S_E_OTHER) v[0].var.payload = &v[1]; /* other(none) */
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

/* ---- addresses ---- */

int p3s_family_of(int af)
{
    return af == AF_INET6 ? 1 : 0;
}

int p3s_af_of(uint32_t family)
{
    return family == 0 ? AF_INET : family == 1 ? AF_INET6 : -1;
}

int p3s_addr_from_cval(const kiln_cval *v, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    const kiln_cval *rec = v->var.payload;
    if (!rec || !rec->agg.items) return -1;
    if (v->var.disc == 0) { /* ipv4: record{port, address: tuple<u8 x4>} */
        if (rec->agg.n != 2 || !rec->agg.items[1].agg.items || rec->agg.items[1].agg.n != 4)
            return -1;
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)rec->agg.items[0].u);
        uint8_t *b = (uint8_t *)&in->sin_addr;
        for (int i = 0; i < 4; i++)
            b[i] = (uint8_t)rec->agg.items[1].agg.items[i].u;
        *len = sizeof *in;
        return 0;
    }
    if (v->var.disc != 1 || rec->agg.n != 4 || !rec->agg.items[2].agg.items ||
        rec->agg.items[2].agg.n != 8)
        return -1; /* ipv6: record{port, flow-info, address: tuple<u16 x8>, scope-id} */
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)rec->agg.items[0].u);
    in6->sin6_flowinfo = htonl((uint32_t)rec->agg.items[1].u);
    for (int i = 0; i < 8; i++) {
        uint16_t w = (uint16_t)rec->agg.items[2].agg.items[i].u;
        in6->sin6_addr.s6_addr[2 * i] = (uint8_t)(w >> 8);
        in6->sin6_addr.s6_addr[2 * i + 1] = (uint8_t)w;
    }
    in6->sin6_scope_id = (uint32_t)rec->agg.items[3].u;
    *len = sizeof *in6;
    return 0;
}

/* The ip-address tuple of sa into t (items from items[0..8)). */
static void ip_tuple(const struct sockaddr_storage *sa, kiln_cval *t, kiln_cval *items)
{
    if (sa->ss_family == AF_INET) {
        const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        for (int i = 0; i < 4; i++)
            items[i].u = b[i];
        t->agg.n = 4;
    } else {
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        for (int i = 0; i < 8; i++)
            items[i].u = (uint64_t)b[2 * i] << 8 | b[2 * i + 1];
        t->agg.n = 8;
    }
    t->agg.items = items;
}

int p3s_addr_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v,
                     kiln_cval *parts)
{
    if (sa->ss_family != AF_INET && sa->ss_family != AF_INET6) return -1;
    /* parts: the record, its 4 fields, 8 address items */
    kiln_cval *p = cx ? kiln_cabi_alloc(cx, 14 * sizeof *p) : parts;
    if (!p) return -1;
    memset(p, 0, 14 * sizeof *p);
    kiln_cval *rec = &p[0], *f = &p[1], *items = &p[5];
    rec->agg.items = f;
    v->var.payload = rec;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        v->var.disc = 0;
        rec->agg.n = 2;
        f[0].u = ntohs(in->sin_port);
        ip_tuple(sa, &f[1], items);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        v->var.disc = 1;
        rec->agg.n = 4;
        f[0].u = ntohs(in6->sin6_port);
        f[1].u = ntohl(in6->sin6_flowinfo);
        ip_tuple(sa, &f[2], items);
        f[3].u = in6->sin6_scope_id;
    }
    return 0;
}

int p3s_ip_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v)
{
    kiln_cval *p = kiln_cabi_alloc(cx, 9 * sizeof *p);
    if (!p) return -1;
    memset(p, 0, 9 * sizeof *p);
    v->var.disc = sa->ss_family == AF_INET ? 0 : 1;
    v->var.payload = &p[0];
    ip_tuple(sa, &p[0], &p[1]);
    return 0;
}

static int is_v4_mapped(const struct sockaddr_storage *sa)
{
    return sa->ss_family == AF_INET6 &&
           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int p3s_addr_check(const struct sockaddr_storage *sa, int af, int port_needed)
{
    if (sa->ss_family != af || is_v4_mapped(sa)) return P3S_E_INVALID_ARGUMENT;
    if (af == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY) || in->sin_addr.s_addr == INADDR_BROADCAST ||
            IN_MULTICAST(ntohl(in->sin_addr.s_addr)))
            return P3S_E_INVALID_ARGUMENT;
        if (port_needed && in->sin_port == 0) return P3S_E_INVALID_ARGUMENT;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&in6->sin6_addr))
            return P3S_E_INVALID_ARGUMENT;
        if (port_needed && in6->sin6_port == 0) return P3S_E_INVALID_ARGUMENT;
    }
    return -1;
}

/* ---- grants ---- */

/* sa's address as text ("127.0.0.1", "[::1]") and its port. */
static int addr_text(const struct sockaddr_storage *sa, char *buf, size_t cap, uint16_t *port)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip)) return -1;
        *port = ntohs(in->sin_port);
        return snprintf(buf, cap, "%s", ip) < (int)cap ? 0 : -1;
    }
    if (sa->ss_family != AF_INET6) return -1;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip)) return -1;
    *port = ntohs(in6->sin6_port);
    return snprintf(buf, cap, "[%s]", ip) < (int)cap ? 0 : -1;
}

/* 1 if a grant allows host (text) at port for the protocol's scheme. */
static int allow_host_port(const char *const *grants, size_t n, const char *host, uint16_t port,
                           int proto)
{
    char auth[300];
    wh_target t;
    if (snprintf(auth, sizeof auth, "%s:%u", host, port ? port : 1u) >= (int)sizeof auth) return 0;
    if (wh_target_parse_scheme(&t, proto == P3S_UDP ? "udp" : "tcp", 0, auth, strlen(auth)) < 0)
        return 0;
    t.port = port; /* a bind to port 0 is matched by a "*" port only */
    return wh_allow(grants, n, &t);
}

static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

int p3s_allow_addr(const char *const *grants, size_t n, const p3s_learned *learned, size_t nlearned,
                   const struct sockaddr_storage *sa, int proto)
{
    char host[INET6_ADDRSTRLEN + 2];
    uint16_t port;
    if (!n || addr_text(sa, host, sizeof host, &port) < 0) return 0;
    if (allow_host_port(grants, n, host, port, proto)) return 1;
    for (size_t i = 0; i < nlearned; i++)
        if (same_ip(&learned[i].addr, sa) &&
            allow_host_port(grants, n, learned[i].name, port, proto))
            return 1;
    return 0;
}

int p3s_allow_op(const char *const *grants, size_t n, const p3s_learned *learned, size_t nlearned,
                 int allow_tcp_bind, const struct sockaddr_storage *sa, int proto)
{
    if (proto == P3S_TCP_BIND && !allow_tcp_bind) return 0;
    return p3s_allow_addr(grants, n, learned, nlearned, sa, proto == P3S_UDP ? P3S_UDP : P3S_TCP);
}

int p3s_allowed(p3s_ctx *c, const struct sockaddr_storage *sa, int proto)
{
    if (p3s_allow_op((const char *const *)c->grants, c->ngrants, c->learned, c->nlearned,
                     c->allow_tcp_bind, sa, proto))
        return 1;
    char host[INET6_ADDRSTRLEN + 2];
    uint16_t port = 0;
    if (addr_text(sa, host, sizeof host, &port) < 0) snprintf(host, sizeof host, "?");
    fprintf(stderr, "kiln: wasi:sockets: %s%s%s %s://%s:%u denied (%s)\n",
            c->component ? c->component : "", c->component ? ": " : "",
            proto == P3S_TCP_BIND ? "bind" : "connect", proto == P3S_UDP ? "udp" : "tcp", host,
            port,
            proto == P3S_TCP_BIND && !c->allow_tcp_bind ? "apps may not bind TCP, as in Spin"
                                                        : "not in allowed_outbound_hosts");
    return 0;
}

int p3s_allow_name(const char *const *grants, size_t n, const char *name)
{
    wh_target t;
    size_t len = strlen(name);
    char br[INET6_ADDRSTRLEN + 2];
    struct in6_addr a6;
    if (len < sizeof br - 2 && inet_pton(AF_INET6, name, &a6) == 1) { /* bracket a v6 literal */
        snprintf(br, sizeof br, "[%s]", name);
        name = br;
        len = strlen(br);
    }
    if (!n || wh_target_parse_scheme(&t, "tcp", 1, name, len) < 0 || t.port != 1) return 0;
    return wh_allow_host(grants, n, &t);
}

int p3s_name_allowed(p3s_ctx *c, const char *name)
{
    if (p3s_allow_name((const char *const *)c->grants, c->ngrants, name)) return 1;
    fprintf(stderr, "kiln: wasi:sockets: %s%sresolving %s denied (not in allowed_outbound_hosts)\n",
            c->component ? c->component : "", c->component ? ": " : "", name);
    return 0;
}

/* ---- errors and results ---- */

uint32_t p3s_errno_code(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return P3S_E_ACCESS_DENIED;
    case EOPNOTSUPP:
    case ENOPROTOOPT:
    case EPFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
        return P3S_E_NOT_SUPPORTED;
    case EINVAL:
    case EDESTADDRREQ:
    case EAFNOSUPPORT:
        return P3S_E_INVALID_ARGUMENT;
    case ENOMEM:
    case ENOBUFS:
        return P3S_E_OUT_OF_MEMORY;
    case ETIMEDOUT:
        return P3S_E_TIMEOUT;
    case EISCONN:
    case EALREADY:
    case ENOTCONN:
        return P3S_E_INVALID_STATE;
    case EADDRNOTAVAIL:
        return P3S_E_ADDRESS_NOT_BINDABLE;
    case EADDRINUSE:
        return P3S_E_ADDRESS_IN_USE;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ENETUNREACH:
    case ENONET:
        return P3S_E_REMOTE_UNREACHABLE;
    case ECONNREFUSED:
        return P3S_E_CONNECTION_REFUSED;
    case EPIPE:
        return P3S_E_CONNECTION_BROKEN;
    case ECONNRESET:
        return P3S_E_CONNECTION_RESET;
    case ECONNABORTED:
        return P3S_E_CONNECTION_ABORTED;
    case EMSGSIZE:
        return P3S_E_DATAGRAM_TOO_LARGE;
    default:
        return P3S_E_OTHER;
    }
}

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
    if (ecode == P3S_E_OTHER) e->var.payload = &e[1]; /* other(none) */
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

static void *lookup_thread(void *arg)
{
    p3s_lookup *l = arg;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address */
    int rc = getaddrinfo(l->name, NULL, &hints, &ai);
    pthread_mutex_lock(&l->mu);
    l->gai = rc;
    for (struct addrinfo *p = rc == 0 ? ai : NULL; p && l->naddrs < MAX_ADDRS; p = p->ai_next)
        if ((p->ai_family == AF_INET || p->ai_family == AF_INET6) &&
            p->ai_addrlen <= sizeof l->addrs[0])
            memcpy(&l->addrs[l->naddrs++], p->ai_addr, p->ai_addrlen);
    l->done = 1;
    pthread_mutex_unlock(&l->mu);
    if (ai) freeaddrinfo(ai);
    uint64_t one = 1;
    if (write(l->efd, &one, sizeof one) < 0) { /* the fire polls done as well */
    }
    lookup_unref(l);
    return NULL;
}

void p3s_learn(p3s_ctx *c, const char *name, const struct sockaddr_storage *sa)
{
    for (size_t i = 0; i < c->nlearned; i++)
        if (same_ip(&c->learned[i].addr, sa) && strcmp(c->learned[i].name, name) == 0) return;
    p3s_learned *e = &c->learned[c->nlearned < P3S_MAX_LEARNED ? c->nlearned++ : c->learned_next];
    if (c->nlearned == P3S_MAX_LEARNED) c->learned_next = (c->learned_next + 1) % P3S_MAX_LEARNED;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->addr = *sa;
}

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
        if (p3s_ip_to_cval(&addrs[i], cx, &items[i]) < 0) return p3s_fail(cx, "out of memory");
    list->agg.items = items;
    list->agg.n = (uint32_t)n;
    p3s_ok(res, list);
    return 0;
}

/* The finished lookup l's answer into res (the names learned first). */
static int lookup_answer(p3s_ctx *c, p3s_lookup *l, kiln_cabi_cx *cx, kiln_cval *res)
{
    if (l->gai != 0 || l->naddrs == 0)
        return nl_err(cx, res,
                      l->gai == EAI_AGAIN                                       ? NL_TEMPORARY
                      : l->gai == EAI_FAIL                                      ? NL_PERMANENT
                      : l->gai == EAI_NONAME || l->gai == EAI_NODATA || !l->gai ? NL_UNRESOLVABLE
                                                                                : NL_OTHER);
    for (size_t i = 0; i < l->naddrs; i++)
        p3s_learn(c, l->name, &l->addrs[i]);
    return nl_ok(cx, res, l->addrs, l->naddrs);
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
    pthread_mutex_lock(&l->mu);
    int d = l->done;
    pthread_mutex_unlock(&l->mu);
    return d;
}

static void lookup_fire(kiln_chost_pending *p, void *arg)
{
    p3s_lookup *l = arg;
    if (!lookup_done(l)) {
        if (p3s_wait(l->efd, POLLIN, P3S_SLICE_NS) < 0 || !lookup_done(l)) {
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

int p3s_norm_name(const char *s, size_t n, char *out, size_t cap)
{
    struct in6_addr six;
    if (n && s[n - 1] == '.') n--;
    if (n == 0 || n >= cap) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0 || ch <= ' ' || ch == '/' || ch == '@' || ch >= 0x7f) return -1;
        out[i] = (char)tolower(ch);
    }
    out[n] = '\0';
    if (strchr(out, ':') && inet_pton(AF_INET6, out, &six) != 1) return -1; /* a port, [..] */
    return 0;
}

/* A lookup of name started on its thread (refs: the caller's and the thread's), or NULL. */
static p3s_lookup *lookup_start(const char *name)
{
    p3s_lookup *l = kiln_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->efd < 0 || pthread_mutex_init(&l->mu, NULL) != 0) {
        if (l->efd >= 0) close(l->efd);
        kiln_free(l);
        return NULL;
    }
    snprintf(l->name, sizeof l->name, "%s", name);
    l->refs = 2;
    pthread_attr_t at;
    pthread_t th;
    int ok = pthread_attr_init(&at) == 0;
    if (ok && (pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) != 0 ||
               pthread_create(&th, &at, lookup_thread, l) != 0))
        ok = 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        l->refs = 1;
        lookup_unref(l);
        return NULL;
    }
    return l;
}

/* ---- resolutions for wasi:sockets 0.2 (the same thread as ip-name-lookup's) ---- */

struct p3s_resolve {
    p3s_lookup l;
};

p3s_resolve *p3s_resolve_start(const char *name)
{
    return (p3s_resolve *)lookup_start(name);
}

int p3s_resolve_fd(const p3s_resolve *r)
{
    return r->l.efd;
}

int p3s_resolve_done(p3s_resolve *r, int *gai, const struct sockaddr_storage **addrs, size_t *n)
{
    if (!lookup_done(&r->l)) return 0;
    *gai = r->l.gai;
    *addrs = r->l.addrs;
    *n = r->l.naddrs;
    return 1;
}

void p3s_resolve_free(p3s_resolve *r)
{
    lookup_unref(&r->l);
}

static int resolve_addresses(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_ctx *c = ctx;
    char name[256];
    if (p3s_norm_name(args[0].str.ptr, args[0].str.len, name, sizeof name) < 0)
        return nl_err(cx, res, NL_INVALID_ARGUMENT); /* a port or a bracketed form */
    if (!p3s_name_allowed(c, name)) return nl_err(cx, res, NL_ACCESS_DENIED);
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
    p3s_lookup *l = lookup_start(name);
    if (!l) return nl_err(cx, res, NL_TEMPORARY);
    l->c = c;
    l->next = c->lookups;
    c->lookups = l;
    c->nlookups++;
    kiln_chost_later later = {mono_ns(), lookup_fire, lookup_abandon, l};
    if ((l->p = kiln_chost_defer(cx, &later))) return KILN_CHOST_PENDING;
    /* a synchronous call: wait here, within the time limit */
    while (!lookup_done(l))
        if (p3s_wait(l->efd, POLLIN, P3S_SLICE_NS) < 0) {
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
