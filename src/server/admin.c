/* admin.c — the admin listener: /metrics, /healthz, /readyz and the dashboard on its own
 * loop (see admin.h). */
#include "server/admin.h"
#include "server/dashboard.h"
#include "server/http.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct admin_handler {
    h2o_handler_t super;
    kiln_admin *admin;
} admin_handler;

struct kiln_admin {
    kiln_metrics *metrics;
    kiln_dashboard *dash; /* used by the admin thread only */
    atomic_int ready, stop;
    int fd;
    h2o_globalconf_t config;
    pthread_t thread;
};

/* Sends a complete response (h2o copies the body). */
static int send_text(h2o_req_t *req, int status, const char *reason, const char *ctype,
                     const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                   strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
    return 0;
}

/* CLOCK_MONOTONIC in seconds: the dashboard's sample times. */
static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kiln_admin *a = ((admin_handler *)self)->admin;
    const char *text = "text/plain; charset=utf-8";
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
#define IS(lit) (plen == sizeof(lit) - 1 && memcmp(req->path.base, lit, plen) == 0)
    int known = IS("/metrics") || IS("/healthz") || IS("/readyz") || IS("/") || IS("/stats.json");
    if (!known) return send_text(req, 404, "Not Found", text, H2O_STRLIT("404 Not Found\n"));
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        return send_text(req, 405, "Method Not Allowed", text,
                         H2O_STRLIT("405 Method Not Allowed\n"));
    }
    if (IS("/healthz")) return send_text(req, 200, "OK", text, H2O_STRLIT("ok\n"));
    if (IS("/readyz")) {
        if (atomic_load(&a->ready)) return send_text(req, 200, "OK", text, H2O_STRLIT("ready\n"));
        return send_text(req, 503, "Service Unavailable", text, H2O_STRLIT("not ready\n"));
    }
    if (IS("/")) {
        size_t len;
        const char *page = kiln_dashboard_page(&len);
        return send_text(req, 200, "OK", "text/html; charset=utf-8", page, len);
    }
    int json = IS("/stats.json");
#undef IS
    kiln_buf b = KILN_BUF_INIT;
    if (json ? kiln_dashboard_json(a->dash, mono_s(), &b) < 0
             : a->metrics && kiln_metrics_render(a->metrics, &b) < 0) {
        kiln_buf_free(&b);
        return send_text(req, 500, "Internal Server Error", text,
                         H2O_STRLIT("500 Internal Server Error\n"));
    }
    send_text(req, 200, "OK", json ? "application/json" : KILN_METRICS_CONTENT_TYPE,
              b.data ? b.data : "", b.len);
    kiln_buf_free(&b);
    return 0;
}

/* Accepts every pending connection (a scraper's: few, so no batch limit). */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    while (!err && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(listener->data, sock);
}

/* The admin thread: its loop until stop, then up to a second for open connections. */
static void *admin_main(void *arg)
{
    kiln_admin *a = arg;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_t ctx;
    h2o_context_init(&ctx, loop, &a->config);
    h2o_accept_ctx_t actx = {.ctx = &ctx, .hosts = a->config.hosts};
    h2o_socket_t *listener = h2o_evloop_socket_create(loop, a->fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &actx;
    h2o_socket_read_start(listener, on_accept);
    while (!atomic_load(&a->stop)) {
        h2o_evloop_run(loop, 100);
        kiln_dashboard_tick(a->dash, mono_s()); /* a sample a second */
    }
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener); /* closes a->fd */
    h2o_context_request_shutdown(&ctx);
    uint64_t deadline = h2o_now(loop) + 1000; /* the loop's clock, in ms */
    while (h2o_now(loop) < deadline &&
           (!h2o_linklist_is_empty(&ctx.http1._conns) || !h2o_linklist_is_empty(&ctx.http2._conns)))
        h2o_evloop_run(loop, 50);
    if (h2o_timeout_is_linked(&ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&ctx);
    h2o_evloop_destroy(loop);
    return NULL;
}

/* 1 when the address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family != AF_INET6) return 0;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

/* Binds the admin socket: no SO_REUSEPORT, so that it can never share a port with the
 * application's listeners (which use it). The fd, or -1 (message on stderr). */
static int admin_socket(const char *addr, int allow_public, char *url, size_t cap)
{
    struct sockaddr_storage ss;
    unsigned len = 0;
    char err[256];
    if (kiln_parse_listen(addr, &ss, &len, err, sizeof err) < 0) {
        fprintf(stderr, "kiln: --admin: %s\n", err);
        return -1;
    }
    if (!allow_public && !is_loopback(&ss)) {
        fprintf(stderr,
                "kiln: --admin %s: not a loopback address; the admin listener exposes metrics, "
                "so it binds to 127.0.0.1 or ::1 unless --admin-public is given\n",
                addr);
        return -1;
    }
    int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "kiln: --admin %s: cannot listen: %s\n", addr, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    socklen_t bl = sizeof ss;
    char host[NI_MAXHOST], port[16];
    if (getsockname(fd, (struct sockaddr *)&ss, &bl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, bl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "kiln: --admin %s: cannot read the bound address\n", addr);
        close(fd);
        return -1;
    }
    int v6 = ss.ss_family == AF_INET6;
    snprintf(url, cap, "http://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return fd;
}

kiln_admin *kiln_admin_start(const char *addr, int allow_public, kiln_metrics *metrics,
                             const char *bench_path, char *url, size_t cap)
{
    int fd = admin_socket(addr, allow_public, url, cap);
    if (fd < 0) return NULL;
    kiln_admin *a = kiln_calloc(1, sizeof *a);
    if (!a || !(a->dash = kiln_dashboard_new(metrics, bench_path))) {
        fprintf(stderr, "kiln: out of memory\n");
        kiln_free(a);
        close(fd);
        return NULL;
    }
    a->metrics = metrics;
    a->fd = fd;
    h2o_config_init(&a->config);
    a->config.server_name = h2o_iovec_init(H2O_STRLIT("kiln-admin"));
    a->config.max_request_entity_size = 1024;
    h2o_hostconf_t *host =
        h2o_config_register_host(&a->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    admin_handler *h = (admin_handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->admin = a;
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        fprintf(stderr, "kiln: cannot start the admin listener's thread\n");
        h2o_config_dispose(&a->config);
        close(fd);
        kiln_dashboard_free(a->dash);
        kiln_free(a);
        return NULL;
    }
    return a;
}

void kiln_admin_set_ready(kiln_admin *a, int ready)
{
    if (a) atomic_store(&a->ready, ready);
}

void kiln_admin_stop(kiln_admin *a)
{
    if (!a) return;
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    h2o_config_dispose(&a->config);
    kiln_dashboard_free(a->dash);
    kiln_free(a);
}
