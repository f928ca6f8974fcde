/* bench_load.c — the load generator of `kiln bench` (see bench_load.h). */
#include "cli/bench_load.h"
#include "util/alloc.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected socket to 127.0.0.1:port with timeouts on reads and writes, or -1. */
static int dial(uint16_t port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A connection's read side: bytes received and not yet consumed. */
typedef struct conn {
    int fd;
    kiln_buf in;
    size_t pos; /* consumed up to here */
} conn;

/* Reads more bytes into c->in (appended: offsets into it stay valid). 1, 0 at end of
 * stream, -1 on error or timeout. */
static int fill(conn *c)
{
    if (kiln_buf_reserve(&c->in, 16384) < 0) return -1;
    ssize_t n;
    do
        n = read(c->fd, c->in.data + c->in.len, 16384);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return n == 0 ? 0 : -1;
    c->in.len += (size_t)n;
    return 1;
}

/* The offset of "\r\n" at or after from in c->in, filling as needed; -1 when none comes. */
static long find_crlf(conn *c, size_t from)
{
    for (;;) {
        for (size_t i = from; i + 1 < c->in.len; i++)
            if (c->in.data[i] == '\r' && c->in.data[i + 1] == '\n') return (long)i;
        if (c->in.len - c->pos > (1u << 24) || fill(c) <= 0) return -1;
    }
}

/* Consumes n body bytes (appending them to body when not NULL). 0 or -1. */
static int take(conn *c, uint64_t n, kiln_buf *body)
{
    while (n > 0) {
        if (c->pos == c->in.len) c->pos = c->in.len = 0; /* all consumed: no offset kept */
        if (c->pos == c->in.len && fill(c) <= 0) return -1;
        size_t k = c->in.len - c->pos < n ? c->in.len - c->pos : (size_t)n;
        if (body && kiln_buf_append(body, c->in.data + c->pos, k) < 0) return -1;
        c->pos += k;
        n -= k;
    }
    return 0;
}

/* Reads one response: its status, or -1 when it is broken. *close_after: the server ends
 * the connection after it (Connection: close, or a body delimited by the close). */
static int read_response(conn *c, kiln_buf *body, int *close_after)
{
    if (c->pos > 0) { /* what the last response left (pipelined bytes) to the front */
        memmove(c->in.data, c->in.data + c->pos, c->in.len - c->pos);
        c->in.len -= c->pos;
        c->pos = 0;
    }
    size_t start = c->pos;
    long eol = find_crlf(c, start);
    if (eol < 0 || (size_t)eol - start < 12 || memcmp(c->in.data + start, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(c->in.data + start + 9);
    uint64_t length = UINT64_MAX;
    int chunked = 0;
    *close_after = c->in.data[start + 7] == '0'; /* HTTP/1.0 */
    size_t line = (size_t)eol + 2;
    for (;;) {
        eol = find_crlf(c, line);
        if (eol < 0) return -1;
        const char *h = c->in.data + line;
        size_t len = (size_t)eol - line;
        if (len == 0) break;
        if (len > 15 && strncasecmp(h, "content-length:", 15) == 0)
            length = strtoull(h + 15, NULL, 10);
        else if (len > 18 && strncasecmp(h, "transfer-encoding:", 18) == 0)
            chunked = memmem(h, len, "chunked", 7) != NULL;
        else if (len >= 17 && strncasecmp(h, "connection:", 11) == 0)
            *close_after |= memmem(h, len, "close", 5) != NULL;
        line = (size_t)eol + 2;
    }
    c->pos = (size_t)eol + 2;
    if (chunked) {
        for (;;) {
            eol = find_crlf(c, c->pos);
            if (eol < 0) return -1;
            uint64_t n = strtoull(c->in.data + c->pos, NULL, 16);
            c->pos = (size_t)eol + 2;
            if (n == 0) break;
            if (take(c, n, body) < 0 || take(c, 2, NULL) < 0) return -1;
        }
        for (;;) { /* trailers, then the empty line */
            eol = find_crlf(c, c->pos);
            if (eol < 0) return -1;
            int empty = (size_t)eol == c->pos;
            c->pos = (size_t)eol + 2;
            if (empty) break;
        }
    } else if (length != UINT64_MAX) {
        if (take(c, length, body) < 0) return -1;
    } else if (status >= 200 && status != 204 && status != 304) {
        *close_after = 1; /* delimited by the close */
        for (;;) {
            if (body && kiln_buf_append(body, c->in.data + c->pos, c->in.len - c->pos) < 0)
                return -1;
            c->pos = c->in.len = 0;
            int r = fill(c);
            if (r == 0) break;
            if (r < 0) return -1;
        }
    }
    return status;
}

/* Sends all of s. 0 or -1. */
static int send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int kiln_bench_get(uint16_t port, const char *path, kiln_buf *body, int timeout_ms)
{
    conn c = {dial(port, timeout_ms), KILN_BUF_INIT, 0};
    if (c.fd < 0) return -1;
    kiln_buf req = KILN_BUF_INIT;
    int closing, status = -1;
    if (kiln_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                        path) == 0 &&
        send_all(c.fd, req.data, req.len) == 0)
        status = read_response(&c, body, &closing);
    kiln_buf_free(&req);
    kiln_buf_free(&c.in);
    close(c.fd);
    return status;
}

/* The latency bucket of d seconds. */
static size_t lat_bucket(double d)
{
    double us = d * 1e6;
    if (us < 1) return 0;
    long b = lround(floor(4 * log2(us)));
    return b < 0 ? 0 : b >= KILN_BENCH_LAT_BUCKETS ? KILN_BENCH_LAT_BUCKETS - 1 : (size_t)b;
}

double kiln_bench_load_quantile(const kiln_bench_load *l, double q)
{
    uint64_t total = 0, cum = 0;
    for (size_t i = 0; i < KILN_BENCH_LAT_BUCKETS; i++)
        total += l->lat[i];
    if (!total) return 0;
    double rank = q * (double)total;
    for (size_t i = 0; i < KILN_BENCH_LAT_BUCKETS; i++) {
        cum += l->lat[i];
        if ((double)cum >= rank) return exp2((double)(i + 1) / 4) / 1e6; /* the bucket's top */
    }
    return exp2((double)KILN_BENCH_LAT_BUCKETS / 4) / 1e6;
}

typedef struct load_thread {
    pthread_t t;
    uint16_t port;
    const char *const *paths;
    size_t npaths, first;
    double until;
    kiln_bench_load r;
    kiln_buf *reqs; /* the GET of each path, prebuilt */
} load_thread;

static void *load_main(void *arg)
{
    load_thread *lt = arg;
    conn c = {-1, KILN_BUF_INIT, 0};
    size_t i = lt->first;
    while (mono_s() < lt->until) {
        if (c.fd < 0) {
            c.in.len = c.pos = 0;
            if ((c.fd = dial(lt->port, 5000)) < 0) {
                lt->r.failed++;
                usleep(10000);
                continue;
            }
        }
        const kiln_buf *req = &lt->reqs[i++ % lt->npaths];
        double t0 = mono_s();
        int closing = 0, status = send_all(c.fd, req->data, req->len) == 0
                                      ? read_response(&c, NULL, &closing)
                                      : -1;
        double dt = mono_s() - t0;
        if (status >= 200 && status < 400) {
            lt->r.ok++;
            lt->r.lat[lat_bucket(dt)]++;
        } else {
            lt->r.failed++;
        }
        if (status < 0 || closing) {
            close(c.fd);
            c.fd = -1;
        }
    }
    if (c.fd >= 0) close(c.fd);
    kiln_buf_free(&c.in);
    return NULL;
}

int kiln_bench_load_run(uint16_t port, const char *const *paths, size_t npaths, unsigned threads,
                        double seconds, kiln_bench_load *out)
{
    memset(out, 0, sizeof *out);
    load_thread *lt = kiln_calloc(threads, sizeof *lt);
    kiln_buf *reqs = kiln_calloc(npaths, sizeof *reqs);
    int rc = lt && reqs && npaths ? 0 : -1;
    for (size_t p = 0; p < npaths && rc == 0; p++)
        rc = kiln_buf_printf(&reqs[p], "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", paths[p]);
    unsigned started = 0;
    double t0 = mono_s();
    for (unsigned i = 0; i < threads && rc == 0; i++) {
        lt[i] = (load_thread){.port = port,
                              .paths = paths,
                              .npaths = npaths,
                              .first = i,
                              .until = t0 + seconds,
                              .reqs = reqs};
        if (pthread_create(&lt[i].t, NULL, load_main, &lt[i]) != 0) break;
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(lt[i].t, NULL);
        out->ok += lt[i].r.ok;
        out->failed += lt[i].r.failed;
        for (size_t k = 0; k < KILN_BENCH_LAT_BUCKETS; k++)
            out->lat[k] += lt[i].r.lat[k];
    }
    out->seconds = mono_s() - t0;
    for (size_t p = 0; reqs && p < npaths; p++)
        kiln_buf_free(&reqs[p]);
    kiln_free(reqs);
    kiln_free(lt);
    if (!started) fprintf(stderr, "kiln bench: cannot start the load threads\n");
    return started ? 0 : -1;
}
