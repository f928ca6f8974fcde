/* sockets_common.c — what wasi:sockets 0.2 and 0.3 share (sockets_common.h): the
 * process's socket cap, address conversions, the grant rules, errno mapping, names and
 * the resolver thread. */
#include "host/sockets_common.h"
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- the grants of one instance ---- */

int ks_grants_init(ks_grants *c, const kiln_grants *g)
{
    memset(c, 0, sizeof *c);
    size_t n = 0;
    const char *const *gr = g ? kiln_grants_outbound(g, &n) : NULL;
    if (n) {
        if (!(c->grants = kiln_calloc(n, sizeof *c->grants))) return -1;
        for (; c->ngrants < n; c->ngrants++)
            if (!(c->grants[c->ngrants] = kiln_strdup(gr[c->ngrants]))) goto oom;
    }
    if (g && g->component && !(c->component = kiln_strdup(g->component))) goto oom;
    c->allow_tcp_bind = g ? g->allow_tcp_bind : 0;
    return 0;
oom:
    ks_grants_fini(c);
    return -1;
}

void ks_grants_fini(ks_grants *c)
{
    for (size_t i = 0; i < c->ngrants; i++)
        kiln_free(c->grants[i]);
    kiln_free(c->grants);
    kiln_free(c->learned);
    kiln_free(c->component);
    memset(c, 0, sizeof *c);
}

/* ---- the process's cap ---- */

/* Sockets open in the process (every instance's), and the most allowed: a quarter of the
 * descriptor limit, so that guests cannot take the server's descriptors. */
static atomic_long nopen, maxopen;

int ks_fd_take(void)
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

void ks_fd_give(void)
{
    atomic_fetch_sub(&nopen, 1);
}

/* ---- addresses ---- */

int ks_family_of(int af)
{
    return af == AF_INET6 ? 1 : 0;
}

int ks_af_of(uint32_t family)
{
    return family == 0 ? AF_INET : family == 1 ? AF_INET6 : -1;
}

int ks_addr_from_cval(const kiln_cval *v, struct sockaddr_storage *ss, socklen_t *len)
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

int ks_addr_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v,
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

int ks_ip_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v)
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

int ks_addr_check(const struct sockaddr_storage *sa, int af, int port_needed)
{
    if (sa->ss_family != af || is_v4_mapped(sa)) return KS_E_INVALID_ARGUMENT;
    if (af == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY) || in->sin_addr.s_addr == INADDR_BROADCAST ||
            IN_MULTICAST(ntohl(in->sin_addr.s_addr)))
            return KS_E_INVALID_ARGUMENT;
        if (port_needed && in->sin_port == 0) return KS_E_INVALID_ARGUMENT;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&in6->sin6_addr))
            return KS_E_INVALID_ARGUMENT;
        if (port_needed && in6->sin6_port == 0) return KS_E_INVALID_ARGUMENT;
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
    if (wh_target_parse_scheme(&t, proto == KS_UDP ? "udp" : "tcp", 0, auth, strlen(auth)) < 0)
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

int ks_allow_addr(const char *const *grants, size_t n, const ks_learned *learned, size_t nlearned,
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

int ks_allow_op(const char *const *grants, size_t n, const ks_learned *learned, size_t nlearned,
                int allow_tcp_bind, const struct sockaddr_storage *sa, int proto)
{
    if (proto == KS_TCP_BIND && !allow_tcp_bind) return 0;
    return ks_allow_addr(grants, n, learned, nlearned, sa, proto == KS_UDP ? KS_UDP : KS_TCP);
}

int ks_allowed(ks_grants *c, const struct sockaddr_storage *sa, int proto)
{
    if (ks_allow_op((const char *const *)c->grants, c->ngrants, c->learned, c->nlearned,
                    c->allow_tcp_bind, sa, proto))
        return 1;
    char host[INET6_ADDRSTRLEN + 2];
    uint16_t port = 0;
    if (addr_text(sa, host, sizeof host, &port) < 0) snprintf(host, sizeof host, "?");
    fprintf(stderr, "kiln: wasi:sockets: %s%s%s %s://%s:%u denied (%s)\n",
            c->component ? c->component : "", c->component ? ": " : "",
            proto == KS_TCP_BIND ? "bind" : "connect", proto == KS_UDP ? "udp" : "tcp", host, port,
            proto == KS_TCP_BIND && !c->allow_tcp_bind ? "apps may not bind TCP, as in Spin"
                                                       : "not in allowed_outbound_hosts");
    return 0;
}

int ks_allow_name(const char *const *grants, size_t n, const char *name)
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

int ks_name_allowed(ks_grants *c, const char *name)
{
    if (ks_allow_name((const char *const *)c->grants, c->ngrants, name)) return 1;
    fprintf(stderr, "kiln: wasi:sockets: %s%sresolving %s denied (not in allowed_outbound_hosts)\n",
            c->component ? c->component : "", c->component ? ": " : "", name);
    return 0;
}

/* ---- errors ---- */

uint32_t ks_errno_code(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return KS_E_ACCESS_DENIED;
    case EOPNOTSUPP:
    case ENOPROTOOPT:
    case EPFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
        return KS_E_NOT_SUPPORTED;
    case EINVAL:
    case EDESTADDRREQ:
    case EAFNOSUPPORT:
        return KS_E_INVALID_ARGUMENT;
    case ENOMEM:
    case ENOBUFS:
        return KS_E_OUT_OF_MEMORY;
    case ETIMEDOUT:
        return KS_E_TIMEOUT;
    case EISCONN:
    case EALREADY:
    case ENOTCONN:
        return KS_E_INVALID_STATE;
    case EADDRNOTAVAIL:
        return KS_E_ADDRESS_NOT_BINDABLE;
    case EADDRINUSE:
        return KS_E_ADDRESS_IN_USE;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ENETUNREACH:
    case ENONET:
        return KS_E_REMOTE_UNREACHABLE;
    case ECONNREFUSED:
        return KS_E_CONNECTION_REFUSED;
    case EPIPE:
        return KS_E_CONNECTION_BROKEN;
    case ECONNRESET:
        return KS_E_CONNECTION_RESET;
    case ECONNABORTED:
        return KS_E_CONNECTION_ABORTED;
    case EMSGSIZE:
        return KS_E_DATAGRAM_TOO_LARGE;
    default:
        return KS_E_OTHER;
    }
}

/* ---- names and their resolution ---- */

void ks_learn(ks_grants *c, const char *name, const struct sockaddr_storage *sa)
{
    for (size_t i = 0; i < c->nlearned; i++)
        if (same_ip(&c->learned[i].addr, sa) && strcmp(c->learned[i].name, name) == 0) return;
    if (!c->learned && !(c->learned = kiln_malloc(KS_MAX_LEARNED * sizeof *c->learned))) return;
    ks_learned *e;
    if (c->nlearned < KS_MAX_LEARNED) {
        e = &c->learned[c->nlearned++];
    } else { /* full: the oldest goes */
        e = &c->learned[c->learned_next];
        c->learned_next = (c->learned_next + 1) % KS_MAX_LEARNED;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    e->addr = *sa;
}

int ks_norm_name(const char *s, size_t n, char *out, size_t cap)
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

struct ks_resolve {
    pthread_mutex_t mu;
    int refs; /* the caller's and the thread's (under mu) */
    int done, efd;
    char name[256];
    int gai; /* getaddrinfo's result */
    struct sockaddr_storage addrs[KS_MAX_ADDRS];
    size_t naddrs;
};

void ks_resolve_free(ks_resolve *l)
{
    pthread_mutex_lock(&l->mu);
    int last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last) return;
    close(l->efd);
    pthread_mutex_destroy(&l->mu);
    kiln_free(l);
}

static void *resolve_thread(void *arg)
{
    ks_resolve *l = arg;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address */
    int rc = getaddrinfo(l->name, NULL, &hints, &ai);
    pthread_mutex_lock(&l->mu);
    l->gai = rc;
    for (struct addrinfo *p = rc == 0 ? ai : NULL; p && l->naddrs < KS_MAX_ADDRS; p = p->ai_next)
        if ((p->ai_family == AF_INET || p->ai_family == AF_INET6) &&
            p->ai_addrlen <= sizeof l->addrs[0])
            memcpy(&l->addrs[l->naddrs++], p->ai_addr, p->ai_addrlen);
    l->done = 1;
    pthread_mutex_unlock(&l->mu);
    if (ai) freeaddrinfo(ai);
    uint64_t one = 1;
    if (write(l->efd, &one, sizeof one) < 0) { /* the fire polls done as well */
    }
    ks_resolve_free(l);
    return NULL;
}

ks_resolve *ks_resolve_start(const char *name)
{
    ks_resolve *l = kiln_calloc(1, sizeof *l);
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
               pthread_create(&th, &at, resolve_thread, l) != 0))
        ok = 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        l->refs = 1;
        ks_resolve_free(l);
        return NULL;
    }
    return l;
}

int ks_resolve_fd(const ks_resolve *r)
{
    return r->efd;
}

int ks_resolve_done(ks_resolve *r, int *gai, const struct sockaddr_storage **addrs, size_t *n)
{
    pthread_mutex_lock(&r->mu);
    int d = r->done;
    pthread_mutex_unlock(&r->mu);
    if (!d) return 0;
    *gai = r->gai;
    *addrs = r->addrs;
    *n = r->naddrs;
    return 1;
}
