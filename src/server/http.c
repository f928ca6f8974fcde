/* http.c — the HTTP server on h2o: workers, limits, dispatch, access log (see http.h). */
#include "server/http.h"
#include "server/executor.h"
#include "server/head.h"
#include "util/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
typedef struct kiln_handler {
    h2o_handler_t super;
    const kiln_server_config *cfg;
} kiln_handler;

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
    kiln_executor *executor;        /* shared by all workers */
    h2o_multithread_queue_t *queue; /* finished guest jobs come back through it */
    h2o_multithread_receiver_t receiver;
    size_t inflight; /* jobs of this worker not yet answered */
} worker;

static atomic_int stop_requested;

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

/* Logs a server-side problem of one request to stderr (one line, escaped). */
static void error_log(const char *msg, size_t len)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = kiln_buf_puts(&b, "kiln: ");
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)msg[i];
        rc =
            c >= 0x20 && c != 0x7f ? kiln_buf_putc(&b, (char)c) : kiln_buf_printf(&b, "\\x%02x", c);
    }
    if (rc == 0 && kiln_buf_putc(&b, '\n') == 0) {
        ssize_t n = write(2, b.data, b.len);
        (void)n;
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

/* Appends s as a JSON string. */
static int json_str(kiln_buf *b, const char *s)
{
    int rc = kiln_buf_putc(b, '"');
    for (; s && *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = kiln_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            rc = kiln_buf_printf(b, "\\u%04x", c);
        else
            rc = kiln_buf_putc(b, (char)c);
    }
    return rc ? rc : kiln_buf_putc(b, '"');
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
        rc |= json_str(&b, cfg->app_name ? cfg->app_name : "");
        rc |= kiln_buf_puts(&b, ",\"version\":");
        rc |= json_str(&b, cfg->app_version ? cfg->app_version : "");
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

/* Fills the CGI view of an h2o request (strings borrowed from req or its pool). */
static void cgi_request_of(h2o_req_t *req, size_t path_len, const kiln_route_match *m, char *ip,
                           size_t iplen, kiln_cgi_request *cr)
{
    memset(cr, 0, sizeof *cr);
    cr->method = req->method.base;
    cr->method_len = req->method.len;
    cr->path = req->path.base;
    cr->path_len = path_len;
    if (req->query_at != SIZE_MAX && req->query_at + 1 <= req->path.len) {
        cr->query = req->path.base + req->query_at + 1;
        cr->query_len = req->path.len - req->query_at - 1;
    }
    if (req->input.authority.len) {
        cr->authority = req->input.authority.base;
        cr->authority_len = req->input.authority.len;
    }
    cr->scheme = req->input.scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
    cr->protocol = req->version >= 0x200   ? "HTTP/2.0"
                   : req->version == 0x100 ? "HTTP/1.0"
                                           : "HTTP/1.1";
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    ip[0] = '\0';
    if (sl > 0 && iplen >= NI_MAXHOST &&
        h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, ip) != SIZE_MAX) {
        cr->client_port = h2o_socket_getport((struct sockaddr *)&ss);
    } else {
        ip[0] = '\0';
    }
    cr->client_ip = ip;
    /* SERVER_PORT comes from the authority; only without one is the socket asked (a
     * system call per request otherwise). */
    const char *port;
    size_t port_len;
    kiln_cgi_authority_split(cr->authority, cr->authority_len, &port, &port_len);
    if (!port_len) {
        sl = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss);
        if (sl > 0) cr->server_port = h2o_socket_getport((struct sockaddr *)&ss);
    }
    cr->content_length = req->entity.base ? req->entity.len : 0;
    kiln_cgi_header *hs = h2o_mem_alloc_pool(&req->pool, (req->headers.size + 1) * sizeof *hs);
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        hs[i] = (kiln_cgi_header){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    cr->headers = hs;
    cr->nheaders = req->headers.size;
    cr->match = m;
}

/* One request's trip through the executor. Everything the guest needs is copied out of
 * the h2o request first (the client may go away while the guest runs, and h2o then frees
 * the request): the prepared CGI environment and the body. The request pointer is
 * cleared by a dispose hook in the request's pool if that happens; the job itself is
 * freed on the worker's thread when its result comes back. */
typedef struct wagi_job {
    kiln_job job;
    h2o_multithread_message_t msg;
    worker *w;
    h2o_req_t *req;        /* NULL once h2o disposed the request */
    struct req_hook *hook; /* in req's pool: points back here while both live */
    const kiln_server_target *t;
    kiln_wagi_prepared prep;
    uint8_t *body;
    size_t body_len;
    kiln_wagi_result r;
    int expired;
} wagi_job;

typedef struct req_hook {
    wagi_job *job;
} req_hook;

static __thread worker *current_worker;

static void on_req_dispose(void *p)
{
    req_hook *h = p;
    if (h->job) h->job->req = NULL;
}

/* Executor thread: the guest runs here. */
static void job_run(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    kiln_wagi_execute(job->t->wagi, &job->prep, job->body, job->body_len, &job->r);
}

/* Executor (or reaper) thread: hand the job back to its worker's event loop. */
static void job_complete(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    h2o_multithread_send_message(&job->w->receiver, &job->msg);
}

static void job_expired(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    job->expired = 1;
    h2o_multithread_send_message(&job->w->receiver, &job->msg);
}

static void job_free(wagi_job *job)
{
    if (job->hook) job->hook->job = NULL;
    kiln_wagi_prepared_free(&job->prep);
    kiln_wagi_result_free(&job->r);
    kiln_free(job->body);
    kiln_free(job);
}

/* 503 with Retry-After: the executor is full (or the request waited too long for it). */
static void respond_busy(const kiln_server_config *cfg, h2o_req_t *req, const char *component)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    respond_error(cfg, req, 503, component);
}

/* Sends what a finished job produced (on the worker's thread). */
static void job_answer(const kiln_server_config *cfg, wagi_job *job)
{
    h2o_req_t *req = job->req;
    const kiln_server_target *t = job->t;
    kiln_wagi_result *r = &job->r;
    if (job->expired) {
        char msg[160];
        int n = snprintf(msg, sizeof msg,
                         "component '%s': request waited too long for a free instance: 503",
                         t->component);
        error_log(msg, (size_t)n);
        if (req) respond_busy(cfg, req, t->component);
        return;
    }
    int status = r->res.status;
    if (!r->res.failed && (status < 200 || status > 999)) {
        kiln_buf_printf(&r->log,
                        "%scomponent '%s' answered the status %d, which is not a final "
                        "response",
                        r->log.len ? "; " : "", t->component, status);
        status = 502;
        r->res.failed = 1;
    }
    if (r->log.len) error_log(r->log.data, r->log.len);
    if (!req) return; /* the client went away meanwhile */
    if (r->res.failed) {
        respond_error(cfg, req, status, t->component);
    } else {
        for (size_t i = 0; i < r->res.nheaders; i++) {
            const kiln_cgi_header *h = &r->res.headers[i];
            add_header(req, h->name, h->name_len, h->value, h->value_len);
        }
        /* the body lives in the job, which is freed after this call: h2o copies it */
        respond(cfg, req, status, NULL, r->res.body, r->res.body_len, t->component,
                r->instantiate_ms);
    }
}

/* Worker thread: jobs that came back from the executor. */
static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        wagi_job *job = H2O_STRUCT_FROM_MEMBER(wagi_job, msg, m);
        job_answer(w->cfg, job);
        job_free(job);
        w->inflight--;
    }
}

/* Hands a WAGI request to the executor; the answer is sent when the job comes back. */
static int serve_wagi(const kiln_server_config *cfg, h2o_req_t *req, size_t path_len,
                      const kiln_server_target *t, const kiln_route_match *m)
{
    worker *w = current_worker;
    char ip[NI_MAXHOST];
    kiln_cgi_request cr;
    cgi_request_of(req, path_len, m, ip, sizeof ip, &cr);
    wagi_job *job = kiln_calloc(1, sizeof *job);
    if (!job) return respond_error(cfg, req, 500, t->component);
    job->job = (kiln_job){job_run, job_complete, job_expired, 0, NULL};
    job->w = w;
    job->req = req;
    job->t = t;
    job->body_len = cr.content_length;
    job->body = kiln_malloc(job->body_len ? job->body_len : 1);
    job->hook = h2o_mem_alloc_shared(&req->pool, sizeof *job->hook, on_req_dispose);
    if (!job->body || kiln_wagi_prepare(t->wagi, &cr, &job->prep) < 0) {
        job_free(job);
        return respond_error(cfg, req, 500, t->component);
    }
    job->hook->job = job;
    if (job->body_len) memcpy(job->body, req->entity.base, job->body_len);
    /* The inline fast path: most handlers finish in well under a millisecond, and running
     * them here saves the hand-off to an executor thread (two context switches; measured
     * about 2x the requests/s). A guest still running at the budget is stopped and the
     * request runs again from scratch on the executor (kiln_wagi_execute_inline), so the
     * event loop is never held longer than the budget. */
    if (cfg->inline_budget_ms && kiln_wagi_inline_allowed(t->wagi)) {
        kiln_wagi_execute_inline(t->wagi, &job->prep, job->body, job->body_len,
                                 (uint64_t)cfg->inline_budget_ms * 1000000u, &job->r);
        if (!job->r.over_budget) {
            job_answer(cfg, job);
            job_free(job);
            return 0;
        }
        char msg[200];
        int n = snprintf(msg, sizeof msg,
                         "component '%s' ran past the inline budget (%u ms): running it on an "
                         "executor thread",
                         t->component, cfg->inline_budget_ms);
        error_log(msg, (size_t)n);
        memset(&job->r, 0, sizeof job->r);
    }
    if (kiln_executor_submit(w->executor, &job->job) < 0) {
        char msg[160];
        int n = snprintf(msg, sizeof msg,
                         "component '%s': every instance is busy and the queue is full: 503",
                         t->component);
        error_log(msg, (size_t)n);
        job_free(job);
        respond_busy(cfg, req, t->component);
        return 0;
    }
    w->inflight++;
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
    const kiln_server_config *cfg = ((kiln_handler *)self)->cfg;
    if (req->version < 0x200) {
        /* the raw head is still at the start of the connection's input buffer */
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
    if (t->wagi) {
        serve_wagi(cfg, req, plen, t, &m);
    } else {
        for (size_t i = 0; i < t->nheaders; i++)
            add_header(req, t->headers[i].name, t->headers[i].name_len, t->headers[i].value,
                       t->headers[i].value_len);
        respond(cfg, req, t->status, NULL, t->body, t->body_len, t->component, -1);
    }
    kiln_route_match_free(&m);
    return 0;
}

/* Accepts pending connections on a worker's listening socket. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    worker *w = listener->data;
    if (err) return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) return;
        h2o_accept(&w->accept_ctx, sock);
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
    kiln_rt_thread_init();
    current_worker = w;
    w->loop = h2o_evloop_create();
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->receiver, on_jobs_done);
    h2o_context_init(&w->ctx, w->loop, w->config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->config->hosts;
    w->accept_ctx.ssl_ctx = w->ssl;
    w->listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    while (!atomic_load(&stop_requested))
        h2o_evloop_run(w->loop, 100);
    /* stop accepting; h2 connections get GOAWAY; HTTP/1 ones close after their request */
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    h2o_context_request_shutdown(&w->ctx);
    double deadline = mono_ms() + w->cfg->shutdown_timeout_ms;
    while (mono_ms() < deadline && (!h2o_linklist_is_empty(&w->ctx.http1._conns) ||
                                    !h2o_linklist_is_empty(&w->ctx.http2._conns)))
        h2o_evloop_run(w->loop, 50);
    /* Guests still running will post back here: wait for them (each ends by its request
     * timeout at the latest) before the queue goes away. */
    while (w->inflight)
        h2o_evloop_run(w->loop, 50);
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
    if (kiln_parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:3000", &ss, &sslen, err,
                          sizeof err) < 0) {
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
    kiln_handler *handler = (kiln_handler *)h2o_create_handler(path, sizeof *handler);
    handler->super.on_req = on_req;
    handler->cfg = cfg;

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
    /* Guests run here, apart from the event loops (created after SIGINT/SIGTERM are
     * blocked, so that only the main thread takes them). */
    kiln_executor *executor = kiln_executor_new(
        cfg->max_instances ? cfg->max_instances : 16, cfg->max_queue ? cfg->max_queue : 1024,
        cfg->queue_timeout_ms ? cfg->queue_timeout_ms : 10000, 0);
    if (!ws || !executor) {
        fprintf(stderr, "kiln: out of memory (or cannot start executor threads)\n");
        goto out;
    }
    for (int i = 0; i < nworkers; i++)
        ws[i].fd = -1;
    for (int i = 0; i < nworkers; i++) {
        if ((ws[i].fd = listen_socket(&ss, sslen, err, sizeof err)) < 0) {
            fprintf(stderr, "kiln: %s (%s)\n", err, cfg->listen ? cfg->listen : "127.0.0.1:3000");
            goto out;
        }
        ws[i].cfg = cfg;
        ws[i].config = &config;
        ws[i].ssl = ssl;
        ws[i].executor = executor;
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
        rc = 0;
    }
    for (int i = 0; i < nworkers; i++) {
        if (ws[i].started) {
            pthread_join(ws[i].thread, NULL);
            ws[i].fd = -1; /* closed with the listener socket */
        }
    }
out:
    for (int i = 0; ws && i < nworkers; i++)
        if (ws[i].fd >= 0) close(ws[i].fd);
    kiln_executor_free(executor); /* idle: every worker waited for its jobs */
    kiln_free(ws);
    if (ssl) SSL_CTX_free(ssl);
    h2o_config_dispose(&config);
    return rc;
}
