/* http1.h — Kiln's HTTP/1.x connection codec on h2o's sockets and event loop.
 *
 * h2o 2.2.5's own HTTP/1 handler buffers a request's whole body before it calls the
 * application and cannot send trailers. This codec replaces it for cleartext connections
 * and for TLS connections whose ALPN is not h2 (h2, cleartext prior knowledge and
 * `Upgrade: h2c` go to server/http2.c, or h2o_http2_accept with KILN_H2O_HTTP2=1). It builds a real
 * h2o_req_t on its own h2o_conn_t and installs its own final output stream, so that the server's
 * request path (router, access log, metrics, generator, h2o_send) is the same as on HTTP/2.
 *
 * Per connection, one request at a time (pipelined requests wait in the input buffer):
 *   head   — parsed by http1_parse.c (picohttpparser, as libh2o-evloop exports it, and
 *            the framing decisions; the body is decoded there too); over max_head bytes
 *            is 431, malformed 400, a Content-Length over max_body 413, an unknown
 *            Expect 417; `Expect: 100-continue` is answered before the body is read.
 *   body   — the handler is called once the head is parsed; Content-Length and chunked
 *            bodies are decoded into a bounded buffer read through a kiln_body_source
 *            (exec/handler.h). The socket is not read while the buffer is full
 *            (backpressure); a body growing past max_body fails the source and is answered
 *            413 (when no response has started) with the connection closed. A chunked
 *            body's trailer fields are kept (the source's `trailers`, once it ended).
 *   response — Content-Length when known, else chunked on HTTP/1.1 (with the trailers
 *            given by kiln_http1_set_trailers after the last chunk) and close-delimited on
 *            HTTP/1.0; nothing after the head for HEAD, 1xx, 204 and 304.
 *   next   — once the response is sent and the body has been read (a body nobody read is
 *            read and dropped), keep-alive connections parse the next request.
 * Timeouts: the head must arrive within the read timeout; while a body streams, each
 * pause of the client longer than it ends the connection (not counted while the server
 * holds the body back). Everything runs on the connection's event-loop thread except
 * polling a body source's wait_fd. */
#ifndef KILN_SERVER_HTTP1_H
#define KILN_SERVER_HTTP1_H

#include <stddef.h>

#include "exec/handler.h"

#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct kiln_http1_limits {
    size_t max_head; /* request head bytes (431 beyond) */
    size_t max_body; /* request body bytes (413 beyond) */
    /* Told of each answer the codec makes itself (400, 413, 417, 431, 503; req's method
     * and path are empty when the head was not parsed), e.g. for the access log. NULL:
     * nobody. */
    void (*on_error)(void *ctx, h2o_req_t *req, int status, size_t bytes);
    void *ctx;
} kiln_http1_limits;

/* Serves a just-accepted connection: TLS handshake first when ctx->ssl_ctx (ALPN h2 goes
 * to HTTP/2), then HTTP/1.x here. ctx and lim must outlive the connection. */
void kiln_http1_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, const kiln_http1_limits *lim);

/* A graceful stop began (after h2o_context_request_shutdown): idle keep-alive connections
 * of ctx close now, the others after their current response (a fresh connection: after
 * its first one). */
void kiln_http1_shutdown(h2o_context_t *ctx);

/* 1 if conn is one of this codec's connections. */
int kiln_http1_is_ours(const h2o_conn_t *conn);

/* The streamed body of req (one of ours), with a reference the caller drops with
 * kiln_http1_body_release (it may outlive req: reads then fail). NULL when req is not
 * ours or has no body. */
kiln_body_source *kiln_http1_body(h2o_req_t *req);
void kiln_http1_body_release(kiln_body_source *s);

/* The body bytes received so far for req (one of ours). */
size_t kiln_http1_body_bytes(h2o_req_t *req);

/* Trailers for req's response (copied; names and values with CR, LF or NUL are left
 * out), sent after its last chunk. Call before the final h2o_send. 0, or -1 when req is
 * not ours (HTTP/2: dropped). The response is then sent chunked even when its length is
 * known, unless it carries a Content-Length already. */
int kiln_http1_set_trailers(h2o_req_t *req, const kiln_http_header *hs, size_t n);

#endif
