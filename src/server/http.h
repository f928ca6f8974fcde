/* http.h — Kiln's HTTP server: h2o event loops, limits, routing, access log.
 *
 * kiln_server_run binds one SO_REUSEPORT listening socket per worker thread, runs one
 * h2o event loop per worker (HTTP/1.1 with keep-alive and pipelining, HTTP/2 over TLS
 * with ALPN and over cleartext with prior knowledge) and serves until SIGTERM or SIGINT:
 * then it stops accepting, lets in-flight requests finish (up to a deadline) and
 * returns 0.
 *
 * Per request: reserved /.well-known paths, then the router; a target is a static
 * response or a handler (exec/handler.h: the server knows nothing of WAGI), called on
 * the worker's thread with a neutral request and response. A handler answers at once or
 * later; one working on another thread posts back to the worker through an h2o
 * multithread queue. One access-log line per request goes to stdout unless quiet. */
#ifndef KILN_SERVER_HTTP_H
#define KILN_SERVER_HTTP_H

#include <stddef.h>

#include "exec/handler.h"
#include "server/router.h"

/* What a route leads to (the router's target pointers point at these). */
typedef struct kiln_server_target {
    const char *component;     /* name for the log: component id, or "static" */
    kiln_handler *handler;     /* answers the request, or NULL for a static response */
    int status;                /* static response */
    kiln_http_header *headers; /* static response headers (NUL-terminated strings) */
    size_t nheaders;
    const char *body;
    size_t body_len;
    size_t metrics_route; /* its route in cfg->metrics (server/metrics.h); 0: none */
} kiln_server_target;

typedef struct kiln_server_config {
    const char *listen;           /* "HOST:PORT", "[v6]:PORT" or ":PORT"; default 127.0.0.1:3000 */
    int workers;                  /* <= 0: kiln_server_default_workers() */
    int quiet;                    /* no access log */
    size_t max_request_size;      /* body limit (413) */
    size_t max_header_size;       /* request head limit (431) */
    unsigned read_timeout_ms;     /* a request's head and body must arrive within this */
    unsigned shutdown_timeout_ms; /* graceful stop: in-flight requests get this long */
    const char *tls_cert, *tls_key; /* PEM files: serve HTTPS (h2 via ALPN) */
    const kiln_router *router;      /* targets are kiln_server_target* */
    const char *app_name, *app_version;
    /* Called first on every worker thread (handlers may run guests there), e.g. the
     * runtime's per-thread setup; < 0 stops the server. NULL: nothing. */
    int (*thread_init)(void);
    /* Printed once all sockets listen (before serving): the URL. */
    void (*on_ready)(void *ctx, const char *url);
    void *on_ready_ctx;
    /* Called with on_ready_ctx when a stop was asked for, before the drain. NULL: none. */
    void (*on_stopping)(void *ctx);
    struct kiln_metrics *metrics; /* requests are measured into it (NULL: not measured) */
    struct kiln_tracer *tracer;   /* requests are traced into it (NULL: not traced) */
} kiln_server_config;

/* Serves until SIGTERM/SIGINT. Returns 0 after a graceful stop, -1 when the server could
 * not start (the reason is printed to stderr). */
int kiln_server_run(const kiln_server_config *cfg);
/* The event loops kiln_server_run starts when cfg->workers <= 0: two per online CPU. */
int kiln_server_default_workers(void);

/* Opens a listening socket on `listen` ("HOST:PORT") as kiln_server_run does (refused when
 * another socket listens there), for a parent that hands it to the servers it starts in
 * KILN_LISTEN_FD=N (kiln watch): they then accept on that socket instead of binding.
 * Returns the fd (non-blocking, close-on-exec) or -1 with the reason in err. */
int kiln_server_listen(const char *listen, char *err, size_t errlen);

/* Parses "HOST:PORT" into a socket address. 0 or -1 (message in err, errlen bytes). */
struct sockaddr_storage;
int kiln_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
                      size_t errlen);

#endif
