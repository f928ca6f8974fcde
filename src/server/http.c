/* http.c — the HTTP server on h2o: workers, limits, dispatch, access log (see http.h). */
#include "server/http.h"
#include "server/http1.h"
#include "server/http2.h"
#include "server/loop_sched.h"
#include "server/head.h"
#include "server/observe.h"
#include "util/alloc.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/json.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* Our handler: h2o's handler plus the server configuration. */
typedef struct server_handler {
    h2o_handler_t super;
    const kiln_server_config *cfg;
} server_handler;

typedef struct worker {
    const kiln_server_config *cfg;
    h2o_globalconf_t *config;
    SSL_CTX *ssl;
    int fd;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    pthread_t thread;
    int started;
    h2o_multithread_queue_t *queue; /* handlers' posts from other threads arrive here */
    h2o_multithread_receiver_t receiver;
    kiln_http1_limits limits; /* for HTTP/1.x connections (server/http1.c) */
    size_t inflight;          /* exchanges of this worker whose handler has not finished */
    kiln_loop_sched *sched;   /* fibers parked on this loop */
} worker;

static atomic_int stop_requested, start_failed;

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer: h2o 2.2.5 keeps its per-thread recycling allocators and each context's
 * message queue after h2o_context_dispose; those blocks are the library's, not ours. If
 * another file needs suppressions too, merge them here (the symbol is process-wide). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libh2o-evloop.so\n";
}
#endif

static double ms_between(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_usec - a.tv_usec) / 1e3;
}

/* Appends s (n bytes) with non-printable bytes, spaces and quotes escaped: guest- and
 * client-controlled text never forges log lines. At most `max` bytes are shown. */
static int put_escaped(kiln_buf *b, const char *s, size_t n, size_t max)
{
    int rc = 0;
    for (size_t i = 0; i < n && i < max && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        rc = c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? kiln_buf_putc(b, (char)c)
                                                           : kiln_buf_printf(b, "\\x%02x", c);
    }
    if (rc == 0 && n > max) rc = kiln_buf_puts(b, "...");
    return rc;
}

/* One access-log line: time, method, path, status, bytes, total duration, component,
 * instance start time. Written with one write(2) so that workers' lines do not mix. */
static void access_log(const kiln_server_config *cfg, h2o_req_t *req, int status, size_t bytes,
                       const char *component, double inst_ms)
{
    if (cfg->quiet) return;
    struct timeval now;
    gettimeofday(&now, NULL);
    struct timeval begin = req->timestamps.request_begin_at;
    if (begin.tv_sec == 0) begin = req->processed_at.at;
    struct tm tm;
    time_t secs = now.tv_sec;
    gmtime_r(&secs, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    kiln_buf b = KILN_BUF_INIT;
    int rc = kiln_buf_printf(&b, "%s.%03dZ ", ts, (int)(now.tv_usec / 1000));
    rc |= put_escaped(&b, req->method.base, req->method.len, 32);
    rc |= kiln_buf_putc(&b, ' ');
    rc |= put_escaped(&b, req->path.base, req->path.len, 2048);
    rc |= kiln_buf_printf(&b, " %d %zu %.3fms %s", status, bytes, ms_between(begin, now),
                          component ? component : "-");
    if (inst_ms >= 0)
        rc |= kiln_buf_printf(&b, " start=%.3fms\n", inst_ms);
    else
        rc |= kiln_buf_puts(&b, " start=-\n");
    if (rc == 0) {
        ssize_t n = write(1, b.data, b.len);
        (void)n; /* a full or closed stdout must not stop the server */
    }
    kiln_buf_free(&b);
}

/* Sends a complete response with a known length (never chunked). */
static int respond(const kiln_server_config *cfg, h2o_req_t *req, int status, const char *ctype,
                   const char *body, size_t len, const char *component, double inst_ms)
{
    req->res.status = status;
    req->res.reason = kiln_http_reason(status);
    if (ctype)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    if (status == 204 || status == 304) len = 0;
    req->res.content_length = len;
    kiln_observe_end(cfg, req, NULL, status, len, NULL, NULL);
    access_log(cfg, req, status, len, component, inst_ms);
    h2o_send_inline(req, body ? body : "", len);
    return 0;
}

static int respond_error(const kiln_server_config *cfg, h2o_req_t *req, int status,
                         const char *component)
{
    char body[96];
    int n = snprintf(body, sizeof body, "%d %s\n", status, kiln_http_reason(status));
    return respond(cfg, req, status, "text/plain; charset=utf-8", body, (size_t)n, component, -1);
}

/* Adds a header with a lowercased copy of its name (HTTP/2 requires lowercase). */
static void add_header(h2o_req_t *req, const char *name, size_t nlen, const char *val, size_t vlen)
{
    char *lc = h2o_mem_alloc_pool(&req->pool, nlen + 1);
    for (size_t i = 0; i < nlen; i++)
        lc[i] = (char)tolower((unsigned char)name[i]);
    lc[nlen] = '\0';
    char *v = h2o_mem_alloc_pool(&req->pool, vlen + 1);
    memcpy(v, val, vlen);
    v[vlen] = '\0';
    h2o_add_header_by_str(&req->pool, &req->res.headers, lc, nlen, 1, NULL, v, vlen);
}

/* Answers the reserved /.well-known paths; returns 1 when the path was one of them. */
static int well_known(const kiln_server_config *cfg, h2o_req_t *req, const char *p, size_t len)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(p, lit, len) == 0)
    if (IS("/.well-known/spin/health") || IS("/.well-known/kiln/health")) {
        respond(cfg, req, 200, "text/plain", "OK", 2, "health", -1);
        return 1;
    }
    if (IS("/.well-known/spin/info")) {
        kiln_buf b = KILN_BUF_INIT;
        int rc = kiln_buf_puts(&b, "{\"name\":");
        rc |= kiln_json_write_str(&b, cfg->app_name ? cfg->app_name : "");
        rc |= kiln_buf_puts(&b, ",\"version\":");
        rc |= kiln_json_write_str(&b, cfg->app_version ? cfg->app_version : "");
        rc |= kiln_buf_puts(&b, ",\"server\":\"kiln\"}\n");
        if (rc)
            respond_error(cfg, req, 500, "info");
        else
            respond(cfg, req, 200, "application/json", b.data, b.len, "info", -1);
        kiln_buf_free(&b);
        return 1;
    }
    if (len >= 18 && memcmp(p, "/.well-known/spin/", 18) == 0) {
        respond_error(cfg, req, 404, "-");
        return 1;
    }
    return 0;
#undef IS
}

/* One request between the server and its handler: the neutral request and response
 * (exec/handler.h) over an h2o request. Allocated once per request together with the
 * first chunk of the request's arena. It outlives the h2o request when the client goes
 * away while the handler works (a dispose hook in the request's pool clears `req`), and
 * the h2o request outlives it while h2o still sends the final data: it is freed when both
 * the handler finished and h2o disposed the request. Everything runs on the worker's
 * thread, except post. */
typedef struct exchange {
    kiln_response res;
    kiln_request kreq;
    kiln_body_source body;      /* HTTP/2: over the body h2o buffered */
    kiln_body_source *streamed; /* Kiln's codecs: the connection's (a reference), else NULL */
    void (*release)(kiln_body_source *); /* ... drops that reference */
    kiln_arena arena;
    worker *w;
    h2o_req_t *req;        /* NULL once h2o disposed the request */
    struct req_hook *hook; /* in req's pool: points back here while both live */
    const kiln_server_target *t;
    h2o_generator_t gen;
    h2o_timeout_entry_t flush_timer; /* coalesces writes until the loop runs again */
    h2o_multithread_message_t msg;
    kiln_response_cb posted;
    void *posted_arg;
    kiln_buf queued, sending; /* written, not yet given to h2o / given, not yet acked */
    const char *direct;       /* instead of queued: the first write, copied into the arena */
    size_t direct_len;
    size_t bytes;
    int status;
    unsigned started : 1, h2o_started : 1, in_flight : 1, finished : 1, final_sent : 1, pending : 1,
        aborted : 1,  /* finished broken (res_abort): the final send is an error */
        trailers : 1; /* finished with trailers the connection sends: chunked, no length */
    int busy;         /* inside a call that uses the exchange afterwards: do not free it */
    /* with cfg->tracer: the request's trace (server/trace.h) */
    kiln_trace_ctx trace;
    char request_id[33]; /* kreq.request_id */
    char ip[NI_MAXHOST];
    /* the arena's first chunk: a typical request's memory fits (the WAGI hello's does) */
    _Alignas(max_align_t) char first_chunk[8192];
} exchange;

typedef struct req_hook {
    exchange *ex;
} req_hook;

static __thread worker *current_worker;

static void exchange_free(exchange *ex)
{
    if (ex->hook) ex->hook->ex = NULL;
    if (h2o_timeout_is_linked(&ex->flush_timer)) h2o_timeout_unlink(&ex->flush_timer);
    kiln_buf_free(&ex->queued);
    kiln_buf_free(&ex->sending);
    if (ex->streamed) ex->release(ex->streamed);
    kiln_arena_free(&ex->arena);
    kiln_free(ex);
}

/* Frees the exchange when both sides are done with it (not inside one of our own h2o
 * calls: `busy`). */
static void exchange_maybe_free(exchange *ex)
{
    if (!ex->req && ex->finished && !ex->busy) exchange_free(ex);
}

static void on_req_dispose(void *p)
{
    req_hook *h = p;
    exchange *ex = h->ex;
    if (!ex) return;
    ex->req = NULL;
    ex->hook = NULL;
    if (h2o_timeout_is_linked(&ex->flush_timer)) h2o_timeout_unlink(&ex->flush_timer);
    exchange_maybe_free(ex);
}

/* Gives h2o what was written: all of it, final when the handler finished (an error, which
 * h2o turns into a missing last chunk and a closed connection, or an RST_STREAM, when it
 * aborted). At most one h2o_send is outstanding (h2o calls proceed when it may take more). */
static void flush_out(exchange *ex)
{
    h2o_req_t *req = ex->req;
    if (!req || ex->in_flight || ex->final_sent) return;
    int final = ex->finished;
    if (!ex->queued.len && !ex->direct && !final) return;
    if (!ex->h2o_started) {
        /* everything is known at once: a Content-Length rather than chunks */
        if (final && !ex->aborted && !ex->trailers && ex->res.content_length == SIZE_MAX)
            ex->res.content_length = ex->direct ? ex->direct_len : ex->queued.len;
        if (ex->status == 204 || ex->status == 304) ex->res.content_length = 0;
        req->res.content_length = ex->res.content_length;
        ex->h2o_started = 1;
        h2o_start_response(req, &ex->gen);
    }
    h2o_iovec_t buf;
    if (ex->direct) { /* arena memory: valid until the exchange goes, after h2o is done */
        buf = h2o_iovec_init(ex->direct, ex->direct_len);
        ex->direct = NULL;
    } else {
        kiln_buf t = ex->sending;
        ex->sending = ex->queued;
        ex->queued = t;
        ex->queued.len = 0;
        buf = h2o_iovec_init(ex->sending.data, ex->sending.len);
    }
    ex->in_flight = !final;
    ex->final_sent = final;
    ex->busy++;
    h2o_send(req, &buf, buf.len ? 1 : 0,
             !final        ? H2O_SEND_STATE_IN_PROGRESS
             : ex->aborted ? H2O_SEND_STATE_ERROR
                           : H2O_SEND_STATE_FINAL);
    ex->busy--;
}

static void on_flush_timer(h2o_timeout_entry_t *entry)
{
    exchange *ex = H2O_STRUCT_FROM_MEMBER(exchange, flush_timer, entry);
    flush_out(ex);
    exchange_maybe_free(ex);
}

/* h2o: the previous chunk is out; send what came meanwhile. */
static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    exchange *ex = H2O_STRUCT_FROM_MEMBER(exchange, gen, gen);
    (void)req;
    ex->in_flight = 0;
    ex->sending.len = 0;
    flush_out(ex);
    exchange_maybe_free(ex);
}

/* h2o: the response was aborted (the client went away). */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    exchange *ex = H2O_STRUCT_FROM_MEMBER(exchange, gen, gen);
    (void)req;
    ex->in_flight = 0;
}

static int res_start(kiln_response *res, int status, const kiln_http_header *hs, size_t n)
{
    exchange *ex = (exchange *)res;
    if (ex->started) return -1;
    ex->started = 1;
    ex->status = status;
    h2o_req_t *req = ex->req;
    if (!req) return -1;
    req->res.status = status;
    req->res.reason = kiln_http_reason(status);
    for (size_t i = 0; i < n; i++)
        add_header(req, hs[i].name, hs[i].name_len, hs[i].value, hs[i].value_len);
    return 0;
}

static int res_write(kiln_response *res, const void *data, size_t len)
{
    exchange *ex = (exchange *)res;
    if (!ex->req || !ex->started || ex->finished) return -1;
    if (!len) return 0;
    if (!ex->h2o_started && !ex->queued.len && !ex->direct && len <= 16384) {
        /* the usual whole body in one write: into the arena, no buffer of its own */
        char *p = kiln_arena_alloc(&ex->arena, len);
        if (p) {
            memcpy(p, data, len);
            ex->direct = p;
            ex->direct_len = len;
            ex->bytes += len;
            goto queued;
        }
    }
    if (ex->direct) {
        if (kiln_buf_append(&ex->queued, ex->direct, ex->direct_len) < 0) return -1;
        ex->direct = NULL;
    }
    if (kiln_buf_append(&ex->queued, data, len) < 0) return -1;
    ex->bytes += len;
queued:
    if (!h2o_timeout_is_linked(&ex->flush_timer))
        h2o_timeout_link(ex->w->loop, &ex->w->ctx.zero_timeout, &ex->flush_timer);
    return 0;
}

/* Trailers for req's response, by the connection's codec: 0, or -1 when it cannot send
 * them (h2o's codecs). */
static int kiln_server_set_trailers(h2o_req_t *req, const kiln_http_header *hs, size_t n)
{
    if (kiln_http1_is_ours(req->conn)) return kiln_http1_set_trailers(req, hs, n);
    if (kiln_http2_is_ours(req->conn)) return kiln_http2_set_trailers(req, hs, n);
    return -1;
}

static void res_finish(kiln_response *res, const kiln_http_header *trailers, size_t n)
{
    exchange *ex = (exchange *)res;
    if (ex->finished) return;
    if (!ex->started) res_start(res, 500, NULL, 0);
    /* Kiln's codecs send trailers (HTTP/1.x after the last chunk, HTTP/2 as a last
     * HEADERS); h2o's drop them (h2o 2.2.5 has no API for them) */
    if (n && ex->req && !ex->aborted && kiln_server_set_trailers(ex->req, trailers, n) == 0)
        ex->trailers = 1;
    ex->finished = 1;
    kiln_observe_end(ex->w->cfg, ex->req, ex->t, ex->status,
                     ex->status == 204 || ex->status == 304 ? 0 : ex->bytes, res, &ex->trace);
    if (ex->pending) {
        ex->pending = 0;
        ex->w->inflight--;
    }
    if (ex->req) {
        if (h2o_timeout_is_linked(&ex->flush_timer)) h2o_timeout_unlink(&ex->flush_timer);
        if (ex->status == 204 || ex->status == 304) {
            ex->queued.len = 0;
            ex->direct = NULL;
        }
        if (ex->status == 204 || ex->status == 304) ex->bytes = 0;
        access_log(ex->w->cfg, ex->req, ex->status, ex->bytes, ex->t->component, ex->res.start_ms);
        flush_out(ex);
    }
    exchange_maybe_free(ex);
}

static void res_abort(kiln_response *res)
{
    exchange *ex = (exchange *)res;
    if (ex->started && !ex->finished) ex->aborted = 1;
    res_finish(res, NULL, 0);
}

static int res_gone(kiln_response *res)
{
    return ((exchange *)res)->req == NULL;
}

static int res_post(kiln_response *res, kiln_response_cb cb, void *arg)
{
    exchange *ex = (exchange *)res;
    ex->posted = cb;
    ex->posted_arg = arg;
    h2o_multithread_send_message(&ex->w->receiver, &ex->msg);
    return 0;
}

/* Written but not yet taken by h2o (queued), or handed to it and not yet sent (sending). */
static size_t res_buffered(kiln_response *res)
{
    exchange *ex = (exchange *)res;
    return ex->queued.len + (ex->in_flight ? ex->sending.len : 0) +
           (ex->direct ? ex->direct_len : 0);
}

static const kiln_response_ops exchange_ops = {res_start, res_write,    res_finish, res_post,
                                               res_gone,  res_buffered, res_abort};

/* Worker thread: callbacks that handlers posted from other threads. */
static void on_posted(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        exchange *ex = H2O_STRUCT_FROM_MEMBER(exchange, msg, m);
        ex->posted(&ex->res, ex->posted_arg);
    }
}

/* Fills the neutral view of an h2o request (strings borrowed from req or its pool). */
static void request_of(h2o_req_t *req, size_t path_len, const kiln_route_match *m, exchange *ex)
{
    kiln_request *kr = &ex->kreq;
    memset(kr, 0, sizeof *kr);
    kr->method = req->method.base;
    kr->method_len = req->method.len;
    kr->path = req->path.base;
    kr->path_len = path_len;
    if (req->query_at != SIZE_MAX && req->query_at + 1 <= req->path.len) {
        kr->query = req->path.base + req->query_at + 1;
        kr->query_len = req->path.len - req->query_at - 1;
    }
    if (req->input.authority.len) {
        kr->authority = req->input.authority.base;
        kr->authority_len = req->input.authority.len;
    }
    kr->scheme = req->input.scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
    kr->protocol = req->version >= 0x200   ? "HTTP/2.0"
                   : req->version == 0x100 ? "HTTP/1.0"
                                           : "HTTP/1.1";
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    ex->ip[0] = '\0';
    if (sl > 0 && h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, ex->ip) != SIZE_MAX)
        kr->client_port = h2o_socket_getport((struct sockaddr *)&ss);
    else
        ex->ip[0] = '\0';
    kr->client_ip = ex->ip;
    /* The server port comes from the authority; only without one is the socket asked (a
     * system call per request otherwise). */
    const char *colon = NULL;
    if (kr->authority_len) {
        const char *a = kr->authority, *e = a + kr->authority_len;
        const char *rb = a[0] == '[' ? memchr(a, ']', kr->authority_len) : NULL;
        const char *from = rb ? rb : a;
        colon = memchr(from, ':', (size_t)(e - from));
        if (colon && colon + 1 == e) colon = NULL; /* "host:": no port */
    }
    if (!colon) {
        sl = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss);
        if (sl > 0) kr->server_port = h2o_socket_getport((struct sockaddr *)&ss);
    }
    kiln_http_header *hs = kiln_arena_alloc(&ex->arena, (req->headers.size + 1) * sizeof *hs);
    size_t nh = 0;
    for (size_t i = 0; hs && i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        hs[nh++] = (kiln_http_header){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    kr->headers = hs;
    kr->nheaders = nh;
    kr->route = m;
    ex->streamed = kiln_http1_body(req);
    ex->release = kiln_http1_body_release;
    if (!ex->streamed && (ex->streamed = kiln_http2_body(req)))
        ex->release = kiln_http2_body_release;
    kiln_body_source_buffer(&ex->body, req->entity.base, req->entity.base ? req->entity.len : 0);
    kr->body = ex->streamed ? ex->streamed : &ex->body;
    if (ex->streamed) {
        /* Kiln's codecs: a declared length, or none in advance (chunked, or HTTP/2
         * without content-length) */
        int known = ex->streamed->length_hint != SIZE_MAX;
        kr->chunked = !known && req->version < 0x200;
        kr->has_declared_length = known;
        kr->declared_length = known ? ex->streamed->length_hint : 0;
    } else {
        /* h2o (HTTP/2, or its own HTTP/1 with KILN_H2O_HTTP1=1) keeps a body's framing
         * headers to itself: a body counts as declared with its length */
        kr->has_declared_length = req->entity.base != NULL;
        kr->declared_length = req->entity.base ? req->entity.len : 0;
    }
    kr->arena = &ex->arena;
}

/* Names the request for guest logs: its trace id when traced, else this thread's number
 * and a count (16 hex digits; no atomic operation per request). */
static void request_id(const kiln_server_config *cfg, exchange *ex)
{
    static _Atomic unsigned threads;
    static __thread uint64_t next;
    if (cfg->tracer) {
        memcpy(ex->request_id, ex->trace.traceparent + 3, 32);
        ex->request_id[32] = '\0';
    } else {
        if (!next) next = (uint64_t)(atomic_fetch_add(&threads, 1) + 1) << 40;
        uint64_t v = next++;
        for (int i = 15; i >= 0; i--, v >>= 4)
            ex->request_id[i] = "0123456789abcdef"[v & 15];
        ex->request_id[16] = '\0';
    }
    ex->kreq.request_id = ex->request_id;
}

/* Hands a routed request to its handler; the handler answers now or later. */
static int serve_handler(const kiln_server_config *cfg, h2o_req_t *req, size_t path_len,
                         const kiln_server_target *t, const kiln_route_match *m)
{
    worker *w = current_worker;
    exchange *ex = kiln_malloc(sizeof *ex);
    if (!ex) return respond_error(cfg, req, 500, t->component);
    memset(ex, 0, offsetof(exchange, ip));
    ex->hook = h2o_mem_alloc_shared(&req->pool, sizeof *ex->hook, on_req_dispose);
    ex->hook->ex = ex;
    ex->w = w;
    ex->req = req;
    ex->t = t;
    ex->gen = (h2o_generator_t){on_proceed, on_stop};
    ex->flush_timer.cb = on_flush_timer;
    ex->res = (kiln_response){&exchange_ops, &ex->arena, -1, SIZE_MAX, 0, NULL, 0, 0};
    kiln_arena_init(&ex->arena, ex->first_chunk, sizeof ex->first_chunk);
    request_of(req, path_len, m, ex);
    if (!ex->kreq.headers) {
        ex->finished = 1;
        exchange_free(ex);
        return respond_error(cfg, req, 500, t->component);
    }
    /* counted until finish: the worker waits for these before it stops */
    ex->pending = 1;
    w->inflight++;
    kiln_observe_begin(cfg, t, req, m->route, &ex->trace);
    if (cfg->tracer) ex->kreq.traceparent = ex->trace.traceparent;
    request_id(cfg, ex);
    ex->busy++;
    t->handler->handle(t->handler, &ex->kreq, &ex->res);
    ex->busy--;
    exchange_maybe_free(ex);
    return 0;
}

/* An absolute-form request target ("GET http://host:port/p?q HTTP/1.1", RFC 9112 3.2.2:
 * what clients talking to a proxy send, and what a server must accept): the request
 * continues with the URL's path and query, and the URL's authority replaces the Host
 * header's. -1 if the target is not an http(s) URL with an authority. */
static int absolute_form(h2o_req_t *req)
{
    const char *b = req->path.base;
    size_t n = req->path.len;
    size_t skip = n > 7 && strncasecmp(b, "http://", 7) == 0    ? 7
                  : n > 8 && strncasecmp(b, "https://", 8) == 0 ? 8
                                                                : 0;
    if (!skip) return -1;
    size_t at = skip;
    while (at < n && b[at] != '/' && b[at] != '?' && b[at] != '#')
        at++;
    if (at == skip || (at < n && b[at] == '#')) return -1;
    h2o_iovec_t path = h2o_iovec_init(b + at, n - at);
    if (at == n || b[at] == '?') { /* "http://host" or "http://host?q": the path is "/" */
        char *c = h2o_mem_alloc_pool(&req->pool, n - at + 1);
        c[0] = '/';
        memcpy(c + 1, b + at, n - at);
        path = h2o_iovec_init(c, n - at + 1);
    }
    const char *q = memchr(path.base, '?', path.len);
    req->path = path;
    req->query_at = q ? (size_t)(q - path.base) : SIZE_MAX;
    req->input.authority = h2o_iovec_init(b + skip, at - skip);
    req->authority = req->input.authority;
    return 0;
}

/* h2o's request callback: limits, reserved paths, routing, dispatch. */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    const kiln_server_config *cfg = ((server_handler *)self)->cfg;
    if (req->version < 0x200 && !kiln_http1_is_ours(req->conn)) {
        /* h2o's HTTP/1: the raw head is still at the start of the connection's input
         * buffer (server/http1.c checks its heads itself) */
        h2o_socket_t *sock =
            req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
        if (sock && sock->input && sock->input->size) {
            int st =
                kiln_http1_head_check(sock->input->bytes, sock->input->size, cfg->max_header_size);
            if (st) {
                req->http1_is_persistent = 0;
                return respond_error(cfg, req, st, "-");
            }
        }
    }
    if (req->path.len && req->path.base[0] != '/' && absolute_form(req) < 0)
        return respond_error(cfg, req, 400, "-");
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base;
    if (plen == 0 || p[0] != '/' || memchr(p, '\0', req->path.len))
        return respond_error(cfg, req, 400, "-");
    if (plen >= 12 && memcmp(p, "/.well-known", 12) == 0 && well_known(cfg, req, p, plen)) return 0;
    kiln_route_match m;
    int found = kiln_router_lookup(cfg->router, p, plen, &m);
    if (found < 0) return respond_error(cfg, req, 500, "-");
    if (found == 0) return respond_error(cfg, req, 404, "-");
    const kiln_server_target *t = m.target;
    if (t->handler) {
        serve_handler(cfg, req, plen, t, &m);
    } else {
        for (size_t i = 0; i < t->nheaders; i++)
            add_header(req, t->headers[i].name, t->headers[i].name_len, t->headers[i].value,
                       t->headers[i].value_len);
        kiln_observe_static(t);
        respond(cfg, req, t->status, NULL, t->body, t->body_len, t->component, -1);
        kiln_observe_static(NULL);
    }
    kiln_route_match_free(&m);
    return 0;
}

/* KILN_H2O_HTTP1=1 in the environment: HTTP/1.x by h2o's own codec (whole bodies
 * buffered, no trailers) instead of server/http1.c; for comparison and as a fallback. */
static int use_h2o_http1;

/* h2o's chunked-encoding filter (every path has it): server/http1.c frames its responses
 * itself, so the filter steps aside for its connections. */
static void (*h2o_chunked_setup)(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot);

static void chunked_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (kiln_http1_is_ours(req->conn))
        h2o_setup_next_ostream(req, slot);
    else
        h2o_chunked_setup(self, req, slot);
}

/* server/http1.c answered a request itself (a malformed or oversized one): its log line. */
static void codec_error(void *ctx, h2o_req_t *req, int status, size_t bytes)
{
    if (!req->method.base) req->method = req->input.method; /* not processed: the raw one */
    if (!req->path.base) req->path = req->input.path;
    access_log(ctx, req, status, bytes, "-", -1);
    /* counted as a request no route served (route and component ""; method _OTHER when
     * the head was not parsed), unless a handler had it: its end counts it */
    if (req->pathconf) return;
    if (!req->method.base) req->method = h2o_iovec_init(H2O_STRLIT(""));
    if (!req->path.base) req->path = h2o_iovec_init(H2O_STRLIT(""));
    kiln_observe_static(NULL);
    kiln_observe_end(ctx, req, NULL, status, bytes, NULL, NULL);
}

/* Accepts pending connections on a worker's listening socket. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    worker *w = listener->data;
    if (err) return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) return;
        if (use_h2o_http1)
            h2o_accept(&w->accept_ctx, sock);
        else
            kiln_http1_accept(&w->accept_ctx, sock, &w->limits);
    }
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A worker: its own event loop until a stop is requested, then a graceful drain. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->cfg->thread_init && w->cfg->thread_init() < 0) {
        /* this loop could not run guests: stop the server (main waits in sigwait) */
        fprintf(stderr, "kiln: cannot prepare a worker thread to run guests\n");
        atomic_store(&start_failed, 1);
        close(w->fd); /* no listener takes it over */
        kill(getpid(), SIGTERM);
        return NULL;
    }
    current_worker = w;
    w->loop = h2o_evloop_create();
    /* Guests run on fibers on this loop; waits park them (loop_sched.h). */
    w->sched = kiln_loop_sched_new(w->loop);
    if (!w->sched) {
        fprintf(stderr, "kiln: cannot create a worker's fiber scheduler\n");
        atomic_store(&start_failed, 1);
        close(w->fd);
        h2o_evloop_destroy(w->loop);
        kill(getpid(), SIGTERM);
        return NULL;
    }
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->receiver, on_posted);
    h2o_context_init(&w->ctx, w->loop, w->config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->config->hosts;
    w->accept_ctx.ssl_ctx = w->ssl;
    w->limits = (kiln_http1_limits){w->cfg->max_header_size, w->cfg->max_request_size, codec_error,
                                    (void *)w->cfg};
    w->listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    while (!atomic_load(&stop_requested))
        h2o_evloop_run(w->loop, 100);
    /* stop accepting; h2 connections get GOAWAY; HTTP/1 ones close after their request */
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    h2o_context_request_shutdown(&w->ctx);
    if (!use_h2o_http1) kiln_http1_shutdown(&w->ctx);
    kiln_http2_shutdown(&w->ctx);
    double deadline = mono_ms() + w->cfg->shutdown_timeout_ms;
    while (mono_ms() < deadline &&
           (!h2o_linklist_is_empty(&w->ctx.http1._conns) ||
            !h2o_linklist_is_empty(&w->ctx.http2._conns) || kiln_http2_conns(&w->ctx)))
        h2o_evloop_run(w->loop, 50);
    /* Handlers still working (guests on executor threads) will post back here: wait for
     * them (a guest ends by its request timeout at the latest) before the queue goes away.
     * Guests parked on this loop past the deadline are woken as if their time limit had
     * passed, so that a sleeping guest does not hold the stop. */
    while (w->inflight) {
        if (mono_ms() >= deadline) kiln_loop_sched_interrupt_all(w->sched);
        h2o_evloop_run(w->loop, 50);
    }
    /* The last answers (of guests woken above) are still being written: let their
     * connections finish (they close after it, the context being shut down). */
    double tail = mono_ms() + 2000;
    while (mono_ms() < tail &&
           (!h2o_linklist_is_empty(&w->ctx.http1._conns) ||
            !h2o_linklist_is_empty(&w->ctx.http2._conns) || kiln_http2_conns(&w->ctx)))
        h2o_evloop_run(w->loop, 50);
    kiln_http2_close_all(&w->ctx); /* (past the deadline) */
    kiln_loop_sched_free(w->sched);
    h2o_evloop_run(w->loop, 0); /* let the scheduler's sockets close */
    h2o_multithread_unregister_receiver(w->queue, &w->receiver);
    h2o_multithread_destroy_queue(w->queue);
    /* the HTTP/2 graceful-shutdown timer would trip h2o's dispose assertion */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(w->loop);
    return NULL;
}

int kiln_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
                      size_t errlen)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1]) {
        snprintf(err, errlen, "--listen '%s': expected HOST:PORT", s);
        return -1;
    }
    char *host = kiln_strndup(s, (size_t)(colon - s));
    if (!host) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
    kiln_free(host);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--listen '%s': %s", s, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Creates one non-blocking SO_REUSEPORT listening socket. Returns the fd or -1. */
static int listen_socket(struct sockaddr_storage *ss, unsigned len, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        snprintf(err, errlen, "cannot listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* with port 0 the first socket picks the port and the others share it */
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0) {
        if (ss->ss_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = ((struct sockaddr_in *)&bound)->sin_port;
        else if (ss->ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ss)->sin6_port = ((struct sockaddr_in6 *)&bound)->sin6_port;
    }
    return fd;
}

/* Refuses an address another socket already listens on. The listeners use SO_REUSEPORT
 * (one per loop), which would otherwise let a second server of the same user bind the
 * port silently and take part of its connections. A probe bound without SO_REUSEPORT fails
 * exactly then (SO_REUSEADDR only tolerates sockets in TIME_WAIT). 0 if the address is
 * free (or port 0), else -1 with err set. */
static int address_free(const struct sockaddr_storage *ss, unsigned len, const char *listen,
                        char *err, size_t errlen)
{
    in_port_t port = ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                               : ((const struct sockaddr_in *)ss)->sin_port;
    if (port == 0) return 0;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0) rc = bind(fd, (const struct sockaddr *)ss, len);
    int e = errno;
    close(fd);
    if (rc == 0) return 0;
    if (e == EADDRINUSE)
        snprintf(err, errlen,
                 "--listen %s: the address is already in use (another server, perhaps another "
                 "kiln up, listens there); stop it or choose another port",
                 listen);
    else
        snprintf(err, errlen, "--listen %s: cannot bind: %s", listen, strerror(e));
    return -1;
}

int kiln_server_listen(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned sslen = 0;
    if (kiln_parse_listen(listen, &ss, &sslen, err, errlen) < 0 ||
        address_free(&ss, sslen, listen, err, errlen) < 0)
        return -1;
    return listen_socket(&ss, sslen, err, errlen);
}

/* The listening socket a parent handed down in KILN_LISTEN_FD (kiln watch: the same socket
 * for every generation, so that connections waiting in its accept queue when one
 * generation stops are accepted by the next, never reset). -1 when there is none, -2 when
 * the variable names no listening TCP socket (err set). The fd is made close-on-exec (the
 * compilers kiln starts must not hold it) and the variable is removed. */
static int inherited_listener(struct sockaddr_storage *ss, unsigned *sslen, char *err,
                              size_t errlen)
{
    const char *v = getenv("KILN_LISTEN_FD");
    if (!v) return -1;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    int listening = 0, type = 0;
    socklen_t ol = sizeof listening, tl = sizeof type;
    socklen_t al = sizeof *ss;
    if (!*v || *end || errno || fd < 3 || fd > INT_MAX ||
        getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) < 0 || !listening ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM ||
        getsockname((int)fd, (struct sockaddr *)ss, &al) < 0 ||
        (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) ||
        fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "KILN_LISTEN_FD=%s: not a listening TCP socket", v);
        return -2;
    }
    *sslen = (unsigned)al;
    unsetenv("KILN_LISTEN_FD");
    return (int)fd;
}

/* The TLS context: certificate chain, key, ALPN h2 + http/1.1. NULL on failure. */
static SSL_CTX *tls_context(const kiln_server_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        fprintf(stderr, "kiln: --tls-cert %s: cannot load the certificate\n", cfg->tls_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr,
                "kiln: --tls-key %s: cannot load the key (or it does not match the "
                "certificate)\n",
                cfg->tls_key);
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int kiln_server_default_workers(void)
{
    /* Two event loops per CPU: guests run inline on them, so with more loops than
     * cores fewer connections wait behind one running guest or one descheduled
     * loop. Measured on 2 cores (wrk -t2 -c32, WAGI hello): 2 loops p99 1.8-2.6 ms,
     * 4 loops 1.2-1.8 ms at the same or higher requests/s; 8 loops p99 ~1.1 ms but
     * fewer requests/s. */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 512 ? 2 * (int)n : 2;
}

int kiln_server_run(const kiln_server_config *cfg)
{
    int nworkers = cfg->workers;
    if (nworkers <= 0) nworkers = kiln_server_default_workers();
    char err[512];
    struct sockaddr_storage ss;
    unsigned sslen = 0;
    const char *listen = cfg->listen ? cfg->listen : "127.0.0.1:3000";
    int inherited = inherited_listener(&ss, &sslen, err, sizeof err);
    if (inherited == -2 ||
        (inherited < 0 && (kiln_parse_listen(listen, &ss, &sslen, err, sizeof err) < 0 ||
                           address_free(&ss, sslen, listen, err, sizeof err) < 0))) {
        fprintf(stderr, "kiln: %s\n", err);
        return -1;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "kiln: cannot ignore SIGPIPE\n");
        return -1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        fprintf(stderr, "kiln: cannot block signals\n");
        return -1;
    }
    h2o_globalconf_t config;
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("kiln"));
    config.max_request_entity_size = cfg->max_request_size;
    config.http1.req_timeout = cfg->read_timeout_ms;
    config.http2.idle_timeout = cfg->read_timeout_ms;
    config.http2.graceful_shutdown_timeout = cfg->shutdown_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    server_handler *handler = (server_handler *)h2o_create_handler(path, sizeof *handler);
    handler->super.on_req = on_req;
    handler->cfg = cfg;
    const char *legacy = getenv("KILN_H2O_HTTP1");
    use_h2o_http1 = legacy && strcmp(legacy, "1") == 0;
    if (path->filters.size == 1) { /* h2o 2.2.5 gives each path exactly one: chunked */
        h2o_chunked_setup = path->filters.entries[0]->on_setup_ostream;
        path->filters.entries[0]->on_setup_ostream = chunked_setup;
    } else {
        use_h2o_http1 = 1;
    }

    SSL_CTX *ssl = NULL;
    if (cfg->tls_cert || cfg->tls_key) {
        if (!cfg->tls_cert || !cfg->tls_key) {
            fprintf(stderr, "kiln: --tls-cert and --tls-key go together\n");
            h2o_config_dispose(&config);
            return -1;
        }
        if (!(ssl = tls_context(cfg))) {
            h2o_config_dispose(&config);
            return -1;
        }
    }
    int rc = -1;
    worker *ws = kiln_calloc((size_t)nworkers, sizeof *ws);
    if (!ws) {
        fprintf(stderr, "kiln: out of memory\n");
        goto out;
    }
    for (int i = 0; i < nworkers; i++)
        ws[i].fd = -1;
    for (int i = 0; i < nworkers; i++) {
        /* every loop accepts on its own socket of a SO_REUSEPORT group, or on its own
         * descriptor of the one socket handed down */
        ws[i].fd = inherited >= 0 ? fcntl(inherited, F_DUPFD_CLOEXEC, 3)
                                  : listen_socket(&ss, sslen, err, sizeof err);
        if (ws[i].fd < 0) {
            if (inherited >= 0) snprintf(err, sizeof err, "dup: %s", strerror(errno));
            fprintf(stderr, "kiln: %s (%s)\n", err, cfg->listen ? cfg->listen : "127.0.0.1:3000");
            goto out;
        }
        ws[i].cfg = cfg;
        ws[i].config = &config;
        ws[i].ssl = ssl;
    }
    if (cfg->on_ready) {
        char host_s[NI_MAXHOST], port_s[16], url[NI_MAXHOST + 40];
        if (getnameinfo((struct sockaddr *)&ss, sslen, host_s, sizeof host_s, port_s, sizeof port_s,
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            snprintf(host_s, sizeof host_s, "?");
        snprintf(url, sizeof url, "%s://%s%s%s:%s", ssl ? "https" : "http",
                 ss.ss_family == AF_INET6 ? "[" : "", host_s, ss.ss_family == AF_INET6 ? "]" : "",
                 port_s);
        cfg->on_ready(cfg->on_ready_ctx, url);
    }
    atomic_store(&stop_requested, 0);
    atomic_store(&start_failed, 0);
    /* Guests may run on the workers (inline path): big stacks with a large guard, so
     * that deep recursion lands on the guard and becomes a stack-exhaustion trap. */
    pthread_attr_t wattr;
    pthread_attr_init(&wattr);
    pthread_attr_setstacksize(&wattr, (size_t)8 << 20);
    pthread_attr_setguardsize(&wattr, 64 * 1024);
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&ws[i].thread, &wattr, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "kiln: cannot start worker %d\n", i);
            atomic_store(&stop_requested, 1);
            break;
        }
        ws[i].started = 1;
    }
    pthread_attr_destroy(&wattr);
    int sig = 0;
    if (!atomic_load(&stop_requested)) {
        while (sigwait(&set, &sig) != 0) {
        }
        atomic_store(&stop_requested, 1);
        if (cfg->on_stopping) cfg->on_stopping(cfg->on_ready_ctx);
        rc = atomic_load(&start_failed) ? -1 : 0;
    }
    for (int i = 0; i < nworkers; i++) {
        if (ws[i].started) {
            pthread_join(ws[i].thread, NULL);
            ws[i].fd = -1; /* closed with the listener socket */
        }
    }
out:
    if (inherited >= 0) close(inherited);
    for (int i = 0; ws && i < nworkers; i++)
        if (ws[i].fd >= 0) close(ws[i].fd);
    kiln_free(ws);
    if (ssl) SSL_CTX_free(ssl);
    h2o_config_dispose(&config);
    return rc;
}
