/* http2.c — Kiln's HTTP/2 connection codec (see http2.h). */
#include "server/http2.h"
#include "server/body_buf.h"
#include "server/http2_frame.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <h2o/http2.h>
#include "server/http2_hpack.h"

#define STREAM_WIN (1024 * 1024)     /* our initial stream window: a body's buffer */
#define CONN_WIN (16 * 1024 * 1024)  /* our connection window */
#define OUT_ROUND (256 * 1024)       /* frames gathered for one socket write */
#define OUT_READ_LIMIT (1024 * 1024) /* unwritten frames beyond which we stop reading */
#define MAX_BLOCK_FLOOR (64 * 1024)  /* a header block's hard limit is at least this */

typedef struct h2conn h2conn;
typedef struct h2stream h2stream;

struct h2stream {
    h2conn *c;
    uint32_t id;
    h2o_linklist_t link;    /* c->streams */
    h2o_linklist_t sendq;   /* c->sendq: has frames to make */
    h2o_linklist_t proceed; /* c->proceedq: asks the generator for more after the write */
    int64_t send_win;       /* what we may still send on it */
    int64_t recv_win;       /* what the client may still send */
    size_t credit;          /* read by the handler, not yet given back */
    kiln_body_buf *body;
    size_t seen;   /* body bytes received */
    size_t expect; /* content-length (SIZE_MAX: none) */
    h2o_headers_t trailers;
    h2o_ostream_t ostr;
    h2o_iovec_t *pend; /* the generator's last send, not yet framed: pend[0, npend) */
    size_t npend, pend_off;
    h2o_send_state_t pend_state;
    unsigned reading_body : 1, /* DATA still expected from the client */
        head_sent : 1,         /* HEADERS went out */
        no_body : 1,           /* the response has no body */
        has_send : 1,          /* pend holds a send not yet framed */
        own : 1,               /* the codec answered itself */
        res_done : 1;          /* END_STREAM (or RST_STREAM) went out */
    h2o_req_t req;             /* last: large */
};

struct h2conn {
    h2o_conn_t super;
    h2o_socket_t *sock;
    const kiln_http1_limits *lim;
    h2o_linklist_t link; /* this thread's connections */
    kiln_h2_reader rd;
    h2o_hpack_header_table_t in_tab, out_tab;
    h2o_http2_settings_t peer;
    int64_t send_win; /* connection window: what we may still send */
    int64_t recv_win; /* what the client may still send */
    size_t recv_unacked;
    h2o_linklist_t streams, sendq, proceedq;
    size_t nstreams;
    uint32_t last_id;      /* the highest stream the client opened */
    unsigned resets;       /* streams the client reset before their answer, lately */
    h2o_buffer_t *wbuf;    /* frames to write next */
    h2o_buffer_t *wflight; /* frames being written */
    h2o_timeout_entry_t idle, emit, reap;
    unsigned writing : 1, goaway_sent : 1, closing : 1, dead : 1, read_paused : 1;
};

static __thread h2o_linklist_t conns; /* this thread's connections */

static void do_emit(h2conn *c);
static void request_emit(h2conn *c);
static void conn_error(h2conn *c, int code);
static void on_read(h2o_socket_t *sock, const char *err);
static void stream_close(h2stream *s);
static void update_idle(h2conn *c);

int kiln_http2_enabled(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("KILN_H2O_HTTP2");
        v = !(e && strcmp(e, "1") == 0);
    }
    return v;
}

/* ---- frames out ---- */

/* Room for n more bytes at the end of c->wbuf. */
static uint8_t *out_reserve(h2conn *c, size_t n)
{
    return (uint8_t *)h2o_buffer_reserve(&c->wbuf, n).base;
}

static void out_frame(h2conn *c, uint8_t type, uint8_t flags, uint32_t id, const void *p, size_t n)
{
    uint8_t *dst = out_reserve(c, 9 + n);
    kiln_h2_frame_header(dst, n, type, flags, id);
    if (n) memcpy(dst + 9, p, n);
    c->wbuf->size += 9 + n;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void out_u32(h2conn *c, uint8_t type, uint32_t id, uint32_t v)
{
    uint8_t p[4];
    put32(p, v);
    out_frame(c, type, 0, id, p, 4);
}

static void out_goaway(h2conn *c, int code)
{
    uint8_t p[8];
    put32(p, c->last_id);
    put32(p + 4, (uint32_t)code);
    out_frame(c, KILN_H2_GOAWAY, 0, 0, p, 8);
    c->goaway_sent = 1;
}

/* ---- the body source ---- */

/* Gives the client back n bytes of the stream's window (in pieces of a quarter window,
 * so that WINDOW_UPDATE frames stay few). */
static void give_credit(h2stream *s, size_t n)
{
    s->credit += n;
    if (!s->reading_body || s->credit < STREAM_WIN / 4) return;
    out_u32(s->c, KILN_H2_WINDOW_UPDATE, s->id, (uint32_t)s->credit);
    s->recv_win += (int64_t)s->credit;
    s->credit = 0;
    request_emit(s->c);
    update_idle(s->c); /* the client may send again: it must within the timeout */
}

/* The handler read n bytes of the body: that much window goes back to the client. */
static void body_on_read(void *owner, size_t n)
{
    h2stream *s = owner;
    if (n && !s->c->dead) give_credit(s, n);
}

/* The stream is done with its body: a body still open fails for its reader. */
static void body_detach(h2stream *s)
{
    kiln_body_buf *b = s->body;
    if (!b) return;
    s->body = NULL;
    kiln_body_buf_detach(b);
}

static int is_h2_req(h2o_req_t *req);

kiln_body_source *kiln_http2_body(h2o_req_t *req)
{
    if (!is_h2_req(req)) return NULL;
    h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, req, req);
    if (!s->body) return NULL;
    s->body->refs++;
    return &s->body->src;
}

void kiln_http2_body_release(kiln_body_source *src)
{
    if (src) kiln_body_buf_unref((kiln_body_buf *)src);
}

size_t kiln_http2_body_bytes(h2o_req_t *req)
{
    return is_h2_req(req) ? H2O_STRUCT_FROM_MEMBER(h2stream, req, req)->seen : 0;
}

/* ---- streams ---- */

static h2stream *find_stream(h2conn *c, uint32_t id)
{
    for (h2o_linklist_t *n = c->streams.next; n != &c->streams; n = n->next) {
        h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, link, n);
        if (s->id == id) return s;
    }
    return NULL;
}

/* The idle timer runs while no stream is open or one waits for its client's body. */
static void update_idle(h2conn *c)
{
    int waiting = !c->nstreams;
    for (h2o_linklist_t *n = c->streams.next; !waiting && n != &c->streams; n = n->next) {
        h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, link, n);
        if (s->reading_body && s->body && kiln_body_buf_unread(s->body) < STREAM_WIN / 2)
            waiting = 1;
    }
    if (h2o_timeout_is_linked(&c->idle)) h2o_timeout_unlink(&c->idle);
    if (waiting && !c->dead)
        h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->http2.idle_timeout, &c->idle);
}

static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                       h2o_send_state_t state);

static h2stream *stream_new(h2conn *c, uint32_t id)
{
    h2stream *s = kiln_malloc(sizeof *s);
    if (!s) return NULL;
    memset(s, 0, offsetof(h2stream, req));
    s->c = c;
    s->id = id;
    s->send_win = c->peer.initial_window_size;
    s->recv_win = STREAM_WIN;
    s->expect = SIZE_MAX;
    h2o_init_request(&s->req, &c->super, NULL);
    s->req.version = 0x200;
    s->req._ostr_top = &s->ostr;
    s->ostr = (h2o_ostream_t){NULL, final_send, NULL, NULL};
    h2o_linklist_insert(&c->streams, &s->link);
    c->nstreams++;
    return s;
}

/* The stream is over for us (both halves, or reset): the request is disposed (a handler
 * still working sees the client gone). */
static void stream_close(h2stream *s)
{
    h2conn *c = s->c;
    h2o_linklist_unlink(&s->link);
    if (h2o_linklist_is_linked(&s->sendq)) h2o_linklist_unlink(&s->sendq);
    if (h2o_linklist_is_linked(&s->proceed)) h2o_linklist_unlink(&s->proceed);
    c->nstreams--;
    body_detach(s);
    h2o_dispose_request(&s->req);
    kiln_free(s);
    if (!c->nstreams && c->goaway_sent && !c->closing) {
        c->closing = 1; /* drained: closes once the last frames are written */
        request_emit(c);
    }
    if (!c->nstreams) update_idle(c);
}

/* A stream error: RST_STREAM with code, and the stream is gone. */
static void stream_reset(h2stream *s, int code)
{
    out_u32(s->c, KILN_H2_RST_STREAM, s->id, (uint32_t)code);
    request_emit(s->c);
    stream_close(s);
}

/* The response is framed to its end: the stream closes now when the request is over too;
 * else the client is told to stop sending (RST_STREAM NO_ERROR, RFC 9113 §8.1). */
static void response_done(h2stream *s)
{
    s->res_done = 1;
    s->c->resets = 0;
    s->req.timestamps.response_end_at = *h2o_get_timestamp(s->c->super.ctx, NULL, NULL);
    if (s->reading_body)
        stream_reset(s, KILN_H2_NO_ERROR);
    else
        stream_close(s);
}

/* ---- responses ---- */

/* 1 for response headers that HTTP/2 forbids or that the codec writes itself. */
static int skip_header(const h2o_header_t *h)
{
    const h2o_iovec_t *n = h->name;
    return n == &H2O_TOKEN_CONTENT_LENGTH->buf || n == &H2O_TOKEN_TRANSFER_ENCODING->buf ||
           n == &H2O_TOKEN_CONNECTION->buf || n == &H2O_TOKEN_UPGRADE->buf ||
           n == &H2O_TOKEN_KEEP_ALIVE->buf ||
           (n->len == 16 && strncasecmp(n->base, "proxy-connection", 16) == 0);
}

/* The response's HEADERS (END_STREAM when nothing follows). */
static void send_head(h2stream *s, int end_stream)
{
    h2conn *c = s->c;
    h2o_req_t *req = &s->req;
    int st = req->res.status;
    h2o_res_t res = req->res;
    memset(&res.headers, 0, sizeof res.headers);
    h2o_vector_reserve(&req->pool, &res.headers, req->res.headers.size);
    for (size_t i = 0; i < req->res.headers.size; i++)
        if (!skip_header(&req->res.headers.entries[i]))
            res.headers.entries[res.headers.size++] = req->res.headers.entries[i];
    size_t cl = req->res.content_length;
    if (st == 204 || st == 304 || (st >= 100 && st < 200)) cl = SIZE_MAX;
    h2o_timestamp_t ts;
    h2o_get_timestamp(c->super.ctx, &req->pool, &ts);
    req->timestamps.response_start_at = ts.at;
    size_t at = c->wbuf->size;
    h2o_hpack_flatten_response(&c->wbuf, &c->out_tab, s->id, c->peer.max_frame_size, &res, &ts,
                               &c->super.ctx->globalconf->server_name, cl);
    if (end_stream) c->wbuf->bytes[at + 4] |= KILN_H2_FLAG_END_STREAM;
    s->head_sent = 1;
}

/* The trailers as a header block (HPACK literals without indexing) in HEADERS and
 * CONTINUATION frames, the first with END_STREAM. */
static void send_trailers(h2stream *s)
{
    h2conn *c = s->c;
    size_t cap = 0;
    for (size_t i = 0; i < s->trailers.size; i++)
        cap += s->trailers.entries[i].name->len + s->trailers.entries[i].value.len + 11;
    uint8_t *blk = h2o_mem_alloc_pool(&s->req.pool, cap + 1), *p = blk;
    for (size_t i = 0; i < s->trailers.size; i++) {
        const h2o_header_t *h = &s->trailers.entries[i];
        *p++ = 0x00;
        p += h2o_hpack_encode_string(p, h->name->base, h->name->len);
        p += h2o_hpack_encode_string(p, h->value.base, h->value.len);
    }
    size_t len = (size_t)(p - blk), max = c->peer.max_frame_size, off = 0;
    uint8_t type = KILN_H2_HEADERS, flags = KILN_H2_FLAG_END_STREAM;
    do {
        size_t n = len - off < max ? len - off : max;
        if (off + n == len) flags |= KILN_H2_FLAG_END_HEADERS;
        out_frame(c, type, flags, s->id, blk + off, n);
        off += n;
        type = KILN_H2_CONTINUATION;
        flags = 0;
    } while (off < len);
}

/* Frames what the stream has to send, within the windows and the round's budget.
 * Returns 1 when the stream has nothing more to frame now (done, reset, or waiting for
 * the generator: the stream may be gone then), 0 when it waits for a window or the next
 * round. */
static int frame_stream(h2stream *s)
{
    h2conn *c = s->c;
    if (!s->has_send) return 1;
    int final = !h2o_send_state_is_in_progress(s->pend_state);
    /* END_STREAM on the last frame with data (no trailers follow) */
    int clean_end = s->pend_state == H2O_SEND_STATE_FINAL && !s->trailers.size;
    size_t left = 0;
    for (size_t i = 0; i < s->npend; i++)
        left += s->pend[i].len;
    left -= s->pend_off;
    if (!s->head_sent) {
        int st = s->req.res.status;
        int head = s->req.input.method.len == 4 && memcmp(s->req.input.method.base, "HEAD", 4) == 0;
        s->no_body = head || (st >= 100 && st < 200) || st == 204 || st == 304;
        if (s->no_body) left = 0;
        send_head(s, clean_end && !left);
        if (clean_end && !left) {
            s->has_send = 0;
            response_done(s);
            return 1;
        }
    }
    if (s->no_body) left = s->npend = s->pend_off = 0;
    while (left) {
        if (s->send_win <= 0 || c->send_win <= 0 || c->wbuf->size >= OUT_ROUND) return 0;
        size_t n = s->pend[0].len - s->pend_off;
        if (n > (size_t)s->send_win) n = (size_t)s->send_win;
        if (n > (size_t)c->send_win) n = (size_t)c->send_win;
        if (n > c->peer.max_frame_size) n = c->peer.max_frame_size;
        left -= n;
        uint8_t flags = !left && clean_end ? KILN_H2_FLAG_END_STREAM : 0;
        out_frame(c, KILN_H2_DATA, flags, s->id, s->pend[0].base + s->pend_off, n);
        s->send_win -= (int64_t)n;
        c->send_win -= (int64_t)n;
        s->pend_off += n;
        while (s->npend && s->pend_off == s->pend[0].len) {
            s->pend++;
            s->npend--;
            s->pend_off = 0;
        }
        if (flags) {
            s->has_send = 0;
            response_done(s);
            return 1;
        }
    }
    s->has_send = 0;
    if (!final) { /* more from the generator once this is written */
        h2o_linklist_insert(&c->proceedq, &s->proceed);
        return 1;
    }
    if (s->pend_state == H2O_SEND_STATE_ERROR) { /* a cut body: the client must see it */
        s->res_done = 1;
        stream_reset(s, KILN_H2_INTERNAL_ERROR);
        return 1;
    }
    if (s->trailers.size)
        send_trailers(s);
    else
        out_frame(c, KILN_H2_DATA, KILN_H2_FLAG_END_STREAM, s->id, NULL, 0);
    response_done(s);
    return 1;
}

/* h2o's final output stream: keeps what the generator sends until it is framed. */
static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                       h2o_send_state_t state)
{
    h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, ostr, self);
    if (s->res_done || s->own) return;
    s->pend = h2o_mem_alloc_pool(&req->pool, (n + 1) * sizeof *s->pend);
    s->npend = 0;
    for (size_t i = 0; i < n; i++)
        if (bufs[i].len) {
            s->pend[s->npend++] = bufs[i];
            req->bytes_sent += bufs[i].len;
        }
    s->pend_off = 0;
    s->pend_state = state;
    s->has_send = 1;
    if (!h2o_linklist_is_linked(&s->sendq)) h2o_linklist_insert(&s->c->sendq, &s->sendq);
    request_emit(s->c);
}

int kiln_http2_set_trailers(h2o_req_t *req, const kiln_http_header *hs, size_t n)
{
    if (!is_h2_req(req)) return -1;
    h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, req, req);
    for (size_t i = 0; i < n; i++) {
        const kiln_http_header *h = &hs[i];
        if (!h->name_len || memchr(h->name, '\r', h->name_len) ||
            memchr(h->name, '\n', h->name_len) || memchr(h->name, '\0', h->name_len) ||
            memchr(h->name, ':', h->name_len) || memchr(h->name, ' ', h->name_len) ||
            memchr(h->value, '\r', h->value_len) || memchr(h->value, '\n', h->value_len) ||
            memchr(h->value, '\0', h->value_len))
            continue;
        h2o_iovec_t nm = h2o_strdup(&req->pool, h->name, h->name_len);
        h2o_strtolower(nm.base, nm.len);
        h2o_iovec_t v = h2o_strdup(&req->pool, h->value, h->value_len);
        h2o_add_header_by_str(&req->pool, &s->trailers, nm.base, nm.len, 0, NULL, v.base, v.len);
    }
    return 0;
}

/* ---- the connection ---- */

/* Ends the connection now: streams disposed, socket closed; the memory goes from the
 * loop (callers up the stack may still look at c->dead). */
static void conn_close(h2conn *c)
{
    if (c->dead) return;
    c->dead = 1;
    while (!h2o_linklist_is_empty(&c->streams))
        stream_close(H2O_STRUCT_FROM_MEMBER(h2stream, link, c->streams.next));
    if (h2o_timeout_is_linked(&c->idle)) h2o_timeout_unlink(&c->idle);
    if (h2o_timeout_is_linked(&c->emit)) h2o_timeout_unlink(&c->emit);
    if (c->sock) h2o_socket_close(c->sock);
    c->sock = NULL;
    h2o_linklist_unlink(&c->link);
    h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->zero_timeout, &c->reap);
}

static void on_reap(h2o_timeout_entry_t *e)
{
    h2conn *c = H2O_STRUCT_FROM_MEMBER(h2conn, reap, e);
    h2o_hpack_dispose_header_table(&c->in_tab);
    h2o_hpack_dispose_header_table(&c->out_tab);
    kiln_h2_reader_free(&c->rd);
    h2o_buffer_dispose(&c->wbuf);
    h2o_buffer_dispose(&c->wflight);
    kiln_free(c);
}

/* A connection error: GOAWAY with code, the streams gone, the connection closed once the
 * frames are written. */
static void conn_error(h2conn *c, int code)
{
    if (c->dead || c->closing) return;
    while (!h2o_linklist_is_empty(&c->streams))
        stream_close(H2O_STRUCT_FROM_MEMBER(h2stream, link, c->streams.next));
    out_goaway(c, code);
    c->closing = 1;
    if (c->sock) h2o_socket_read_stop(c->sock);
    request_emit(c);
}

static void on_idle(h2o_timeout_entry_t *e)
{
    h2conn *c = H2O_STRUCT_FROM_MEMBER(h2conn, idle, e);
    conn_error(c, KILN_H2_NO_ERROR);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    h2conn *c = sock->data;
    c->writing = 0;
    if (err) {
        conn_close(c);
        return;
    }
    h2o_buffer_consume(&c->wflight, c->wflight->size);
    /* the generators whose last data is now out give more */
    while (!h2o_linklist_is_empty(&c->proceedq) && !c->dead) {
        h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, proceed, c->proceedq.next);
        h2o_linklist_unlink(&s->proceed);
        h2o_proceed_response(&s->req);
    }
    if (c->dead) return;
    if (c->read_paused && !c->closing && c->wbuf->size < OUT_READ_LIMIT) {
        c->read_paused = 0;
        h2o_socket_read_start(c->sock, on_read);
    }
    do_emit(c);
}

/* Frames what the streams have (round-robin, a budget per round) and writes the frames
 * when no write is outstanding; closes a closing connection once all is written. */
static void do_emit(h2conn *c)
{
    if (c->dead || c->writing) return;
    if (!c->closing) { /* each stream of the queue once: blocked ones go to the back */
        size_t k = 0;
        for (h2o_linklist_t *n = c->sendq.next; n != &c->sendq; n = n->next)
            k++;
        while (k-- && !h2o_linklist_is_empty(&c->sendq) && c->wbuf->size < OUT_ROUND) {
            h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, sendq, c->sendq.next);
            h2o_linklist_unlink(&s->sendq);
            if (!frame_stream(s)) h2o_linklist_insert(&c->sendq, &s->sendq);
        }
    }
    if (!c->wbuf->size) {
        if (c->closing) conn_close(c);
        return;
    }
    h2o_buffer_t *t = c->wflight;
    c->wflight = c->wbuf;
    c->wbuf = t;
    h2o_iovec_t buf = h2o_iovec_init(c->wflight->bytes, c->wflight->size);
    c->writing = 1;
    h2o_socket_write(c->sock, &buf, 1, on_written);
}

static void on_emit(h2o_timeout_entry_t *e)
{
    do_emit(H2O_STRUCT_FROM_MEMBER(h2conn, emit, e));
}

/* Frames are waiting: written from the loop soon (coalescing what comes meanwhile). */
static void request_emit(h2conn *c)
{
    if (!c->dead && !c->writing && !h2o_timeout_is_linked(&c->emit))
        h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->zero_timeout, &c->emit);
}

/* ---- requests ---- */

/* An answer of the codec's own (400, 413, 431) on stream s, before any handler's. */
static void own_answer(h2stream *s, int status)
{
    const char *reason = kiln_http_reason(status);
    char *msg = h2o_mem_alloc_pool(&s->req.pool, 64);
    int n = snprintf(msg, 64, "%d %s\n", status, reason);
    if (n < 0) n = 0;
    if (n >= 64) n = 63;
    if (!s->req.method.base) s->req.method = s->req.input.method;
    if (!s->req.path.base) s->req.path = s->req.input.path;
    if (!s->req.method.base) s->req.method = h2o_iovec_init(H2O_STRLIT(""));
    if (!s->req.path.base) s->req.path = h2o_iovec_init(H2O_STRLIT(""));
    if (s->c->lim->on_error) s->c->lim->on_error(s->c->lim->ctx, &s->req, status, (size_t)n);
    s->req.res.status = status;
    s->req.res.reason = reason;
    s->req.res.content_length = (size_t)n;
    h2o_add_header(&s->req.pool, &s->req.res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_iovec_t body = h2o_iovec_init(msg, (size_t)n);
    final_send(&s->ostr, &s->req, &body, 1, H2O_SEND_STATE_FINAL);
    s->own = 1; /* a handler's response, if any, is not sent */
}

/* The body failed (over the limit, or not matching its content-length): answered with
 * status when no response has started (the rest of the body is dropped, and RST_STREAM
 * NO_ERROR follows the answer), else the stream is reset with code. */
static void body_fail(h2stream *s, int status, int code)
{
    if (s->body) {
        s->body->state = KILN_BODY_ERROR;
        kiln_body_buf_signal(s->body);
    }
    if (status && !s->head_sent && !s->has_send && !s->res_done) {
        body_detach(s);
        own_answer(s, status);
    } else {
        s->reading_body = 0;
        stream_reset(s, code);
    }
}

/* Decodes a header block that belongs to no stream we serve (HPACK's table must follow). */
static int discard_block(h2conn *c, const kiln_h2_event *ev)
{
    h2o_req_t tmp;
    h2o_init_request(&tmp, &c->super, NULL);
    int map = 0;
    size_t cl;
    const char *err = NULL;
    int r = h2o_hpack_parse_headers(&tmp, &c->in_tab, ev->payload, ev->len, &map, &cl, NULL, &err);
    h2o_dispose_request(&tmp);
    return r && r != H2O_HTTP2_ERROR_INVALID_HEADER_CHAR ? KILN_H2_COMPRESSION_ERROR : 0;
}

/* Request trailers (HEADERS with END_STREAM after DATA): parsed, given to the body source
 * (kiln_body_source's trailers, at most 64 fields); the body ends. */
static int on_trailers(h2stream *s, const kiln_h2_event *ev)
{
    h2conn *c = s->c;
    size_t keep = s->req.headers.size, cl;
    const char *err = NULL;
    int r =
        h2o_hpack_parse_headers(&s->req, &c->in_tab, ev->payload, ev->len, NULL, &cl, NULL, &err);
    if (!r && s->body && s->req.headers.size > keep) {
        kiln_http_header hs[64];
        size_t n = 0;
        for (size_t i = keep; i < s->req.headers.size && n < 64; i++) {
            const h2o_header_t *h = &s->req.headers.entries[i];
            hs[n++] = (kiln_http_header){h->name->base, h->name->len, h->value.base, h->value.len};
        }
        kiln_body_buf_set_trailers(s->body, hs, n); /* (copied; none when out of memory) */
    }
    s->req.headers.size = keep;
    if (r && r != H2O_HTTP2_ERROR_INVALID_HEADER_CHAR && r != H2O_HTTP2_ERROR_PROTOCOL)
        return KILN_H2_COMPRESSION_ERROR;
    if (r || !(ev->flags & KILN_H2_FLAG_END_STREAM) || !s->reading_body) {
        stream_reset(s, KILN_H2_PROTOCOL_ERROR);
        return 0;
    }
    if (s->expect != SIZE_MAX && s->seen != s->expect) {
        body_fail(s, 0, KILN_H2_PROTOCOL_ERROR);
        return 0;
    }
    s->reading_body = 0;
    if (s->body) {
        s->body->state = KILN_BODY_END;
        kiln_body_buf_signal(s->body);
    }
    return 0;
}

/* A new stream's header block. 0, or a connection error code. */
static int on_headers(h2conn *c, const kiln_h2_event *ev)
{
    h2stream *s = find_stream(c, ev->stream_id);
    if (s) return on_trailers(s, ev);
    if (!(ev->stream_id & 1)) return KILN_H2_PROTOCOL_ERROR;
    if (ev->stream_id <= c->last_id) return KILN_H2_STREAM_CLOSED;
    c->last_id = ev->stream_id;
    if (c->goaway_sent || c->super.ctx->shutdown_requested) { /* stopping: the client retries */
        int e = discard_block(c, ev);
        if (!e) out_u32(c, KILN_H2_RST_STREAM, ev->stream_id, KILN_H2_REFUSED_STREAM);
        return e;
    }
    if (!(s = stream_new(c, ev->stream_id))) return KILN_H2_INTERNAL_ERROR;
    h2o_req_t *req = &s->req;
    req->timestamps.request_begin_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
    int map = 0;
    size_t cl = SIZE_MAX;
    const char *err = NULL;
    int r = h2o_hpack_parse_headers(req, &c->in_tab, ev->payload, ev->len, &map, &cl, NULL, &err);
    if (r && r != H2O_HTTP2_ERROR_INVALID_HEADER_CHAR) {
        stream_close(s);
        return r == H2O_HTTP2_ERROR_PROTOCOL ? KILN_H2_PROTOCOL_ERROR : KILN_H2_COMPRESSION_ERROR;
    }
    int need = H2O_HPACK_PARSE_HEADERS_METHOD_EXISTS | H2O_HPACK_PARSE_HEADERS_PATH_EXISTS |
               H2O_HPACK_PARSE_HEADERS_SCHEME_EXISTS;
    if ((map & need) != need) {
        stream_reset(s, KILN_H2_PROTOCOL_ERROR);
        return 0;
    }
    if (c->nstreams > KILN_H2_MAX_STREAMS) {
        stream_reset(s, KILN_H2_REFUSED_STREAM);
        return 0;
    }
    int end = ev->flags & KILN_H2_FLAG_END_STREAM;
    s->expect = cl;
    s->reading_body = !end;
    if (end && cl != SIZE_MAX && cl != 0) {
        stream_reset(s, KILN_H2_PROTOCOL_ERROR);
        return 0;
    }
    size_t head = req->input.method.len + req->input.path.len + req->input.authority.len;
    for (size_t i = 0; i < req->headers.size; i++)
        head += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    int status = head > c->lim->max_head                   ? 431
                 : r                                       ? 400
                 : cl != SIZE_MAX && cl > c->lim->max_body ? 413
                                                           : 0;
    if (status) { /* (a body is dropped, RST_STREAM NO_ERROR follows the answer) */
        own_answer(s, status);
        return 0;
    }
    if (s->reading_body) {
        kiln_body_buf *b = kiln_body_buf_new(cl, 2 * STREAM_WIN, s, body_on_read);
        if (!b || (b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            if (b) kiln_body_buf_unref(b);
            stream_reset(s, KILN_H2_REFUSED_STREAM);
            return 0;
        }
        s->body = b;
        req->timestamps.request_body_begin_at = req->timestamps.request_begin_at;
    }
    h2o_process_request(req);
    return 0;
}

/* DATA. 0, or a connection error code. */
static int on_data(h2conn *c, const kiln_h2_event *ev)
{
    c->recv_win -= (int64_t)ev->flow;
    if (c->recv_win < 0) return KILN_H2_FLOW_CONTROL_ERROR;
    c->recv_unacked += ev->flow; /* the connection window: the stream windows bound buffers */
    if (c->recv_unacked >= CONN_WIN / 2) {
        out_u32(c, KILN_H2_WINDOW_UPDATE, 0, (uint32_t)c->recv_unacked);
        c->recv_win += (int64_t)c->recv_unacked;
        c->recv_unacked = 0;
        request_emit(c);
    }
    h2stream *s = find_stream(c, ev->stream_id);
    if (!s) return ev->stream_id > c->last_id ? KILN_H2_PROTOCOL_ERROR : 0; /* closed: dropped */
    if (!s->reading_body) {
        stream_reset(s, KILN_H2_STREAM_CLOSED);
        return 0;
    }
    s->recv_win -= (int64_t)ev->flow;
    if (!s->body) { /* answered by the codec: dropped */
        if (ev->flags & KILN_H2_FLAG_END_STREAM) s->reading_body = 0;
        give_credit(s, ev->flow);
        return 0;
    }
    if (s->recv_win < 0) {
        body_fail(s, 0, KILN_H2_FLOW_CONTROL_ERROR);
        return 0;
    }
    s->seen += ev->len;
    if (s->expect != SIZE_MAX && s->seen > s->expect) {
        body_fail(s, 0, KILN_H2_PROTOCOL_ERROR);
        return 0;
    }
    if (s->seen > c->lim->max_body) {
        body_fail(s, 413, KILN_H2_CANCEL);
        return 0;
    }
    kiln_body_buf *b = s->body;
    size_t give = ev->flow - ev->len; /* padding: back at once */
    if (b && !s->res_done) {
        if (kiln_body_buf_append(b, ev->payload, ev->len) < 0) {
            body_fail(s, 0, KILN_H2_INTERNAL_ERROR);
            return 0;
        }
    } else {
        give += ev->len; /* nobody reads it */
    }
    if (ev->flags & KILN_H2_FLAG_END_STREAM) {
        if (s->expect != SIZE_MAX && s->seen != s->expect) {
            body_fail(s, 0, KILN_H2_PROTOCOL_ERROR);
            return 0;
        }
        s->reading_body = 0;
        if (b) b->state = KILN_BODY_END;
    }
    if (b) kiln_body_buf_signal(b);
    if (give) give_credit(s, give);
    return 0;
}

/* Applies the client's SETTINGS and acknowledges them. 0 or a connection error code. */
static int on_settings(h2conn *c, const kiln_h2_event *ev)
{
    if (ev->flags & KILN_H2_FLAG_ACK) return 0;
    uint32_t old = c->peer.initial_window_size;
    const char *err = NULL;
    int r = h2o_http2_update_peer_settings(&c->peer, ev->payload, ev->len, &err);
    if (r)
        return r == H2O_HTTP2_ERROR_FLOW_CONTROL ? KILN_H2_FLOW_CONTROL_ERROR
                                                 : KILN_H2_PROTOCOL_ERROR;
    int64_t delta = (int64_t)c->peer.initial_window_size - (int64_t)old;
    for (h2o_linklist_t *n = c->streams.next; delta && n != &c->streams; n = n->next) {
        h2stream *s = H2O_STRUCT_FROM_MEMBER(h2stream, link, n);
        s->send_win += delta;
        if (s->send_win > INT32_MAX) return KILN_H2_FLOW_CONTROL_ERROR;
    }
    out_frame(c, KILN_H2_SETTINGS, KILN_H2_FLAG_ACK, 0, NULL, 0);
    request_emit(c);
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One event from the reader. 0, or a connection error code. */
static int on_event(h2conn *c, const kiln_h2_event *ev)
{
    h2stream *s;
    switch (ev->type) {
    case KILN_H2_HEADERS:
        return on_headers(c, ev);
    case KILN_H2_DATA:
        return on_data(c, ev);
    case KILN_H2_SETTINGS:
        return on_settings(c, ev);
    case KILN_H2_PING:
        if (!(ev->flags & KILN_H2_FLAG_ACK)) {
            out_frame(c, KILN_H2_PING, KILN_H2_FLAG_ACK, 0, ev->payload, 8);
            request_emit(c);
        }
        return 0;
    case KILN_H2_GOAWAY: /* the client opens no more streams: close once they are done */
        if (!c->goaway_sent) out_goaway(c, KILN_H2_NO_ERROR);
        if (!c->nstreams) c->closing = 1;
        request_emit(c);
        return 0;
    case KILN_H2_RST_STREAM:
        if ((s = find_stream(c, ev->stream_id))) {
            /* streams opened and reset at once cost the server work, not the client
             * (CVE-2023-44487): a client that keeps doing it loses the connection */
            if (!s->res_done && ++c->resets > 2 * KILN_H2_MAX_STREAMS)
                return KILN_H2_ENHANCE_YOUR_CALM;
            s->res_done = 1;
            stream_close(s);
        } else if (ev->stream_id > c->last_id) {
            return KILN_H2_PROTOCOL_ERROR; /* an idle stream */
        }
        return 0;
    case KILN_H2_WINDOW_UPDATE: {
        uint32_t inc = get32(ev->payload) & 0x7fffffffu;
        if (!ev->stream_id) {
            if (!inc) return KILN_H2_PROTOCOL_ERROR;
            c->send_win += inc;
            if (c->send_win > INT32_MAX) return KILN_H2_FLOW_CONTROL_ERROR;
        } else if ((s = find_stream(c, ev->stream_id))) {
            if (!inc) {
                stream_reset(s, KILN_H2_PROTOCOL_ERROR);
                return 0;
            }
            s->send_win += inc;
            if (s->send_win > INT32_MAX) {
                stream_reset(s, KILN_H2_FLOW_CONTROL_ERROR);
                return 0;
            }
        } else if (ev->stream_id > c->last_id) {
            return KILN_H2_PROTOCOL_ERROR;
        }
        request_emit(c);
        return 0;
    }
    case KILN_H2_PRIORITY: /* parsed (by the reader), ignored */
    default:
        return 0;
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    h2conn *c = sock->data;
    if (err) {
        conn_close(c);
        return;
    }
    h2o_buffer_t **in = &sock->input;
    while (!c->dead && !c->closing) {
        size_t used;
        kiln_h2_event ev;
        int r = kiln_h2_read(&c->rd, (const uint8_t *)(*in)->bytes, (*in)->size, &used, &ev);
        if (r < 0) {
            conn_error(c, -r);
            break;
        }
        if (r == 1) {
            int e = on_event(c, &ev);
            if (e) {
                conn_error(c, e);
                break;
            }
        }
        if (c->dead) return;
        if (used) h2o_buffer_consume(in, used);
        if (!r && !used) break;
        if (c->wbuf->size >= OUT_READ_LIMIT) { /* the client reads slower than it asks */
            c->read_paused = 1;
            h2o_socket_read_stop(sock);
            break;
        }
    }
    if (c->dead) return;
    update_idle(c);
    do_emit(c);
}

/* ---- accepting ---- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    return h2o_socket_getsockname(((h2conn *)conn)->sock, sa);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    return h2o_socket_getpeername(((h2conn *)conn)->sock, sa);
}

static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    return ((h2conn *)conn)->sock;
}

static const h2o_conn_callbacks_t callbacks = {
    .get_sockname = get_sockname, .get_peername = get_peername, .get_socket = get_socket};

int kiln_http2_is_ours(const h2o_conn_t *conn)
{
    return conn && conn->callbacks == &callbacks;
}

static int is_h2_req(h2o_req_t *req)
{
    return kiln_http2_is_ours(req->conn) && req->version == 0x200;
}

static void conns_init(void)
{
    if (!conns.next) h2o_linklist_init_anchor(&conns);
}

/* A connection on sock with our SETTINGS and connection window queued (NULL: out of
 * memory, sock closed). */
static h2conn *conn_new(h2o_accept_ctx_t *actx, h2o_socket_t *sock, const kiln_http1_limits *lim,
                        struct timeval connected_at)
{
    conns_init();
    h2conn *c = kiln_calloc(1, sizeof *c);
    if (!c) {
        h2o_socket_close(sock);
        return NULL;
    }
    c->super.ctx = actx->ctx;
    c->super.hosts = actx->hosts;
    c->super.connected_at = connected_at;
    c->super.callbacks = &callbacks;
    c->sock = sock;
    c->lim = lim;
    size_t max_block = 2 * lim->max_head;
    kiln_h2_reader_init(&c->rd, max_block > MAX_BLOCK_FLOOR ? max_block : MAX_BLOCK_FLOOR);
    c->in_tab.hpack_capacity = c->in_tab.hpack_max_capacity =
        H2O_HTTP2_SETTINGS_DEFAULT.header_table_size;
    c->out_tab.hpack_capacity = c->out_tab.hpack_max_capacity =
        H2O_HTTP2_SETTINGS_DEFAULT.header_table_size;
    c->peer = H2O_HTTP2_SETTINGS_DEFAULT;
    c->send_win = 65535;
    c->recv_win = CONN_WIN;
    h2o_linklist_init_anchor(&c->streams);
    h2o_linklist_init_anchor(&c->sendq);
    h2o_linklist_init_anchor(&c->proceedq);
    h2o_buffer_init(&c->wbuf, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&c->wflight, &h2o_socket_buffer_prototype);
    c->idle.cb = on_idle;
    c->emit.cb = on_emit;
    c->reap.cb = on_reap;
    h2o_linklist_insert(&conns, &c->link);
    sock->data = c;
    /* our SETTINGS: no push, our stream limit and window; then the connection window */
    static const uint8_t settings[] = {0,
                                       2,
                                       0,
                                       0,
                                       0,
                                       0, /* ENABLE_PUSH 0 */
                                       0,
                                       3,
                                       0,
                                       0,
                                       0,
                                       KILN_H2_MAX_STREAMS, /* MAX_CONCURRENT_STREAMS */
                                       0,
                                       4,
                                       (STREAM_WIN >> 24) & 0xff,
                                       (STREAM_WIN >> 16) & 0xff,
                                       (STREAM_WIN >> 8) & 0xff,
                                       STREAM_WIN & 0xff}; /* INITIAL_WINDOW_SIZE */
    out_frame(c, KILN_H2_SETTINGS, 0, 0, settings, sizeof settings);
    out_u32(c, KILN_H2_WINDOW_UPDATE, 0, CONN_WIN - 65535);
    return c;
}

/* Reads what the client sends (the preface first). */
static void conn_start(h2conn *c)
{
    h2o_timeout_link(c->super.ctx->loop, &c->super.ctx->http2.idle_timeout, &c->idle);
    h2o_socket_read_start(c->sock, on_read);
    if (c->sock->input->size)
        on_read(c->sock, NULL);
    else
        do_emit(c);
}

void kiln_http2_accept(h2o_accept_ctx_t *actx, h2o_socket_t *sock, const kiln_http1_limits *lim,
                       struct timeval connected_at)
{
    h2conn *c = conn_new(actx, sock, lim, connected_at);
    if (c) conn_start(c);
}

void kiln_http2_accept_upgrade(h2o_accept_ctx_t *actx, h2o_socket_t *sock,
                               const kiln_http1_limits *lim, struct timeval connected_at,
                               h2o_req_t *h1)
{
    h2conn *c = conn_new(actx, sock, lim, connected_at);
    if (!c) return;
    h2stream *s = stream_new(c, 1);
    if (!s) {
        conn_close(c);
        return;
    }
    c->last_id = 1;
    /* the client's HTTP2-Settings (base64url of a SETTINGS payload) */
    ssize_t i = h2o_find_header(&h1->headers, H2O_TOKEN_HTTP2_SETTINGS, -1);
    h2o_iovec_t set = i < 0 ? h2o_iovec_init(NULL, 0)
                            : h2o_decode_base64url(&s->req.pool, h1->headers.entries[i].value.base,
                                                   h1->headers.entries[i].value.len);
    const char *err = NULL;
    if (set.base && (set.len % 6 || h2o_http2_update_peer_settings(
                                        &c->peer, (const uint8_t *)set.base, set.len, &err) != 0)) {
        conn_error(c, KILN_H2_PROTOCOL_ERROR);
        return;
    }
    s->send_win = c->peer.initial_window_size;
    /* stream 1 is the request of the upgrade, half-closed: copied into its own pool */
    h2o_req_t *req = &s->req;
    h2o_mem_pool_t *pool = &req->pool;
    req->timestamps.request_begin_at = h1->timestamps.request_begin_at;
    req->input.method = h2o_strdup(pool, h1->input.method.base, h1->input.method.len);
    req->input.path = h2o_strdup(pool, h1->input.path.base, h1->input.path.len);
    if (h1->input.authority.base)
        req->input.authority = h2o_strdup(pool, h1->input.authority.base, h1->input.authority.len);
    req->input.scheme = h1->input.scheme;
    for (size_t k = 0; k < h1->headers.size; k++) {
        const h2o_header_t *h = &h1->headers.entries[k];
        const h2o_iovec_t *n = h->name;
        if (n == &H2O_TOKEN_HTTP2_SETTINGS->buf || n == &H2O_TOKEN_CONNECTION->buf ||
            n == &H2O_TOKEN_UPGRADE->buf)
            continue;
        h2o_iovec_t v = h2o_strdup(pool, h->value.base, h->value.len);
        if (h2o_iovec_is_token(n))
            h2o_add_header(pool, &req->headers, H2O_STRUCT_FROM_MEMBER(h2o_token_t, buf, n), NULL,
                           v.base, v.len);
        else
            h2o_add_header_by_str(pool, &req->headers, n->base, n->len, 1, NULL, v.base, v.len);
    }
    h2o_process_request(req);
    if (!c->dead) conn_start(c);
}

/* Calls fn on each of this thread's connections of ctx (fn may close it). */
static void each_conn(h2o_context_t *ctx, void (*fn)(h2conn *c))
{
    conns_init();
    h2o_linklist_t *n = conns.next;
    while (n != &conns) {
        h2o_linklist_t *next = n->next;
        h2conn *c = H2O_STRUCT_FROM_MEMBER(h2conn, link, n);
        if (c->super.ctx == ctx) fn(c);
        n = next;
    }
}

/* GOAWAY: no new streams; the connection closes once its streams are done. */
static void drain(h2conn *c)
{
    if (c->goaway_sent || c->closing) return;
    out_goaway(c, KILN_H2_NO_ERROR);
    if (!c->nstreams) c->closing = 1;
    do_emit(c);
}

void kiln_http2_shutdown(h2o_context_t *ctx)
{
    each_conn(ctx, drain);
}

void kiln_http2_close_all(h2o_context_t *ctx)
{
    each_conn(ctx, conn_close);
}

size_t kiln_http2_conns(h2o_context_t *ctx)
{
    conns_init();
    size_t k = 0;
    for (h2o_linklist_t *n = conns.next; n != &conns; n = n->next)
        if (H2O_STRUCT_FROM_MEMBER(h2conn, link, n)->super.ctx == ctx) k++;
    return k;
}
