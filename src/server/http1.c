/* http1.c — Kiln's HTTP/1.x connection codec (see http1.h). */
#include "server/http1.h"
#include "server/body_buf.h"
#include "server/http1_parse.h"
#include "server/http2.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o/http2.h>

#define BODY_HIGH (1024u * 1024u) /* the body buffer: the socket is not read at this */
#define BODY_LOW (256u * 1024u)   /* ... and is read again below this */

typedef struct h1conn h1conn;

struct h1conn {
    h2o_conn_t super;
    h2o_socket_t *sock;
    h2o_accept_ctx_t *actx;
    const kiln_http1_limits *lim;
    h2o_linklist_t link;        /* in ctx->http1._conns: the worker's drain waits for it */
    h2o_timeout_entry_t timer;  /* the read timeout */
    h2o_timeout_entry_t done;   /* completes a write of nothing from the loop */
    h2o_timeout_entry_t resume; /* reads the socket again from the loop */
    h2o_ostream_t ostr;         /* the response's final output stream */
    /* the current request */
    kiln_body_buf *body;    /* its body source (NULL: none) */
    kiln_h1_body bd;        /* its decoding state */
    h2o_headers_t trailers; /* kiln_http1_set_trailers (in req.pool) */
    unsigned in_req : 1,    /* a head was parsed: the request is under way */
        reading_body : 1,   /* its body is still arriving */
        paused : 1,         /* not read: the body buffer is full */
        head_sent : 1,      /* the response head went out */
        chunked_out : 1,    /* the response is chunked */
        no_body : 1,        /* the response has no body (HEAD, 1xx, 204, 304) */
        res_done : 1,       /* the final part of the response was written */
        writing : 1,        /* a socket write is outstanding */
        final_write : 1,    /* ... the last of the response */
        closing : 1,        /* close once the outstanding write completes */
        had_req : 1;        /* a request came on this connection before (it is not fresh) */
    h2o_req_t req;          /* last: large, with its own initialization */
};

static void on_read(h2o_socket_t *sock, const char *err);
static void parse_head(h1conn *c);
static void feed_body(h1conn *c);
static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                       h2o_send_state_t state);

/* ---- the body source ---- */

/* The connection reads the socket again once the buffer has room (from the loop). */
static void resume_reading(h1conn *c);

/* The handler read n bytes of the body (0: it found nothing): a paused connection reads
 * again once the buffer is low (or empty). */
static void body_on_read(void *owner, size_t n)
{
    h1conn *c = owner;
    if (c->paused && (!n || kiln_body_buf_unread(c->body) < BODY_LOW)) resume_reading(c);
}

/* The connection is done with the body: a body still open fails for its reader. */
static void body_detach(h1conn *c)
{
    kiln_body_buf *b = c->body;
    if (!b) return;
    c->body = NULL;
    kiln_body_buf_detach(b);
}

kiln_body_source *kiln_http1_body(h2o_req_t *req)
{
    if (!kiln_http1_is_ours(req->conn)) return NULL;
    h1conn *c = (h1conn *)req->conn;
    if (!c->body) return NULL;
    c->body->refs++;
    return &c->body->src;
}

size_t kiln_http1_body_bytes(h2o_req_t *req)
{
    return kiln_http1_is_ours(req->conn) ? ((h1conn *)req->conn)->bd.seen : 0;
}

void kiln_http1_body_release(kiln_body_source *s)
{
    if (s) kiln_body_buf_unref((kiln_body_buf *)s);
}

/* ---- the connection ---- */

static void timer_set(h1conn *c, int on)
{
    if (h2o_timeout_is_linked(&c->timer)) h2o_timeout_unlink(&c->timer);
    if (on) h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->http1.req_timeout, &c->timer);
}

/* Links e to run from the loop soon (once). */
static void soon(h1conn *c, h2o_timeout_entry_t *e)
{
    if (!h2o_timeout_is_linked(e))
        h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->zero_timeout, e);
}

/* Ends the connection (after the outstanding write, if any). The request is disposed:
 * its handler sees the client gone. */
static void conn_close(h1conn *c)
{
    if (c->writing) {
        c->closing = 1;
        if (c->sock) h2o_socket_read_stop(c->sock);
        return;
    }
    timer_set(c, 0);
    if (h2o_timeout_is_linked(&c->done)) h2o_timeout_unlink(&c->done);
    if (h2o_timeout_is_linked(&c->resume)) h2o_timeout_unlink(&c->resume);
    body_detach(c);
    h2o_dispose_request(&c->req);
    if (c->sock) h2o_socket_close(c->sock);
    h2o_linklist_unlink(&c->link);
    kiln_free(c);
}

/* A fresh h2o request on the connection. */
static void request_init(h1conn *c)
{
    h2o_init_request(&c->req, &c->super, NULL);
    c->req._ostr_top = &c->ostr;
    c->ostr = (h2o_ostream_t){NULL, final_send, NULL, NULL};
    memset(&c->bd, 0, sizeof c->bd);
    memset(&c->trailers, 0, sizeof c->trailers);
    c->in_req = c->reading_body = c->paused = 0;
    c->head_sent = c->chunked_out = c->no_body = c->res_done = c->final_write = 0;
}

/* Reads the socket for the next request head (and pipelined heads already buffered). */
static void next_request(h1conn *c)
{
    body_detach(c);
    h2o_dispose_request(&c->req);
    request_init(c);
    timer_set(c, 1);
    h2o_socket_read_start(c->sock, on_read);
    if (c->sock->input->size) parse_head(c);
}

/* Both halves of the exchange are over: the next request, or the end. */
static void maybe_next(h1conn *c)
{
    if (!c->res_done || c->reading_body || c->writing) return;
    if (c->req.http1_is_persistent && !c->closing)
        next_request(c);
    else
        conn_close(c);
}

static void on_timeout(h2o_timeout_entry_t *e)
{
    h1conn *c = H2O_STRUCT_FROM_MEMBER(h1conn, timer, e);
    c->req.http1_is_persistent = 0;
    conn_close(c);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    h1conn *c = sock->data;
    if (err) {
        c->req.http1_is_persistent = 0;
        conn_close(c);
        return;
    }
    if (!c->in_req)
        parse_head(c);
    else if (c->reading_body)
        feed_body(c);
    else
        h2o_socket_read_stop(sock); /* pipelined bytes wait for the current response */
}

/* ---- writing ---- */

static void on_written(h2o_socket_t *sock, const char *err)
{
    h1conn *c = sock->data;
    c->writing = 0;
    if (err || c->closing) {
        c->req.http1_is_persistent = 0;
        c->closing = 0;
        conn_close(c);
        return;
    }
    if (!c->final_write) {
        h2o_proceed_response(&c->req);
        return;
    }
    c->res_done = 1;
    c->req.timestamps.response_end_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
    if (c->reading_body && !c->req.http1_is_persistent) {
        conn_close(c);
        return;
    }
    if (c->reading_body && c->paused) resume_reading(c); /* the rest is read and dropped */
    maybe_next(c);
}

static void on_done(h2o_timeout_entry_t *e)
{
    h1conn *c = H2O_STRUCT_FROM_MEMBER(h1conn, done, e);
    on_written(c->sock, NULL);
}

/* Writes bufs (none: completes from the loop). */
static void conn_write(h1conn *c, h2o_iovec_t *bufs, size_t n, int final)
{
    c->writing = 1;
    c->final_write = final;
    if (n)
        h2o_socket_write(c->sock, bufs, n, on_written);
    else
        soon(c, &c->done);
}

/* A complete error response of our own (before any of the handler's), then the end of the
 * connection. */
static void send_error_close(h1conn *c, int status)
{
    char *msg = h2o_mem_alloc_pool(&c->req.pool, 256);
    const char *reason = kiln_http_reason(status);
    int n = snprintf(msg, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%d %s\n",
                     status, reason, strlen(reason) + 5, status, reason);
    h2o_iovec_t buf = h2o_iovec_init(msg, (size_t)n);
    if (c->lim->on_error) c->lim->on_error(c->lim->ctx, &c->req, status, strlen(reason) + 5);
    c->req.http1_is_persistent = 0;
    c->head_sent = 1; /* the handler's response, if any, is not sent */
    c->closing = 1;
    timer_set(c, 0);
    h2o_socket_read_stop(c->sock);
    conn_write(c, &buf, 1, 1);
}

/* 1 for response headers the codec writes itself (the handler's copies are left out). */
static int own_header(const h2o_header_t *h)
{
    const h2o_iovec_t *n = h->name;
    return n == &H2O_TOKEN_CONTENT_LENGTH->buf || n == &H2O_TOKEN_TRANSFER_ENCODING->buf ||
           n == &H2O_TOKEN_CONNECTION->buf ||
           (n->len == 10 && strncasecmp(n->base, "keep-alive", 10) == 0);
}

/* The response head (status line, Date, Server, Connection, framing, the handler's
 * headers) in req's pool; decides the body's framing. */
static h2o_iovec_t flatten_head(h1conn *c)
{
    h2o_req_t *req = &c->req;
    int st = req->res.status;
    int head = req->input.method.len == 4 && memcmp(req->input.method.base, "HEAD", 4) == 0;
    c->no_body = head || (st >= 100 && st < 200) || st == 204 || st == 304;
    int has_length =
        req->res.content_length != SIZE_MAX && st != 204 && st != 304 && !(st >= 100 && st < 200);
    if (!has_length && !c->no_body) {
        if (req->version >= 0x101)
            c->chunked_out = 1;
        else
            req->http1_is_persistent = 0; /* HTTP/1.0: the end of the body is the close */
    }
    if (c->super.ctx->shutdown_requested) req->http1_is_persistent = 0;
    h2o_timestamp_t ts;
    h2o_get_timestamp(c->super.ctx, &req->pool, &ts);
    const h2o_iovec_t *server = &c->super.ctx->globalconf->server_name;
    size_t cap = 200 + strlen(req->res.reason) + server->len;
    for (size_t i = 0; i < req->res.headers.size; i++)
        cap += req->res.headers.entries[i].name->len + req->res.headers.entries[i].value.len + 4;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap), *p = buf;
    p += sprintf(p, "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\n", st, req->res.reason,
                 ts.str->rfc1123, req->http1_is_persistent ? "keep-alive" : "close");
    if (server->len) p += sprintf(p, "Server: %.*s\r\n", (int)server->len, server->base);
    if (has_length) p += sprintf(p, "Content-Length: %zu\r\n", req->res.content_length);
    if (c->chunked_out) p += sprintf(p, "Transfer-Encoding: chunked\r\n");
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_header_t *h = &req->res.headers.entries[i];
        if (own_header(h)) continue;
        memcpy(p, h->orig_name ? h->orig_name : h->name->base, h->name->len);
        p += h->name->len;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, h->value.base, h->value.len);
        p += h->value.len;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

/* The last chunk and the trailers, in req's pool. */
static h2o_iovec_t last_chunk(h1conn *c)
{
    size_t cap = 5;
    for (size_t i = 0; i < c->trailers.size; i++)
        cap += c->trailers.entries[i].name->len + c->trailers.entries[i].value.len + 4;
    char *buf = h2o_mem_alloc_pool(&c->req.pool, cap), *p = buf;
    memcpy(p, "0\r\n", 3);
    p += 3;
    for (size_t i = 0; i < c->trailers.size; i++) {
        const h2o_header_t *h = &c->trailers.entries[i];
        p += sprintf(p, "%.*s: %.*s\r\n", (int)h->name->len, h->name->base, (int)h->value.len,
                     h->value.base);
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

/* h2o's final output stream: frames and writes what the generator sends. */
static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *in, size_t n,
                       h2o_send_state_t state)
{
    h1conn *c = H2O_STRUCT_FROM_MEMBER(h1conn, ostr, self);
    (void)req;
    int final = !h2o_send_state_is_in_progress(state);
    if (c->closing || c->res_done) return; /* being torn down, or answered by the codec */
    if (state == H2O_SEND_STATE_ERROR) c->req.http1_is_persistent = 0;
    h2o_iovec_t *out = h2o_mem_alloc_pool(&c->req.pool, (n + 4) * sizeof *out);
    size_t k = 0, len = 0;
    for (size_t i = 0; i < n; i++)
        len += in[i].len;
    if (!c->head_sent) {
        c->req.timestamps.response_start_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
        out[k++] = flatten_head(c);
        c->head_sent = 1;
    }
    if (!c->no_body) {
        c->req.bytes_sent += len;
        if (c->chunked_out && len) {
            char *hdr = h2o_mem_alloc_pool(&c->req.pool, 24);
            out[k++] = h2o_iovec_init(hdr, (size_t)sprintf(hdr, "%zx\r\n", len));
        }
        for (size_t i = 0; i < n; i++)
            if (in[i].len) out[k++] = in[i];
        if (c->chunked_out && len) out[k++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
        if (c->chunked_out && state == H2O_SEND_STATE_FINAL) out[k++] = last_chunk(c);
    }
    if (state == H2O_SEND_STATE_ERROR) c->closing = 1; /* a cut body: the client must see it */
    conn_write(c, out, k, final);
}

int kiln_http1_set_trailers(h2o_req_t *req, const kiln_http_header *hs, size_t n)
{
    if (!kiln_http1_is_ours(req->conn)) return -1;
    h1conn *c = (h1conn *)req->conn;
    for (size_t i = 0; i < n; i++) {
        const kiln_http_header *h = &hs[i];
        if (!h->name_len || memchr(h->name, '\r', h->name_len) ||
            memchr(h->name, '\n', h->name_len) || memchr(h->name, '\0', h->name_len) ||
            memchr(h->name, ':', h->name_len) || memchr(h->value, '\r', h->value_len) ||
            memchr(h->value, '\n', h->value_len) || memchr(h->value, '\0', h->value_len))
            continue;
        h2o_iovec_t nm = h2o_strdup(&req->pool, h->name, h->name_len);
        h2o_iovec_t v = h2o_strdup(&req->pool, h->value, h->value_len);
        h2o_add_header_by_str(&req->pool, &c->trailers, nm.base, nm.len, 1, NULL, v.base, v.len);
    }
    return 0;
}

/* ---- reading the body ---- */

/* The body failed (malformed, or over the limit: status). Answered here when no response
 * has started; the connection ends either way. */
static void body_fail(h1conn *c, int status)
{
    c->reading_body = 0;
    if (c->body) {
        c->body->state = KILN_BODY_ERROR;
        kiln_body_buf_signal(c->body);
    }
    if (!c->head_sent && !c->writing)
        send_error_close(c, status);
    else
        conn_close(c);
}

/* Decoded body bytes: to the buffer, or dropped once the response is done. */
static int deliver(h1conn *c, const char *p, size_t n)
{
    if (!n || !c->body || c->res_done) return 0;
    if (kiln_body_buf_append(c->body, p, n) < 0) {
        body_fail(c, 500);
        return -1;
    }
    return 0;
}

/* Gives the chunked body bd's trailer fields to the body source b (kiln_body_source's
 * trailers; none when out of memory). */
static void keep_trailers(kiln_body_buf *b, const kiln_h1_body *bd)
{
    struct phr_header hs[64];
    kiln_http_header out[64];
    size_t n = kiln_h1_trailers(bd, hs, sizeof hs / sizeof hs[0]);
    for (size_t i = 0; i < n; i++)
        out[i] = (kiln_http_header){hs[i].name, hs[i].name_len, hs[i].value, hs[i].value_len};
    if (n) kiln_body_buf_set_trailers(b, out, n);
}

/* The body is complete. */
static void body_end(h1conn *c)
{
    c->reading_body = 0;
    timer_set(c, 0);
    h2o_socket_read_stop(c->sock); /* pipelined requests wait for this response */
    if (c->body) {
        if (c->bd.chunked) keep_trailers(c->body, &c->bd);
        c->body->state = KILN_BODY_END;
        kiln_body_buf_signal(c->body);
    }
    maybe_next(c);
}

/* Bytes the body buffer takes before it is full (unbounded once the response is done:
 * the rest of the body is dropped). */
static size_t body_room(const h1conn *c)
{
    if (!c->body || c->res_done) return SIZE_MAX;
    size_t unread = kiln_body_buf_unread(c->body);
    return unread < BODY_HIGH ? BODY_HIGH - unread : 0;
}

/* Decodes what the input buffer holds of the body, as much as the body buffer takes: the
 * rest stays in the input buffer, and the socket is not read while the body buffer is
 * full (backpressure: the client waits until the handler reads). */
static void feed_body(h1conn *c)
{
    h2o_buffer_t **in = &c->sock->input;
    size_t room;
    while (c->reading_body && (*in)->size && (room = body_room(c)) > 0) {
        size_t data;
        int r = kiln_h1_body_decode(&c->bd, (*in)->bytes, &(*in)->size, room, &data);
        if (r > 0) {
            body_fail(c, r);
            return;
        }
        if (deliver(c, (*in)->bytes, data) < 0) return;
        h2o_buffer_consume(in, data);
        if (r == KILN_H1_OK) {
            body_end(c);
            return;
        }
    }
    if (!c->reading_body) return;
    if (c->body) kiln_body_buf_signal(c->body);
    if (!body_room(c)) {
        c->paused = 1;
        h2o_socket_read_stop(c->sock);
        timer_set(c, 0);
    } else {
        timer_set(c, 1); /* the client may pause up to the read timeout between pieces */
    }
}

static void on_resume(h2o_timeout_entry_t *e)
{
    h1conn *c = H2O_STRUCT_FROM_MEMBER(h1conn, resume, e);
    if (!c->paused || !c->reading_body) return;
    c->paused = 0;
    timer_set(c, 1);
    h2o_socket_read_start(c->sock, on_read);
    feed_body(c); /* bytes already read from the socket: no read event brings them */
}

static void resume_reading(h1conn *c)
{
    soon(c, &c->resume);
}

/* ---- the head ---- */

/* For a large body: h2o reads a socket until it would block, into an input buffer that
 * grows as needed, so a fast client could fill tens of MiB in one read event. A bounded
 * kernel receive buffer bounds what one event finds (it also ends TCP's receive-window
 * autotuning for this connection; best effort). */
static void limit_receive_buffer(h1conn *c)
{
    int fd = h2o_socket_get_fd(c->sock), size = (int)BODY_HIGH;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
        return; /* (unbounded reads cost memory, not correctness) */
}

/* The request's headers into req (names lowercased; Host, Upgrade and the framing
 * headers kept apart, as h2o does). */
static void take_headers(h1conn *c, const kiln_h1_head *h)
{
    h2o_req_t *req = &c->req;
    h2o_mem_pool_t *pool = &req->pool;
    h2o_vector_reserve(pool, &req->headers, h->nheaders);
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct phr_header *hd = &h->headers[i];
        h2o_iovec_t name = h2o_strdup(pool, hd->name, hd->name_len);
        h2o_strtolower(name.base, name.len);
        h2o_iovec_t value = h2o_strdup(pool, hd->value, hd->value_len);
        const h2o_token_t *t = h2o_lookup_token(name.base, name.len);
        if (t == H2O_TOKEN_HOST) {
            if (!req->input.authority.base) req->input.authority = value;
        } else if (t == H2O_TOKEN_CONTENT_LENGTH || t == H2O_TOKEN_TRANSFER_ENCODING ||
                   t == H2O_TOKEN_EXPECT) {
            continue; /* the framing: kiln_h1_parse_head */
        } else if (t == H2O_TOKEN_UPGRADE) {
            req->upgrade = value;
        } else if (t) {
            h2o_add_header(pool, &req->headers, t, NULL, value.base, value.len);
        } else {
            h2o_add_header_by_str(pool, &req->headers, name.base, name.len, 0, NULL, value.base,
                                  value.len);
        }
    }
}

/* The connection goes to HTTP/2 (a cleartext prior-knowledge preface): server/http2.c, or
 * h2o's with KILN_H2O_HTTP2=1. */
static void to_http2(h1conn *c)
{
    h2o_socket_t *sock = c->sock;
    h2o_accept_ctx_t *actx = c->actx;
    struct timeval at = c->super.connected_at;
    const kiln_http1_limits *lim = c->lim;
    c->sock = NULL;
    conn_close(c);
    if (kiln_http2_enabled())
        kiln_http2_accept(actx, sock, lim, at);
    else
        h2o_http2_accept(actx, sock, at);
}

/* `Upgrade: h2c` with HTTP2-Settings on a cleartext HTTP/1.1 request without a body: the
 * connection switches to server/http2.c, the request becoming its stream 1. */
static int want_h2c(h1conn *c, const kiln_h1_head *h)
{
    h2o_req_t *req = &c->req;
    return kiln_http2_enabled() && !c->sock->ssl && req->version == 0x101 && !h->chunked &&
           !h->length && req->upgrade.base &&
           kiln_h1_has_token(req->upgrade.base, req->upgrade.len, "h2c") &&
           h2o_find_header(&req->headers, H2O_TOKEN_HTTP2_SETTINGS, -1) >= 0;
}

static void on_upgrade_written(h2o_socket_t *sock, const char *err)
{
    h1conn *c = sock->data;
    c->writing = 0;
    if (!err && !c->closing) {
        c->sock = NULL;
        kiln_http2_accept_upgrade(c->actx, sock, c->lim, c->super.connected_at, &c->req);
    }
    c->closing = 0;
    conn_close(c);
}

static void start_request(h1conn *c);

static void on_continue_written(h2o_socket_t *sock, const char *err)
{
    h1conn *c = sock->data;
    c->writing = 0;
    if (err || c->closing) {
        c->closing = 0;
        conn_close(c);
        return;
    }
    start_request(c);
}

/* The body (what is buffered of it), then the handler. */
static void start_request(h1conn *c)
{
    if (c->reading_body) {
        timer_set(c, 1);
        h2o_socket_read_start(c->sock, on_read);
        feed_body(c);
        if (c->closing || !c->in_req) return; /* failed: answered and closing */
        /* the rest comes later: readers may have to wait (a complete body never blocks) */
        if (c->reading_body && (c->body->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            send_error_close(c, 503);
            return;
        }
    }
    h2o_process_request(&c->req);
}

static void parse_head(h1conn *c)
{
    h2o_buffer_t *in = c->sock->input;
    kiln_h1_head *h = kiln_malloc(sizeof *h); /* (large: not on the loop's stack) */
    if (!h) {
        send_error_close(c, 503);
        return;
    }
    if (c->req.timestamps.request_begin_at.tv_sec == 0)
        c->req.timestamps.request_begin_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
    int st = kiln_h1_parse_head(in->bytes, in->size, c->lim->max_head, c->lim->max_body, h);
    if (st == KILN_H1_MORE) goto out;
    if (st == KILN_H1_HTTP2) {
        kiln_free(h);
        to_http2(c);
        return;
    }
    h2o_req_t *req = &c->req;
    if (h->head_len) {
        c->in_req = 1;
        c->had_req = 1;
        req->input.method = h2o_strdup(&req->pool, h->method, h->method_len);
        req->input.path = h2o_strdup(&req->pool, h->path, h->path_len);
        req->input.scheme = c->sock->ssl ? &H2O_URL_SCHEME_HTTPS : &H2O_URL_SCHEME_HTTP;
        req->version = 0x100 | (h->minor != 0);
        if (!st) take_headers(c, h);
        h2o_buffer_consume(&c->sock->input, h->head_len);
        req->http1_is_persistent = h->persistent && !c->super.ctx->shutdown_requested;
    }
    if (st) {
        send_error_close(c, st);
        goto out;
    }
    h2o_socket_read_stop(c->sock);
    timer_set(c, 0);
    if (want_h2c(c, h)) {
        static h2o_iovec_t sw = {H2O_STRLIT(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")};
        c->writing = 1;
        h2o_socket_write(c->sock, &sw, 1, on_upgrade_written);
        goto out;
    }
    if (h->chunked || h->length) {
        c->reading_body = 1;
        kiln_h1_body_init(&c->bd, h, c->lim->max_body);
        if (!(c->body = kiln_body_buf_new(h->chunked ? SIZE_MAX : h->length, 2 * BODY_HIGH, c,
                                          body_on_read))) {
            send_error_close(c, 503);
            goto out;
        }
        req->timestamps.request_body_begin_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
        if (h->chunked || h->length > BODY_HIGH) limit_receive_buffer(c);
        if (h->expect_continue && req->version >= 0x101 && !c->sock->input->size) {
            static h2o_iovec_t cont = {H2O_STRLIT("HTTP/1.1 100 Continue\r\n\r\n")};
            c->writing = 1;
            h2o_socket_write(c->sock, &cont, 1, on_continue_written);
            goto out;
        }
    }
    kiln_free(h);
    start_request(c);
    return;
out:
    kiln_free(h);
}

/* ---- accepting ---- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    return h2o_socket_getsockname(((h1conn *)conn)->sock, sa);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    return h2o_socket_getpeername(((h1conn *)conn)->sock, sa);
}

static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    return ((h1conn *)conn)->sock;
}

static const h2o_conn_callbacks_t callbacks = {
    .get_sockname = get_sockname, .get_peername = get_peername, .get_socket = get_socket};

/* (The list holds only this codec's connections: h2o's HTTP/1 is not used with it.)
 * A connection accepted but not yet sent its first request stays: its client connected
 * to a server that was still accepting and will send it (closing it would fail that
 * request; a client retries only on a connection it used before). It is answered and
 * closed, or closed by the read timeout or the shutdown deadline. */
void kiln_http1_shutdown(h2o_context_t *ctx)
{
    h2o_linklist_t *node = ctx->http1._conns.next;
    while (node != &ctx->http1._conns) {
        h2o_linklist_t *next = node->next;
        h1conn *c = H2O_STRUCT_FROM_MEMBER(h1conn, link, node);
        c->req.http1_is_persistent = 0;
        if (!c->in_req && !c->writing && c->had_req) conn_close(c);
        node = next;
    }
}

int kiln_http1_is_ours(const h2o_conn_t *conn)
{
    return conn && conn->callbacks == &callbacks;
}

static void serve(h2o_accept_ctx_t *actx, h2o_socket_t *sock, const kiln_http1_limits *lim,
                  struct timeval at)
{
    h1conn *c = kiln_malloc(sizeof *c);
    if (!c) {
        h2o_socket_close(sock);
        return;
    }
    memset(c, 0, offsetof(h1conn, req));
    c->super.ctx = actx->ctx;
    c->super.hosts = actx->hosts;
    c->super.connected_at = at;
    c->super.callbacks = &callbacks;
    c->sock = sock;
    c->actx = actx;
    c->lim = lim;
    c->timer.cb = on_timeout;
    c->done.cb = on_done;
    c->resume.cb = on_resume;
    sock->data = c;
    h2o_linklist_insert(&actx->ctx->http1._conns, &c->link);
    request_init(c);
    timer_set(c, 1);
    h2o_socket_read_start(sock, on_read);
    if (sock->input->size) parse_head(c);
}

/* A TLS connection during its handshake. */
typedef struct tls_accept {
    h2o_accept_ctx_t *actx;
    const kiln_http1_limits *lim;
    h2o_socket_t *sock;
    h2o_timeout_entry_t timeout;
    struct timeval at;
} tls_accept;

static void on_handshake_timeout(h2o_timeout_entry_t *e)
{
    tls_accept *a = H2O_STRUCT_FROM_MEMBER(tls_accept, timeout, e);
    h2o_socket_close(a->sock);
    kiln_free(a);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    tls_accept *a = sock->data;
    sock->data = NULL;
    h2o_timeout_unlink(&a->timeout);
    if (err) {
        h2o_socket_close(sock);
    } else {
        h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
        int h2 = 0;
        for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len; id++)
            if (proto.len == id->len && memcmp(proto.base, id->base, proto.len) == 0) h2 = 1;
        if (h2 && kiln_http2_enabled())
            kiln_http2_accept(a->actx, sock, a->lim, a->at);
        else if (h2)
            h2o_http2_accept(a->actx, sock, a->at);
        else
            serve(a->actx, sock, a->lim, a->at);
    }
    kiln_free(a);
}

void kiln_http1_accept(h2o_accept_ctx_t *actx, h2o_socket_t *sock, const kiln_http1_limits *lim)
{
    struct timeval at = *h2o_get_timestamp(actx->ctx, NULL, NULL);
    if (!actx->ssl_ctx) {
        serve(actx, sock, lim, at);
        return;
    }
    tls_accept *a = kiln_calloc(1, sizeof *a);
    if (!a) {
        h2o_socket_close(sock);
        return;
    }
    *a = (tls_accept){actx, lim, sock, {0}, at};
    a->timeout.cb = on_handshake_timeout;
    h2o_timeout_link(actx->ctx->loop, &actx->ctx->handshake_timeout, &a->timeout);
    sock->data = a;
    h2o_socket_ssl_handshake(sock, actx->ssl_ctx, NULL, on_handshake);
}
