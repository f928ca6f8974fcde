/* Unit tests of the WAGI handler (serve.h) through the neutral handler interface: a tiny
 * guest compiled from WAT at test time answers through a fake response sink; the inline
 * path, the executor path (the answer posted back), a trap (500), the inline budget (the
 * request re-run on an executor thread) and a non-rerunnable component. */
#include "engine/engine.h"
#include "engine/runtime.h"
#include "exec/executor.h"
#include "exec/wagi/serve.h"
#include "util/alloc.h"
#include "util/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* _start: echoes "got " + its stdin after a CGI head; boom: traps; spin: loops forever. */
static const char *wat =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
    "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_read\"\n"
    "    (func $fd_read (param i32 i32 i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 64) \"Content-Type: text/plain\\nX-Test: yes\\n\\ngot \")\n"
    "  (func (export \"_start\")\n"
    "    (i32.store (i32.const 0) (i32.const 64))\n"
    "    (i32.store (i32.const 4) (i32.const 42))\n"
    "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "    (i32.store (i32.const 0) (i32.const 1024))\n"
    "    (i32.store (i32.const 4) (i32.const 1000))\n"
    "    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "    (i32.store (i32.const 4) (i32.load (i32.const 8)))\n"
    "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))\n"
    "  (func (export \"boom\") unreachable)\n"
    "  (func (export \"spin\") (loop $l (br $l))))\n";

/* The fake response: records what the handler sent; post hands the callback to the test
 * thread (the "I/O thread"), which runs it in wait_posted. */
typedef struct fake_res {
    kiln_response res;
    int status, started, finished, writes_after_finish;
    kiln_buf headers, body;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    kiln_response_cb cb;
    void *arg;
    pthread_t io_thread;
    int posted_from_other_thread;
} fake_res;

static int f_start(kiln_response *r, int status, const kiln_http_header *h, size_t n)
{
    fake_res *f = (fake_res *)r;
    f->status = status;
    f->started++;
    for (size_t i = 0; i < n; i++)
        kiln_buf_printf(&f->headers, "%.*s: %.*s\n", (int)h[i].name_len, h[i].name,
                        (int)h[i].value_len, h[i].value);
    return 0;
}

static int f_write(kiln_response *r, const void *d, size_t n)
{
    fake_res *f = (fake_res *)r;
    if (f->finished) f->writes_after_finish++;
    return kiln_buf_append(&f->body, d, n);
}

static void f_finish(kiln_response *r, const kiln_http_header *t, size_t n)
{
    fake_res *f = (fake_res *)r;
    if (!f->started) f->status = 500;
    f->finished++;
}

static int f_post(kiln_response *r, kiln_response_cb cb, void *arg)
{
    fake_res *f = (fake_res *)r;
    pthread_mutex_lock(&f->lock);
    f->cb = cb;
    f->arg = arg;
    f->posted_from_other_thread = !pthread_equal(pthread_self(), f->io_thread);
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int f_gone(kiln_response *r)
{
    return 0;
}

static const kiln_response_ops fake_ops = {f_start, f_write, f_finish, f_post, f_gone, NULL, NULL};

/* Runs one request with body `body` through handler h. Returns after the response is
 * finished (running a posted callback on this thread if the handler answered later);
 * *was_async says whether it did. */
static void run_request(kiln_wagi_handler *h, const char *body, fake_res *f, int *was_async)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->io_thread = pthread_self();
    kiln_arena arena;
    char first[512];
    kiln_arena_init(&arena, first, sizeof first);
    f->res = (kiln_response){&fake_ops, &arena, -1, SIZE_MAX, 0, NULL, 0, 0};
    kiln_route_match m = {.route = "/...", .base = "", .wildcard = 1};
    kiln_body_source src;
    kiln_body_source_buffer(&src, body, strlen(body));
    kiln_http_header hs[] = {{"user-agent", 10, "test", 4}};
    kiln_request req = {.method = "POST",
                        .method_len = 4,
                        .path = "/x",
                        .path_len = 2,
                        .scheme = "http",
                        .protocol = "HTTP/1.1",
                        .headers = hs,
                        .nheaders = 1,
                        .client_ip = "127.0.0.1",
                        .server_port = 3000,
                        .route = &m,
                        .body = &src,
                        .arena = &arena};
    h->base.handle(&h->base, &req, &f->res);
    *was_async = !f->finished;
    if (!f->finished) {
        pthread_mutex_lock(&f->lock);
        while (!f->cb)
            pthread_cond_wait(&f->cond, &f->lock);
        pthread_mutex_unlock(&f->lock);
        f->cb(&f->res, f->arg);
    }
    kiln_arena_free(&arena);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
}

static void fake_free(fake_res *f)
{
    kiln_buf_free(&f->headers);
    kiln_buf_free(&f->body);
}

static kiln_wagi_component *component(const char *dir, const char *entry)
{
    char path[300];
    snprintf(path, sizeof path, "%s/m.wasm", dir);
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_err err;
    kiln_wagi_component *c = kiln_wagi_component_new(entry, path, &o, entry, &err);
    if (!c) fprintf(stderr, "%s\n", err.msg);
    if (c) c->rerunnable = 1;
    return c;
}

int main(void)
{
    char dir[] = "/tmp/kiln-wagi-test-XXXXXX";
    if (!mkdtemp(dir) || kiln_rt_init() < 0 || kiln_rt_thread_init() < 0) return 1;
    char path[300], cmd[700];
    snprintf(path, sizeof path, "%s/m.wat", dir);
    FILE *fw = fopen(path, "w");
    if (!fw) return 1;
    fputs(wat, fw);
    fclose(fw);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/m.wat -o %s/m.wasm", dir, dir);
    CHECK_INT(system(cmd), 0);
    kiln_executor *e = kiln_executor_new(2, 16, 10000, 0);
    kiln_slots *slots = kiln_slots_new(16);
    CHECK(slots != NULL);
    CHECK(e != NULL);
    kiln_wagi_component *echo = component(dir, "_start"), *boom = component(dir, "boom"),
                        *spin = component(dir, "spin");
    CHECK(echo && boom && spin && e);
    if (!echo || !boom || !spin || !e) return test_finish("wagi_test");
    kiln_wagi_handler h;
    fake_res f;
    int async;

    /* inline: answered before handle returns */
    kiln_wagi_handler_init(&h, echo, e, slots, 1000, 10000);
    run_request(&h, "ping", &f, &async);
    CHECK_INT(async, 0);
    CHECK_INT(f.status, 200);
    CHECK_INT(f.finished, 1);
    CHECK_STR(f.headers.data, "Content-Type: text/plain\nX-Test: yes\n");
    CHECK_STR(f.body.data, "got ping");
    CHECK_INT(f.res.content_length, 8);
    fake_free(&f);

    /* executor: handle returns at once, the answer is posted from another thread */
    kiln_wagi_handler_init(&h, echo, e, slots, 0, 10000);
    run_request(&h, "pong", &f, &async);
    CHECK_INT(async, 1);
    CHECK_INT(f.posted_from_other_thread, 1);
    CHECK_INT(f.status, 200);
    CHECK_INT(f.finished, 1);
    CHECK_STR(f.body.data, "got pong");
    CHECK(f.res.start_ms >= 0);
    fake_free(&f);

    /* a trap: 500, on either path */
    kiln_wagi_handler_init(&h, boom, e, slots, 1000, 10000);
    run_request(&h, "", &f, &async);
    CHECK_INT(f.status, 500);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.writes_after_finish, 0);
    fake_free(&f);
    kiln_wagi_handler_init(&h, boom, e, slots, 0, 10000);
    run_request(&h, "", &f, &async);
    CHECK_INT(async, 1);
    CHECK_INT(f.status, 500);
    fake_free(&f);

    /* over the inline budget: stopped inline, re-run on an executor thread (which stops it
     * at the request timeout: 504), and the component stays off the inline path */
    spin->timeout_ns = 200 * 1000000ull;
    kiln_wagi_handler_init(&h, spin, e, slots, 20, 10000);
    CHECK_INT(kiln_wagi_inline_allowed(spin), 1);
    run_request(&h, "", &f, &async);
    CHECK_INT(async, 1);
    CHECK_INT(f.posted_from_other_thread, 1);
    CHECK_INT(f.status, 504);
    CHECK_INT(kiln_wagi_inline_allowed(spin), 0);
    fake_free(&f);

    /* not rerunnable: never inline, although the budget would allow it */
    echo->rerunnable = 0;
    kiln_wagi_handler_init(&h, echo, e, slots, 1000, 10000);
    run_request(&h, "once", &f, &async);
    CHECK_INT(async, 1);
    CHECK_INT(f.status, 200);
    CHECK_STR(f.body.data, "got once");
    fake_free(&f);

    kiln_executor_free(e);
    kiln_slots_free(slots);
    kiln_wagi_component_free(echo);
    kiln_wagi_component_free(boom);
    kiln_wagi_component_free(spin);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    return test_finish("wagi_test");
}
