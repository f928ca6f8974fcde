/* client_test.c — the outbound HTTP/1.1 client (client.c) against canned responses from
 * a loopback server thread: framing (Content-Length, chunked with extensions and trailers,
 * close-delimited), interim 1xx responses, hop-by-hop headers left out, malformed and
 * hostile heads (bad status line, conflicting lengths, unknown transfer coding, oversized
 * head, bad chunk size), a truncated body, the request as sent (head, Content-Length, body),
 * connection reuse, the first-byte timeout, the cap on transfers alive at once, a component's
 * limit (a transfer waits for a permit), and in-process transfers (service chaining's). */
#include "host/wasihttp/outbound.h"
#include "host/wasihttp/settings.h"
#include "util/alloc.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The server: accepts connections and answers each request with `response` (then closes
 * the connection unless keep is set); records what the last request was. */
typedef struct server {
    int lfd;
    uint16_t port;
    const char *response;
    size_t response_len;
    int keep, delay_ms, accepted;
    size_t split; /* send the response in pieces of this many bytes, 1 ms apart (0: whole) */
    char got[8192];
    size_t got_len;
    pthread_t th;
    pthread_mutex_t mu; /* response, response_len, split and keep, set by the test */
} server;

/* Reads one request (head, and a body of its content-length, or chunked up to its
 * trailer section's end) from fd into s->got. */
static int read_request(server *s, int fd)
{
    s->got_len = 0;
    for (;;) {
        ssize_t k = read(fd, s->got + s->got_len, sizeof s->got - 1 - s->got_len);
        if (k <= 0) return -1;
        s->got_len += (size_t)k;
        s->got[s->got_len] = '\0';
        char *end = strstr(s->got, "\r\n\r\n");
        if (!end) continue;
        if (strstr(s->got, "transfer-encoding: chunked")) { /* (test bodies have no "0\r\n") */
            const char *last = strstr(end + 4, "0\r\n");
            if (last && (last == end + 4 || last[-1] == '\n') && strstr(last, "\r\n\r\n")) return 0;
            if (last && last == end + 4 && strcmp(last, "0\r\n\r\n") == 0) return 0;
            continue;
        }
        const char *cl = strstr(s->got, "content-length: ");
        size_t want = (size_t)(end + 4 - s->got) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        if (s->got_len >= want) return 0;
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) return NULL;
        s->accepted++;
        while (read_request(s, fd) == 0) {
            /* the response as it is now: the test sets the next one as soon as the client
             * read this one's end, maybe while the last piece's pause still runs */
            pthread_mutex_lock(&s->mu);
            const char *resp = s->response;
            size_t len = s->response_len, split = s->split;
            int keep = s->keep, delay_ms = s->delay_ms;
            pthread_mutex_unlock(&s->mu);
            if (delay_ms) usleep((useconds_t)delay_ms * 1000);
            size_t off = 0, piece = split ? split : len;
            while (off < len) {
                size_t k = len - off < piece ? len - off : piece;
                if (send(fd, resp + off, k, MSG_NOSIGNAL) < 0) break;
                off += k;
                if (split && off < len) usleep(1000);
            }
            if (off < len) break;
            if (!keep) break;
        }
        close(fd);
    }
}

static void server_start(server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 8) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &len) < 0)
        exit(1);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, serve, s);
}

static server srv;
/* What the last fetch's transfer ended with: a copy of its response trailers (NULL: none)
 * and the error-code it failed with (0: none). */
static wh_fields *last_tr;
static uint32_t last_fail;
static int last_tr_immutable;

/* Sets a field of the server's (under its lock: the server thread reads them). */
#define SRV_SET(field, v)                                                                          \
    do {                                                                                           \
        pthread_mutex_lock(&srv.mu);                                                               \
        srv.field = (v);                                                                           \
        pthread_mutex_unlock(&srv.mu);                                                             \
    } while (0)

/* Sets the canned response. */
static void respond(const char *r)
{
    pthread_mutex_lock(&srv.mu);
    srv.response = r;
    srv.response_len = strlen(r);
    pthread_mutex_unlock(&srv.mu);
}

/* Waits for fd/events/deadline of a check (at most 2 s). */
static void wait_for(int fd, short ev, uint64_t deadline)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    int ms = deadline == UINT64_MAX ? 2000
             : deadline > now       ? (int)((deadline - now) / 1000000) + 1
                                    : 0;
    if (ms > 2000) ms = 2000;
    struct pollfd p = {fd, ev, 0};
    poll(&p, fd >= 0 ? 1 : 0, ms);
}

/* Waits for x's response head (100 waits at most): wh_xfer_response's answer. */
static int await_head(wh_xfer *x, uint16_t *status, const wh_fields **h, uint32_t *ecode)
{
    int fd;
    short ev;
    uint64_t d;
    for (int i = 0; i < 100 && !wh_xfer_check_head(x, &fd, &ev, &d); i++)
        wait_for(fd, ev, d);
    return wh_xfer_response(x, status, h, ecode);
}

/* One GET (or POST with body) to the server: the status (0 on a transfer error, with
 * *ecode), and the body read in full into body (an error while reading: *body_err). */
static int fetch(const char *body_out, uint64_t first_byte_ns, char *body, size_t cap,
                 uint32_t *ecode, int *body_err)
{
    wh_target t;
    char auth[32];
    snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)srv.port);
    if (wh_target_parse(&t, 0, auth, strlen(auth)) < 0) return -1;
    const char *head =
        body_out ? "POST /p HTTP/1.1\r\nhost: x\r\n" : "GET /g HTTP/1.1\r\nhost: x\r\n";
    wh_xfer_spec spec = {&t,   head, strlen(head), 0, body_out != NULL, -1, 0, first_byte_ns, 0,
                         NULL, 0};
    *ecode = 0;
    *body_err = 0;
    body[0] = '\0';
    wh_xfer *x = wh_xfer_start(&spec, ecode);
    if (!x) return 0;
    if (body_out) wh_xfer_body(x, body_out, strlen(body_out));
    int fd;
    short ev;
    uint64_t d;
    uint16_t status = 0;
    const wh_fields *h;
    if (await_head(x, &status, &h, ecode) < 0) {
        wh_xfer_release(x);
        return 0;
    }
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        int eof = 0, err = 0;
        long k = wh_xfer_read(x, body + n, cap - 1 - n, &eof, &err);
        if (k < 0) {
            *body_err = err;
            break;
        }
        n += (size_t)k;
        body[n] = '\0';
        if (eof || n + 1 >= cap) break;
        if (k == 0 && !wh_xfer_check_body(x, &fd, &ev, &d)) wait_for(fd, ev, d);
    }
    /* the hop-by-hop header of the canned responses never reaches the guest */
    if (wh_fields_has(h, "connection", 10) || wh_fields_has(h, "transfer-encoding", 17)) status = 1;
    wh_fields_free(last_tr);
    last_tr = wh_xfer_trailers(x) ? wh_fields_clone(wh_xfer_trailers(x)) : NULL;
    last_fail = wh_xfer_failed(x);
    last_tr_immutable = wh_xfer_trailers(x) && wh_xfer_trailers(x)->immutable;
    wh_xfer_release(x);
    return status;
}

/* ---- in-process transfers (service chaining's) ---- */

typedef struct local_run {
    int dispatched;
    char body[64];
    size_t body_len;
    int answer; /* answer at once from dispatch */
} local_run;

static void local_dispatch(wh_xfer *x, void *arg, const void *body, size_t n)
{
    local_run *r = arg;
    r->dispatched++;
    r->body_len = n < sizeof r->body ? n : sizeof r->body - 1;
    memcpy(r->body, body, r->body_len);
    if (r->answer) {
        wh_fields *f = wh_fields_new();
        wh_fields_append(f, "x-local", 7, (const uint8_t *)"1", 1);
        wh_xfer_local_head(x, 202, f);
        wh_xfer_local_data(x, "ab", 2);
    }
}

static void no_free(void *arg)
{
    (void)arg;
}

static void test_local(void)
{
    wh_target none;
    memset(&none, 0, sizeof none);
    local_run run = {0, "", 0, 1};
    wh_xfer_spec spec = {&none, NULL, 0, 0, 1, -1, 0, 0, 0, NULL, 0};
    uint32_t ec = 0;
    wh_xfer *x = wh_xfer_local(&spec, local_dispatch, &run, no_free, &ec);
    CHECK(x != NULL);
    if (!x) return;
    int fd;
    short ev;
    uint64_t d;
    /* the body is not complete: nothing dispatched, nothing to wait for but the body */
    CHECK_INT(wh_xfer_check_head(x, &fd, &ev, &d), 0);
    CHECK_INT(run.dispatched, 0);
    CHECK(fd == -1 && d == UINT64_MAX);
    wh_xfer_body(x, "req-body", 8);
    CHECK_INT(wh_xfer_check_head(x, &fd, &ev, &d), 1); /* answered from dispatch */
    CHECK_INT(run.dispatched, 1);
    CHECK_STR(run.body, "req-body");
    uint16_t status = 0;
    const wh_fields *h = NULL;
    CHECK_INT(wh_xfer_response(x, &status, &h, &ec), 0);
    CHECK_INT(status, 202);
    CHECK(h && wh_fields_has(h, "x-local", 7));
    char buf[16];
    int eof = 0, err = 0;
    CHECK_INT(wh_xfer_read(x, buf, sizeof buf, &eof, &err), 2);
    CHECK_INT(wh_xfer_read(x, buf, sizeof buf, &eof, &err), 0); /* more may come: wait */
    CHECK(!eof);
    CHECK_INT(wh_xfer_check_body(x, &fd, &ev, &d), 0);
    CHECK(fd >= 0 && ev == POLLIN); /* the eventfd the producer signals */
    wh_xfer_retain(x);              /* (the producer's reference) */
    CHECK_INT(wh_xfer_is_gone(x), 0);
    wh_xfer_local_data(x, "cd", 2);
    CHECK_INT(wh_xfer_local_buffered(x), 2);
    wh_xfer_local_end(x, 0);
    CHECK_INT(wh_xfer_check_body(x, &fd, &ev, &d), 1);
    CHECK_INT(wh_xfer_read(x, buf, sizeof buf, &eof, &err), 2);
    CHECK(memcmp(buf, "cd", 2) == 0);
    CHECK_INT(wh_xfer_read(x, buf, sizeof buf, &eof, &err), 0);
    CHECK(eof);
    wh_xfer_release(x);
    CHECK_INT(wh_xfer_is_gone(x), 1); /* only the producer holds it now */
    wh_xfer_release(x);

    /* a producer that fails before its head: the error-code reaches the guest */
    local_run late = {0, "", 0, 0};
    spec.body = 0;
    x = wh_xfer_local(&spec, local_dispatch, &late, no_free, &ec);
    CHECK(x != NULL);
    if (!x) return;
    CHECK_INT(wh_xfer_check_head(x, &fd, &ev, &d), 0);
    CHECK_INT(late.dispatched, 1);
    CHECK(fd >= 0 && d != UINT64_MAX); /* the eventfd, within the first-byte timeout */
    wh_xfer_local_end(x, WH_E_LOOP_DETECTED);
    CHECK_INT(wh_xfer_check_head(x, &fd, &ev, &d), 1);
    CHECK_INT(wh_xfer_response(x, &status, &h, &ec), -1);
    CHECK_INT(ec, WH_E_LOOP_DETECTED);
    wh_xfer_release(x);
}

/* Starts a streamed POST (spec.stream; content-length cl, -1: none) to the server. */
static wh_xfer *stream_start(long long cl, const char *extra)
{
    static wh_target t;
    char auth[32], head[256];
    snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)srv.port);
    if (wh_target_parse(&t, 0, auth, strlen(auth)) < 0) return NULL;
    snprintf(head, sizeof head, "POST /s HTTP/1.1\r\nhost: x\r\n%s", extra);
    wh_xfer_spec spec = {&t, head, strlen(head), 0, 1, cl, 0, 0, 0, NULL, 1};
    uint32_t ec = 0;
    return wh_xfer_start(&spec, &ec);
}

/* Writes all of data to a streamed transfer, waiting as check_send says. 0, or the
 * error-code it failed with. */
static uint32_t stream_write(wh_xfer *x, const char *data, size_t n)
{
    for (int i = 0; n && i < 1000; i++) {
        uint32_t ec = 0;
        long k = wh_xfer_write(x, data, n, &ec);
        if (k < 0) return ec;
        data += k;
        n -= (size_t)k;
        int fd;
        short ev;
        uint64_t d;
        if (n && !wh_xfer_check_send(x, &fd, &ev, &d)) wait_for(fd, ev, d);
    }
    return 0;
}

/* The status of x's response (0: failed, *ecode), waiting for its head. */
static int stream_status(wh_xfer *x, uint32_t *ecode)
{
    uint16_t status = 0;
    const wh_fields *h;
    *ecode = 0;
    return await_head(x, &status, &h, ecode) < 0 ? 0 : status;
}

/* A streamed body of 3 bytes ended (abort: with that error-code): the error-code the
 * transfer failed with (0: it did not). */
static uint32_t stream_short(long long cl, const char *extra, uint32_t abort)
{
    wh_xfer *x = stream_start(cl, extra);
    if (!x) return 0;
    uint32_t ec = stream_write(x, "abc", 3);
    wh_xfer_end(x, NULL, abort);
    if (!ec && stream_status(x, &ec)) ec = 0;
    wh_xfer_release(x);
    return ec;
}

/* Streamed request bodies: chunk framing, trailers, a content-length kept to, and the
 * body that ended before the head went (a content-length instead of chunks). */
static void test_stream(void)
{
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(wh_chunk_append(&b, "hello world, ", 13), 0);
    CHECK_INT(wh_chunk_append(&b, "", 0), 0); /* nothing: an empty chunk would end the body */
    wh_fields *tr = wh_fields_new();
    CHECK(tr != NULL);
    CHECK_INT(wh_fields_append(tr, "x-sum", 5, (const uint8_t *)"42", 2), 0);
    CHECK_INT(wh_fields_append(tr, "content-length", 14, (const uint8_t *)"9", 1), 0);
    CHECK_INT(wh_fields_append(tr, "connection", 10, (const uint8_t *)"close", 5), 0);
    CHECK_INT(wh_chunk_end(&b, tr), 0);
    CHECK_INT((int)b.len, 34);
    CHECK(b.len == 34 && memcmp(b.data, "d\r\nhello world, \r\n0\r\nx-sum: 42\r\n\r\n", 34) == 0);
    b.len = 0;
    CHECK_INT(wh_chunk_end(&b, NULL), 0);
    CHECK(b.len == 5 && memcmp(b.data, "0\r\n\r\n", 5) == 0);
    kiln_buf_free(&b);
    CHECK(wh_trailer_skipped("host", 4) && !wh_trailer_skipped("x-sum", 5));

    /* unknown length: the head goes before the body, chunks as written, trailers last */
    respond("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    uint32_t ec = 0;
    wh_xfer *x = stream_start(-1, "");
    CHECK(x != NULL);
    if (x) {
        int fd;
        short ev;
        uint64_t d;
        CHECK_INT(wh_xfer_check_head(x, &fd, &ev, &d), 0); /* connected, head sent */
        CHECK_INT(stream_write(x, "abc", 3), 0);
        for (int i = 0; i < 20 && !strstr(srv.got, "3\r\nabc\r\n"); i++)
            usleep(10000);
        CHECK(strstr(srv.got, "3\r\nabc\r\n") != NULL); /* there before the end */
        CHECK_INT(stream_write(x, "defgh", 5), 0);
        wh_xfer_end(x, wh_fields_clone(tr), 0);
        CHECK_INT(stream_status(x, &ec), 200);
        CHECK_STR(srv.got, "POST /s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n5\r\ndefgh\r\n0\r\nx-sum: 42\r\n\r\n");
        CHECK(wh_xfer_sent(x));
        wh_xfer_release(x);
    }

    /* the guest's content-length: exactly that many bytes, as they are */
    x = stream_start(6, "content-length: 6\r\n");
    CHECK(x != NULL);
    if (x) {
        CHECK_INT(stream_write(x, "abc", 3), 0);
        CHECK_INT(stream_write(x, "def", 3), 0);
        wh_xfer_end(x, NULL, 0);
        CHECK_INT(stream_status(x, &ec), 200);
        CHECK_STR(srv.got, "POST /s HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nabcdef");
        wh_xfer_release(x);
    }
    /* ... more than it: HTTP-request-body-size at the write */
    x = stream_start(2, "content-length: 2\r\n");
    CHECK(x != NULL);
    if (x) {
        CHECK_INT(stream_write(x, "abc", 3), WH_E_HTTP_REQUEST_BODY_SIZE);
        CHECK_INT(stream_status(x, &ec), 0);
        CHECK_INT(ec, WH_E_HTTP_REQUEST_BODY_SIZE);
        wh_xfer_release(x);
    }
    /* ... fewer: at the end; and a body the guest aborts (its error-code) */
    CHECK_INT(stream_short(5, "content-length: 5\r\n", 0), WH_E_HTTP_REQUEST_BODY_SIZE);
    CHECK_INT(stream_short(-1, "", WH_E_HTTP_PROTOCOL_ERROR), WH_E_HTTP_PROTOCOL_ERROR);
    /* a body that ended before the head could go: a content-length, no chunks */
    x = stream_start(-1, "");
    CHECK(x != NULL);
    if (x) {
        CHECK_INT(stream_write(x, "whole", 5), 0);
        wh_xfer_end(x, NULL, 0);
        CHECK_INT(stream_status(x, &ec), 200);
        CHECK_STR(srv.got, "POST /s HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nwhole");
        wh_xfer_release(x);
    }
    /* a whole body with trailers (0.2's finish): chunked */
    {
        static wh_target t;
        char auth[32];
        snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)srv.port);
        CHECK_INT(wh_target_parse(&t, 0, auth, strlen(auth)), 0);
        const char *head = "PUT /w HTTP/1.1\r\nhost: x\r\n";
        wh_xfer_spec spec = {&t, head, strlen(head), 0, 1, -1, 0, 0, 0, NULL, 0};
        x = wh_xfer_start(&spec, &ec);
        CHECK(x != NULL);
        if (x) {
            wh_xfer_body_trailers(x, "abc", 3, tr);
            CHECK_INT(stream_status(x, &ec), 200);
            CHECK_STR(srv.got, "PUT /w HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                               "3\r\nabc\r\n0\r\nx-sum: 42\r\n\r\n");
            wh_xfer_release(x);
        }
    }
    wh_fields_free(tr);
}

/* 1 if f has exactly one field named name, valued value. */
static int tr_is(const wh_fields *f, const char *name, const char *value)
{
    int n = 0;
    for (size_t i = 0; f && i < f->n; i++)
        if (strcmp(f->items[i].name, name) == 0) {
            if (f->items[i].value_len != strlen(value) ||
                memcmp(f->items[i].value, value, strlen(value)) != 0)
                return 0;
            n++;
        }
    return n == 1;
}

/* The trailer section of a chunked response: kept (names lowercased, what may not be a
 * trailer dropped), whole or split across reads, bounded, malformed lines refused. */
static void test_trailers(void)
{
    char body[4096];
    uint32_t ec;
    int berr;
    const char *with = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\nX-Sum: 42 \r\nhost: evil\r\ncontent-length: 9\r\n"
                       "connection: close\r\ntransfer-encoding: x\r\nx-b:\tb  b\r\n\r\n";
    for (size_t split = 0; split < 4; split += 3) { /* whole, then 3 bytes a read */
        SRV_SET(split, split);
        respond(with);
        CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
        CHECK_STR(body, "abc");
        CHECK_INT(berr, 0);
        CHECK(last_tr && last_tr->n == 2 && last_tr_immutable);
        CHECK(tr_is(last_tr, "x-sum", "42") && tr_is(last_tr, "x-b", "b  b"));
    }
    SRV_SET(split, 0);
    /* no trailer section, or one with only fields that may not be trailers: none */
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(last_tr == NULL && last_fail == 0);
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nhost: h\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(last_tr == NULL || last_tr->n == 0);
    CHECK_INT(last_fail, 0);
    /* a content-length body has none */
    respond("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(last_tr == NULL);
    /* malformed trailer lines */
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(berr != 0);
    CHECK_INT(last_fail, WH_E_HTTP_PROTOCOL_ERROR);
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nb@d: x\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_INT(last_fail, WH_E_HTTP_PROTOCOL_ERROR);
    /* hostile: 10,000 fields, and one line of 1 MiB: trailer-section-size, bounded */
    /* (static: the server thread may still be sending it when the client gave up) */
    static char big[((size_t)1 << 20) + 256];
    size_t n = (size_t)1 << 20;
    static const char pre[] = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n";
    size_t k = strlen(pre);
    memcpy(big, pre, k);
    for (int i = 0; i < 10000; i++)
        k += (size_t)snprintf(big + k, n + 256 - k, "x-t%d: v\r\n", i);
    memcpy(big + k, "\r\n", 3);
    respond(big);
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(berr != 0 && last_tr == NULL);
    CHECK_INT(last_fail, WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE);
    k = strlen(pre);
    memcpy(big + k, "x-big: ", 7);
    memset(big + k + 7, 'a', n - k - 7);
    memcpy(big + n, "\r\n\r\n", 5);
    respond(big);
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_INT(last_fail, WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE);
    respond("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
}

int main(void)
{
    /* 64 descriptors: at most 32 transfers alive (read when the first one starts) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    server_start(&srv);
    char body[4096];
    uint32_t ec;
    int berr;

    respond("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_STR(body, "hello");
    CHECK(strncmp(srv.got, "GET /g HTTP/1.1\r\nhost: x\r\n\r\n", 28) == 0);

    respond("HTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nabc");
    CHECK_INT(fetch("payload", 0, body, sizeof body, &ec, &berr), 201);
    CHECK_STR(srv.got, "POST /p HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\npayload");

    respond(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
        "connection: keep-alive\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nx-t: y\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_STR(body, "abc0123456789");
    CHECK_INT(berr, 0);
    CHECK(tr_is(last_tr, "x-t", "y"));
    test_trailers();

    respond("HTTP/1.0 200 OK\r\n\r\nuntil close");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_STR(body, "until close");

    respond("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 204);
    CHECK_STR(body, "");

    /* truncated body: what came, then an error */
    respond("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_STR(body, "abc");
    CHECK(berr != 0);

    /* hostile or malformed heads */
    respond("HTTP/1.1 2000 OK\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_HTTP_PROTOCOL_ERROR);
    respond("SMTP ready\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_HTTP_PROTOCOL_ERROR);
    respond("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_HTTP_PROTOCOL_ERROR);
    respond("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_HTTP_RESPONSE_TRANSFER_CODING);
    respond("HTTP/1.1 200 OK\r\nbad header line\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    respond("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffff\r\n");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(berr != 0);
    respond("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY");
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK(berr != 0);
    {
        size_t n = WH_RESPONSE_HEAD_MAX + 4096;
        char *big = kiln_malloc(n + 64);
        if (big) {
            strcpy(big, "HTTP/1.1 200 OK\r\nx-big: ");
            size_t k = strlen(big);
            memset(big + k, 'a', n);
            strcpy(big + k + n, "\r\n\r\n");
            respond(big);
            CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
            CHECK_INT(ec, WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE);
            kiln_free(big);
        }
    }
    respond("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");

    /* keep-alive: three requests, one connection */
    SRV_SET(keep, 1);
    int before = srv.accepted;
    for (int i = 0; i < 3; i++)
        CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_INT(srv.accepted - before, 1);
    /* a pooled connection the server closed meanwhile is replaced */
    SRV_SET(keep, 0);
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200); /* server closes after it */
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 200);
    CHECK_STR(body, "ok");

    /* the cap on transfers alive at once */
    {
        wh_xfer *xs[33];
        wh_target t;
        char auth[32];
        snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)srv.port);
        CHECK_INT(wh_target_parse(&t, 0, auth, strlen(auth)), 0);
        const char *head = "GET / HTTP/1.1\r\nhost: x\r\n";
        wh_xfer_spec spec = {&t, head, strlen(head), 0, 0, -1, 0, 0, 0, NULL, 0};
        int made = 0;
        for (int i = 0; i < 33; i++)
            if ((xs[i] = wh_xfer_start(&spec, &ec))) made++;
        CHECK_INT(made, 32);
        CHECK(xs[32] == NULL && ec == WH_E_CONNECTION_LIMIT_REACHED);
        wh_xfer_release(xs[0]);
        CHECK((xs[0] = wh_xfer_start(&spec, &ec)) != NULL);
        for (int i = 0; i < 32; i++)
            wh_xfer_release(xs[i]);
    }

    /* a component's limit: past it a transfer waits (without failing) for a permit */
    {
        const char *ids[] = {"limited"};
        CHECK_INT(kiln_wasihttp_limit_outbound(ids, 1, 1), 0);
        wh_limit *l = wh_limit_find("limited");
        CHECK(l != NULL && wh_limit_find("other") == NULL);
        respond("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        wh_target t;
        char auth[32];
        snprintf(auth, sizeof auth, "127.0.0.1:%u", (unsigned)srv.port);
        CHECK_INT(wh_target_parse(&t, 0, auth, strlen(auth)), 0);
        const char *head = "GET / HTTP/1.1\r\nhost: x\r\n";
        wh_xfer_spec spec = {&t, head, strlen(head), 0, 0, -1, 0, 0, 0, l, 0};
        wh_xfer *a = wh_xfer_start(&spec, &ec), *b = wh_xfer_start(&spec, &ec);
        CHECK(a && b);
        int fd;
        short ev;
        uint64_t d;
        int i;
        for (i = 0; i < 100 && a && !wh_xfer_check_head(a, &fd, &ev, &d); i++)
            wait_for(fd, ev, d);
        CHECK(i < 100);
        CHECK_INT(b ? wh_xfer_check_head(b, &fd, &ev, &d) : -1, 0);
        CHECK(fd == -1 && d != UINT64_MAX); /* looks again soon: a permit, not a socket */
        wh_xfer_release(a);                 /* its permit comes back */
        for (i = 0; i < 200 && b && !wh_xfer_check_head(b, &fd, &ev, &d); i++)
            wait_for(fd, ev, d);
        uint16_t st = 0;
        const wh_fields *h;
        CHECK(b && wh_xfer_response(b, &st, &h, &ec) == 0 && st == 200);
        wh_xfer_release(b);
        const char *none[] = {"zero"};
        CHECK_INT(kiln_wasihttp_limit_outbound(none, 1, 0), 0);
        spec.limit = wh_limit_find("zero");
        CHECK(wh_xfer_start(&spec, &ec) == NULL && ec == WH_E_CONNECTION_LIMIT_REACHED);
        CHECK_INT(kiln_wasihttp_limit_outbound(NULL, 0, 0), 0);
        CHECK(wh_limit_find("zero") == NULL);
    }
    test_local();
    test_stream();

    /* first-byte timeout */
    SRV_SET(delay_ms, 500);
    CHECK_INT(fetch(NULL, 100000000u, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_CONNECTION_READ_TIMEOUT);
    SRV_SET(delay_ms, 0);

    /* nobody listening */
    close(srv.lfd);
    usleep(100000);
    CHECK_INT(fetch(NULL, 0, body, sizeof body, &ec, &berr), 0);
    CHECK_INT(ec, WH_E_CONNECTION_REFUSED);
    wh_fields_free(last_tr);
    return test_finish("client_test");
}
