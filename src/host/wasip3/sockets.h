/* sockets.h — wasi:sockets 0.3 for p3 components: provider "wasi:sockets 0.3", serving
 *   wasi:sockets/types           tcp-socket (create, bind, connect (async), listen ->
 *                                stream<tcp-socket>, send(stream<u8>), receive() ->
 *                                stream<u8>, the getters and setters) and udp-socket
 *                                (create, bind, connect, disconnect, send and receive
 *                                (async), getters and setters)
 *   wasi:sockets/ip-name-lookup  resolve-addresses (async)
 * each under 0.3.0 and the rc Spin 4 targets (0.3.0-rc-2026-03-15), sharing functions,
 * to wasmtime 48's p3 WIT (and its host's semantics: an IPv6 socket is v6-only, IPv4-mapped
 * addresses are refused, SO_REUSEADDR on TCP binds).
 *
 * Grants: host/sockets_common.h (the rules wasi:sockets 0.2 follows too: Spin's, deny by
 * default). Accepted connections of a granted listener are the guest's, and a bound UDP
 * socket receives from any sender. A process holds at most a quarter of its descriptor
 * limit in guests' sockets (past it: out-of-memory, and a listener's connections wait in
 * its backlog).
 *
 * Waits. connect, udp send/receive and resolve-addresses lowered async are pending host
 * calls (component/host.h): their fire waits on the socket (or the resolver's eventfd)
 * at most P3S_SLICE_NS and re-arms, so the driver runs guest threads and other host calls
 * in between, and the call's time limit ends any wait (kiln_wait_fd). getaddrinfo runs on
 * a thread of its own (never the driver's). A stream copy (receive, send, listen's
 * accepts) that finds the socket not ready stays pending (BLOCKED) and the stream waits
 * for the socket (kiln_chost_stream_wait_fd): the driver polls it when no guest thread
 * can run, with the pending calls' due times and within the call's time limit.
 *
 * Lifetimes (the WIT's shared ownership). A socket is closed when the guest's handle, its
 * streams and its pending calls are all gone: a dropped listener's port is free again
 * once its listen stream is dropped too; accepted sockets do not keep the listener.
 *
 * Files: sockets.c (context, table, results, ip-name-lookup, the provider),
 * sockets_tcp.c, sockets_udp.c; grants, addresses, errno mapping and the resolver thread
 * are host/sockets_common.c's. */
#ifndef KILN_HOST_WASIP3_SOCKETS_H
#define KILN_HOST_WASIP3_SOCKETS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "component/host.h"
#include "host/sockets_common.h"

extern const kiln_chost_provider kiln_p3sockets_provider;

/* How long one fire of a pending call waits before giving the driver back. */
#define P3S_SLICE_NS (20ull * 1000000u)
/* At most this many sockets per instance, lookups at once. */
#define P3S_MAX_SOCKETS 1024
#define P3S_MAX_LOOKUPS 16
/* At most this many UDP sends and receives under way per instance (each send keeps a copy
 * of its datagram): past it, error-code out-of-memory. */
#define P3S_MAX_OPS 256

/* TCP states (TcpSocketOperationalSemantics-0.3.0.md). */
enum { P3S_UNBOUND, P3S_BOUND, P3S_CONNECTING, P3S_CONNECTED, P3S_LISTENING, P3S_CLOSED };

/* One socket: the guest's handle holds a reference, and so does each stream or pending
 * call using it (the WIT's shared ownership): the fd closes with the last. */
typedef struct p3s_sock {
    int fd;
    int udp;
    int family; /* AF_INET, AF_INET6 */
    int state;  /* P3S_* (TCP); UDP: UNBOUND, BOUND */
    int refs;
    int sending, receiving; /* TCP: send / receive taken (once each) */
    int udp_connected;      /* UDP: connect gave a remote address */
    struct sockaddr_storage remote;
    uint64_t backlog;
    struct p3s_ctx *c; /* the context (which outlives every socket) */
} p3s_sock;

typedef struct p3s_lookup p3s_lookup;
typedef struct p3s_io p3s_io;

typedef struct p3s_ctx {
    ks_grants gr;     /* grants, learned names, component (host/sockets_common.h) */
    p3s_sock **socks; /* rep = index + 1; NULL: free */
    uint32_t nsocks, capsocks;
    p3s_lookup *lookups; /* resolutions in flight (their threads hold a reference) */
    size_t nlookups;
    p3s_io *ios;        /* stream states, freed with the context */
    uint8_t *dgram_buf; /* UDP receive's buffer (one: the instance's calls run one at a time) */
    size_t nops;        /* UDP sends and receives under way (at most P3S_MAX_OPS) */
} p3s_ctx;

/* ---- shared by sockets.c, sockets_tcp.c, sockets_udp.c ---- */

/* A new socket of family af (AF_INET/AF_INET6), TCP or UDP, non-blocking, in c's table:
 * its rep, or 0 with *ecode. */
uint32_t p3s_sock_new(p3s_ctx *c, int af, int udp, uint32_t *ecode);
/* Puts an existing fd (an accepted connection, taken with ks_fd_take) in the table: its
 * rep, 0 when full (fd then closed). */
uint32_t p3s_sock_adopt(p3s_ctx *c, int fd, int af, int state);
/* The socket behind rep of kind udp; NULL with cx->err (a forged handle: the caller
 * traps). */
p3s_sock *p3s_sock_get(p3s_ctx *c, kiln_cabi_cx *cx, uint32_t rep, int udp);
void p3s_sock_retain(p3s_sock *s);
void p3s_sock_release(p3s_sock *s);

/* ks_allowed over c's grants. */
int p3s_allowed(p3s_ctx *c, const struct sockaddr_storage *sa, int proto);
/* results: err(error-code ecode) / ok (payload: the ok value or NULL), memory from cx. */
int p3s_err(kiln_cabi_cx *cx, kiln_cval *res, uint32_t ecode);
void p3s_ok(kiln_cval *res, kiln_cval *payload);
/* Traps the guest with msg. */
int p3s_fail(kiln_cabi_cx *cx, const char *msg);

/* A stream's state (receive, send, listen), owned by the context's list. */
struct p3s_io {
    p3s_ctx *c;
    p3s_sock *s; /* a reference */
    kiln_chost_future *done;
    kiln_chost_stream *hs;
    int ended;
    int building, finish_later; /* a finish while its stream is being made waits for it */
    p3s_io *next;
};
/* A new io for s (retained) with its future in *fut (NULL: none). NULL with cx->err. */
p3s_io *p3s_io_new(p3s_ctx *c, p3s_sock *s, kiln_cabi_cx *cx, kiln_cval *fut);
/* Resolves io's future once: ok (ecode 0) or err(error-code ecode). */
void p3s_io_resolve(p3s_io *io, uint32_t ecode);
/* io's stream is over (no more stream ops will come): its future resolves ok unless it
 * did already, its socket reference goes (the socket closes with its last) and io is
 * freed. */
void p3s_io_finish(p3s_io *io);

/* Waits (within the guest's time limit) until fd is ready for events; -1 interrupted. */
int p3s_wait(int fd, short events, uint64_t ns);

/* The functions of wasi:sockets/types (host.h's kiln_chost_fn; the table is sockets.c's). */
typedef int p3s_fn(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
/* sockets_tcp.c */
p3s_fn p3s_tcp_create, p3s_tcp_bind, p3s_tcp_connect, p3s_tcp_listen, p3s_tcp_send, p3s_tcp_receive,
    p3s_tcp_local, p3s_tcp_remote, p3s_tcp_is_listening, p3s_tcp_family, p3s_tcp_set_backlog,
    p3s_tcp_get_keepalive, p3s_tcp_set_keepalive, p3s_tcp_get_idle, p3s_tcp_set_idle,
    p3s_tcp_get_interval, p3s_tcp_set_interval, p3s_tcp_get_count, p3s_tcp_set_count,
    p3s_tcp_get_hop, p3s_tcp_set_hop, p3s_tcp_get_rcvbuf, p3s_tcp_set_rcvbuf, p3s_tcp_get_sndbuf,
    p3s_tcp_set_sndbuf;
/* sockets_udp.c */
p3s_fn p3s_udp_create, p3s_udp_bind, p3s_udp_connect, p3s_udp_disconnect, p3s_udp_send,
    p3s_udp_receive, p3s_udp_local, p3s_udp_remote, p3s_udp_family, p3s_udp_get_hop,
    p3s_udp_set_hop, p3s_udp_get_rcvbuf, p3s_udp_set_rcvbuf, p3s_udp_get_sndbuf, p3s_udp_set_sndbuf;

/* Socket options shared by TCP and UDP (sockets_tcp.c): the getter answers
 * result<u64 | u8, error-code>, the setter result<_, error-code>. */
int p3s_get_buf(p3s_sock *s, int opt, kiln_cabi_cx *cx, kiln_cval *res);
int p3s_set_buf(p3s_sock *s, int opt, uint64_t v, kiln_cabi_cx *cx, kiln_cval *res);
int p3s_get_hop(p3s_sock *s, kiln_cabi_cx *cx, kiln_cval *res);
int p3s_set_hop(p3s_sock *s, uint64_t v, kiln_cabi_cx *cx, kiln_cval *res);
/* bind of s to the address args[1] for proto (the grant checked): 0 or an error-code. */
uint32_t p3s_bind_common(p3s_sock *s, const kiln_cval *args, int proto);
/* result<ip-socket-address, error-code> of getsockname (remote 0) / getpeername. */
int p3s_get_addr(p3s_sock *s, int remote, kiln_cabi_cx *cx, kiln_cval *res);

#endif
