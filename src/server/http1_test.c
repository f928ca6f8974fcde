/* Unit tests of the HTTP/1.x codec (http1.c) through the server (http.c) over a real
 * socket: a chunked body sent a few bytes at a time (chunk sizes, extensions and request
 * trailers split anywhere) reaches a handler that reads it without blocking, waiting on
 * wait_fd from another thread and reading on the loop through post (the readiness
 * contract of exec/handler.h); a Content-Length body split from its head; trailers after
 * the last chunk, also for a response whose whole body is known at finish; pipelined
 * requests; a malformed chunk size (400), an oversized head (431) and an oversized body
 * (413). */
#include "server/http.h"
#include "server/router.h"
#include "util/alloc.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int port;

static void on_ready(void *ctx, const char *url)
{
    const char *colon = strrchr(url, ':');
    atomic_store(&port, colon ? atoi(colon + 1) : 0);
}

/* "/sum": reads the body as it comes and answers "N bytes, sum S". A helper thread waits
 * on wait_fd and posts to the loop, where the body is read (never blocking the loop). */
typedef struct summer {
    kiln_response *res;
    kiln_body_source *src;
    size_t n;
    unsigned sum;
    atomic_int turn; /* 1: the loop's callback ran; the thread may wait again */
    atomic_int done;
} summer;

static void read_on_loop(kiln_response *res, void *arg)
{
    summer *s = arg;
    unsigned char buf[7]; /* small reads: many AGAIN/ready turns */
    long n;
    while ((n = s->src->read(s->src, buf, sizeof buf)) > 0) {
        s->n += (size_t)n;
        for (long i = 0; i < n; i++)
            s->sum += buf[i];
    }
    if (n == KILN_BODY_AGAIN) {
        atomic_store(&s->turn, 1);
        return;
    }
    char out[64];
    int len = n == 0 ? snprintf(out, sizeof out, "%zu bytes, sum %u", s->n, s->sum)
                     : snprintf(out, sizeof out, "error");
    kiln_response_simple(res, n == 0 ? 200 : 400, "text/plain", NULL, 0, out, (size_t)len);
    atomic_store(&s->done, 1);
    atomic_store(&s->turn, 1);
}

static void *summer_main(void *arg)
{
    summer *s = arg;
    while (!atomic_load(&s->done)) {
        struct pollfd p = {s->src->wait_fd(s->src), POLLIN, 0};
        if (p.fd >= 0 && poll(&p, 1, 5000) <= 0) break; /* (-1: complete, never AGAIN) */
        atomic_store(&s->turn, 0);
        s->res->ops->post(s->res, read_on_loop, s);
        while (!atomic_load(&s->turn))
            usleep(200);
    }
    kiln_free(s);
    return NULL;
}

static void sum_handle(kiln_handler *h, kiln_request *req, kiln_response *res)
{
    summer *s = kiln_calloc(1, sizeof *s);
    pthread_t t;
    if (!s || !req->body->wait_fd) { /* a buffered body: read at once */
        if (s) {
            s->res = res;
            s->src = req->body;
            read_on_loop(res, s);
        }
        kiln_free(s);
        if (!s) kiln_response_error(res, 500);
        return;
    }
    s->res = res;
    s->src = req->body;
    if (pthread_create(&t, NULL, summer_main, s) != 0) {
        kiln_free(s);
        kiln_response_error(res, 500);
        return;
    }
    pthread_detach(t);
}

/* "/trailers": "a" and "bc" (the whole body, known at finish: still chunked, for the
 * trailers x-one and x-two; x-bad is not a valid value). */
static void trailers_handle(kiln_handler *h, kiln_request *req, kiln_response *res)
{
    kiln_http_header t[] = {
        {"x-one", 5, "1", 1}, {"x-two", 5, "two", 3}, {"x-bad", 5, "a\r\nb", 4}};
    res->ops->start(res, 200, NULL, 0);
    res->ops->write(res, "a", 1);
    res->ops->write(res, "bc", 2);
    res->ops->finish(res, t, 3);
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends raw in pieces of `piece` bytes (0: at once) and reads the answer until the server
 * closes (the last request says Connection: close) or cap. */
static void http(const char *raw, size_t piece, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = connect_server();
    if (fd < 0) return;
    size_t len = strlen(raw), off = 0;
    while (off < len) {
        size_t k = piece && len - off > piece ? piece : len - off;
        if (write(fd, raw + off, k) != (ssize_t)k) break;
        off += k;
        if (piece) usleep(300);
    }
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
}

static void *server_main(void *arg)
{
    return (void *)(intptr_t)kiln_server_run(arg);
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    kiln_handler hs = {sum_handle, "sum"}, ht = {trailers_handle, "trailers"};
    kiln_server_target ts = {.component = "sum", .handler = &hs},
                       tt = {.component = "trailers", .handler = &ht};
    kiln_router *r = kiln_router_new();
    const char *err;
    CHECK_INT(kiln_router_add(r, "/sum", &ts, &err), 0);
    CHECK_INT(kiln_router_add(r, "/trailers", &tt, &err), 0);
    kiln_server_config cfg = {.listen = "127.0.0.1:0",
                              .workers = 1,
                              .quiet = 1,
                              .max_request_size = 4096,
                              .max_header_size = 2048,
                              .read_timeout_ms = 5000,
                              .shutdown_timeout_ms = 2000,
                              .router = r,
                              .on_ready = on_ready};
    pthread_t srv;
    CHECK_INT(pthread_create(&srv, NULL, server_main, &cfg), 0);
    for (int i = 0; i < 500 && !atomic_load(&port); i++)
        usleep(10000);
    CHECK(atomic_load(&port) > 0);
    static char out[65536];

    /* a chunked body three bytes at a time: sizes, an extension and trailers split */
    http("POST /sum HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-req-trailer: t\r\n\r\n",
         3, out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    unsigned want = 0;
    for (const char *p = "hello0123456789"; *p; p++)
        want += (unsigned char)*p;
    char line[64];
    snprintf(line, sizeof line, "\r\n\r\n15 bytes, sum %u", want);
    CHECK(strstr(out, line) != NULL);

    /* Content-Length, the body split from the head; then a pipelined request */
    http("POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
         "POST /sum HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nzz",
         40, out, sizeof out);
    snprintf(line, sizeof line, "3 bytes, sum %u", 'a' + 'b' + 'c');
    const char *first = strstr(out, line);
    snprintf(line, sizeof line, "2 bytes, sum %u", 'z' + 'z');
    const char *second = strstr(out, line);
    CHECK(first != NULL && second != NULL && first < second);

    /* trailers after the last chunk (the invalid one left out) */
    http("GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0, out, sizeof out);
    CHECK(strcasestr(out, "\r\ntransfer-encoding: chunked\r\n") != NULL);
    CHECK(strcasestr(out, "content-length") == NULL);
    CHECK(strstr(out, "\r\n\r\n3\r\nabc\r\n0\r\nx-one: 1\r\nx-two: two\r\n\r\n") != NULL);
    CHECK(strstr(out, "x-bad") == NULL);

    /* HTTP/1.0: no chunks, so no trailers; the body is whole */
    http("GET /trailers HTTP/1.0\r\nHost: x\r\n\r\n", 0, out, sizeof out);
    CHECK(strcasestr(out, "transfer-encoding") == NULL);
    CHECK(strstr(out, "\r\n\r\nabc") != NULL && strstr(out, "x-one") == NULL);

    /* the codec's own answers */
    http("POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, out,
         sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    char big[4096];
    snprintf(big, sizeof big, "GET /sum HTTP/1.1\r\nHost: x\r\nX-Big: %03000d\r\n\r\n", 0);
    http(big, 0, out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    http("POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 0, out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
    /* a chunked body over the limit while it streams */
    static char chunked[8192];
    int n = snprintf(chunked, sizeof chunked,
                     "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++)
        n += snprintf(chunked + n, sizeof chunked - (size_t)n, "400\r\n%01024d\r\n", 0);
    http(chunked, 1500, out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);

    kill(getpid(), SIGTERM);
    void *rc;
    pthread_join(srv, &rc);
    CHECK_INT((intptr_t)rc, 0);
    kiln_router_free(r);
    return test_finish("http1_test");
}
