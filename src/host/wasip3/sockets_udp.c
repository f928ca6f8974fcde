/* sockets_udp.c — wasi:sockets/types' udp-socket (sockets.h). send and receive are
 * async: lowered async, a socket not ready makes them pending host calls whose fire
 * waits on it in slices. */
#include "host/wasip3/sockets.h"
#include "util/alloc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The largest datagram (IPv4's UDP payload limit; IPv6 jumbograms are not sent). */
#define MAX_DATAGRAM 65507u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static p3s_sock *udp(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    return p3s_sock_get(ctx, cx, args[0].res.rep, 1);
}

int p3s_udp_create(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    int af = ks_af_of(args[0].var.disc);
    uint32_t ecode = KS_E_NOT_SUPPORTED;
    uint32_t rep = af < 0 ? 0 : p3s_sock_new(ctx, af, 1, &ecode);
    if (!rep) return p3s_err(cx, res, ecode);
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v) return p3s_fail(cx, "out of memory");
    memset(v, 0, sizeof *v);
    v->res.rep = rep;
    p3s_ok(res, v);
    return 0;
}

int p3s_udp_bind(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    uint32_t e = p3s_bind_common(s, args, KS_UDP);
    if (e) return p3s_err(cx, res, e);
    p3s_ok(res, NULL);
    return 0;
}

/* 0 when the socket is bound now (the kernel's implicit bind to an ephemeral port
 * happens on connect and send; the state follows it). */
static void note_bound(p3s_sock *s)
{
    if (s->state == P3S_UNBOUND) s->state = P3S_BOUND;
}

int p3s_udp_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    struct sockaddr_storage sa;
    socklen_t len;
    if (ks_addr_from_cval(&args[1], &sa, &len) < 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    int bad = ks_addr_check(&sa, s->family, 1);
    if (bad >= 0) return p3s_err(cx, res, (uint32_t)bad);
    if (!p3s_allowed(ctx, &sa, KS_UDP)) return p3s_err(cx, res, KS_E_ACCESS_DENIED);
    if (connect(s->fd, (const struct sockaddr *)&sa, len) < 0)
        return p3s_err(cx, res, ks_errno_code(errno));
    s->udp_connected = 1;
    s->remote = sa;
    note_bound(s);
    p3s_ok(res, NULL);
    return 0;
}

int p3s_udp_disconnect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    if (!s->udp_connected) return p3s_err(cx, res, KS_E_INVALID_STATE);
    struct sockaddr_storage un;
    memset(&un, 0, sizeof un);
    un.ss_family = AF_UNSPEC;
    if (connect(s->fd, (const struct sockaddr *)&un, sizeof un) < 0 && errno != EAFNOSUPPORT)
        return p3s_err(cx, res, ks_errno_code(errno));
    s->udp_connected = 0;
    p3s_ok(res, NULL);
    return 0;
}

/* ---- send ---- */

typedef struct dgram_op {
    p3s_sock *s;
    uint8_t *data; /* send: a copy of the datagram */
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen; /* 0: the connected peer */
} dgram_op;

/* A new op on s (retained), counted against the instance's P3S_MAX_OPS: NULL when past
 * it or out of memory. */
static dgram_op *op_new(p3s_sock *s)
{
    if (s->c->nops >= P3S_MAX_OPS) return NULL;
    dgram_op *o = kiln_calloc(1, sizeof *o);
    if (!o) return NULL;
    o->s = s;
    p3s_sock_retain(s);
    s->c->nops++;
    return o;
}

static void op_free(dgram_op *o)
{
    o->s->c->nops--;
    p3s_sock_release(o->s);
    kiln_free(o->data);
    kiln_free(o);
}

/* One try: 1 sent (*ecode 0) or failed (*ecode), 0 not ready. */
static int send_try(dgram_op *o, uint32_t *ecode)
{
    ssize_t k;
    do
        k = o->tolen ? sendto(o->s->fd, o->data, o->len, MSG_NOSIGNAL,
                              (const struct sockaddr *)&o->to, o->tolen)
                     : send(o->s->fd, o->data, o->len, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    *ecode = k < 0 ? ks_errno_code(errno) : 0;
    note_bound(o->s);
    return 1;
}

/* Completes pending p with ok or err(ecode). */
static void complete_unit(kiln_chost_pending *p, uint32_t ecode)
{
    kiln_cabi_cx *cx = kiln_chost_pending_cx(p);
    kiln_cval *res = kiln_chost_pending_results(p);
    if (ecode ? p3s_err(cx, res, ecode) : (p3s_ok(res, NULL), 0)) {
        kiln_chost_pending_fail(p, cx->err);
        return;
    }
    kiln_chost_complete(p);
}

static void send_fire(kiln_chost_pending *p, void *arg)
{
    dgram_op *o = arg;
    uint32_t ecode = 0;
    if (!send_try(o, &ecode)) {
        if (p3s_wait(o->s->fd, POLLOUT, P3S_SLICE_NS) < 0 || !send_try(o, &ecode)) {
            kiln_chost_pending_again(p, now_ns());
            return;
        }
    }
    op_free(o);
    complete_unit(p, ecode);
}

static void op_abandon(void *arg)
{
    op_free(arg);
}

int p3s_udp_send(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    if (args[1].str.len > MAX_DATAGRAM) return p3s_err(cx, res, KS_E_DATAGRAM_TOO_LARGE);
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    if (args[2].var.disc == 1) { /* some(remote-address) */
        if (ks_addr_from_cval(args[2].var.payload, &to, &tolen) < 0)
            return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
        int bad = ks_addr_check(&to, s->family, 1);
        if (bad >= 0) return p3s_err(cx, res, (uint32_t)bad);
        if (s->udp_connected) { /* only the connected peer (as connect(2)'s sockets) */
            if (memcmp(&to, &s->remote, tolen) != 0) return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
            tolen = 0;
        } else if (!p3s_allowed(ctx, &to, KS_UDP)) {
            return p3s_err(cx, res, KS_E_ACCESS_DENIED);
        }
    } else if (!s->udp_connected) {
        return p3s_err(cx, res, KS_E_INVALID_ARGUMENT);
    }
    dgram_op *o = op_new(s);
    if (!o) return p3s_err(cx, res, KS_E_OUT_OF_MEMORY);
    if (!(o->data = kiln_malloc(args[1].str.len ? args[1].str.len : 1))) {
        op_free(o);
        return p3s_err(cx, res, KS_E_OUT_OF_MEMORY);
    }
    memcpy(o->data, args[1].str.ptr, args[1].str.len);
    o->len = args[1].str.len;
    o->to = to;
    o->tolen = tolen;
    uint32_t ecode = 0;
    if (send_try(o, &ecode)) {
        op_free(o);
        if (ecode) return p3s_err(cx, res, ecode);
        p3s_ok(res, NULL);
        return 0;
    }
    kiln_chost_later later = {now_ns(), send_fire, op_abandon, o};
    if (kiln_chost_defer(cx, &later)) return KILN_CHOST_PENDING;
    int sent = 0; /* a synchronous call: wait here, within the time limit */
    while (!(sent = send_try(o, &ecode)))
        if (p3s_wait(s->fd, POLLOUT, P3S_SLICE_NS) < 0) break;
    op_free(o);
    if (!sent) return p3s_err(cx, res, KS_E_TIMEOUT);
    if (ecode) return p3s_err(cx, res, ecode);
    p3s_ok(res, NULL);
    return 0;
}

/* ---- receive ---- */

/* One try into res (result<tuple<list<u8>, ip-socket-address>, error-code>): 1 answered,
 * 0 nothing yet, -1 out of memory (cx->err). */
static int recv_try(p3s_sock *s, uint8_t *buf, kiln_cabi_cx *cx, kiln_cval *res)
{
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t k;
    do
        k = recvfrom(s->fd, buf, MAX_DATAGRAM + 1, MSG_DONTWAIT | MSG_TRUNC,
                     (struct sockaddr *)&from, &fl);
    while (k < 0 && errno == EINTR);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (k < 0) return p3s_err(cx, res, ks_errno_code(errno)) < 0 ? -1 : 1;
    if ((size_t)k > MAX_DATAGRAM) return p3s_err(cx, res, KS_E_DATAGRAM_TOO_LARGE) < 0 ? -1 : 1;
    kiln_cval *v = kiln_cabi_alloc(cx, 3 * sizeof *v);
    char *data = kiln_cabi_alloc(cx, k ? (size_t)k : 1);
    if (!v || !data) return p3s_fail(cx, "out of memory");
    memcpy(data, buf, (size_t)k);
    memset(v, 0, 3 * sizeof *v);
    v[0].agg.items = &v[1];
    v[0].agg.n = 2;
    v[1].str.ptr = data;
    v[1].str.len = (size_t)k;
    if (ks_addr_to_cval(&from, cx, &v[2], NULL) < 0) return p3s_fail(cx, "out of memory");
    p3s_ok(res, v);
    return 1;
}

static void recv_fire(kiln_chost_pending *p, void *arg)
{
    dgram_op *o = arg;
    kiln_cabi_cx *cx = kiln_chost_pending_cx(p);
    uint8_t *buf = o->s->c->dgram_buf;
    int r = recv_try(o->s, buf, cx, kiln_chost_pending_results(p));
    if (r == 0 && p3s_wait(o->s->fd, POLLIN, P3S_SLICE_NS) == 0)
        r = recv_try(o->s, buf, cx, kiln_chost_pending_results(p));
    if (r == 0) {
        kiln_chost_pending_again(p, now_ns());
        return;
    }
    op_free(o);
    if (r < 0)
        kiln_chost_pending_fail(p, cx->err);
    else
        kiln_chost_complete(p);
}

int p3s_udp_receive(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    if (s->state == P3S_UNBOUND) return p3s_err(cx, res, KS_E_INVALID_STATE);
    p3s_ctx *c = ctx;
    if (!c->dgram_buf && !(c->dgram_buf = kiln_malloc(MAX_DATAGRAM + 1)))
        return p3s_err(cx, res, KS_E_OUT_OF_MEMORY);
    dgram_op *o = op_new(s);
    if (!o) return p3s_err(cx, res, KS_E_OUT_OF_MEMORY);
    int r = recv_try(s, c->dgram_buf, cx, res);
    if (r == 0) {
        kiln_chost_later later = {now_ns(), recv_fire, op_abandon, o};
        if (kiln_chost_defer(cx, &later)) return KILN_CHOST_PENDING;
    }
    while (r == 0) { /* a synchronous call: wait here, within the time limit */
        if (p3s_wait(s->fd, POLLIN, P3S_SLICE_NS) < 0) {
            r = p3s_err(cx, res, KS_E_TIMEOUT) < 0 ? -1 : 1;
            break;
        }
        r = recv_try(s, c->dgram_buf, cx, res);
    }
    op_free(o);
    return r < 0 ? -1 : 0;
}

/* ---- getters and setters ---- */

int p3s_udp_local(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_get_addr(s, 0, cx, res) : -1;
}

int p3s_udp_remote(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_get_addr(s, 1, cx, res) : -1;
}

int p3s_udp_family(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    if (!s) return -1;
    res[0].var.disc = (uint32_t)ks_family_of(s->family);
    return 0;
}

int p3s_udp_get_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_get_hop(s, cx, res) : -1;
}

int p3s_udp_set_hop(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_set_hop(s, args[1].u, cx, res) : -1;
}

int p3s_udp_get_rcvbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_get_buf(s, SO_RCVBUF, cx, res) : -1;
}

int p3s_udp_set_rcvbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_set_buf(s, SO_RCVBUF, args[1].u, cx, res) : -1;
}

int p3s_udp_get_sndbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_get_buf(s, SO_SNDBUF, cx, res) : -1;
}

int p3s_udp_set_sndbuf(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3s_sock *s = udp(ctx, cx, args);
    return s ? p3s_set_buf(s, SO_SNDBUF, args[1].u, cx, res) : -1;
}
