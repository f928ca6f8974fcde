/* sockets_common.h — what Kiln's wasi:sockets 0.2 (host/wasip2/sockets.c) and 0.3
 * (host/wasip3/sockets*.c) hosts share, so that both follow one set of rules:
 *
 * Grants (Spin's, deny by default; the guest is hostile). An instance may reach what its
 * allowed_outbound_hosts (kiln_grants_outbound; `kiln run --allow-outbound`) allow, in
 * Spin's syntax (host/wasihttp/outbound.h, matched by wh_allow), the scheme naming the
 * protocol:
 *   - TCP connect: "tcp://HOST:PORT" (or one with host "*" or scheme "*");
 *   - TCP bind (and listen's implicit bind): never for apps under `kiln up` (Spin denies
 *     TcpBind); under `kiln run` (kiln_grants.allow_tcp_bind, like wasmtime's
 *     -Sinherit-network) a tcp grant naming the address;
 *   - UDP bind, connect and send-to: "udp://HOST:PORT";
 *   - no default port: a grant without one allows nothing; a bind to port 0 (any free
 *     port) needs a grant with port "*".
 * An address is allowed by a grant naming it (IP literal, canonical compare), by host
 * "*", or by a grant naming a host that this instance resolved through the host's own
 * lookup to that address (ks_learn: a guest cannot claim a name for an address). A name
 * may be resolved when some grant's host part allows it (any scheme and port). A refusal
 * is logged (ks_allowed, ks_name_allowed) with the component and the address.
 *
 * The process holds at most a quarter of its descriptor limit in guests' sockets
 * (ks_fd_take). getaddrinfo runs on a thread of its own (ks_resolve), never the caller's. */
#ifndef KILN_HOST_SOCKETS_COMMON_H
#define KILN_HOST_SOCKETS_COMMON_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "component/host.h"
#include "host/registry.h"

/* Names remembered per instance; addresses per lookup. */
#define KS_MAX_LEARNED 256
#define KS_MAX_ADDRS 64

/* The use of an address (the grant's scheme). */
enum { KS_TCP = 0, KS_UDP = 1, KS_TCP_BIND = 2 };

/* wasi:sockets 0.3's error-code cases + 1 (0: no error), what ks_errno_code answers
 * (0.2's error-code maps from these). */
enum {
    KS_E_ACCESS_DENIED = 1,
    KS_E_NOT_SUPPORTED,
    KS_E_INVALID_ARGUMENT,
    KS_E_OUT_OF_MEMORY,
    KS_E_TIMEOUT,
    KS_E_INVALID_STATE,
    KS_E_ADDRESS_NOT_BINDABLE,
    KS_E_ADDRESS_IN_USE,
    KS_E_REMOTE_UNREACHABLE,
    KS_E_CONNECTION_REFUSED,
    KS_E_CONNECTION_BROKEN,
    KS_E_CONNECTION_RESET,
    KS_E_CONNECTION_ABORTED,
    KS_E_DATAGRAM_TOO_LARGE,
    KS_E_OTHER,
};

typedef struct ks_learned {
    char name[256]; /* lowercase, no trailing dot */
    struct sockaddr_storage addr;
} ks_learned;

/* The grants of one instance and the names it resolved. */
typedef struct ks_grants {
    char *component; /* for log lines (NULL: none) */
    char **grants;
    size_t ngrants;
    ks_learned *learned; /* KS_MAX_LEARNED, allocated by the first ks_learn (NULL: none):
                          * 96 KiB that every instance used to clear twice, sockets or not */
    size_t nlearned, learned_next;
    int allow_tcp_bind; /* kiln_grants.allow_tcp_bind */
} ks_grants;

/* c from g (a copy of what it keeps; g may be NULL: nothing granted): 0, or -1 out of
 * memory (c then holds nothing). */
int ks_grants_init(ks_grants *c, const kiln_grants *g);
void ks_grants_fini(ks_grants *c);

/* 1 if c allows address sa used as proto (KS_TCP, KS_UDP, KS_TCP_BIND); logs a refusal. */
int ks_allowed(ks_grants *c, const struct sockaddr_storage *sa, int proto);
/* 1 if c lets name be resolved; logs a refusal. */
int ks_name_allowed(ks_grants *c, const char *name);
/* Remembers that c's instance resolved name to sa (the oldest go past KS_MAX_LEARNED;
 * out of memory, nothing is learned and the address stays refused). */
void ks_learn(ks_grants *c, const char *name, const struct sockaddr_storage *sa);
/* The rules alone (testable without a context): KS_TCP_BIND only when allow_tcp_bind,
 * then as ks_allow_addr with KS_TCP. */
int ks_allow_op(const char *const *grants, size_t n, const ks_learned *learned, size_t nlearned,
                int allow_tcp_bind, const struct sockaddr_storage *sa, int proto);
/* 1 if a grant (scheme of proto: KS_TCP or KS_UDP) names sa, or a learned name of it. */
int ks_allow_addr(const char *const *grants, size_t n, const ks_learned *learned, size_t nlearned,
                  const struct sockaddr_storage *sa, int proto);
/* 1 if a grant lets name (a host name or IP literal) be resolved. */
int ks_allow_name(const char *const *grants, size_t n, const char *name);

/* Counts a socket about to be opened against the process's cap: 0, or -1 at the cap.
 * ks_fd_give gives it back when the fd closes (or was not opened). */
int ks_fd_take(void);
void ks_fd_give(void);

/* The ip-address-family enum (0 ipv4, 1 ipv6) of af, and back (-1: neither). */
int ks_family_of(int af);
int ks_af_of(uint32_t family);
/* ip-socket-address value v (the same shape in 0.2 and 0.3) to a sockaddr of *len bytes:
 * 0, or -1 when v is malformed. */
int ks_addr_from_cval(const kiln_cval *v, struct sockaddr_storage *ss, socklen_t *len);
/* sa as an ip-socket-address into *v, its parts from kiln_cabi_alloc(cx) (or from
 * parts[0..14) when cx is NULL). 0, or -1 out of memory / family. */
int ks_addr_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v,
                    kiln_cval *parts);
/* sa's IP as an ip-address value with parts from cx. 0 or -1. */
int ks_ip_to_cval(const struct sockaddr_storage *sa, kiln_cabi_cx *cx, kiln_cval *v);
/* Checks a remote address for connect / send: KS_E_INVALID_ARGUMENT when its family is
 * not af, it is unspecified, IPv4-mapped, or port 0 (when port_needed); else -1. */
int ks_addr_check(const struct sockaddr_storage *sa, int af, int port_needed);

/* The error-code (KS_E_*) of an errno from connect, bind, send... */
uint32_t ks_errno_code(int err);

/* Normalises a name to resolve (lowercase, one trailing dot dropped; no port, no
 * brackets) into out: 0, or -1 when malformed. */
int ks_norm_name(const char *s, size_t n, char *out, size_t cap);

/* A resolution of a name on a thread of its own. */
typedef struct ks_resolve ks_resolve;
/* Starts resolving name; NULL when no thread could start. */
ks_resolve *ks_resolve_start(const char *name);
/* An fd readable once the resolution is done (to wait on). */
int ks_resolve_fd(const ks_resolve *r);
/* 1 when done: *gai is getaddrinfo's result and addrs[0..*n) the addresses (valid until
 * ks_resolve_free). */
int ks_resolve_done(ks_resolve *r, int *gai, const struct sockaddr_storage **addrs, size_t *n);
/* Drops the caller's reference (the thread keeps its own until it ends). */
void ks_resolve_free(ks_resolve *r);

#endif
