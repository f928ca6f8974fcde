/* trace.c — request traces: context, the lock-free queue, the OTLP/HTTP exporter thread
 * (see trace.h; the encoders are in trace_otlp.c). */
#include "server/trace.h"
#include "util/alloc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A queue cell (Vyukov's bounded queue: seq says whose turn the cell is). */
typedef struct cell {
    _Atomic size_t seq;
    kiln_trace_record rec;
} cell;

struct kiln_tracer {
    cell *cells;
    size_t mask;               /* capacity - 1 (a power of two) */
    _Atomic size_t enq;        /* producers: next position to claim */
    size_t deq;                /* the exporter's next position (it alone reads) */
    _Atomic uint64_t dropped;  /* spans dropped: queue full, or an export given up */
    _Atomic uint64_t exported; /* spans a receiver accepted */
    size_t batch;              /* records per export */
    unsigned delay_ms, timeout_ms;
    int protobuf;
    char *service, *host, *port, *path, *hostport;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                 /* under mu */
    _Atomic int64_t flush_by; /* once a stop is asked for: the flush's deadline (mono ms) */
};

/* How long the flush at the stop may take (an export under way included). */
#define FLUSH_MS 2000

/* ---- ids and traceparent ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n bytes from 2n lowercase hex digits; -1 if one is not. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int kiln_trace_parse_traceparent(const char *s, size_t n, uint8_t trace_id[16], uint8_t span_id[8],
                                 uint8_t *flags)
{
    uint8_t ver, t[16], sp[8], fl;
    if (!s || n < 55 || unhex(s, &ver, 1) < 0 || ver == 0xff) return -1;
    if (ver == 0 ? n != 55 : n > 55 && s[55] != '-') return -1;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-') return -1;
    if (unhex(s + 3, t, 16) < 0 || unhex(s + 36, sp, 8) < 0 || unhex(s + 53, &fl, 1) < 0) return -1;
    if (all_zero(t, 16) || all_zero(sp, 8)) return -1;
    memcpy(trace_id, t, 16);
    memcpy(span_id, sp, 8);
    *flags = fl;
    return 0;
}

/* This thread's id generator (xorshift128+ seeded from getrandom; a clock-based seed if
 * that fails: ids must be unique, not secret). */
static __thread uint64_t rng[2];

static void random_bytes(uint8_t *out, size_t n)
{
    if (!rng[0] && !rng[1]) {
        if (getrandom(rng, sizeof rng, 0) != (ssize_t)sizeof rng) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rng[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)&ts;
            rng[1] = (uint64_t)ts.tv_sec ^ (uint64_t)pthread_self();
        }
        rng[0] |= 1;
    }
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = rng[0], y = rng[1];
        rng[0] = y;
        x ^= x << 23;
        rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t v = rng[1] + y;
        for (size_t j = 0; j < 8 && i + j < n; j++)
            out[i + j] = (uint8_t)(v >> (8 * j));
    }
    if (all_zero(out, n)) out[n - 1] = 1;
}

static void put_hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
}

void kiln_trace_begin(kiln_trace_ctx *c, const char *tp, size_t n, int64_t start_ns)
{
    uint8_t flags = 1;
    c->has_parent =
        tp && kiln_trace_parse_traceparent(tp, n, c->trace_id, c->parent_id, &flags) == 0;
    if (!c->has_parent) {
        random_bytes(c->trace_id, 16);
        memset(c->parent_id, 0, 8);
        flags = 1;
    }
    c->sampled = flags & 1;
    random_bytes(c->span_id, 8);
    c->start_ns = start_ns;
    memcpy(c->traceparent, "00-", 3);
    put_hex(c->traceparent + 3, c->trace_id, 16);
    c->traceparent[35] = '-';
    put_hex(c->traceparent + 36, c->span_id, 8);
    memcpy(c->traceparent + 52, c->sampled ? "-01" : "-00", 4);
}

const char *kiln_trace_request_traceparent(const kiln_request *req)
{
    return req ? req->traceparent : NULL;
}

/* ---- records and the queue ---- */

/* Copies n bytes of s (NULL: none) into out[cap], truncated, NUL-terminated. */
static void copy_field(char *out, size_t cap, const char *s, size_t n)
{
    if (!s) n = 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(out, s, n);
    out[n] = '\0';
}

void kiln_trace_record_of(kiln_trace_record *rec, const kiln_trace_ctx *c,
                          const kiln_trace_request *r)
{
    memcpy(rec->trace_id, c->trace_id, 16);
    memcpy(rec->span_id, c->span_id, 8);
    memcpy(rec->parent_id, c->parent_id, 8);
    rec->has_parent = c->has_parent;
    rec->client = r->client != 0;
    random_bytes(rec->inst_id, 8);
    random_bytes(rec->exec_id, 8);
    rec->status = r->status;
    rec->fault = r->fault;
    rec->start_ns = c->start_ns;
    rec->end_ns = r->end_ns > c->start_ns ? r->end_ns : c->start_ns;
    rec->inst_start_ns = r->inst_start_ns;
    rec->inst_dur_ns = r->inst_dur_ns > 0 ? r->inst_dur_ns : 0;
    copy_field(rec->method, sizeof rec->method, r->method, r->method_len);
    copy_field(rec->path, sizeof rec->path, r->path, r->path_len);
    copy_field(rec->route, sizeof rec->route, r->route, r->route_len);
    copy_field(rec->host, sizeof rec->host, r->host, r->host_len);
    copy_field(rec->user_agent, sizeof rec->user_agent, r->user_agent, r->user_agent_len);
    const char *pv = r->protocol_version, *comp = r->component, *tk = r->trap_kind;
    copy_field(rec->protocol_version, sizeof rec->protocol_version, pv, pv ? strlen(pv) : 0);
    copy_field(rec->component, sizeof rec->component, comp, comp ? strlen(comp) : 0);
    copy_field(rec->trap_kind, sizeof rec->trap_kind, tk, tk ? strlen(tk) : 0);
}

void kiln_trace_end(kiln_tracer *t, const kiln_trace_ctx *c, const kiln_trace_request *r)
{
    if (!t || !c->sampled) return;
    size_t pos = atomic_load_explicit(&t->enq, memory_order_relaxed);
    cell *cl;
    for (;;) {
        cl = &t->cells[pos & t->mask];
        size_t seq = atomic_load_explicit(&cl->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&t->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            atomic_fetch_add_explicit(&t->dropped, r->inst_start_ns ? 3 : 1, memory_order_relaxed);
            return;
        } else {
            pos = atomic_load_explicit(&t->enq, memory_order_relaxed);
        }
    }
    kiln_trace_record_of(&cl->rec, c, r);
    atomic_store_explicit(&cl->seq, pos + 1, memory_order_release);
    /* a batch is waiting: wake the exporter (a signal without the mutex may be missed;
     * the exporter's timed wait bounds that) */
    if (((pos + 1) & (t->batch - 1)) == 0) pthread_cond_signal(&t->cv);
}

/* The exporter: up to max records from the queue into out; how many. */
static size_t take(kiln_tracer *t, kiln_trace_record *out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        cell *cl = &t->cells[t->deq & t->mask];
        size_t seq = atomic_load_explicit(&cl->seq, memory_order_acquire);
        if (seq != t->deq + 1) break;
        out[n++] = cl->rec;
        atomic_store_explicit(&cl->seq, t->deq + t->mask + 1, memory_order_release);
        t->deq++;
    }
    return n;
}

uint64_t kiln_tracer_dropped_spans(const kiln_tracer *t)
{
    return atomic_load_explicit(&((kiln_tracer *)t)->dropped, memory_order_relaxed);
}

uint64_t kiln_tracer_exported_spans(const kiln_tracer *t)
{
    return atomic_load_explicit(&((kiln_tracer *)t)->exported, memory_order_relaxed);
}

int kiln_tracer_render_metrics(void *ctx, kiln_buf *out)
{
    kiln_tracer *t = ctx;
    return kiln_buf_printf(out,
                           "# HELP kiln_trace_spans_dropped_total Spans not exported: the "
                           "queue was full or the receiver failed.\n"
                           "# TYPE kiln_trace_spans_dropped_total counter\n"
                           "kiln_trace_spans_dropped_total %llu\n"
                           "# HELP kiln_trace_spans_exported_total Spans an OTLP receiver "
                           "accepted.\n"
                           "# TYPE kiln_trace_spans_exported_total counter\n"
                           "kiln_trace_spans_exported_total %llu\n",
                           (unsigned long long)kiln_tracer_dropped_spans(t),
                           (unsigned long long)kiln_tracer_exported_spans(t));
}

/* ---- the exporter ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev or the deadline (monotonic ms) passes, or the flush's
 * deadline once a stop was asked for. 0 or -1. */
static int wait_fd(kiln_tracer *t, int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t by = atomic_load(&t->flush_by);
        int64_t left = (by && by < deadline ? by : deadline) - mono_ms();
        if (left <= 0) return -1;
        struct pollfd p = {fd, ev, 0};
        int rc = poll(&p, 1, left > 100 ? 100 : (int)left);
        if (rc > 0) return 0;
        if (rc < 0 && errno != EINTR) return -1;
    }
}

/* POSTs body to the endpoint: the HTTP status, or -1 when there was no answer (no
 * connection, a timeout). */
static int post(kiln_tracer *t, const kiln_buf *body)
{
    int64_t deadline = mono_ms() + t->timeout_ms;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(t->host, t->port, &hints, &ai) != 0) return -1;
    int fd = -1, status = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        int err = 0;
        socklen_t el = sizeof err;
        if (rc < 0 && (errno != EINPROGRESS || wait_fd(t, fd, POLLOUT, deadline) < 0 ||
                       getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    kiln_buf req = KILN_BUF_INIT;
    int rc =
        kiln_buf_printf(&req,
                        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        t->path, t->hostport,
                        t->protobuf ? "application/x-protobuf" : "application/json", body->len);
    rc |= kiln_buf_append(&req, body->data, body->len);
    size_t off = 0;
    while (rc == 0 && off < req.len) {
        ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            rc = -1;
        else if (wait_fd(t, fd, POLLOUT, deadline) < 0)
            rc = -1;
    }
    char head[64];
    size_t got = 0;
    while (rc == 0 && got < 12) { /* "HTTP/1.1 200" */
        ssize_t n = recv(fd, head + got, sizeof head - 1 - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            rc = -1;
        else if (wait_fd(t, fd, POLLIN, deadline) < 0)
            rc = -1;
    }
    if (rc == 0 && memcmp(head, "HTTP/1.", 7) == 0 && head[8] == ' ') {
        head[got] = '\0';
        status = atoi(head + 9);
    }
    kiln_buf_free(&req);
    close(fd);
    return status;
}

/* Sleeps ms unless a stop is asked for (then at once: 1). */
static int nap(kiln_tracer *t, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&t->mu);
    if (!t->stop) pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    int stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return stop;
}

/* Exports one batch, retrying with backoff (100 ms doubling to 3.2 s; when stopping, only
 * until the flush deadline). Spans of a batch given up are counted as dropped. */
static void export_batch(kiln_tracer *t, const kiln_trace_record *recs, size_t n,
                         int64_t flush_deadline)
{
    size_t spans = 0;
    for (size_t i = 0; i < n; i++)
        spans += recs[i].inst_start_ns ? 3 : 1;
    kiln_buf body = KILN_BUF_INIT;
    int rc = t->protobuf ? kiln_trace_encode_protobuf(recs, n, t->service, &body)
                         : kiln_trace_encode_json(recs, n, t->service, &body);
    unsigned backoff = 100;
    for (int attempt = 0; rc == 0 && attempt < 6; attempt++) {
        int st = post(t, &body);
        if (st >= 200 && st < 300) {
            atomic_fetch_add_explicit(&t->exported, spans, memory_order_relaxed);
            kiln_buf_free(&body);
            return;
        }
        if (st >= 0 && st != 429 && st != 502 && st != 503 && st != 504) break; /* permanent */
        if (flush_deadline && mono_ms() + backoff > flush_deadline) break;
        if (!flush_deadline && nap(t, backoff))
            flush_deadline = atomic_load(&t->flush_by);
        else if (flush_deadline)
            usleep(backoff * 1000);
        backoff = backoff < 3200 ? backoff * 2 : backoff;
    }
    kiln_buf_free(&body);
    atomic_fetch_add_explicit(&t->dropped, spans, memory_order_relaxed);
}

static void *exporter_main(void *arg)
{
    kiln_tracer *t = arg;
    kiln_trace_record *batch = kiln_malloc(t->batch * sizeof *batch);
    int stopping = 0;
    int64_t flush_deadline = 0;
    while (batch) {
        size_t n = take(t, batch, t->batch);
        if (n) export_batch(t, batch, n, flush_deadline);
        if (n == t->batch) continue;
        if (stopping) break;
        if (nap(t, t->delay_ms)) {
            stopping = 1;
            flush_deadline = atomic_load(&t->flush_by);
        }
    }
    kiln_free(batch);
    return NULL;
}

/* ---- configuration ---- */

/* The first of two environment variables that is set and not empty, or NULL. */
static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (!v || !*v) v = b ? getenv(b) : NULL;
    return v && *v ? v : NULL;
}

static unsigned env_uint(const char *name, unsigned dflt, unsigned min, unsigned max)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end || n < min || n > max ? dflt : (unsigned)n;
}

/* Splits "http://HOST[:PORT][/PATH]" into t's host, port, path. 0 or -1. */
static int parse_endpoint(kiln_tracer *t, const char *url, char *err, size_t errlen)
{
    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(err, errlen,
                 "OTLP endpoint %s: https is not supported (send to a local collector over "
                 "http)",
                 url);
        return -1;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "OTLP endpoint %s: not an http:// URL", url);
        return -1;
    }
    const char *a = url + 7, *slash = strchr(a, '/');
    size_t alen = slash ? (size_t)(slash - a) : strlen(a);
    const char *hs = a, *he, *ps = NULL;
    if (alen && a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb) goto bad;
        hs = a + 1;
        he = rb;
        if (rb + 1 < a + alen) {
            if (rb[1] != ':') goto bad;
            ps = rb + 2;
        }
    } else {
        const char *colon = memchr(a, ':', alen);
        he = colon ? colon : a + alen;
        ps = colon ? colon + 1 : NULL;
    }
    if (he == hs) goto bad;
    if (ps && (ps == a + alen || strspn(ps, "0123456789") != (size_t)(a + alen - ps))) goto bad;
    t->host = kiln_strndup(hs, (size_t)(he - hs));
    t->port = ps ? kiln_strndup(ps, (size_t)(a + alen - ps)) : kiln_strdup("80");
    t->hostport = kiln_strndup(a, alen);
    t->path = kiln_strdup(slash ? slash : "/");
    if (!t->host || !t->port || !t->hostport || !t->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "OTLP endpoint %s: not a valid URL", url);
    return -1;
}

static void tracer_free_fields(kiln_tracer *t)
{
    kiln_free(t->cells);
    kiln_free(t->service);
    kiln_free(t->host);
    kiln_free(t->port);
    kiln_free(t->path);
    kiln_free(t->hostport);
    kiln_free(t);
}

int kiln_tracer_from_env(const char *default_service, kiln_tracer **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *off = getenv("OTEL_SDK_DISABLED");
    if (off && strcasecmp(off, "true") == 0) return 0;
    const char *traces = env2("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL);
    const char *base = env2("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
    if (!traces && !base) return 0;
    const char *proto = env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && strcmp(proto, "http/json") != 0 && strcmp(proto, "http/protobuf") != 0) {
        snprintf(err, errlen,
                 "OTEL_EXPORTER_OTLP_PROTOCOL %s: Kiln exports traces with http/json or "
                 "http/protobuf only",
                 proto);
        return -1;
    }
    kiln_tracer *t = kiln_calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->protobuf = proto && strcmp(proto, "http/protobuf") == 0;
    kiln_buf url = KILN_BUF_INIT;
    int rc = traces ? kiln_buf_puts(&url, traces)
                    : kiln_buf_append(&url, base, strlen(base) - (base[strlen(base) - 1] == '/')) |
                          kiln_buf_puts(&url, "/v1/traces");
    if (rc < 0 || parse_endpoint(t, url.data, err, errlen) < 0) {
        if (rc < 0) snprintf(err, errlen, "out of memory");
        kiln_buf_free(&url);
        tracer_free_fields(t);
        return -1;
    }
    kiln_buf_free(&url);
    const char *svc = env2("OTEL_SERVICE_NAME", NULL);
    t->service = kiln_strdup(svc                                   ? svc
                             : default_service && *default_service ? default_service
                                                                   : "kiln");
    unsigned cap = env_uint("OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 1u << 20), c2 = 1;
    while (c2 < cap)
        c2 <<= 1;
    unsigned batch = env_uint("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, c2), b2 = 1;
    while (b2 * 2 <= batch)
        b2 <<= 1; /* a power of two: producers test (pos & (batch - 1)) */
    t->batch = b2;
    t->delay_ms = env_uint("OTEL_BSP_SCHEDULE_DELAY", 1000, 1, 600000);
    t->timeout_ms = env_uint("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 0, 1, 600000);
    if (!t->timeout_ms) t->timeout_ms = env_uint("OTEL_EXPORTER_OTLP_TIMEOUT", 10000, 1, 600000);
    t->mask = c2 - 1;
    t->cells = kiln_calloc(c2, sizeof *t->cells);
    if (!t->service || !t->cells) {
        snprintf(err, errlen, "out of memory");
        tracer_free_fields(t);
        return -1;
    }
    for (size_t i = 0; i < c2; i++)
        atomic_init(&t->cells[i].seq, i);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, exporter_main, t) != 0) {
        snprintf(err, errlen, "cannot start the trace exporter thread");
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        tracer_free_fields(t);
        return -1;
    }
    *out = t;
    return 0;
}

void kiln_tracer_free(kiln_tracer *t)
{
    if (!t) return;
    atomic_store(&t->flush_by, mono_ms() + FLUSH_MS);
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    tracer_free_fields(t);
}
