/* Unit tests of the server's side of the handler interface (http.c): a response written
 * in one piece goes out with a Content-Length; one written in pieces, partly from another
 * thread through post, is streamed chunked (HTTP/1.1); a handler that finishes without
 * start answers 500; a handler that answers after its client went away is harmless (h2o
 * notices the closed connection when it writes: the answer goes nowhere, under ASan too).
 * The server runs in a thread; SIGTERM (blocked everywhere, taken by its sigwait) stops
 * it. */
#include "server/http.h"
#include "server/router.h"
#include "util/alloc.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int port;
static atomic_int first_seen; /* the client has read the first piece of /stream */
static atomic_int late_done;  /* the handler whose client went away has finished */

static void on_ready(void *ctx, const char *url)
{
    const char *colon = strrchr(url, ':');
    atomic_store(&port, colon ? atoi(colon + 1) : 0);
}

/* "/whole": one write, then finish. */
static void whole_handle(kiln_handler *h, kiln_request *req, kiln_response *res)
{
    kiln_http_header hs[] = {{"content-type", 12, "text/plain", 10}};
    res->ops->start(res, 200, hs, 1);
    res->ops->write(res, "whole body", 10);
    res->ops->finish(res, NULL, 0);
}

/* "/none": finish without start. */
static void none_handle(kiln_handler *h, kiln_request *req, kiln_response *res)
{
    res->ops->finish(res, NULL, 0);
}

/* "/stream" and "/late": a first piece now, the rest from another thread (after delay_ms)
 * through post. */
typedef struct later {
    kiln_response *res;
    int delay_ms;
    char *body; /* copied from the request (in the arena): "the request's" */
} later;

static void finish_on_loop(kiln_response *res, void *arg)
{
    later *l = arg;
    res->ops->write(res, "second,", 7);
    res->ops->write(res, l->body, strlen(l->body));
    int late = l->delay_ms == 300;
    res->ops->finish(res, NULL, 0);
    kiln_free(l);
    if (late) atomic_store(&late_done, 1);
}

static void *later_main(void *arg)
{
    later *l = arg;
    struct timespec ts = {0, (long)l->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    /* /stream: the rest only once the client got the first piece (no race with it) */
    for (int i = 0; i < 1000 && l->delay_ms != 300 && !atomic_load(&first_seen); i++)
        nanosleep(&ts, NULL);
    l->res->ops->post(l->res, finish_on_loop, l);
    return NULL;
}

static void stream_handle(kiln_handler *h, kiln_request *req, kiln_response *res)
{
    later *l = kiln_calloc(1, sizeof *l);
    if (!l) {
        kiln_response_error(res, 500);
        return;
    }
    char buf[64];
    long n = req->body->read(req->body, buf, sizeof buf - 1);
    l->res = res;
    l->delay_ms = strcmp(h->name, "late") == 0 ? 300 : 10;
    l->body = kiln_arena_strndup(req->arena, buf, n > 0 ? (size_t)n : 0);
    res->ops->start(res, 200, NULL, 0);
    res->ops->write(res, "first,", 6);
    pthread_t t;
    if (pthread_create(&t, NULL, later_main, l) == 0)
        pthread_detach(t);
    else
        later_main(l); /* no thread: post from here (still valid, just not concurrent) */
}

/* Sends a raw request and reads the whole answer (the server closes: Connection: close). */
static void http(const char *raw, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0) close(fd);
        return;
    }
    if (write(fd, raw, strlen(raw)) < 0) {
        close(fd);
        return;
    }
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
        out[len] = '\0';
        if (strstr(out, "first,")) atomic_store(&first_seen, 1);
    }
    out[len] = '\0';
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
    kiln_handler hw = {whole_handle, "whole"}, hn = {none_handle, "none"},
                 hs = {stream_handle, "stream"}, hl = {stream_handle, "late"};
    kiln_server_target tw = {.component = "whole", .handler = &hw},
                       tn = {.component = "none", .handler = &hn},
                       ts = {.component = "stream", .handler = &hs},
                       tl = {.component = "late", .handler = &hl};
    kiln_router *r = kiln_router_new();
    const char *err;
    CHECK_INT(kiln_router_add(r, "/whole", &tw, &err), 0);
    CHECK_INT(kiln_router_add(r, "/none", &tn, &err), 0);
    CHECK_INT(kiln_router_add(r, "/stream", &ts, &err), 0);
    CHECK_INT(kiln_router_add(r, "/late", &tl, &err), 0);
    kiln_server_config cfg = {.listen = "127.0.0.1:0",
                              .workers = 1,
                              .quiet = 1,
                              .max_request_size = 1 << 20,
                              .max_header_size = 8192,
                              .read_timeout_ms = 5000,
                              .shutdown_timeout_ms = 2000,
                              .router = r,
                              .on_ready = on_ready};
    pthread_t srv;
    CHECK_INT(pthread_create(&srv, NULL, server_main, &cfg), 0);
    for (int i = 0; i < 500 && !atomic_load(&port); i++)
        usleep(10000);
    CHECK(atomic_load(&port) > 0);
    char out[4096];

    http("GET /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strcasestr(out, "\r\ncontent-length: 10\r\n") != NULL);
    CHECK(strstr(out, "\r\ncontent-type: text/plain\r\n") != NULL);
    CHECK(strcasestr(out, "transfer-encoding") == NULL);
    CHECK(strstr(out, "\r\n\r\nwhole body") != NULL);

    http("GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 500 ", 13) == 0);

    http("POST /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody",
         out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strcasestr(out, "\r\ntransfer-encoding: chunked\r\n") != NULL);
    CHECK(strcasestr(out, "content-length") == NULL);
    /* the first piece went out on its own, before the rest came from the other thread */
    CHECK(strstr(out, "\r\n\r\n6\r\nfirst,\r\n") != NULL);
    CHECK(strstr(out, "second,body") != NULL);
    CHECK(strstr(out, "\r\n0\r\n\r\n") != NULL);

    /* the client goes away before the handler answers (on another thread, 300 ms later) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *raw = "POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ngone";
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(fd, raw, strlen(raw)) == (ssize_t)strlen(raw));
    usleep(100000);
    close(fd);
    for (int i = 0; i < 300 && !atomic_load(&late_done); i++)
        usleep(10000);
    CHECK_INT(atomic_load(&late_done), 1);
    /* the server still answers */
    http("GET /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "whole body") != NULL);

    kill(getpid(), SIGTERM);
    void *rc;
    pthread_join(srv, &rc);
    CHECK_INT((intptr_t)rc, 0);
    kiln_router_free(r);
    return test_finish("http_test");
}
