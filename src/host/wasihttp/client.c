/* client.c — the HTTP/1.1 client behind wasi:http/outgoing-handler (design in outbound.h):
 * transfers that never block, their request bodies whole or streamed, TLS through OpenSSL
 * (ALPN: an h2 connection and its requests go to client_h2.c); the pool of idle
 * connections, the TLS context and the limits are client_conn.c's. */
#include "engine/fiber.h"
#include "host/wasihttp/client_conn.h"
#include "host/wasihttp/client_h2.h"
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- transfers ---- */

/* Transfers alive in the process, and how many may be (half the descriptor limit): a guest
 * that opens requests without end gets connection-limit-reached, not the server's fds. */
static atomic_long live_xfers;
static long max_xfers;
static pthread_once_t max_once = PTHREAD_ONCE_INIT;

static void max_init(void)
{
    struct rlimit rl;
    long n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                 ? (long)(rl.rlim_cur / 2)
                 : 4096;
    max_xfers = n < 16 ? 16 : n;
}

enum {
    ST_PERMIT, /* waiting for the component's outbound limit to let it start */
    ST_CONNECT,
    ST_TLS,
    ST_WAIT_BODY,
    ST_SEND,
    ST_HEAD,
    ST_H2WAIT, /* another transfer dials the origin, which may speak HTTP/2: wait for it */
    ST_H2,     /* a stream on an HTTP/2 connection (client_h2.c), before its head */
    ST_LOCAL,
    ST_BODY,
    ST_DONE,
    ST_FAILED
};

/* How often a request waiting for a permit looks again (client_conn.c's limits). */
#define PERMIT_POLL_NS (2ull * 1000000u)

enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct wh_xfer {
    int refs;
    int st;
    uint32_t ecode;
    wh_target target;
    char key[WH_HOST_MAX + 16];
    wh_conn c;
    int reused;  /* c came from the pool */
    int got_any; /* a response byte arrived on c */
    struct addrinfo *addrs, *next_addr;
    uint64_t connect_ns, first_byte_ns, between_ns;
    uint64_t deadline; /* of the current phase (UINT64_MAX: none) */
    int want_fd;
    short want_ev;
    /* request */
    kiln_buf head; /* head lines, without the blank line */
    int has_body, body_ready, head_only;
    long long cl;
    kiln_buf out; /* what is sent: head + blank line + body */
    size_t out_off;
    /* response */
    kiln_buf in; /* bytes received, in_off of them consumed */
    size_t in_off;
    uint16_t status;
    wh_fields *headers;
    int body_mode, keep_alive, peer_eof;
    uint64_t body_left; /* BODY_LENGTH: bytes still to come; chunked: of this chunk */
    int chunk_st;
    /* in-process (wh_xfer_local): the response is fed by the producer, efd signals it */
    int local, efd, dispatched;
    wh_local_dispatch dispatch;
    void *dispatch_arg;
    void (*arg_free)(void *);
    wh_limit *limit; /* the component's (NULL: none) */
    int permit;      /* one of limit's permits is held */
    /* HTTP/2 (client_h2.h): the request goes (h2) or went (h2s) to an HTTP/2 connection */
    int h2, dialer, h2_retries; /* dialer: this transfer dials the origin for the others */
    h2_stream *h2s;
    size_t body_at;        /* where the body starts in out */
    uint64_t h2wait_until; /* ST_H2WAIT's deadline */
    /* a streamed request body (spec.stream; design in outbound.h) */
    int stream, ended; /* ended: the guest's end came (wh_xfer_end) */
    int framed;        /* the head is in out: 1 for HTTP/1.1, 2 for an HTTP/2 stream */
    int chunked;       /* framed with transfer-encoding: chunked */
    int terminated;    /* the end (last chunk, trailers) is queued */
    int up_done;       /* ... and all of it went to the connection */
    int out_trimmed;   /* sent bytes were dropped from out: it cannot be sent again */
    int h2_fed;        /* body bytes went to the HTTP/2 stream */
    uint64_t written;  /* body bytes taken */
    kiln_buf raw;      /* taken, not yet framed into out (or given to the HTTP/2 stream) */
    wh_fields *trailers;
    uint64_t wdeadline; /* a blocked write of the body fails after (UINT64_MAX: none) */
    /* the response's trailers (chunked trailer section, or HTTP/2's last HEADERS) */
    wh_fields *rtrailers;
    size_t tr_size; /* bytes of the trailer section so far */
};

/* Gives back x's permit (once). */
static void permit_put(wh_xfer *x)
{
    if (!x->permit) return;
    x->permit = 0;
    wh_permit_give(x->limit);
}

/* The origin's dial (wh_h2_dial_begin) ended as h2 says, when this transfer was its dialer. */
static void dial_end(wh_xfer *x, int h2)
{
    if (!x->dialer) return;
    x->dialer = 0;
    wh_h2_dial_end(x->key, h2);
}

static void fail(wh_xfer *x, uint32_t ecode)
{
    if (x->st == ST_FAILED || x->st == ST_DONE) return;
    permit_put(x);
    dial_end(x, -1);
    x->st = ST_FAILED;
    x->ecode = ecode;
    wh_conn_close(&x->c);
    wh_h2_close(x->h2s);
    x->h2s = NULL;
}

void wh_xfer_retain(wh_xfer *x)
{
    x->refs++;
}

void wh_xfer_release(wh_xfer *x)
{
    if (!x || --x->refs > 0) return;
    atomic_fetch_sub(&live_xfers, 1);
    permit_put(x);
    dial_end(x, -1);
    wh_conn_close(&x->c);
    wh_h2_close(x->h2s); /* before its eventfd closes */
    if (x->efd >= 0) close(x->efd);
    if (x->arg_free) x->arg_free(x->dispatch_arg);
    if (x->addrs) freeaddrinfo(x->addrs);
    kiln_buf_free(&x->head);
    kiln_buf_free(&x->out);
    kiln_buf_free(&x->in);
    kiln_buf_free(&x->raw);
    wh_fields_free(x->headers);
    wh_fields_free(x->trailers);
    wh_fields_free(x->rtrailers);
    kiln_free(x);
}

typedef struct resolve_job {
    const wh_target *t;
    struct addrinfo *res;
    int rc;
} resolve_job;

static void resolve_run(void *arg)
{
    resolve_job *j = arg;
    char host[WH_HOST_MAX + 3], port[8];
    const char *h = j->t->host;
    if (j->t->ip == 6) { /* strip the brackets */
        size_t n = strlen(h);
        memcpy(host, h + 1, n - 2);
        host[n - 2] = '\0';
        h = host;
    }
    snprintf(port, sizeof port, "%u", (unsigned)j->t->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = j->t->ip ? AI_NUMERICHOST : 0; /* (no AI_ADDRCONFIG: loopback-only hosts) */
    j->rc = getaddrinfo(h, port, &hints, &j->res);
}

/* Resolves the target (names on the offload pool: the fiber parks; IP literals at once).
 * 0, or -1 after fail(). */
static int resolve(wh_xfer *x)
{
    resolve_job j = {&x->target, NULL, 0};
    if (x->target.ip)
        resolve_run(&j);
    else if (kiln_offload(resolve_run, &j) != KILN_WAIT_OK) {
        if (j.res) freeaddrinfo(j.res);
        fail(x, WH_E_CONNECTION_TIMEOUT);
        return -1;
    }
    if (j.rc != 0) {
        fail(x, j.rc == EAI_NONAME ? WH_E_DESTINATION_NOT_FOUND : WH_E_DNS_ERROR);
        return -1;
    }
    x->addrs = x->next_addr = j.res;
    return 0;
}

/* Starts a non-blocking connect to the next address: 0 (in progress or done), or -1 after
 * fail() when no address is left. last_err: why the previous one failed (0: none). */
static int connect_next(wh_xfer *x, int last_err)
{
    while (x->next_addr) {
        struct addrinfo *a = x->next_addr;
        x->next_addr = a->ai_next;
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last_err = errno;
            close(fd);
            continue;
        }
        x->c.fd = fd;
        x->st = ST_CONNECT;
        x->deadline = now_ns() + x->connect_ns;
        return 0;
    }
    fail(x, last_err == ECONNREFUSED ? WH_E_CONNECTION_REFUSED
            : last_err == ETIMEDOUT  ? WH_E_CONNECTION_TIMEOUT
                                     : WH_E_DESTINATION_UNAVAILABLE);
    return -1;
}

/* How long a transfer waits for another's dial of the same origin before it dials too (the
 * dialer progresses only when its own guest looks at it: one that waits on another request
 * first must not wait for ever). */
#define H2_WAIT_NS (3000ull * 1000000u)

/* Gets a connection: a pooled one, else room on an HTTP/2 connection to the origin, else
 * DNS and a new connect (or, while another transfer dials the origin over TLS, a wait for
 * it: ST_H2WAIT). 0, or -1 after fail(). */
static int open_conn(wh_xfer *x, int allow_pool)
{
    if (allow_pool && wh_pool_take(x->key, &x->c)) {
        x->reused = 1;
        x->st = ST_WAIT_BODY;
        return 0;
    }
    x->reused = 0;
    if (x->target.https && !x->dialer && x->framed != 1) {
        if (wh_h2_has_room(x->key)) {
            x->h2 = 1;
            x->st = ST_WAIT_BODY;
            return 0;
        }
        int d = wh_h2_dial_begin(x->key);
        if (d == 0) {
            x->st = ST_H2WAIT;
            x->h2wait_until = now_ns() + (x->connect_ns < H2_WAIT_NS ? x->connect_ns : H2_WAIT_NS);
            return 0;
        }
        x->dialer = d == 1;
    }
    if (!x->addrs && resolve(x) < 0) return -1;
    x->next_addr = x->next_addr ? x->next_addr : x->addrs;
    return connect_next(x, 0);
}

/* A new transfer for spec (one reference), counted against the process's limit; NULL
 * with *ecode. */
static wh_xfer *xfer_new(const wh_xfer_spec *s, uint32_t *ecode)
{
    pthread_once(&max_once, max_init);
    if (atomic_fetch_add(&live_xfers, 1) >= max_xfers) {
        atomic_fetch_sub(&live_xfers, 1);
        *ecode = WH_E_CONNECTION_LIMIT_REACHED;
        return NULL;
    }
    wh_xfer *x = kiln_calloc(1, sizeof *x);
    if (!x) {
        atomic_fetch_sub(&live_xfers, 1);
        *ecode = WH_E_INTERNAL;
        return NULL;
    }
    x->refs = 1;
    x->target = *s->target;
    wh_target_key(&x->target, x->key, sizeof x->key);
    x->c.fd = -1;
    x->efd = -1;
    x->connect_ns = s->connect_ns ? s->connect_ns : WH_CONNECT_TIMEOUT_NS;
    x->first_byte_ns = s->first_byte_ns ? s->first_byte_ns : WH_FIRST_BYTE_TIMEOUT_NS;
    x->between_ns = s->between_bytes_ns ? s->between_bytes_ns : WH_BETWEEN_BYTES_TIMEOUT_NS;
    x->has_body = s->body;
    x->stream = s->body && s->stream;
    x->deadline = x->wdeadline = UINT64_MAX;
    x->head_only = s->head_only;
    x->cl = s->cl;
    x->head = (kiln_buf)KILN_BUF_INIT;
    x->out = (kiln_buf)KILN_BUF_INIT;
    x->in = (kiln_buf)KILN_BUF_INIT;
    x->raw = (kiln_buf)KILN_BUF_INIT;
    return x;
}

wh_xfer *wh_xfer_start(const wh_xfer_spec *s, uint32_t *ecode)
{
    wh_xfer *x = xfer_new(s, ecode);
    if (!x) return NULL;
    if ((x->target.https && !wh_tls_ctx()) || kiln_buf_append(&x->head, s->head, s->head_len) < 0) {
        *ecode = WH_E_INTERNAL;
        wh_xfer_release(x);
        return NULL;
    }
    x->limit = s->limit;
    if (x->limit && x->limit->max == 0) { /* Spin's max_connections = 0: none at all */
        *ecode = WH_E_CONNECTION_LIMIT_REACHED;
        wh_xfer_release(x);
        return NULL;
    }
    if (x->limit && !(x->permit = wh_permit_take(x->limit))) {
        x->st = ST_PERMIT; /* pump_head connects once a permit is free */
        if (!x->has_body) wh_xfer_body(x, "", 0);
        return x;
    }
    if (open_conn(x, 1) < 0 && x->ecode != WH_E_CONNECTION_REFUSED &&
        x->ecode != WH_E_DESTINATION_UNAVAILABLE && x->ecode != WH_E_CONNECTION_TIMEOUT) {
        /* DNS failures are errors of handle itself, as in wasmtime */
        *ecode = x->ecode;
        wh_xfer_release(x);
        return NULL;
    }
    if (x->st != ST_FAILED && !x->has_body) wh_xfer_body(x, "", 0);
    return x;
}

wh_xfer *wh_xfer_local(const wh_xfer_spec *s, wh_local_dispatch dispatch, void *arg,
                       void (*arg_free)(void *), uint32_t *ecode)
{
    wh_xfer *x = xfer_new(s, ecode);
    if (!x) {
        arg_free(arg);
        return NULL;
    }
    x->arg_free = arg_free;
    x->local = 1;
    x->st = ST_LOCAL;
    x->dispatch = dispatch;
    x->dispatch_arg = arg;
    x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (x->efd < 0) {
        *ecode = WH_E_INTERNAL;
        wh_xfer_release(x);
        return NULL;
    }
    if (!x->has_body) wh_xfer_body(x, "", 0);
    return x;
}

/* Wakes whoever waits on a local transfer (its efd). */
static void local_signal(wh_xfer *x)
{
    uint64_t one = 1;
    ssize_t n = write(x->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is saturated, the waiter is woken anyway */
}

int wh_xfer_local_head(wh_xfer *x, uint16_t status, wh_fields *headers)
{
    if (x->st != ST_LOCAL) {
        wh_fields_free(headers);
        return -1;
    }
    x->status = status;
    x->headers = headers;
    x->body_mode = x->head_only ? BODY_NONE : BODY_CLOSE;
    x->st = ST_BODY;
    x->deadline = now_ns() + x->between_ns;
    local_signal(x);
    return 0;
}

int wh_xfer_local_data(wh_xfer *x, const void *data, size_t n)
{
    if (x->st != ST_BODY || x->peer_eof) return -1;
    if (x->body_mode == BODY_NONE || n == 0) return 0;
    if (x->in_off && x->in_off == x->in.len) x->in.len = x->in_off = 0;
    if (kiln_buf_append(&x->in, data, n) < 0) {
        fail(x, WH_E_INTERNAL);
        local_signal(x);
        return -1;
    }
    x->deadline = now_ns() + x->between_ns;
    local_signal(x);
    return 0;
}

void wh_xfer_local_end(wh_xfer *x, uint32_t ecode)
{
    if (ecode)
        fail(x, ecode);
    else if (x->st == ST_BODY)
        x->peer_eof = 1;
    else if (x->st == ST_LOCAL)
        fail(x, WH_E_HTTP_RESPONSE_INCOMPLETE);
    local_signal(x);
}

int wh_xfer_is_gone(const wh_xfer *x)
{
    return x->refs <= 1 || x->st == ST_FAILED;
}

size_t wh_xfer_local_buffered(const wh_xfer *x)
{
    return x->in.len - x->in_off;
}

void wh_xfer_body(wh_xfer *x, const void *data, size_t n)
{
    wh_xfer_body_trailers(x, data, n, NULL);
}

void wh_xfer_body_trailers(wh_xfer *x, const void *data, size_t n, const wh_fields *trailers)
{
    if (x->body_ready || x->st == ST_FAILED || x->stream) return;
    if (!data) {
        fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
        return;
    }
    x->body_ready = 1;
    kiln_buf *o = &x->out;
    o->len = 0;
    if (x->local) { /* the producer gets the body as it is */
        if (x->cl >= 0 && (unsigned long long)x->cl != (unsigned long long)n)
            fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
        else if (n && kiln_buf_append(o, data, n) < 0)
            fail(x, WH_E_INTERNAL);
        return;
    }
    int rc = kiln_buf_append(o, x->head.data, x->head.len);
    if (x->cl >= 0 && (unsigned long long)x->cl != (unsigned long long)n) {
        fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
        return;
    }
    /* trailers need the chunked framing (HTTP/2 sends them as a last HEADERS frame) */
    int chunked = trailers && trailers->n && x->cl < 0 && x->has_body;
    if (chunked && !(x->trailers = wh_fields_clone(trailers))) rc = -1;
    if (rc == 0 && chunked)
        rc = kiln_buf_append(o, "transfer-encoding: chunked\r\n", 28);
    else if (rc == 0 && x->cl < 0 && x->has_body)
        rc = kiln_buf_printf(o, "content-length: %zu\r\n", n);
    if (rc == 0) rc = kiln_buf_append(o, "\r\n", 2);
    x->body_at = o->len;
    if (rc == 0 && n) rc = kiln_buf_append(o, data, n);
    x->chunked = chunked;
    if (rc < 0) fail(x, WH_E_INTERNAL);
}

/* Bytes of a streamed body waiting to go (framed or not). */
static size_t pending_out(const wh_xfer *x)
{
    return x->raw.len + (x->framed == 1 ? x->out.len - x->out_off : 0);
}

/* What wh_xfer_write may take now. */
static size_t room_of(const wh_xfer *x)
{
    size_t p = pending_out(x);
    return p < WH_XFER_BUFFER ? WH_XFER_BUFFER - p : 0;
}

static void kick(wh_xfer *x);
static void pump_head(wh_xfer *x);
static void drain(wh_xfer *x);

long wh_xfer_write(wh_xfer *x, const void *data, size_t n, uint32_t *ecode)
{
    if (x->st == ST_FAILED || !x->stream || x->ended || x->st == ST_DONE) {
        *ecode = x->st == ST_FAILED ? x->ecode : WH_E_CONNECTION_TERMINATED;
        return -1;
    }
    if (x->cl >= 0 && x->written + n > (unsigned long long)x->cl) {
        fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
        *ecode = x->ecode;
        return -1;
    }
    if (x->local) { /* the producer gets the body whole */
        if (x->out.len + n > WH_REQUEST_BODY_MAX)
            fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
        else if (kiln_buf_append(&x->out, data, n) < 0)
            fail(x, WH_E_INTERNAL);
        x->written += n;
        *ecode = x->ecode;
        return x->st == ST_FAILED ? -1 : (long)n;
    }
    size_t k = 0;
    for (int pass = 0; pass < 2 && k == 0; pass++) { /* a full buffer may drain at once */
        size_t room = room_of(x);
        k = n < room ? n : room;
        if (k && kiln_buf_append(&x->raw, data, k) < 0) fail(x, WH_E_INTERNAL);
        x->written += k;
        /* before the head went, the bytes wait for it (a body that ends meanwhile goes
         * with a content-length): check_head and check_send send it */
        if (x->st != ST_FAILED && x->framed) kick(x);
        if (x->st == ST_FAILED) {
            *ecode = x->ecode;
            return -1;
        }
    }
    return (long)k;
}

void wh_xfer_end(wh_xfer *x, wh_fields *trailers, uint32_t ecode)
{
    if (!x->stream || x->ended) {
        wh_fields_free(trailers);
        return;
    }
    x->ended = 1;
    if (ecode)
        fail(x, ecode);
    else if (x->cl >= 0 && x->written != (unsigned long long)x->cl)
        fail(x, WH_E_HTTP_REQUEST_BODY_SIZE);
    if (x->st == ST_FAILED || x->local || x->st == ST_DONE) {
        wh_fields_free(trailers);
        x->body_ready = 1; /* an in-process transfer dispatches it now */
        return;
    }
    x->trailers = trailers;
    kick(x);
}

uint32_t wh_xfer_failed(const wh_xfer *x)
{
    return x->st == ST_FAILED ? x->ecode : 0;
}

int wh_xfer_sent(const wh_xfer *x)
{
    return !x->stream || x->st == ST_FAILED || x->up_done || (x->local && x->ended);
}

/* ---- I/O on the connection ---- */

/* Maps an OpenSSL failure to an error-code case. */
static uint32_t tls_error(wh_xfer *x)
{
    long v = x->c.ssl ? SSL_get_verify_result(x->c.ssl) : X509_V_OK;
    ERR_clear_error();
    return v != X509_V_OK ? WH_E_TLS_CERTIFICATE_ERROR : WH_E_TLS_PROTOCOL_ERROR;
}

/* Result of an SSL call r: 1 done, 0 wait (x->want_ev set), -1 failed. */
static int tls_result(wh_xfer *x, int r)
{
    int e = SSL_get_error(x->c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        x->want_ev = POLLIN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        x->want_ev = POLLOUT;
        return 0;
    }
    return -1;
}

/* Reads into x->in: > 0 bytes, 0 at EOF, -1 nothing yet (x->want_ev set), -2 failed
 * (after fail()). */
static long fill(wh_xfer *x)
{
    if (x->local) { /* nothing to read: the producer appends to x->in */
        uint64_t v;
        ssize_t r = read(x->efd, &v, sizeof v);
        (void)r;
        if (x->peer_eof) return 0;
        x->want_fd = x->efd;
        x->want_ev = POLLIN;
        return -1;
    }
    if (x->in_off && x->in_off == x->in.len) x->in.len = x->in_off = 0;
    if (x->in_off > 65536) { /* compact */
        memmove(x->in.data, x->in.data + x->in_off, x->in.len - x->in_off);
        x->in.len -= x->in_off;
        x->in_off = 0;
    }
    if (kiln_buf_reserve(&x->in, 16384) < 0) {
        fail(x, WH_E_INTERNAL);
        return -2;
    }
    char *p = x->in.data + x->in.len;
    size_t cap = x->in.cap - x->in.len - 1;
    if (x->c.ssl) {
        ERR_clear_error();
        int r = SSL_read(x->c.ssl, p, cap > INT32_MAX ? INT32_MAX : (int)cap);
        if (r > 0) {
            x->in.len += (size_t)r;
            x->in.data[x->in.len] = '\0';
            x->got_any = 1;
            return r;
        }
        int e = SSL_get_error(x->c.ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
            return 0; /* close_notify, or a peer that just closed */
        int w = tls_result(x, r);
        if (w == 0) return -1;
        fail(x, tls_error(x));
        return -2;
    }
    ssize_t r;
    do
        r = recv(x->c.fd, p, cap, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        x->in.len += (size_t)r;
        x->in.data[x->in.len] = '\0';
        x->got_any = 1;
        return r;
    }
    if (r == 0) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        x->want_ev = POLLIN;
        return -1;
    }
    if (errno == ECONNRESET) return 0;
    fail(x, WH_E_CONNECTION_TERMINATED);
    return -2;
}

/* A reused connection failed before any response byte: the peer closed it while idle.
 * Starts again on a new connection (once). 0, or -1 after fail(). */
static int retry_fresh(wh_xfer *x)
{
    wh_conn_close(&x->c);
    x->out_off = 0;
    x->in.len = x->in_off = 0;
    return open_conn(x, 0);
}

/* ---- sending ---- */

/* 1 if a connection that failed may be replaced: a pooled one that failed before any
 * response byte, with the request still whole in out. */
static int can_retry(const wh_xfer *x)
{
    return x->reused && !x->got_any && !x->out_trimmed;
}

/* Writes out[out_off..] without blocking: 1 all of it went, 0 the connection is full
 * (x->want_ev set), -1 the connection broke (the caller fails or retries). A streamed
 * body drops what went from out once out holds more than WH_XFER_BUFFER. */
static int send_out(wh_xfer *x)
{
    while (x->out_off < x->out.len) {
        size_t n = x->out.len - x->out_off;
        const char *p = x->out.data + x->out_off;
        long k;
        if (x->c.ssl) {
            ERR_clear_error();
            int r = SSL_write(x->c.ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r <= 0) return tls_result(x, r) == 0 ? 0 : -1;
            k = r;
        } else {
            k = send(x->c.fd, p, n, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                x->want_ev = POLLOUT;
                return 0;
            }
            if (k < 0) return -1;
        }
        x->out_off += (size_t)k;
        if (x->stream) x->wdeadline = now_ns() + x->between_ns;
        if (x->stream && x->out_off > WH_XFER_BUFFER) { /* keep memory bounded */
            memmove(x->out.data, x->out.data + x->out_off, x->out.len - x->out_off);
            x->out.len -= x->out_off;
            x->out_off = 0;
            x->out_trimmed = 1;
        }
    }
    return 1;
}

/* Gives a streamed body's bytes (and end) to its HTTP/2 stream as its buffer takes them.
 * 1 the end went (now), 0 more to come (x->want_* says for what), -1 after fail(). */
static int upload_h2(wh_xfer *x)
{
    while (x->raw.len) {
        long k = wh_h2_write(x->h2s, x->raw.data, x->raw.len);
        if (k < 0) {
            fail(x, WH_E_CONNECTION_TERMINATED);
            return -1;
        }
        if (k == 0) {
            x->want_fd = x->efd;
            x->want_ev = POLLIN;
            return 0;
        }
        x->h2_fed = 1;
        memmove(x->raw.data, x->raw.data + k, x->raw.len - (size_t)k);
        x->raw.len -= (size_t)k;
    }
    if (!x->ended || x->terminated) return 0;
    if (wh_h2_end(x->h2s, x->trailers) < 0) {
        fail(x, WH_E_INTERNAL);
        return -1;
    }
    x->terminated = x->up_done = 1;
    return 1;
}

/* Sends what it can of a streamed body once its head went (ST_HEAD, ST_BODY): frames
 * what was taken (a chunk, or as is under a content-length), the end when it came, and
 * writes without blocking. 1 all of it went (now), 0 more to come or the connection is
 * full (x->want_ev), -1 after fail(), -2 the connection broke (the caller fails or
 * retries). */
static int upload(wh_xfer *x)
{
    if (!x->stream || x->up_done || !x->framed || x->st == ST_FAILED) return 0;
    if (x->framed == 2) return x->h2s ? upload_h2(x) : 0;
    if (x->out_off == x->out.len) x->wdeadline = now_ns() + x->between_ns;
    int rc = 0;
    if (x->raw.len) {
        rc = x->chunked ? wh_chunk_append(&x->out, x->raw.data, x->raw.len)
                        : kiln_buf_append(&x->out, x->raw.data, x->raw.len);
        x->raw.len = 0;
    }
    if (rc == 0 && x->ended && !x->terminated) {
        if (x->chunked) rc = wh_chunk_end(&x->out, x->trailers);
        x->terminated = 1;
    }
    if (rc < 0) {
        fail(x, WH_E_INTERNAL);
        return -1;
    }
    int r = send_out(x);
    if (r < 0) return -2;
    if (r == 0 || !x->terminated) return 0;
    x->up_done = 1;
    return 1;
}

/* ---- the response head ---- */

/* Finds "\r\n\r\n" in x->in from the consumed offset: the head's length, or 0. */
static size_t head_end(const wh_xfer *x)
{
    const char *p = x->in.data + x->in_off;
    size_t n = x->in.len - x->in_off;
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return i + 4;
    return 0;
}

static int ieq(const char *a, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

/* 1 if the comma-separated list v[0..n) has token tok (any case). */
static int has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (ieq(v + s, e - s, tok)) return 1;
    }
    return 0;
}

/* Parses one response head of len bytes at the consumed offset. 1 a final response
 * (x->status, x->headers, framing set), 0 an interim 1xx one (skipped), -1 after fail(). */
static int parse_head(wh_xfer *x, size_t len)
{
    const char *p = x->in.data + x->in_off, *end = p + len - 2;
    x->in_off += len;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
        p[11] > '9' || (p[12] != ' ' && p[12] != '\r')) {
        fail(x, WH_E_HTTP_PROTOCOL_ERROR);
        return -1;
    }
    int http10 = p[7] == '0';
    uint16_t status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    if (status < 200) return 0;
    wh_fields *f = wh_fields_new();
    if (!f) {
        fail(x, WH_E_INTERNAL);
        return -1;
    }
    long long cl = -1;
    int chunked = 0, te = 0, close_conn = http10, bad = 0;
    for (const char *l = eol + 1; l < end && !bad;) {
        const char *le = memchr(l, '\n', (size_t)(end - l) + 1);
        if (!le) le = end;
        size_t ln = (size_t)(le - l);
        if (ln && l[ln - 1] == '\r') ln--;
        const char *colon = memchr(l, ':', ln);
        if (!colon || colon == l || l[0] == ' ' || l[0] == '\t') {
            bad = 1;
            break;
        }
        size_t nl = (size_t)(colon - l);
        const char *v = colon + 1, *ve = l + ln;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - v);
        if (!wh_name_valid(l, nl)) bad = 1;
        if (ieq(l, nl, "content-length")) {
            long long k = 0;
            if (vl == 0 || vl > 18) bad = 1;
            for (size_t i = 0; i < vl && !bad; i++) {
                if (v[i] < '0' || v[i] > '9') bad = 1;
                k = k * 10 + (v[i] - '0');
            }
            if (cl >= 0 && cl != k) bad = 1;
            cl = k;
        } else if (ieq(l, nl, "transfer-encoding")) {
            te = 1;
            chunked = vl >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0;
        } else if (ieq(l, nl, "connection")) {
            if (has_token(v, vl, "close")) close_conn = 1;
            if (http10 && has_token(v, vl, "keep-alive")) close_conn = 0;
        }
        if (!bad && !wh_name_forbidden(l, nl) && wh_value_valid((const uint8_t *)v, vl) &&
            wh_fields_append(f, l, nl, (const uint8_t *)v, vl) < 0) {
            wh_fields_free(f);
            fail(x, WH_E_INTERNAL);
            return -1;
        }
        l = le + 1;
    }
    if (bad || (te && !chunked)) {
        wh_fields_free(f);
        fail(x, bad ? WH_E_HTTP_PROTOCOL_ERROR : WH_E_HTTP_RESPONSE_TRANSFER_CODING);
        return -1;
    }
    f->immutable = 1;
    x->headers = f;
    x->status = status;
    x->keep_alive = !close_conn;
    if (x->head_only || status == 204 || status == 304) {
        x->body_mode = BODY_NONE;
    } else if (chunked) {
        x->body_mode = BODY_CHUNKED;
        x->chunk_st = CH_SIZE;
    } else if (cl >= 0) {
        x->body_mode = BODY_LENGTH;
        x->body_left = (uint64_t)cl;
    } else {
        x->body_mode = BODY_CLOSE;
        x->keep_alive = 0;
    }
    return 1;
}

/* ---- progress ---- */

/* The transfer must wait (x->want_*): fails it instead when its phase's deadline has
 * passed. The deadline is looked at only when nothing could be done, so a guest that
 * comes back late still gets what arrived in time. */
static void blocked(wh_xfer *x)
{
    if (x->deadline == UINT64_MAX || now_ns() < x->deadline) return;
    int writing = x->st == ST_SEND || (x->stream && !x->up_done && (x->want_ev & POLLOUT));
    fail(x, x->st == ST_CONNECT || x->st == ST_TLS ? WH_E_CONNECTION_TIMEOUT
            : writing                              ? WH_E_CONNECTION_WRITE_TIMEOUT
                                                   : WH_E_CONNECTION_READ_TIMEOUT);
}

/* Puts the head of a body sent as it comes into out, once the connection (HTTP/1.1 or
 * 2) is known: a streamed one gets the guest's content-length or, for a body of unknown
 * length, chunked (a Content-Length when it has ended already, whole in raw, without
 * trailers); a whole body with trailers (wh_xfer_body_trailers) is framed as chunks
 * here. HTTP/2 takes the head and the body as they are. 0, or -1 after fail(). */
static int frame_head(wh_xfer *x)
{
    kiln_buf *o = &x->out;
    int rc = 0;
    x->framed = x->h2 ? 2 : 1;
    if (!x->stream) { /* whole, with trailers: out holds the head and the body */
        if (x->h2) return 0;
        kiln_buf body = KILN_BUF_INIT;
        rc = kiln_buf_append(&body, o->data + x->body_at, o->len - x->body_at);
        o->len = x->body_at;
        if (rc == 0) rc = wh_chunk_append(o, body.data, body.len);
        if (rc == 0) rc = wh_chunk_end(o, x->trailers);
        kiln_buf_free(&body);
    } else {
        o->len = x->out_off = 0;
        x->chunked = 0;
        rc = kiln_buf_append(o, x->head.data, x->head.len);
        if (rc == 0 && !x->h2 && x->cl < 0) {
            if (x->ended && !(x->trailers && x->trailers->n))
                rc = kiln_buf_printf(o, "content-length: %zu\r\n", x->raw.len);
            else {
                x->chunked = 1;
                rc = kiln_buf_append(o, "transfer-encoding: chunked\r\n", 28);
            }
        }
        if (rc == 0) rc = kiln_buf_append(o, "\r\n", 2);
        x->body_at = o->len;
    }
    if (rc < 0) fail(x, WH_E_INTERNAL);
    return rc;
}

/* ---- HTTP/2 (client_h2.c) ---- */

/* Empties x's eventfd (before looking at the stream's state, so no signal is lost). */
static void drain(wh_xfer *x)
{
    uint64_t v;
    ssize_t r = read(x->efd, &v, sizeof v);
    (void)r;
}

/* The body is ready and an HTTP/2 connection has (or had) room: opens the stream (ST_H2),
 * or, the room gone meanwhile, gets another connection. 0 (go on), or -1 after fail(). */
static int h2_start(wh_xfer *x)
{
    if (x->efd < 0 && (x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        fail(x, WH_E_INTERNAL);
        return -1;
    }
    int oom = 0;
    /* a streamed body follows as it comes, trailers after a whole one */
    int more = x->stream || x->trailers;
    x->h2s = wh_h2_open(x->key, x->target.https, x->out.data, x->body_at, x->out.data + x->body_at,
                        x->out.len - x->body_at, more, x->head_only, x->efd, &oom);
    if (!x->h2s) {
        if (oom) {
            fail(x, WH_E_INTERNAL);
            return -1;
        }
        x->h2 = 0;
        x->framed = 0;
        return open_conn(x, 1);
    }
    if (!x->stream && x->trailers && wh_h2_end(x->h2s, x->trailers) < 0) {
        fail(x, WH_E_INTERNAL);
        return -1;
    }
    x->st = ST_H2;
    x->deadline = x->stream ? UINT64_MAX : now_ns() + x->first_byte_ns;
    return 0;
}

/* ST_H2WAIT: the dialling transfer's outcome decides (or, past H2_WAIT_NS, this transfer
 * dials too); meanwhile look again every few ms. 0 (state changed: go on), -1 (wait, or
 * failed). */
static int h2_wait(wh_xfer *x)
{
    if (wh_h2_has_room(x->key)) {
        x->h2 = 1;
        x->st = ST_WAIT_BODY;
        return 0;
    }
    int d = wh_h2_dial_begin(x->key);
    if (d != 0) { /* the dial failed or the origin speaks HTTP/1.1: dial ourselves */
        x->dialer = d == 1;
        x->deadline = UINT64_MAX;
        if (!x->addrs && resolve(x) < 0) return -1;
        x->next_addr = x->addrs;
        return connect_next(x, 0);
    }
    uint64_t now = now_ns();
    if (now >= x->h2wait_until) { /* the dialer is slow (or nobody drives it): dial too */
        x->deadline = UINT64_MAX;
        if (!x->addrs && resolve(x) < 0) return -1;
        x->next_addr = x->addrs;
        return connect_next(x, 0);
    }
    x->want_fd = -1;
    x->deadline = now + PERMIT_POLL_NS < x->h2wait_until ? now + PERMIT_POLL_NS : x->h2wait_until;
    return -1;
}

/* How many times a request the server did not process (GOAWAY, REFUSED_STREAM) is sent
 * again: enough for a fan-out past a server's requests-per-connection limit. */
#define H2_RETRIES 8

/* ST_H2: 1 the head is in (ST_BODY), 0 wait (x->want_*), -1 failed; a stream the server
 * did not process is sent again on another connection (H2_RETRIES times at most). */
static int h2_head(wh_xfer *x)
{
    drain(x);
    int u = upload(x);
    if (u < 0) return -1;
    if (x->stream) /* the first byte is waited for from the request's end */
        x->deadline = u == 1 ? now_ns() + x->first_byte_ns : x->up_done ? x->deadline : UINT64_MAX;
    uint16_t status = 0;
    wh_fields *headers = NULL;
    uint32_t ecode = 0;
    int r = wh_h2_head(x->h2s, &status, &headers, &ecode);
    if (r == 1) {
        x->status = status;
        x->headers = headers;
        x->st = ST_BODY;
        x->deadline = now_ns() + x->between_ns;
        return 0; /* pump_head returns at ST_BODY */
    }
    if (r == -2 && !x->h2_fed && x->h2_retries++ < H2_RETRIES) {
        wh_h2_close(x->h2s);
        x->h2s = NULL;
        x->h2 = 0;
        x->framed = x->terminated = x->up_done = 0;
        return open_conn(x, 1) < 0 ? -1 : 1;
    }
    if (r < 0) {
        fail(x, ecode);
        return -1;
    }
    x->want_fd = x->efd;
    x->want_ev = POLLIN;
    blocked(x);
    return 0;
}

/* Drives the request until the response head is in (or it failed, or must wait: x->want_*
 * and x->deadline then say for what). */
static void pump_head(wh_xfer *x)
{
    for (;;) {
        x->want_fd = x->c.fd;
        x->want_ev = 0;
        if (x->st >= ST_BODY) return;
        switch (x->st) {
        case ST_CONNECT: {
            struct pollfd p = {x->c.fd, POLLOUT, 0};
            if (poll(&p, 1, 0) == 0) {
                x->want_ev = POLLOUT;
                blocked(x);
                return;
            }
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(x->c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err) {
                wh_conn_close(&x->c);
                if (connect_next(x, err) < 0) return;
                continue;
            }
            if (!x->target.https) {
                x->st = ST_WAIT_BODY;
                continue;
            }
            x->c.ssl = SSL_new(wh_tls_ctx());
            if (!x->c.ssl || SSL_set_fd(x->c.ssl, x->c.fd) != 1) {
                fail(x, WH_E_INTERNAL);
                return;
            }
            if (x->target.ip) {
                char ip[WH_HOST_MAX + 3];
                snprintf(ip, sizeof ip, "%s", x->target.host + (x->target.ip == 6));
                if (x->target.ip == 6) ip[strlen(ip) - 1] = '\0';
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(x->c.ssl), ip);
            } else {
                SSL_set_tlsext_host_name(x->c.ssl, x->target.host);
                SSL_set1_host(x->c.ssl, x->target.host);
            }
            x->st = ST_TLS;
            continue;
        }
        case ST_TLS: {
            ERR_clear_error();
            int r = SSL_connect(x->c.ssl);
            if (r == 1) {
                const unsigned char *proto = NULL;
                unsigned plen = 0;
                SSL_get0_alpn_selected(x->c.ssl, &proto, &plen);
                int h2 = plen == 2 && memcmp(proto, "h2", 2) == 0;
                if (h2) { /* the connection is client_h2.c's now; the request a stream */
                    if (wh_h2_adopt(x->key, x->c.fd, x->c.ssl) < 0) {
                        fail(x, WH_E_INTERNAL);
                        return;
                    }
                    x->c.fd = -1;
                    x->c.ssl = NULL;
                    x->h2 = 1;
                }
                dial_end(x, h2);
                x->st = ST_WAIT_BODY;
                continue;
            }
            if (tls_result(x, r) == 0) {
                blocked(x);
                return;
            }
            fail(x, tls_error(x));
            return;
        }
        case ST_WAIT_BODY:
            x->deadline = UINT64_MAX;
            if (x->stream || x->chunked) {     /* the head goes now, the body as it comes */
                if (x->framed == 1 && x->h2) { /* (an HTTP/1.1 retry that found h2) */
                    fail(x, WH_E_CONNECTION_TERMINATED);
                    return;
                }
                if (!x->framed && frame_head(x) < 0) return;
            }
            if (!x->body_ready && !x->stream) {
                x->want_fd = -1;
                return;
            }
            if (x->h2) {
                if (h2_start(x) < 0) return;
                continue;
            }
            x->st = ST_SEND;
            x->out_off = 0;
            x->deadline = now_ns() + x->first_byte_ns; /* a peer that reads nothing */
            continue;
        case ST_SEND: {
            int r = send_out(x);
            if (r == 0) {
                blocked(x);
                return;
            }
            if (r < 0) {
                if (!can_retry(x)) {
                    fail(x, WH_E_CONNECTION_TERMINATED);
                    return;
                }
                if (retry_fresh(x) < 0) return;
                continue;
            }
            x->st = ST_HEAD;
            x->deadline = x->stream ? UINT64_MAX : now_ns() + x->first_byte_ns;
            continue;
        }
        case ST_HEAD: {
            short up_ev = 0; /* a streamed body still going: what its writes wait for */
            if (x->stream && !x->up_done) {
                int u = upload(x);
                if (u == -1) return;
                if (u == -2) {
                    if (!can_retry(x)) {
                        fail(x, WH_E_CONNECTION_TERMINATED);
                        return;
                    }
                    if (retry_fresh(x) < 0) return;
                    continue;
                }
                up_ev = x->want_ev;
                x->want_ev = 0;
                /* the first byte is waited for from the request's end; until then only a
                 * write that cannot go on has a deadline */
                x->deadline = u == 1  ? now_ns() + x->first_byte_ns
                              : up_ev ? x->wdeadline
                                      : UINT64_MAX;
            }
            size_t len = head_end(x);
            if (len > WH_RESPONSE_HEAD_MAX) {
                fail(x, WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE);
                return;
            }
            if (len) {
                int r = parse_head(x, len);
                if (r < 0) return;
                if (r == 0) continue; /* 1xx: the next head follows */
                x->st = ST_BODY;
                x->deadline = now_ns() + x->between_ns;
                return;
            }
            if (x->in.len - x->in_off > WH_RESPONSE_HEAD_MAX) {
                fail(x, WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE);
                return;
            }
            long r = fill(x);
            if (r > 0) continue;
            x->want_ev |= up_ev;
            if (r == -1) blocked(x);
            if (r == -1 || r == -2) return;
            if (can_retry(x)) { /* EOF on a pooled connection */
                if (retry_fresh(x) < 0) return;
                continue;
            }
            fail(x, WH_E_HTTP_RESPONSE_INCOMPLETE);
            return;
        }
        case ST_H2WAIT:
            if (h2_wait(x) < 0) return;
            continue;
        case ST_H2:
            if (h2_head(x) <= 0) return;
            continue;
        case ST_PERMIT:
            if (!(x->permit = wh_permit_take(x->limit))) {
                x->want_fd = -1;
                x->deadline = now_ns() + PERMIT_POLL_NS; /* look again then (not a timeout) */
                return;
            }
            x->deadline = UINT64_MAX;
            if (open_conn(x, 1) < 0) return;
            continue;
        case ST_LOCAL: {
            if (!x->body_ready) {
                x->want_fd = -1;
                x->deadline = UINT64_MAX;
                return;
            }
            if (!x->dispatched) {
                x->dispatched = 1;
                x->deadline = now_ns() + x->first_byte_ns;
                x->dispatch(x, x->dispatch_arg, x->out.data ? x->out.data : "", x->out.len);
                continue; /* it may have answered at once */
            }
            uint64_t v;
            ssize_t r = read(x->efd, &v, sizeof v);
            (void)r;
            x->want_fd = x->efd;
            x->want_ev = POLLIN;
            blocked(x);
            return;
        }
        default:
            return;
        }
    }
}

/* Fills the wait request from x after a pump: 0 (not ready). */
static int want(const wh_xfer *x, int *fd, short *events, uint64_t *deadline)
{
    *fd = x->want_ev ? x->want_fd : -1;
    *events = x->want_ev;
    *deadline = x->deadline;
    return 0;
}

int wh_xfer_check_head(void *arg, int *fd, short *events, uint64_t *deadline)
{
    wh_xfer *x = arg;
    pump_head(x);
    if (x->st >= ST_BODY) return 1;
    return want(x, fd, events, deadline);
}

int wh_xfer_response(wh_xfer *x, uint16_t *status, const wh_fields **headers, uint32_t *ecode)
{
    if (x->st == ST_FAILED && !x->headers) {
        *ecode = x->ecode;
        return -1;
    }
    *status = x->status;
    *headers = x->headers;
    return 0;
}

/* ---- the response body ---- */

/* The body ended: the connection goes back to the pool when it can be reused. */
static void body_done(wh_xfer *x)
{
    x->st = ST_DONE;
    permit_put(x);
    if (x->keep_alive && x->in_off == x->in.len && x->c.fd >= 0 && wh_xfer_sent(x)) {
        memcpy(x->c.key, x->key, sizeof x->key);
        wh_pool_put(&x->c);
    } else
        wh_conn_close(&x->c);
}

/* Consumes framing in x->in until body bytes are available (returns their count, > 0),
 * the body is complete (0, st DONE), more input is needed (0), or it failed (-1). */
static long advance(wh_xfer *x)
{
    for (;;) {
        size_t avail = x->in.len - x->in_off;
        switch (x->body_mode) {
        case BODY_NONE:
            body_done(x);
            return 0;
        case BODY_LENGTH:
            if (x->body_left == 0) {
                body_done(x);
                return 0;
            }
            return (long)(avail < x->body_left ? avail : x->body_left);
        case BODY_CLOSE:
            if (avail) return (long)avail;
            if (x->peer_eof) body_done(x);
            return 0;
        default:
            break;
        }
        const char *p = x->in.data + x->in_off;
        switch (x->chunk_st) {
        case CH_SIZE: {
            size_t used;
            int r = wh_chunk_size_parse(p, avail, &used, &x->body_left);
            if (r < 0) {
                fail(x, WH_E_HTTP_PROTOCOL_ERROR);
                return -1;
            }
            if (r == 0) return 0;
            x->in_off += used;
            x->chunk_st = x->body_left ? CH_DATA : CH_TRAILER;
            continue;
        }
        case CH_DATA:
            if (x->body_left == 0) {
                x->chunk_st = CH_DATA_END;
                continue;
            }
            return (long)(avail < x->body_left ? avail : x->body_left);
        case CH_DATA_END:
            if (avail < 2) return 0;
            if (p[0] != '\r' || p[1] != '\n') {
                fail(x, WH_E_HTTP_PROTOCOL_ERROR);
                return -1;
            }
            x->in_off += 2;
            x->chunk_st = CH_SIZE;
            continue;
        default: { /* trailer lines, up to the empty one */
            const char *nl = memchr(p, '\n', avail);
            if (!nl) {
                if (x->tr_size + avail > WH_RESPONSE_HEAD_MAX) {
                    fail(x, WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE);
                    return -1;
                }
                return 0;
            }
            size_t ln = (size_t)(nl - p);
            x->in_off += ln + 1;
            if (ln == 0 || (ln == 1 && p[0] == '\r')) {
                if (x->rtrailers) x->rtrailers->immutable = 1;
                body_done(x);
                return 0;
            }
            x->tr_size += ln + 1;
            uint32_t e = x->tr_size > WH_RESPONSE_HEAD_MAX ? WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE
                                                           : wh_trailer_parse(&x->rtrailers, p, ln);
            if (e) {
                fail(x, e);
                return -1;
            }
            continue;
        }
        }
    }
}

const wh_fields *wh_xfer_trailers(const wh_xfer *x)
{
    return x->st == ST_DONE ? x->rtrailers : NULL;
}

/* After the response head: sends what it can of a streamed request body still going
 * (x->want_* say what for, when it must wait). What its writes wait for (0: nothing);
 * x->st ST_FAILED when it failed (a write blocked past its deadline included). */
static short upload_body(wh_xfer *x)
{
    if (!x->stream || x->up_done || x->st != ST_BODY) return 0;
    int u = upload(x);
    if (u == -2) fail(x, WH_E_CONNECTION_TERMINATED);
    if (u != 0 || !x->want_ev) return 0;
    if (x->framed == 1 && now_ns() >= x->wdeadline) {
        fail(x, WH_E_CONNECTION_WRITE_TIMEOUT);
        return 0;
    }
    short ev = x->want_ev;
    x->want_ev = 0;
    return ev;
}

void kick(wh_xfer *x)
{
    x->want_fd = x->framed == 2 ? x->efd : x->c.fd;
    x->want_ev = 0;
    if (x->st < ST_BODY) {
        pump_head(x);
        return;
    }
    if (x->framed == 2) drain(x);
    short ev = upload_body(x);
    x->want_ev = ev;
}

int wh_xfer_check_send(void *arg, int *fd, short *events, uint64_t *deadline)
{
    wh_xfer *x = arg;
    if (!x->stream || x->ended || x->local || x->st == ST_FAILED || x->st == ST_DONE || room_of(x))
        return 1;
    kick(x);
    if (x->st == ST_FAILED || x->st == ST_DONE || room_of(x)) return 1;
    *fd = x->want_ev ? x->want_fd : -1;
    *events = x->want_ev;
    *deadline = x->st < ST_BODY ? x->deadline : x->framed == 1 ? x->wdeadline : UINT64_MAX;
    return 0;
}

/* Makes body progress without blocking: > 0 bytes available, 0 at the end (ST_DONE), -1
 * waiting (x->want_*), -2 failed. */
static long body_pump(wh_xfer *x)
{
    for (;;) {
        x->want_fd = x->c.fd;
        x->want_ev = 0;
        short up_ev = upload_body(x);
        if (x->st == ST_FAILED) return -2;
        if (x->st == ST_DONE) return 0;
        long a = advance(x);
        if (a < 0) return -2;
        if (a > 0 || x->st == ST_DONE) return a;
        long r = fill(x);
        if (r == -2) return -2;
        if (r == -1) {
            x->want_ev |= up_ev;
            blocked(x);
            return x->st == ST_FAILED ? -2 : -1;
        }
        x->deadline = now_ns() + x->between_ns;
        if (r == 0) {
            if (x->body_mode != BODY_CLOSE) {
                fail(x, WH_E_HTTP_RESPONSE_INCOMPLETE);
                return -2;
            }
            x->peer_eof = 1;
        }
    }
}

int wh_xfer_check_body(void *arg, int *fd, short *events, uint64_t *deadline)
{
    wh_xfer *x = arg;
    if (x->st < ST_BODY) return 1; /* no body stream before the head */
    if (x->h2s && x->st == ST_BODY) {
        drain(x);
        upload_body(x);
        if (x->st == ST_FAILED || wh_h2_readable(x->h2s)) return 1;
        x->want_fd = x->efd;
        x->want_ev = POLLIN;
        blocked(x);
        return x->st == ST_FAILED ? 1 : want(x, fd, events, deadline);
    }
    if (body_pump(x) != -1) return 1;
    return want(x, fd, events, deadline);
}

long wh_xfer_read(void *arg, void *buf, size_t cap, int *eof, int *err)
{
    wh_xfer *x = arg;
    *eof = 0;
    if (x->h2s && x->st == ST_BODY) {
        uint32_t ecode = WH_E_HTTP_PROTOCOL_ERROR;
        long r = wh_h2_read(x->h2s, buf, cap, eof, &ecode);
        if (r > 0) x->deadline = now_ns() + x->between_ns;
        if (r < 0) {
            fail(x, ecode);
            *err = EPROTO;
            return -1;
        }
        if (*eof) { /* the stream is done: its connection serves others */
            wh_fields_free(x->rtrailers);
            x->rtrailers = wh_h2_trailers(x->h2s);
            x->st = ST_DONE;
            permit_put(x);
            wh_h2_close(x->h2s);
            x->h2s = NULL;
        }
        return r;
    }
    long a = x->st < ST_BODY ? -2 : body_pump(x);
    if (a == -1) return 0;
    if (a == -2) {
        *err = x->ecode == WH_E_CONNECTION_READ_TIMEOUT ? ETIMEDOUT : EPROTO;
        return -1;
    }
    if (a == 0) {
        *eof = 1;
        return 0;
    }
    size_t n = (size_t)a < cap ? (size_t)a : cap;
    memcpy(buf, x->in.data + x->in_off, n);
    x->in_off += n;
    if (x->body_mode == BODY_LENGTH || x->body_mode == BODY_CHUNKED) x->body_left -= n;
    return (long)n;
}
