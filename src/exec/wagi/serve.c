/* serve.c — the WAGI handler: a request's trip through the guest (see serve.h). */
#include "exec/wagi/serve.h"
#include "engine/fiber.h"
#include "util/alloc.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

/* One request through the executor. Lives in the request's arena; what it owns on the
 * heap (prepared argv/env, the result) is released by job_release. */
typedef struct wagi_job {
    kiln_job job;
    kiln_wagi_handler *h;
    kiln_response *res;
    kiln_body_source *src; /* a streamed body still to collect (NULL: collected) */
    kiln_wagi_prepared prep;
    uint8_t *body;
    size_t body_len;
    kiln_wagi_result r;
    int expired;
    int64_t run_at_ns; /* when the guest began (for traces) */
} wagi_job;

static void job_release(wagi_job *job)
{
    kiln_wagi_prepared_free(&job->prep);
    kiln_wagi_result_free(&job->r);
}

/* Reads the whole body from its source into the arena. 0, or -1 (memory, read error, or a
 * body longer than announced). */
static int read_body(kiln_arena *a, kiln_body_source *src, uint8_t **out, size_t *out_len)
{
    size_t cap = src->length_hint != SIZE_MAX ? src->length_hint : 4096;
    uint8_t *buf = kiln_arena_alloc(a, cap + 1);
    size_t len = 0;
    if (!buf) return -1;
    for (;;) {
        if (len == cap + 1) { /* unknown length (or more than announced): grow */
            if (src->length_hint != SIZE_MAX || cap > SIZE_MAX / 2 - 1) return -1;
            uint8_t *bigger = kiln_arena_alloc(a, 2 * cap + 1);
            if (!bigger) return -1;
            memcpy(bigger, buf, len);
            buf = bigger;
            cap *= 2;
        }
        long n = src->read(src, buf + len, cap + 1 - len);
        if (n == KILN_BODY_AGAIN) { /* on a fiber: the loop reads the connection meanwhile */
            if (kiln_wait_fd(src->wait_fd(src), POLLIN, UINT64_MAX) <= 0) return -1;
            continue;
        }
        if (n < 0) return -1;
        if (n == 0) break;
        len += (size_t)n;
    }
    if (src->length_hint != SIZE_MAX && len != src->length_hint) return -1;
    *out = buf;
    *out_len = len;
    return 0;
}

/* Sends what a finished job produced (I/O thread); finishes the response. */
static void job_answer(wagi_job *job)
{
    kiln_response *res = job->res;
    const kiln_wagi_component *c = job->h->component;
    kiln_wagi_result *r = &job->r;
    res->fault = job->expired ? KILN_FAULT_QUEUE_TIMEOUT : r->fault;
    res->trap_kind = r->trap_kind;
    if (job->expired) {
        kiln_log_error("component '%s': request waited too long for a free instance: 503", c->id);
        kiln_response_error(res, 503);
        return;
    }
    int status = r->res.status;
    if (!r->res.failed && (status < 200 || status > 999)) {
        kiln_buf_printf(&r->log,
                        "%scomponent '%s' answered the status %d, which is not a final "
                        "response",
                        r->log.len ? "; " : "", c->id, status);
        status = 502;
        r->res.failed = 1;
    }
    if (r->log.len) kiln_log_error("%s", r->log.data);
    res->start_ms = r->instantiate_ms;
    res->start_at_ns = job->run_at_ns;
    res->mem_bytes = r->mem_bytes;
    if (r->res.failed) {
        kiln_response_error(res, status);
        return;
    }
    res->content_length = status == 204 || status == 304 ? 0 : r->res.body_len;
    if (res->ops->start(res, status, r->res.headers, r->res.nheaders) == 0 && res->content_length)
        res->ops->write(res, r->res.body, r->res.body_len);
    res->ops->finish(res, NULL, 0);
}

/* Executor thread: the guest runs here, once it has an instance slot (waiting for one
 * until the job's queue deadline: past it the request is answered 503). */
static void job_run(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    kiln_wagi_handler *h = job->h;
    double deadline = h->queue_timeout_ms ? j->queued_at_ms + h->queue_timeout_ms : 0;
    if (kiln_slots_acquire(h->slots, deadline) < 0) {
        job->expired = 1;
        return;
    }
    job->run_at_ns = kiln_realtime_ns();
    kiln_wagi_execute(h->component, &job->prep, job->body, job->body_len, &job->r);
    kiln_slots_release(h->slots);
}

/* I/O thread: the job is back. */
static void job_done(kiln_response *res, void *arg)
{
    wagi_job *job = arg;
    (void)res;
    job_answer(job);
    job_release(job);
}

/* Executor (or reaper) thread: hand the job back to its request's I/O thread. */
static void job_complete(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    job->res->ops->post(job->res, job_done, job);
}

static void job_expired(kiln_job *j)
{
    wagi_job *job = (wagi_job *)j;
    job->expired = 1;
    job->res->ops->post(job->res, job_done, job);
}

/* Sends the job to the executor (I/O thread); 503 when the queue is full. */
static void submit(wagi_job *job)
{
    kiln_wagi_handler *h = job->h;
    if (kiln_executor_submit(h->executor, &job->job) < 0) {
        kiln_log_error("component '%s': every instance is busy and the queue is full: 503",
                       h->component->id);
        job_release(job);
        job->res->fault = KILN_FAULT_QUEUE_FULL;
        kiln_response_error(job->res, 503);
    }
}

/* The inline attempt, on a fiber of the I/O thread: a guest that waits (a WASI sleep)
 * parks and the loop serves others meanwhile; only running slices count against the
 * inline budget. Past it, the request runs again on an executor thread. */
static void inline_attempt(void *arg)
{
    wagi_job *job = arg;
    kiln_wagi_handler *h = job->h;
    kiln_wagi_component *c = h->component;
    job->run_at_ns = kiln_realtime_ns();
    kiln_wagi_execute_inline(c, &job->prep, job->body, job->body_len,
                             (uint64_t)h->inline_budget_ms * 1000000u, &job->r);
    kiln_slots_release(h->slots);
    if (!job->r.over_budget) {
        job_answer(job);
        job_release(job);
        return;
    }
    kiln_log_error("component '%s' ran past the inline budget (%u ms): running it on an "
                   "executor thread",
                   c->id, h->inline_budget_ms);
    kiln_wagi_result_free(&job->r);
    memset(&job->r, 0, sizeof job->r);
    submit(job);
}

/* Runs the prepared job: inline on a fiber of the I/O thread when allowed and an instance
 * slot is free (on_fiber: the calling fiber), else on the executor. Without a slot the
 * request waits in the executor's queue (bounded in length and time: 503 beyond). */
static void run(wagi_job *job, int on_fiber)
{
    kiln_wagi_handler *h = job->h;
    kiln_wagi_component *c = h->component;
    if (h->inline_budget_ms && c->rerunnable && kiln_wagi_inline_allowed(c) &&
        kiln_slots_try(h->slots)) {
        if (on_fiber) {
            inline_attempt(job);
            return;
        }
        /* The fiber finishes the job itself; when it parks, the loop's scheduler
         * (bound to this thread) resumes it later and frees it when done. */
        kiln_fiber *f = kiln_fiber_new(inline_attempt, job);
        if (f) {
            if (kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
            return;
        }
        kiln_slots_release(h->slots); /* no fiber (out of memory): the executor */
    }
    submit(job);
}

/* On a fiber of the I/O thread: collects the streamed body (bounded by the server's
 * --max-request-size), then runs the guest. */
static void collect_then_run(void *arg)
{
    wagi_job *job = arg;
    kiln_response *res = job->res;
    int rc = read_body(res->arena, job->src, &job->body, &job->body_len);
    job->src = NULL;
    if (rc < 0 || res->ops->gone(res)) {
        /* the connection answered already (413, a malformed body) or the client left */
        job_release(job);
        kiln_response_error(res, 400);
        return;
    }
    char len[24];
    int n = snprintf(len, sizeof len, "%zu", job->body_len);
    if (kiln_strv_setenv(&job->prep.env, "CONTENT_LENGTH", 14, len, (size_t)n) < 0) {
        job_release(job);
        kiln_response_error(res, 500);
        return;
    }
    run(job, 1);
}

/* The handler's entry point (I/O thread). */
static void wagi_handle(kiln_handler *base, kiln_request *req, kiln_response *res)
{
    kiln_wagi_handler *h = (kiln_wagi_handler *)base;
    kiln_wagi_component *c = h->component;
    wagi_job *job = kiln_arena_alloc(req->arena, sizeof *job);
    if (!job) {
        kiln_response_error(res, 500);
        return;
    }
    memset(job, 0, sizeof *job);
    job->job = (kiln_job){job_run, job_complete, job_expired, 0, NULL};
    job->h = h;
    job->res = res;
    kiln_cgi_request cr = {
        .method = req->method,
        .method_len = req->method_len,
        .path = req->path,
        .path_len = req->path_len,
        .query = req->query,
        .query_len = req->query_len,
        .authority = req->authority,
        .authority_len = req->authority_len,
        .scheme = req->scheme,
        .protocol = req->protocol,
        .client_ip = req->client_ip,
        .client_port = req->client_port,
        .server_port = req->server_port,
        .headers = req->headers,
        .nheaders = req->nheaders,
        .match = req->route,
        .has_declared_length = req->has_declared_length,
        .declared_length = req->declared_length,
        .chunked = req->chunked,
    };
    /* A body the connection streams is collected on a fiber, after this returns (its
     * CONTENT_LENGTH set then); a buffered one now. */
    if (req->body->wait_fd && req->body->wait_fd(req->body) >= 0)
        job->src = req->body;
    else if (read_body(req->arena, req->body, &job->body, &job->body_len) < 0) {
        kiln_log_error("component '%s': cannot read the request body", c->id);
        kiln_response_error(res, 500);
        return;
    }
    cr.content_length = job->body_len;
    if (kiln_wagi_prepare(c, &cr, req->arena, &job->prep) < 0) {
        kiln_response_error(res, 500);
        return;
    }
    job->prep.request_id = req->request_id;
    if (job->src) {
        kiln_fiber *f = kiln_fiber_new(collect_then_run, job);
        if (!f) {
            job_release(job);
            kiln_response_error(res, 503);
            return;
        }
        if (kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
        return;
    }
    run(job, 0);
}

void kiln_wagi_handler_init(kiln_wagi_handler *h, kiln_wagi_component *c, kiln_executor *e,
                            kiln_slots *slots, unsigned inline_budget_ms, unsigned queue_timeout_ms)
{
    memset(h, 0, sizeof *h);
    h->base.handle = wagi_handle;
    h->base.name = c->id;
    h->component = c;
    h->executor = e;
    h->slots = slots;
    h->inline_budget_ms = inline_budget_ms;
    h->queue_timeout_ms = queue_timeout_ms;
}
