/* http2.h — Kiln's HTTP/2 connection codec on h2o's sockets and event loop.
 *
 * h2o 2.2.5's HTTP/2 buffers a request's whole body before it calls the application and
 * has no API for response trailers. This codec replaces it for TLS connections whose
 * ALPN is h2, cleartext prior-knowledge connections and cleartext `Upgrade: h2c` (all
 * handed over by server/http1.c), unless KILN_H2O_HTTP2=1 is in the environment. Like http1.c it
 * builds real h2o_req_t's on its own h2o_conn_t with its own final output stream, so the server's
 * request path (router, access log, metrics, generator, h2o_send) is unchanged.
 *
 *   framing  — http2_frame.c cuts frames and joins header blocks; HPACK is h2o's
 *              (h2o_hpack_parse_headers, h2o_hpack_flatten_response). Connection errors
 *              end the connection with GOAWAY and their code, stream errors reset the
 *              stream. At most KILN_H2_MAX_STREAMS streams at once (REFUSED_STREAM
 *              beyond); PRIORITY is parsed and ignored; no server push.
 *   requests — a header block over max_head is answered 431, a bad header character
 *              400, a content-length over max_body 413 (by the codec itself, reported
 *              through lim->on_error). The body is read by the handler through a
 *              kiln_body_source (exec/handler.h) over a per-stream buffer: the stream's
 *              receive window is given back only as the handler reads, so a client can
 *              never have more than one window (1 MiB) buffered per stream (real flow-
 *              control backpressure). Request trailers are parsed and dropped, as
 *              HTTP/1.1's chunked trailers are.
 *   responses — HEADERS, then DATA as the generator sends, within the peer's stream and
 *              connection windows (the generator is asked for more only once what it
 *              gave is written, so a response of any size holds bounded memory), then
 *              kiln_http2_set_trailers' fields as a final HEADERS with END_STREAM.
 *              No DATA for HEAD, 1xx, 204 and 304.
 *   lifetime — the idle timeout (ctx->http2.idle_timeout) runs while no stream is open
 *              or while a stream waits for its client's body; kiln_http2_shutdown sends
 *              GOAWAY and closes each connection once its open streams are done.
 * The connections are not in ctx->http2._conns (h2o's shutdown walks that list as its
 * own): kiln_http2_conns counts them. Everything runs on the connection's event-loop
 * thread except polling a body source's wait_fd. */
#ifndef KILN_SERVER_HTTP2_H
#define KILN_SERVER_HTTP2_H

#include <stddef.h>
#include <sys/time.h>

#include "exec/handler.h"
#include "server/http1.h"

#define KILN_H2_MAX_STREAMS 100

/* 1 unless KILN_H2O_HTTP2=1 is in the environment (then h2o's HTTP/2 serves). */
int kiln_http2_enabled(void);

/* Serves sock (its TLS handshake done, or cleartext with the preface, if read already,
 * in sock->input) as HTTP/2. actx and lim must outlive the connection. */
void kiln_http2_accept(h2o_accept_ctx_t *actx, h2o_socket_t *sock, const kiln_http1_limits *lim,
                       struct timeval connected_at);

/* Serves sock as HTTP/2 after an HTTP/1.1 `Upgrade: h2c` answered 101 (RFC 7540 §3.2):
 * h1, a request without a body, becomes stream 1 (copied: h1 may go right after), with
 * its HTTP2-Settings applied as the client's SETTINGS. */
void kiln_http2_accept_upgrade(h2o_accept_ctx_t *actx, h2o_socket_t *sock,
                               const kiln_http1_limits *lim, struct timeval connected_at,
                               h2o_req_t *h1);

/* A graceful stop began: every connection of this thread gets GOAWAY and closes once its
 * open streams are done. */
void kiln_http2_shutdown(h2o_context_t *ctx);

/* The stop's deadline passed: every connection of this thread closes now (their memory
 * goes at the loop's next turn, which must come before h2o_context_dispose). */
void kiln_http2_close_all(h2o_context_t *ctx);

/* This thread's open connections of this codec. */
size_t kiln_http2_conns(h2o_context_t *ctx);

/* 1 if conn is one of this codec's connections. */
int kiln_http2_is_ours(const h2o_conn_t *conn);

/* The streamed body of req (one of ours), with a reference the caller drops with
 * kiln_http2_body_release. NULL when req is not ours or has no body. */
kiln_body_source *kiln_http2_body(h2o_req_t *req);
void kiln_http2_body_release(kiln_body_source *s);

/* The body bytes received so far for req (one of ours). */
size_t kiln_http2_body_bytes(h2o_req_t *req);

/* Trailers for req's response (copied, names lowercased; a field with CR, LF or NUL, or
 * a name with ':' or a space, is left out), sent as a HEADERS frame with END_STREAM after
 * the last DATA. Call before the final h2o_send. 0, or -1 when req is not ours. */
int kiln_http2_set_trailers(h2o_req_t *req, const kiln_http_header *hs, size_t n);

#endif
