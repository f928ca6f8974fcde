/* client_h2.c — HTTP/2 (RFC 9113) connections of the outbound client: design in
 * client_h2.h. Everything below runs under h2_lock; the I/O thread owns the sockets. */
#include "host/wasihttp/client_h2.h"

#include "host/wasihttp/outbound.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/hpack.h"

#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

const unsigned char wh_h2_alpn[] = "\x02h2\x08http/1.1";
const unsigned wh_h2_alpn_len = sizeof wh_h2_alpn - 1;

/* frame types and flags (RFC 9113 section 6) */
enum {
    F_DATA,
    F_HEADERS,
    F_PRIORITY,
    F_RST,
    F_SETTINGS,
    F_PUSH,
    F_PING,
    F_GOAWAY,
    F_WINUP,
    F_CONT
};
enum { FL_END_STREAM = 0x1, FL_ACK = 0x1, FL_END_HEADERS = 0x4, FL_PADDED = 0x8, FL_PRIO = 0x20 };
/* error codes (section 7) */
enum {
    E_NO_ERROR = 0,
    E_PROTOCOL = 1,
    E_INTERNAL = 2,
    E_FLOW = 3,
    E_FRAME_SIZE = 6,
    E_REFUSED = 7,
    E_CANCEL = 8,
    E_COMPRESSION = 9,
    E_CALM = 11, /* ENHANCE_YOUR_CALM */
};

#define OUR_MAX_FRAME 16384u          /* SETTINGS_MAX_FRAME_SIZE (the default) */
#define STREAM_WINDOW (256u << 10)    /* SETTINGS_INITIAL_WINDOW_SIZE we announce */
#define CONN_WINDOW (4u << 20)        /* the connection window we open to */
#define HEADER_BLOCK_MAX (256u << 10) /* a header block, across CONTINUATION frames */
#define OUT_HIGH (256u << 10)         /* DATA is queued while less than this is pending */
#define STREAM_BUFFER (256u << 10)    /* a streamed request body buffers at most */
#define OUT_MAX (4u << 20) /* more pending (a peer flooding PINGs, reading nothing): ended */
#define IDLE_NS (30ull * 1000000000u) /* an idle connection is closed after */
#define MAX_WINDOW 0x7fffffffll
#define ORIGINS_MAX 256

typedef struct h2conn h2conn;

struct h2_stream {
    uint32_t id;
    h2conn *c; /* NULL once the connection is gone */
    int efd;
    h2_stream *next;
    int closed; /* no longer counted as active */
    /* request */
    kiln_buf req;
    size_t req_off;
    int req_done;      /* END_STREAM sent */
    int req_more;      /* a streamed body: more may come (wh_h2_write) until wh_h2_end */
    kiln_buf trailers; /* their HPACK block, sent after the body (empty: none) */
    int64_t send_win;
    /* response */
    int head_ready, head_taken, head_only;
    uint16_t status;
    wh_fields *headers;
    wh_fields *rtrailers; /* the last HEADERS frame's fields (NULL: none) */
    kiln_buf data;
    size_t data_off;
    int eof, failed, retry;
    uint32_t ecode;
    int64_t recv_win;
    uint32_t unacked; /* bytes read by the guest, not yet given back */
};

struct h2conn {
    char key[WH_HOST_MAX + 16];
    int fd;
    SSL *ssl;
    kiln_buf out, in;
    size_t out_off, in_off;
    kiln_hpack_dec dec;
    uint32_t next_id;
    uint32_t peer_max_streams, peer_init_win, peer_max_frame;
    int64_t send_win;
    uint32_t recv_unacked;
    h2_stream *streams;
    unsigned active;
    int got_settings, goaway, dead, want_write;
    uint32_t cont_id; /* the stream of an unfinished header block (0: none) */
    int cont_end_stream;
    kiln_buf hblock;
    uint64_t idle_since;
    h2conn *next;
};

typedef struct origin {
    char key[WH_HOST_MAX + 16];
    int dialing, h1;
} origin;

static pthread_mutex_t h2_lock = PTHREAD_MUTEX_INITIALIZER;
static h2conn *conns;
static origin origins[ORIGINS_MAX];
static size_t norigins;
static int ep = -1, wake_fd = -1;
static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_ok;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n; /* EAGAIN: saturated, the waiter wakes anyway */
}

static void wake_loop(void)
{
    if (wake_fd >= 0) signal_fd(wake_fd);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Queues a frame on c. 0, or -1 out of memory (the connection is then dead). */
static int frame(h2conn *c, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags};
    put32(h + 5, sid & 0x7fffffff);
    if (kiln_buf_append(&c->out, h, 9) < 0 || (n && kiln_buf_append(&c->out, p, n) < 0)) {
        c->dead = 1;
        return -1;
    }
    return 0;
}

static void window_update(h2conn *c, uint32_t sid, uint32_t incr)
{
    uint8_t p[4];
    put32(p, incr);
    frame(c, F_WINUP, 0, sid, p, 4);
}

static void rst(h2conn *c, uint32_t sid, uint32_t code)
{
    uint8_t p[4];
    put32(p, code);
    frame(c, F_RST, 0, sid, p, 4);
}

/* ---- origins: who dials, who speaks HTTP/1.1 ---- */

static origin *origin_of(const char *key, int make)
{
    for (size_t i = 0; i < norigins; i++)
        if (strcmp(origins[i].key, key) == 0) return &origins[i];
    if (!make) return NULL;
    if (norigins == ORIGINS_MAX) { /* forget one nobody dials */
        for (size_t i = 0; i < norigins; i++)
            if (!origins[i].dialing) {
                origins[i] = origins[--norigins];
                break;
            }
        if (norigins == ORIGINS_MAX) return NULL;
    }
    origin *o = &origins[norigins++];
    memset(o, 0, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", key);
    return o;
}

int wh_h2_dial_begin(const char *key)
{
    pthread_mutex_lock(&h2_lock);
    origin *o = origin_of(key, 1);
    int r = !o || o->h1 ? 2 : o->dialing ? 0 : 1;
    if (r == 1) o->dialing = 1;
    pthread_mutex_unlock(&h2_lock);
    return r;
}

void wh_h2_dial_end(const char *key, int h2)
{
    pthread_mutex_lock(&h2_lock);
    origin *o = origin_of(key, 0);
    if (o) {
        o->dialing = 0;
        if (h2 == 0) o->h1 = 1;
        if (h2 == 1) o->h1 = 0;
    }
    pthread_mutex_unlock(&h2_lock);
}

static int usable(const h2conn *c)
{
    return !c->dead && !c->goaway && c->active < c->peer_max_streams && c->next_id < 0x7fffffff;
}

int wh_h2_has_room(const char *key)
{
    int room = 0;
    pthread_mutex_lock(&h2_lock);
    for (h2conn *c = conns; c && !room; c = c->next)
        room = usable(c) && strcmp(c->key, key) == 0;
    pthread_mutex_unlock(&h2_lock);
    return room;
}

/* ---- streams: state changes the guest sees ---- */

static void stream_closed(h2_stream *s)
{
    if (s->closed) return;
    s->closed = 1;
    if (s->c && s->c->active) s->c->active--;
    if (s->c && !s->c->active) s->c->idle_since = now_ns();
}

static void stream_fail(h2_stream *s, uint32_t ecode, int retry)
{
    if (!s->failed && !(s->eof && s->head_ready)) {
        s->failed = 1;
        s->ecode = ecode;
        s->retry = retry && !s->head_ready;
    }
    stream_closed(s);
    signal_fd(s->efd);
}

static h2_stream *find(h2conn *c, uint32_t id)
{
    for (h2_stream *s = c->streams; s; s = s->next)
        if (s->id == id) return s;
    return NULL;
}

/* The stream ended on both sides? Then it no longer counts. */
static void maybe_closed(h2_stream *s)
{
    if (s->eof && s->req_done) stream_closed(s);
}

/* ---- the connection ---- */

/* Ends c: GOAWAY with code (queued and flushed as far as it goes), every stream failed
 * (ecode; retryable when the server cannot have seen it), the socket closed. */
static void conn_kill(h2conn *c, uint32_t code, uint32_t ecode)
{
    if (c->fd < 0) return;
    if (!c->dead && code != (uint32_t)-1) {
        uint8_t p[8];
        put32(p, 0);
        put32(p + 4, code);
        frame(c, F_GOAWAY, 0, 0, p, 8);
        if (c->out.len > c->out_off) {
            ERR_clear_error();
            (void)SSL_write(c->ssl, c->out.data + c->out_off, (int)(c->out.len - c->out_off));
        }
    }
    c->dead = 1;
    for (h2_stream *s = c->streams; s; s = s->next) {
        stream_fail(s, ecode, 0);
        s->c = NULL;
    }
    c->streams = NULL;
    c->active = 0;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
}

static void conn_free(h2conn *c)
{
    kiln_buf_free(&c->out);
    kiln_buf_free(&c->in);
    kiln_buf_free(&c->hblock);
    kiln_hpack_dec_free(&c->dec);
    kiln_free(c);
}

/* A response field (hpack emit): collects :status and the regular fields. */
typedef struct collect {
    int status;
    wh_fields *f;
    int bad, oom, pseudo_after;
    size_t size;
    int regular;
    int trailer; /* a trailer section: what may not be a trailer is dropped */
} collect;

static int collect_field(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    collect *k = ctx;
    k->size += nlen + vlen + 32;
    if (k->size > WH_RESPONSE_HEAD_MAX) return 0; /* reported by the caller */
    for (size_t i = 0; i < nlen; i++)
        if (name[i] >= 'A' && name[i] <= 'Z') k->bad = 1;
    if (nlen && name[0] == ':') {
        if (k->regular || nlen != 7 || memcmp(name, ":status", 7) != 0 || k->status >= 0 ||
            vlen != 3)
            k->bad = 1;
        else {
            k->status = 0;
            for (size_t i = 0; i < 3; i++) {
                if (value[i] < '0' || value[i] > '9') k->bad = 1;
                k->status = k->status * 10 + (value[i] - '0');
            }
        }
        return 0;
    }
    k->regular = 1;
    if (!k->f || k->bad || !wh_name_valid(name, nlen)) {
        if (nlen && !wh_name_valid(name, nlen)) k->bad = 1;
        return 0;
    }
    if (strcasecmp(name, "connection") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
        strcasecmp(name, "keep-alive") == 0 || strcasecmp(name, "upgrade") == 0) {
        k->bad = 1; /* connection-specific: malformed in HTTP/2 (8.2.2) */
        return 0;
    }
    int drop = k->trailer ? wh_trailer_skipped(name, nlen) : wh_name_forbidden(name, nlen);
    if (!drop && wh_value_valid((const uint8_t *)value, vlen) &&
        wh_fields_append(k->f, name, nlen, (const uint8_t *)value, vlen) < 0)
        k->oom = 1;
    return 0;
}

/* A complete header block for stream id. 0, or -1 after a connection error. */
static int on_header_block(h2conn *c, uint32_t id, int end_stream)
{
    h2_stream *s = find(c, id);
    int trailers = s && s->head_ready;
    collect k = {-1, NULL, 0, 0, 0, 0, 0, trailers};
    if (s && !(k.f = wh_fields_new())) k.oom = 1;
    int rc = kiln_hpack_decode(&c->dec, (const uint8_t *)c->hblock.data, c->hblock.len,
                               (size_t)1 << 24, collect_field, &k);
    c->hblock.len = 0;
    if (rc < 0) { /* the decoder's state is lost with it: the connection ends */
        wh_fields_free(k.f);
        conn_kill(c, E_COMPRESSION, WH_E_HTTP_PROTOCOL_ERROR);
        return -1;
    }
    if (!s || s->failed) { /* a stream we reset: decoded for the table, dropped */
        wh_fields_free(k.f);
        return 0;
    }
    if (trailers) { /* trailers: they end the stream, kept for wh_h2_trailers */
        if (!end_stream || k.status >= 0 || k.bad || k.oom || k.size > WH_RESPONSE_HEAD_MAX) {
            wh_fields_free(k.f);
            rst(c, id, k.oom ? E_INTERNAL : E_PROTOCOL);
            stream_fail(s,
                        k.oom                           ? WH_E_INTERNAL
                        : k.size > WH_RESPONSE_HEAD_MAX ? WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE
                                                        : WH_E_HTTP_PROTOCOL_ERROR,
                        0);
            return 0;
        }
        k.f->immutable = 1;
        wh_fields_free(s->rtrailers);
        s->rtrailers = k.f;
        s->eof = 1;
        maybe_closed(s);
        signal_fd(s->efd);
        return 0;
    }
    if (k.oom) {
        wh_fields_free(k.f);
        rst(c, id, E_INTERNAL);
        stream_fail(s, WH_E_INTERNAL, 0);
        return 0;
    }
    if (k.size > WH_RESPONSE_HEAD_MAX || k.bad || k.status < 100) {
        wh_fields_free(k.f);
        rst(c, id, E_PROTOCOL);
        stream_fail(s,
                    k.size > WH_RESPONSE_HEAD_MAX ? WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE
                                                  : WH_E_HTTP_PROTOCOL_ERROR,
                    0);
        return 0;
    }
    if (k.status < 200) { /* interim: skipped */
        wh_fields_free(k.f);
        if (end_stream) {
            rst(c, id, E_PROTOCOL);
            stream_fail(s, WH_E_HTTP_PROTOCOL_ERROR, 0);
        }
        return 0;
    }
    k.f->immutable = 1;
    s->headers = k.f;
    s->status = (uint16_t)k.status;
    s->head_ready = 1;
    if (end_stream) {
        s->eof = 1;
        maybe_closed(s);
    }
    signal_fd(s->efd);
    return 0;
}

/* Applies the peer's SETTINGS payload p[0..n). 0, or -1 after a connection error. */
static int on_settings(h2conn *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        uint32_t v = get32(p + i + 2);
        if (id == 3) {
            c->peer_max_streams = v;
        } else if (id == 4) {
            if (v > MAX_WINDOW) {
                conn_kill(c, E_FLOW, WH_E_HTTP_PROTOCOL_ERROR);
                return -1;
            }
            int64_t delta = (int64_t)v - c->peer_init_win;
            for (h2_stream *s = c->streams; s; s = s->next)
                s->send_win += delta;
            c->peer_init_win = v;
        } else if (id == 5) {
            if (v < 16384 || v > 16777215) {
                conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
                return -1;
            }
            c->peer_max_frame = v;
        }
    }
    c->got_settings = 1;
    return frame(c, F_SETTINGS, FL_ACK, 0, NULL, 0);
}

/* Strips padding (and priority fields) off a DATA or HEADERS payload: 0, or -1 when the
 * padding does not fit. *pad: the padding's bytes (with its length byte). */
static int unpad(uint8_t flags, int prio, const uint8_t **p, size_t *n, size_t *pad)
{
    *pad = 0;
    if (flags & FL_PADDED) {
        if (*n < 1) return -1;
        size_t pl = (*p)[0];
        *p += 1;
        *n -= 1;
        if (pl > *n) return -1;
        *n -= pl;
        *pad = pl + 1;
    }
    if (prio && (flags & FL_PRIO)) {
        if (*n < 5) return -1;
        *p += 5;
        *n -= 5;
    }
    return 0;
}

/* Handles one frame. 0, or -1 after a connection error. */
static int on_frame(h2conn *c, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *p,
                    size_t n)
{
    if (!c->got_settings && type != F_SETTINGS) {
        conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
        return -1;
    }
    if (c->cont_id && (type != F_CONT || sid != c->cont_id)) {
        conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
        return -1;
    }
    switch (type) {
    case F_DATA: {
        size_t pad;
        size_t total = n;
        if (sid == 0 || unpad(flags, 0, &p, &n, &pad) < 0) {
            conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        c->recv_unacked += (uint32_t)total; /* the connection window comes back at once */
        if (c->recv_unacked >= CONN_WINDOW / 2) {
            window_update(c, 0, c->recv_unacked);
            c->recv_unacked = 0;
        }
        h2_stream *s = find(c, sid);
        if (!s || s->failed || s->eof) return 0;
        s->recv_win -= (int64_t)total;
        if (s->recv_win < 0 || !s->head_ready) {
            rst(c, sid, s->recv_win < 0 ? E_FLOW : E_PROTOCOL);
            stream_fail(s, WH_E_HTTP_PROTOCOL_ERROR, 0);
            return 0;
        }
        s->unacked += (uint32_t)pad; /* padding is given back with the data read */
        if (n && !s->head_only && kiln_buf_append(&s->data, p, n) < 0) {
            rst(c, sid, E_INTERNAL);
            stream_fail(s, WH_E_INTERNAL, 0);
            return 0;
        }
        if (flags & FL_END_STREAM) {
            s->eof = 1;
            maybe_closed(s);
        }
        signal_fd(s->efd);
        return 0;
    }
    case F_HEADERS:
    case F_CONT: {
        size_t pad;
        if (sid == 0 || (sid & 1) == 0 || sid >= c->next_id ||
            (type == F_CONT && c->cont_id != sid) ||
            (type == F_HEADERS && unpad(flags, 1, &p, &n, &pad) < 0) ||
            c->hblock.len + n > HEADER_BLOCK_MAX || kiln_buf_append(&c->hblock, p, n) < 0) {
            conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        if (type == F_HEADERS) c->cont_end_stream = flags & FL_END_STREAM;
        if (!(flags & FL_END_HEADERS)) {
            c->cont_id = sid;
            return 0;
        }
        c->cont_id = 0;
        return on_header_block(c, sid, c->cont_end_stream);
    }
    case F_PRIORITY:
        return 0;
    case F_RST: {
        if (sid == 0 || n != 4) {
            conn_kill(c, n != 4 ? E_FRAME_SIZE : E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        h2_stream *s = find(c, sid);
        uint32_t code = get32(p);
        if (s && code == E_NO_ERROR && s->eof) { /* the response is complete */
            s->req_done = 1;
            stream_closed(s);
            return 0;
        }
        if (s) stream_fail(s, WH_E_HTTP_PROTOCOL_ERROR, code == E_REFUSED);
        return 0;
    }
    case F_SETTINGS:
        if (sid != 0 || (flags & FL_ACK ? n != 0 : n % 6 != 0)) {
            conn_kill(c, n % 6 ? E_FRAME_SIZE : E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        return flags & FL_ACK ? 0 : on_settings(c, p, n);
    case F_PING:
        if (sid != 0 || n != 8) {
            conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        return flags & FL_ACK ? 0 : frame(c, F_PING, FL_ACK, 0, p, 8);
    case F_GOAWAY: {
        if (sid != 0 || n < 8) {
            conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        uint32_t last = get32(p) & 0x7fffffff;
        c->goaway = 1;
        for (h2_stream *s = c->streams; s; s = s->next)
            if (s->id > last) stream_fail(s, WH_E_CONNECTION_TERMINATED, 1);
        return 0;
    }
    case F_WINUP: {
        if (n != 4) {
            conn_kill(c, E_FRAME_SIZE, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        uint32_t incr = get32(p) & 0x7fffffff;
        if (sid == 0) {
            if (incr == 0 || c->send_win + incr > MAX_WINDOW) {
                conn_kill(c, incr ? E_FLOW : E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
                return -1;
            }
            c->send_win += incr;
            return 0;
        }
        h2_stream *s = find(c, sid);
        if (!s || s->failed) return 0;
        if (incr == 0 || s->send_win + incr > MAX_WINDOW) {
            rst(c, sid, incr ? E_FLOW : E_PROTOCOL);
            stream_fail(s, WH_E_HTTP_PROTOCOL_ERROR, 0);
            return 0;
        }
        s->send_win += incr;
        return 0;
    }
    case F_PUSH: /* we sent SETTINGS_ENABLE_PUSH 0 */
        conn_kill(c, E_PROTOCOL, WH_E_HTTP_PROTOCOL_ERROR);
        return -1;
    default: /* unknown frame types are ignored (5.5) */
        return 0;
    }
}

/* Parses the frames in c->in. 0, or -1 after a connection error. */
static int parse(h2conn *c)
{
    for (;;) {
        size_t avail = c->in.len - c->in_off;
        if (avail < 9) break;
        const uint8_t *h = (const uint8_t *)c->in.data + c->in_off;
        size_t n = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (n > OUR_MAX_FRAME) {
            conn_kill(c, E_FRAME_SIZE, WH_E_HTTP_PROTOCOL_ERROR);
            return -1;
        }
        if (avail < 9 + n) break;
        c->in_off += 9 + n;
        if (on_frame(c, h[3], h[4], get32(h + 5) & 0x7fffffff, h + 9, n) < 0) return -1;
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off) { /* keep the partial frame at the front: the buffer stays small */
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    return 0;
}

/* Queues a header block (HEADERS, then CONTINUATION frames past a frame's size) for s;
 * end: it ends the stream. */
static void header_frames(h2conn *c, h2_stream *s, const kiln_buf *block, int end)
{
    size_t off = 0;
    int first = 1;
    do {
        size_t k = block->len - off < c->peer_max_frame ? block->len - off : c->peer_max_frame;
        uint8_t flags = off + k == block->len ? FL_END_HEADERS : 0;
        if (first && end) flags |= FL_END_STREAM;
        frame(c, first ? F_HEADERS : F_CONT, flags, s->id, block->data + off, k);
        off += k;
        first = 0;
    } while (off < block->len);
}

/* Queues request body DATA as the windows allow, and a streamed body's end (its
 * trailers as a last HEADERS frame); a streamed body's writer is signalled as its buffer
 * drains. */
static void send_bodies(h2conn *c)
{
    for (h2_stream *s = c->streams; s; s = s->next) {
        while (!s->req_done && !s->failed && c->out.len - c->out_off < OUT_HIGH) {
            size_t left = s->req.len - s->req_off;
            if (left == 0 && s->req_more) break; /* the guest's next bytes */
            if (left == 0 && s->trailers.len) {
                header_frames(c, s, &s->trailers, 1);
                s->req_done = 1;
                maybe_closed(s);
                break;
            }
            int64_t win = s->send_win < c->send_win ? s->send_win : c->send_win;
            size_t k = left < c->peer_max_frame ? left : c->peer_max_frame;
            if ((int64_t)k > win) k = win > 0 ? (size_t)win : 0;
            if (k == 0 && left) break; /* wait for WINDOW_UPDATE */
            int end = k == left && !s->req_more && !s->trailers.len;
            if (frame(c, F_DATA, end ? FL_END_STREAM : 0, s->id, s->req.data + s->req_off, k) < 0)
                return;
            s->req_off += k;
            s->send_win -= (int64_t)k;
            c->send_win -= (int64_t)k;
            if (s->req_off == s->req.len) s->req.len = s->req_off = 0;
            if (s->req_more) signal_fd(s->efd);
            if (end) {
                s->req_done = 1;
                maybe_closed(s);
            }
        }
    }
}

/* Reads, parses, sends what it can on c. */
static void conn_io(h2conn *c)
{
    while (!c->dead) {
        if (kiln_buf_reserve(&c->in, 16384 + 9) < 0) {
            conn_kill(c, E_INTERNAL, WH_E_INTERNAL);
            return;
        }
        ERR_clear_error();
        int r = SSL_read(c->ssl, c->in.data + c->in.len, 16384);
        if (r > 0) {
            c->in.len += (size_t)r;
            if (parse(c) < 0) return;
            if (c->out.len - c->out_off > OUT_MAX) {
                conn_kill(c, E_CALM, WH_E_HTTP_PROTOCOL_ERROR);
                return;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = 1;
            break;
        }
        /* closed (or failed): streams the server never answered cannot be retried safely */
        conn_kill(c, (uint32_t)-1, WH_E_CONNECTION_TERMINATED);
        return;
    }
    if (c->dead) {
        conn_kill(c, E_INTERNAL, WH_E_INTERNAL);
        return;
    }
    send_bodies(c);
    while (c->out.len > c->out_off) {
        ERR_clear_error();
        size_t left = c->out.len - c->out_off;
        int r = SSL_write(c->ssl, c->out.data + c->out_off, left > 1 << 20 ? 1 << 20 : (int)left);
        if (r > 0) {
            c->out_off += (size_t)r;
            if (c->out_off == c->out.len) c->out.len = c->out_off = 0;
            send_bodies(c);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
        conn_kill(c, (uint32_t)-1, WH_E_CONNECTION_TERMINATED);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN |
                                       (c->out.len > c->out_off || c->want_write ? EPOLLOUT : 0),
                             .data.ptr = c};
    c->want_write = 0;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The I/O thread: waits on every connection and the wake eventfd; does what is due. */
static void *loop(void *arg)
{
    (void)arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, 1000);
        if (n < 0 && errno != EINTR) continue;
        uint64_t v;
        ssize_t r = read(wake_fd, &v, sizeof v);
        (void)r;
        pthread_mutex_lock(&h2_lock);
        uint64_t now = now_ns();
        for (h2conn **pp = &conns; *pp;) {
            h2conn *c = *pp;
            if (c->fd >= 0 && !c->active && !c->streams && now - c->idle_since > IDLE_NS)
                conn_kill(c, E_NO_ERROR, WH_E_CONNECTION_TERMINATED);
            if (c->fd >= 0 && c->goaway && !c->streams)
                conn_kill(c, E_NO_ERROR, WH_E_CONNECTION_TERMINATED);
            if (c->fd >= 0) conn_io(c);
            if (c->fd < 0 && !c->streams) {
                *pp = c->next;
                conn_free(c);
                continue;
            }
            pp = &c->next;
        }
        pthread_mutex_unlock(&h2_lock);
    }
    return NULL;
}

static void loop_init(void)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep < 0 || wake_fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev) < 0) return;
    pthread_t t;
    pthread_attr_t a;
    if (pthread_attr_init(&a) != 0) return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    loop_ok = pthread_create(&t, &a, loop, NULL) == 0;
    pthread_attr_destroy(&a);
}

int wh_h2_adopt(const char *key, int fd, SSL *ssl)
{
    pthread_once(&loop_once, loop_init);
    if (!loop_ok) return -1;
    h2conn *c = kiln_calloc(1, sizeof *c);
    if (!c) return -1;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->fd = fd;
    c->ssl = ssl;
    c->out = (kiln_buf)KILN_BUF_INIT;
    c->in = (kiln_buf)KILN_BUF_INIT;
    c->hblock = (kiln_buf)KILN_BUF_INIT;
    kiln_hpack_dec_init(&c->dec, 4096);
    c->next_id = 1;
    c->peer_max_streams = 100; /* until the peer's SETTINGS say (a conservative start) */
    c->peer_init_win = 65535;
    c->peer_max_frame = 16384;
    c->send_win = 65535;
    c->idle_since = now_ns();
    /* the preface, our SETTINGS (no push, our stream window), the connection window */
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    uint8_t set[12] = {0, 2, 0, 0, 0, 0, 0, 4};
    put32(set + 8, STREAM_WINDOW);
    if (kiln_buf_append(&c->out, preface, sizeof preface - 1) < 0 ||
        frame(c, F_SETTINGS, 0, 0, set, sizeof set) < 0) {
        conn_free(c);
        return -1;
    }
    window_update(c, 0, CONN_WINDOW - 65535);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    pthread_mutex_lock(&h2_lock);
    int ok = !c->dead && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
    if (ok) {
        c->next = conns;
        conns = c;
    }
    pthread_mutex_unlock(&h2_lock);
    if (!ok) {
        conn_free(c);
        return -1;
    }
    wake_loop();
    return 0;
}

/* ---- requests ---- */

/* Appends the HTTP/1.1 head's request as HPACK fields: pseudo-headers first (from the
 * request line and the host header), then the other fields lowercased, without the
 * connection-specific ones. 0, or -1 (malformed head or out of memory). */
static int encode_request(kiln_buf *out, int https, const char *head, size_t n)
{
    const char *end = head + n, *eol = memchr(head, '\n', n);
    if (!eol) return -1;
    const char *sp1 = memchr(head, ' ', (size_t)(eol - head));
    if (!sp1) return -1;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2) return -1;
    const char *auth = NULL;
    size_t alen = 0;
    for (const char *l = eol + 1; l < end;) {
        const char *le = memchr(l, '\n', (size_t)(end - l));
        if (!le) le = end;
        if ((size_t)(le - l) > 5 && strncasecmp(l, "host:", 5) == 0) {
            auth = l + 5;
            while (auth < le && (*auth == ' ' || *auth == '\t'))
                auth++;
            alen = (size_t)(le - auth);
            if (alen && auth[alen - 1] == '\r') alen--;
        }
        l = le + 1;
    }
    if (!auth) return -1;
    if (kiln_hpack_encode(out, ":method", 7, head, (size_t)(sp1 - head)) < 0 ||
        kiln_hpack_encode(out, ":scheme", 7, https ? "https" : "http", https ? 5 : 4) < 0 ||
        kiln_hpack_encode(out, ":authority", 10, auth, alen) < 0 ||
        kiln_hpack_encode(out, ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1)) < 0)
        return -1;
    char name[256];
    for (const char *l = eol + 1; l < end;) {
        const char *le = memchr(l, '\n', (size_t)(end - l));
        if (!le) le = end;
        size_t ln = (size_t)(le - l);
        if (ln && l[ln - 1] == '\r') ln--;
        const char *line = l, *colon = memchr(l, ':', ln);
        l = le + 1;
        if (!colon) continue; /* the blank line */
        size_t nl = (size_t)(colon - line);
        if (nl == 0 || nl >= sizeof name) return -1;
        for (size_t i = 0; i < nl; i++)
            name[i] = line[i] >= 'A' && line[i] <= 'Z' ? (char)(line[i] + 32) : line[i];
        name[nl] = '\0';
        const char *v = colon + 1, *ve = line + ln;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        size_t vl = (size_t)(ve - v);
        if (strcmp(name, "host") == 0 || strcmp(name, "connection") == 0 ||
            strcmp(name, "keep-alive") == 0 || strcmp(name, "proxy-connection") == 0 ||
            strcmp(name, "transfer-encoding") == 0 || strcmp(name, "upgrade") == 0 ||
            (strcmp(name, "te") == 0 && !(vl == 8 && strncasecmp(v, "trailers", 8) == 0)))
            continue;
        if (kiln_hpack_encode(out, name, nl, v, vl) < 0) return -1;
    }
    return 0;
}

h2_stream *wh_h2_open(const char *key, int https, const char *head, size_t head_len,
                      const void *body, size_t n, int more, int head_only, int efd, int *oom)
{
    *oom = 0;
    h2_stream *s = kiln_calloc(1, sizeof *s);
    kiln_buf block = KILN_BUF_INIT;
    if (!s || encode_request(&block, https, head, head_len) < 0 ||
        (n && kiln_buf_append(&(s->req), body, n) < 0)) {
        if (s) kiln_buf_free(&s->req);
        kiln_free(s);
        kiln_buf_free(&block);
        *oom = 1;
        return NULL;
    }
    s->efd = efd;
    s->head_only = head_only;
    s->recv_win = STREAM_WINDOW;
    pthread_mutex_lock(&h2_lock);
    h2conn *c = conns;
    while (c && !(usable(c) && strcmp(c->key, key) == 0))
        c = c->next;
    if (c) {
        s->c = c;
        s->id = c->next_id;
        c->next_id += 2;
        s->send_win = c->peer_init_win;
        s->req_more = more;
        s->req_done = n == 0 && !more;
        header_frames(c, s, &block, s->req_done);
        s->next = c->streams;
        c->streams = s;
        c->active++;
        if (!c->dead) send_bodies(c);
    }
    pthread_mutex_unlock(&h2_lock);
    kiln_buf_free(&block);
    if (!c) {
        kiln_buf_free(&s->req);
        kiln_free(s);
        return NULL;
    }
    wake_loop();
    return s;
}

int wh_h2_head(h2_stream *s, uint16_t *status, wh_fields **headers, uint32_t *ecode)
{
    int r;
    pthread_mutex_lock(&h2_lock);
    if (s->head_ready && !s->head_taken) {
        *status = s->status;
        *headers = s->headers;
        s->headers = NULL;
        s->head_taken = 1;
        r = 1;
    } else if (s->failed) {
        *ecode = s->ecode;
        r = s->retry ? -2 : -1;
    } else {
        r = 0;
    }
    pthread_mutex_unlock(&h2_lock);
    return r;
}

int wh_h2_readable(h2_stream *s)
{
    pthread_mutex_lock(&h2_lock);
    int r = s->data.len > s->data_off || s->eof || s->failed;
    pthread_mutex_unlock(&h2_lock);
    return r;
}

long wh_h2_read(h2_stream *s, void *buf, size_t cap, int *eof, uint32_t *ecode)
{
    long r = 0;
    *eof = 0;
    pthread_mutex_lock(&h2_lock);
    size_t avail = s->data.len - s->data_off;
    if (avail) {
        size_t k = avail < cap ? avail : cap;
        memcpy(buf, s->data.data + s->data_off, k);
        s->data_off += k;
        if (s->data_off == s->data.len) s->data.len = s->data_off = 0;
        s->unacked += (uint32_t)k;
        if (s->c && !s->eof && !s->failed && s->unacked >= STREAM_WINDOW / 2) {
            window_update(s->c, s->id, s->unacked);
            s->recv_win += s->unacked;
            s->unacked = 0;
            wake_loop();
        }
        r = (long)k;
    } else if (s->failed) {
        *ecode = s->ecode;
        r = -1;
    } else if (s->eof) {
        *eof = 1;
    }
    pthread_mutex_unlock(&h2_lock);
    return r;
}

wh_fields *wh_h2_trailers(h2_stream *s)
{
    pthread_mutex_lock(&h2_lock);
    wh_fields *t = s->eof && !s->failed ? s->rtrailers : NULL;
    if (t) s->rtrailers = NULL;
    pthread_mutex_unlock(&h2_lock);
    return t;
}

void wh_h2_close(h2_stream *s)
{
    if (!s) return;
    pthread_mutex_lock(&h2_lock);
    h2conn *c = s->c;
    if (c) {
        if (!s->closed && !c->dead) {
            rst(c, s->id, E_CANCEL);
            wake_loop();
        }
        stream_closed(s);
        for (h2_stream **pp = &c->streams; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
        if (!c->streams) c->idle_since = now_ns();
    }
    pthread_mutex_unlock(&h2_lock);
    wh_fields_free(s->headers);
    wh_fields_free(s->rtrailers);
    kiln_buf_free(&s->req);
    kiln_buf_free(&s->trailers);
    kiln_buf_free(&s->data);
    kiln_free(s);
}

long wh_h2_write(h2_stream *s, const void *data, size_t n)
{
    long r = 0;
    pthread_mutex_lock(&h2_lock);
    size_t pending = s->req.len - s->req_off;
    if (!s->c || s->failed || s->closed || !s->req_more) {
        r = -1;
    } else if (pending < STREAM_BUFFER) {
        if (s->req_off && s->req_off > s->req.len / 2) { /* keep the buffer small */
            memmove(s->req.data, s->req.data + s->req_off, pending);
            s->req.len = pending;
            s->req_off = 0;
        }
        size_t k = n < STREAM_BUFFER - pending ? n : STREAM_BUFFER - pending;
        if (kiln_buf_append(&s->req, data, k) < 0)
            r = -1;
        else
            r = (long)k;
        if (!s->c->dead) send_bodies(s->c);
    }
    pthread_mutex_unlock(&h2_lock);
    if (r > 0) wake_loop();
    return r;
}

int wh_h2_end(h2_stream *s, const wh_fields *trailers)
{
    kiln_buf block = KILN_BUF_INIT;
    for (size_t i = 0; trailers && i < trailers->n; i++) {
        const wh_field *f = &trailers->items[i]; /* (names lowercase: fields.c) */
        if (wh_trailer_skipped(f->name, f->name_len)) continue;
        if (kiln_hpack_encode(&block, f->name, f->name_len, (const char *)f->value, f->value_len) <
            0) {
            kiln_buf_free(&block);
            return -1;
        }
    }
    pthread_mutex_lock(&h2_lock);
    int r = s->c && !s->failed ? 0 : -1;
    if (r == 0) {
        kiln_buf_free(&s->trailers);
        s->trailers = block;
        block = (kiln_buf)KILN_BUF_INIT;
        s->req_more = 0;
        if (!s->c->dead) send_bodies(s->c);
    }
    pthread_mutex_unlock(&h2_lock);
    kiln_buf_free(&block);
    wake_loop();
    return r;
}
