/* serve_p3.c — wasi:http 0.3 components behind the handler interface (serve.h,
 * kiln_http_p3_serve): a fresh instance per request, handle called with the async ABI,
 * the response body streamed from the guest's stream as it writes. */
#include "component/instance.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "exec/http/reuse_p3.h"
#include "exec/http/serve.h"
#include "host/wasip3/http.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <poll.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define ABORTED "; the response was aborted after its headers"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The fields f as headers in res's arena (copies: the fields go with the instance,
 * before the response ends), without Content-Length (the server's): *n of them. NULL
 * when out of memory. */
static kiln_http_header *copy_fields(kiln_response *res, const wh_fields *f, size_t *n)
{
    kiln_http_header *hs = kiln_arena_alloc(res->arena, (f->n + 1) * sizeof *hs);
    if (!hs) return NULL;
    *n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const wh_field *e = &f->items[i];
        if (strcmp(e->name, "content-length") == 0) continue;
        char *nm = kiln_arena_alloc(res->arena, e->name_len + 1);
        char *v = kiln_arena_alloc(res->arena, e->value_len + 1);
        if (!nm || !v) return NULL;
        memcpy(nm, e->name, e->name_len + 1);
        if (e->value_len) memcpy(v, e->value, e->value_len);
        v[e->value_len] = '\0';
        hs[(*n)++] = (kiln_http_header){nm, e->name_len, v, e->value_len};
    }
    return hs;
}

/* Starts res with the guest's status and headers. 0, or -1 (out of memory, or the
 * client is gone). */
static int start(kiln_response *res, int status, const wh_fields *f)
{
    size_t n;
    kiln_http_header *hs = copy_fields(res, f, &n);
    return hs ? res->ops->start(res, status, hs, n) : -1;
}

/* The request body fed from the connection while the guest runs (kiln_component_idle). */
typedef struct p3_feed {
    kiln_p3http *ph;
    kiln_body_source *src;
} p3_feed;

static int feed_wants(void *arg)
{
    p3_feed *f = arg;
    return kiln_p3http_body_wants(f->ph);
}

/* kiln_component_idle's wait, on the request's fiber: moves what the connection has
 * into the guest's body stream (up to the host's buffer's room); when nothing has come
 * yet, waits for it (parking the fiber) until until_ns. 0, or -1 (the wait failed). */
static int feed_wait(void *arg, uint64_t until_ns)
{
    p3_feed *f = arg;
    char chunk[16384];
    int got = 0;
    for (;;) {
        size_t room = kiln_p3http_body_room(f->ph);
        if (!kiln_p3http_body_wants(f->ph) || !room) return 0;
        long n = f->src->read(f->src, chunk, room < sizeof chunk ? room : sizeof chunk);
        if (n > 0) {
            if (kiln_p3http_body_put(f->ph, chunk, (size_t)n) < 0) return -1;
            got = 1;
            continue;
        }
        int fd = n == KILN_BODY_AGAIN && f->src->wait_fd ? f->src->wait_fd(f->src) : -1;
        if (fd < 0) { /* the end, or the body broke off (a client gone, a bad chunk) */
            size_t nt = 0;
            const kiln_http_header *tr =
                n == 0 && f->src->trailers ? f->src->trailers(f->src, &nt) : NULL;
            for (size_t i = 0; i < nt; i++)
                if (kiln_p3http_body_trailer(f->ph, tr[i].name, tr[i].name_len, tr[i].value,
                                             tr[i].value_len) < 0)
                    return -1;
            kiln_p3http_body_end(f->ph, n != 0);
            return 0;
        }
        uint64_t now = mono_ns();
        if (got || now >= until_ns) return 0;
        int rc = kiln_wait_fd(fd, POLLIN, until_ns == UINT64_MAX ? UINT64_MAX : until_ns - now);
        if (rc <= 0) return rc < KILN_WAIT_INTERRUPTED ? -1 : 0; /* the driver sees the time */
    }
}

/* The time left of the request's timeout (0: none; 1: spent, the next drive stops). */
static uint64_t left_ns(const kiln_http_component *c, uint64_t t0)
{
    if (!c->timeout_ns) return 0;
    uint64_t used = mono_ns() - t0;
    return used >= c->timeout_ns ? 1 : c->timeout_ns - used;
}

/* How much of the response written may wait for the connection before the body stops
 * being taken (the guest's writes, or a body passed on, then wait). */
#define P3_MAX_BUFFERED (1024u * 1024u)

/* Waits (parking the request's fiber, the loop sending meanwhile) while the connection
 * has not taken what was written. 0, or -1 (the client is gone, or the wait was cut). */
static int drain(kiln_response *res)
{
    if (!res->ops->buffered || !kiln_fiber_current()) return res->ops->gone(res) ? -1 : 0;
    while (res->ops->buffered(res) > P3_MAX_BUFFERED && !res->ops->gone(res))
        if (kiln_wait_sleep(1000000) == KILN_WAIT_INTERRUPTED) return -1;
    return res->ops->gone(res) ? -1 : 0;
}

/* Streams the response body: what the guest wrote goes to res, then the instance runs on
 * until it wrote more, or ended the stream and wrote its trailers future (a guest that
 * never writes it, once nothing else can run, ends without trailers). 0 when the body
 * ended, -1 (logged) when it cannot (a trap, a timeout, a guest that stops writing
 * without ending, a client gone). */
static int stream_body(kiln_http_component *c, kiln_component_instance *ci, kiln_p3http *ph,
                       uint32_t rep, kiln_response *res, uint64_t t0)
{
    int stalled = 0;
    for (;;) {
        size_t n;
        int ended;
        const uint8_t *data = kiln_p3http_body_take(ph, rep, &n, &ended);
        if (n && res->ops->write(res, data, n) < 0) return -1;
        if (drain(res) < 0) return -1;
        if (ended && n) continue; /* empties what the last take handed out */
        if (ended && (stalled || kiln_p3http_body_ready(ph))) return 0;
        if (stalled) {
            kiln_log_error("component '%s' stopped writing its response body without ending "
                           "it" ABORTED,
                           c->id);
            return -1;
        }
        kiln_trap trap;
        int rc = kiln_component_drive(ci, kiln_p3http_body_ready, ph, &trap, left_ns(c, t0));
        if (rc < 0) {
            kiln_log_error("component '%s' %s: %s" ABORTED, c->id,
                           trap.kind == KILN_TRAP_INTERRUPTED ? "ran past its request timeout"
                                                              : "trapped",
                           kiln_trap_message(&trap));
            res->fault = trap.kind == KILN_TRAP_INTERRUPTED ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
            return -1;
        }
        stalled = rc == 0;
    }
}

/* The guest's trailers as the response's (in res's arena): *n of them. 0, or -1 when
 * the guest wrote an error-code instead (logged) or out of memory. */
static int trailers_of(kiln_http_component *c, kiln_p3http *ph, uint32_t rep, kiln_response *res,
                       kiln_http_header **out, size_t *n)
{
    const wh_fields *f;
    *out = NULL;
    *n = 0;
    if (kiln_p3http_trailers(ph, rep, &f) < 0) {
        kiln_log_error("component '%s' ended its response with an error-code" ABORTED, c->id);
        return -1;
    }
    if (!f || !f->n) return 0;
    return (*out = copy_fields(res, f, n)) ? 0 : -1;
}

/* The request's trip through a fresh instance, its body streamed in from the
 * connection as the guest reads it. */
void kiln_http_p3_serve(kiln_http_component *c, const struct kiln_wasihttp_request *req,
                        kiln_body_source *body, kiln_response *res)
{
    uint64_t t0 = mono_ns();
    res->start_at_ns = kiln_realtime_ns();
    kiln_err err;
    kiln_p3_lease lease; /* a fresh instance, or one reused (reuse_p3.h) */
    int clean = 0;       /* whether the instance may serve on */
    kiln_component_instance *ci = kiln_p3_reuse_take(c, &lease, &err) == 0 ? lease.ci : NULL;
    res->start_ms = (double)(mono_ns() - t0) / 1e6;
    int status = 500;
    if (!ci) {
        kiln_log_error("component '%s': %s", c->id, err.msg);
        kiln_response_error(res, 500);
        return;
    }
    kiln_p3http *ph = kiln_component_host_ctx(ci, KILN_P3HTTP_PROVIDER);
    const kiln_component_func *fn = kiln_component_find_func(ci, KILN_P3_HANDLER "#handle");
    if (!fn) fn = kiln_component_find_func(ci, KILN_P3_HANDLER_RC "#handle");
    if (!ph || !fn || kiln_p3http_bind(ph, req, body != NULL) < 0) {
        kiln_log_error("component '%s': no wasi:http/handler@0.3 handle to call (or it imports "
                       "no wasi:http/types)",
                       c->id);
        goto fail;
    }
    p3_feed feed = {ph, body};
    if (body) {
        kiln_component_idle idle = {feed_wants, feed_wait, &feed};
        kiln_component_set_idle(ci, &idle);
    }
    kiln_cval arg, result;
    memset(&arg, 0, sizeof arg);
    memset(&result, 0, sizeof result);
    arg.res.rep = kiln_p3http_request_rep(ph);
    kiln_trap trap = {0};
    if (kiln_component_call_timeout(ci, fn, &arg, &result, &trap, c->timeout_ns) < 0) {
        int timeout = trap.kind == KILN_TRAP_INTERRUPTED;
        if (timeout)
            kiln_log_error("component '%s' stopped: ran past its request timeout (%.0f ms)", c->id,
                           (double)c->timeout_ns / 1e6);
        else
            kiln_log_error("component '%s' trapped: %s", c->id, kiln_trap_message(&trap));
        status = timeout ? 504 : 500;
        res->fault = timeout ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
        res->trap_kind = kiln_trap_kind_name(trap.kind);
        goto fail;
    }
    if (result.var.disc != 0 || !result.var.payload) {
        kiln_log_error("component '%s' answered with an error-code (case %u)", c->id,
                       result.var.disc == 1 && result.var.payload ? result.var.payload->var.disc
                                                                  : 0);
        clean = kiln_p3http_release(ph, 0) == 0; /* no response: it may serve on */
        goto fail;
    }
    uint32_t rep = result.var.payload->res.rep;
    int st;
    const wh_fields *hs = kiln_p3http_response(ph, rep, &st);
    if (!hs) {
        kiln_log_error("component '%s' returned a response the host does not know", c->id);
        goto fail;
    }
    kiln_http_header *tr;
    size_t ntr;
    if (start(res, st, hs) < 0 || stream_body(c, ci, ph, rep, res, t0) < 0 ||
        trailers_of(c, ph, rep, res, &tr, &ntr) < 0) {
        res->mem_bytes = kiln_component_memory_bytes(ci);
        kiln_p3_reuse_give(c, &lease, 0);
        res->ops->abort(res); /* the client must not take a cut body for a whole one */
        return;
    }
    res->mem_bytes = kiln_component_memory_bytes(ci);
    /* (the trailers are copies in res's arena: the instance may serve on) */
    kiln_p3_reuse_give(c, &lease, kiln_p3http_release(ph, rep) == 0);
    res->ops->finish(res, tr, ntr);
    return;
fail:
    res->mem_bytes = kiln_component_memory_bytes(ci);
    kiln_p3_reuse_give(c, &lease, clean);
    kiln_response_error(res, status);
}
