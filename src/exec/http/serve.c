/* serve.c — the wasi:http handler: a request's trip through a fresh instance (serve.h). */
#include "exec/http/serve.h"
#include "component/compose.h"
#include "component/instance.h"
#include "component/reader.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "exec/http/reuse_p3.h"
#include "host/wasihttp/wasihttp.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HANDLE_FUNC "wasi:http/incoming-handler@0.2.0#handle"
#define YIELD_EVERY (256u * 1024u)
#define MAX_BUFFERED (1024u * 1024u)
/* how a log line ends when a started response is ended broken (handler.h: abort) */
#define ABORTED "; the response was aborted after its headers"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 1 if the component exports wasi:http/handler@0.3.0 or the rc (serve_p3.c). */
static int is_p3(const kiln_component *model)
{
    const kiln_ctype *t = model ? model->type : NULL;
    for (uint32_t i = 0; t && i < t->nexports; i++) {
        const char *n = t->exports[i].name;
        if (t->exports[i].sort == KILN_CSORT_INSTANCE && n &&
            (strcmp(n, KILN_P3_HANDLER_RC) == 0 || strcmp(n, KILN_P3_HANDLER) == 0))
            return 1;
    }
    return 0;
}

/* 1 if the component exports wasi:http/incoming-handler (any 0.2.x) or the p3 handler. */
static int is_handler(const kiln_component *model)
{
    const kiln_ctype *t = model ? model->type : NULL;
    if (is_p3(model)) return 1;
    for (uint32_t i = 0; t && i < t->nexports; i++) {
        const char *n = t->exports[i].name;
        if (t->exports[i].sort == KILN_CSORT_INSTANCE && n &&
            strncmp(n, "wasi:http/incoming-handler@", 27) == 0 &&
            kiln_component_version_compatible("0.2.0", n + 27))
            return 1;
    }
    return 0;
}

static void code_free(kiln_http_code *code)
{
    if (!code) return;
    kiln_component_image_free(code->image);
    kiln_component_unload(code->lc);
    kiln_free(code);
}

/* Loads the component file at opts' tier (any_export: it need not be a wasi:http handler).
 * NULL with *err. */
static kiln_http_code *code_load(const char *id, const char *path, const kiln_compose_spec *deps,
                                 const kiln_compile_opts *opts, int any_export, char **err)
{
    kiln_err e;
    kiln_loaded_component *lc = kiln_component_load_composed(id, path, deps, opts, &e);
    if (!lc) {
        *err = kiln_strdup(e.msg);
        return NULL;
    }
    if (!any_export && !is_handler(kiln_component_model(lc))) {
        kiln_component_unload(lc);
        *err = kiln_strdup("the component does not export wasi:http/incoming-handler@0.2.x");
        return NULL;
    }
    kiln_http_code *code = kiln_calloc(1, sizeof *code);
    if (!code) {
        kiln_component_unload(lc);
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    code->lc = lc;
    return code;
}

kiln_http_component *kiln_http_component_load(const char *id, const char *path,
                                              const kiln_compile_opts *opts, char **err)
{
    return kiln_http_component_load_any(id, path, opts, 0, err);
}

kiln_http_component *kiln_http_component_load_any(const char *id, const char *path,
                                                  const kiln_compile_opts *opts, int any_export,
                                                  char **err)
{
    return kiln_http_component_load_deps(id, path, NULL, opts, any_export, err);
}

kiln_http_component *kiln_http_component_load_deps(const char *id, const char *path,
                                                   const kiln_compose_spec *deps,
                                                   const kiln_compile_opts *opts, int any_export,
                                                   char **err)
{
    kiln_http_code *code = code_load(id, path, deps, opts, any_export, err);
    if (!code) return NULL;
    kiln_http_component *c = kiln_calloc(1, sizeof *c);
    if (c) c->stdout_fd = c->stderr_fd = 2;
    if (!c || !(c->id = kiln_strdup(id)) || !(c->path = kiln_strdup(path)) ||
        (deps && !(c->deps = kiln_compose_spec_dup(deps)))) {
        if (c) kiln_free(c->path);
        if (c) kiln_free(c->id);
        kiln_free(c);
        code_free(code);
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    c->opts = *opts;
    c->any_export = any_export;
    c->p3 = is_p3(kiln_component_model(code->lc));
    atomic_init(&c->current, code);
    return c;
}

void kiln_http_component_describe(const kiln_http_component *c, char *out, size_t cap)
{
    const kiln_loaded_component *lc = atomic_load(&c->current)->lc;
    snprintf(out, cap, "%zu core modules, %s tier ready (%s%.3f s)",
             kiln_component_module_count(lc), kiln_tier_name(kiln_component_tier(lc)),
             kiln_component_was_cached(lc) ? "from the cache, " : "compiled in ",
             kiln_component_was_cached(lc) ? 0.0 : kiln_component_compile_seconds(lc));
}

kiln_tier kiln_http_component_tier(const kiln_http_component *c)
{
    return kiln_component_tier(atomic_load(&c->current)->lc);
}

int kiln_http_component_putenv(kiln_http_component *c, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) return 0;
    size_t kl = (size_t)(eq - kv);
    char *copy = kiln_strdup(kv);
    if (!copy) return -1;
    for (size_t i = 0; i < c->nenv; i++)
        if (strncmp(c->env[i], kv, kl + 1) == 0) {
            kiln_free(c->env[i]);
            c->env[i] = copy;
            return 0;
        }
    char **n = kiln_realloc(c->env, (c->nenv + 1) * sizeof *n);
    if (!n) {
        kiln_free(copy);
        return -1;
    }
    c->env = n;
    c->env[c->nenv++] = copy;
    return 0;
}

int kiln_http_component_preopen(kiln_http_component *c, const char *host_path,
                                const char *guest_path)
{
    return kiln_wasi_preopens_add(&c->preopens, &c->npreopens, host_path, guest_path, 1);
}

void kiln_http_component_free(kiln_http_component *c)
{
    if (!c) return;
    kiln_p3_reuse_free(c); /* its instances first: they use the code */
    kiln_wasi_preopens_free(c->preopens, c->npreopens);
    for (size_t i = 0; i < c->nenv; i++)
        kiln_free(c->env[i]);
    kiln_free(c->env);
    for (kiln_http_code *code = atomic_load(&c->current), *next; code; code = next) {
        next = code->next;
        code_free(code);
    }
    kiln_compose_spec_free(c->deps, 1);
    kiln_free(c->path);
    kiln_free(c->id);
    kiln_free(c);
}

/* The grants of every instance of c (strings borrowed from c). */
static void grants_of(const kiln_http_component *c, kiln_grants *g)
{
    memset(g, 0, sizeof *g);
    g->component = c->id;
    g->allowed_outbound_hosts = c->outbound;
    g->nallowed_outbound_hosts = c->noutbound;
    g->wasi.nenv = c->nenv;
    g->wasi.env = (const char *const *)c->env;
    g->wasi.npreopens = c->npreopens;
    g->wasi.preopens = c->preopens;
    g->wasi.stdio[0].fd = -1;           /* stdin: empty */
    g->wasi.stdio[1].fd = c->stdout_fd; /* the server's stderr, or --log-dir's files */
    g->wasi.stdio[2].fd = c->stderr_fd;
}

/* Makes code's image with the component's grants and c->pool slots. 0 or -1 with *err. */
static int code_image(kiln_http_component *c, kiln_http_code *code, char **err)
{
    kiln_grants g;
    grants_of(c, &g);
    kiln_err e;
    kiln_rt_set_memory_limit_pages(c->max_memory_pages);
    code->image = kiln_component_image_new(code->lc, &g, &e);
    if (!code->image) {
        *err = kiln_strdup(e.msg);
        return -1;
    }
    if (c->pool && kiln_component_image_reserve(code->image, c->pool) < 0) {
        *err = kiln_strdup("cannot prepare the instance slots");
        return -1;
    }
    return 0;
}

int kiln_http_component_prepare(kiln_http_component *c, size_t pool, char **err)
{
    /* Images copy the handles the initialization made (wasi-libc's preopens: the WASI
     * host reopens them from each copy's grants); what they cannot copy refuses the image
     * and each request instantiates. */
    c->pool = pool;
    kiln_http_code *code = atomic_load(&c->current);
    if (code_image(c, code, err) < 0) {
        kiln_component_image_free(code->image); /* no request runs yet */
        code->image = NULL;
        return -1;
    }
    c->images = 1;
    return 0;
}

int kiln_http_component_tier_up(kiln_http_component *c, char **err)
{
    kiln_http_code *old = atomic_load(&c->current);
    if (kiln_component_tier(old->lc) == KILN_TIER_OPT) return 0;
    kiln_compile_opts o = c->opts;
    o.tier = KILN_TIER_OPT;
    /* from the bytes loaded at start, not the files (changed since, perhaps) */
    kiln_err e;
    kiln_http_code *code = kiln_calloc(1, sizeof *code);
    if (!code || !(code->lc = kiln_component_reload(old->lc, &o, &e))) {
        *err = kiln_strdup(code ? e.msg : "out of memory");
        kiln_free(code);
        return -1;
    }
    if (c->images && code_image(c, code, err) < 0) {
        code_free(code);
        return -1;
    }
    /* Only this thread writes the list; requests read `current` only. */
    code->next = old;
    atomic_store(&c->current, code);
    return 1;
}

kiln_component_instance *kiln_http_component_instantiate(kiln_http_component *c, kiln_err *err)
{
    kiln_grants g;
    grants_of(c, &g);
    kiln_rt_set_memory_limit_pages(c->max_memory_pages);
    kiln_http_code *code = atomic_load(&c->current); /* kept until c is freed */
    return code->image ? kiln_component_image_instantiate(code->image, &g, err)
                       : kiln_component_instantiate(code->lc, &g, err);
}

/* One request. Lives in the request's arena. */
typedef struct http_job {
    kiln_http_handler *h;
    kiln_response *res;
    kiln_wasihttp_request req;
    kiln_body_source *body;     /* a body streamed from the connection (NULL: in req) */
    kiln_http_header *trailers; /* the guest's, for finish (in the arena) */
    size_t ntrailers;
    int started;         /* res->start was called */
    size_t since_yield;  /* bytes written since the guest last let the loop run */
    size_t content_left; /* with a Content-Length: bytes still allowed */
    int has_length;
    int waits; /* no slot was free when the request came: job_run waits for one */
    /* moving between the request's loop and an executor thread (see "moving" below) */
    kiln_fiber *fiber;
    kiln_sched *loop;    /* the loop's scheduler: wakes the fiber there */
    kiln_job xjob;       /* resumes the fiber on an executor thread */
    int moved;           /* the fiber runs on an executor thread now */
    kiln_fiber *leaving; /* parked on the executor thread, to be woken on the loop */
    int rc;              /* the guest call's result and trap */
    kiln_trap trap;
    kiln_component_instance *ci;
    const kiln_component_func *fn;
    kiln_cval args[2];
} http_job;

/* ---- moving: the guest off its loop when its slice is spent, back for the response ----
 *
 * The guest starts on a fiber of the request's loop with a running-slice budget
 * (--inline-budget). Past it (kiln_rt_call_preempt), its fiber parks and resumes on an
 * executor thread, where it computes on without a budget, within its request timeout. A
 * wasi:http guest cannot be re-run (its response may stream already), so it is moved, not
 * started again. The response ops belong to the loop: a moved guest's sink calls take its
 * fiber back to the loop for the call and out again (two wake-ups each), and the request
 * ends on the loop. When no executor thread takes it (queue full, or waited too long) it
 * goes on on the loop with a new slice, and tries again at the next. */

static http_job *job_of(kiln_job *xj)
{
    return (http_job *)((char *)xj - offsetof(http_job, xjob));
}

/* Executor thread: the guest runs here until it parks to go back to the loop (for a
 * response op, or at its end). */
static void xjob_run(kiln_job *xj)
{
    http_job *job = job_of(xj);
    kiln_fiber *f = job->fiber;
    int rc = kiln_fiber_resume(f);
    if (rc < 0) { /* this thread cannot run guests: back to the loop */
        job->moved = 0;
        job->leaving = f;
    } else if (rc == KILN_FIBER_DONE) {
        kiln_fiber_free(f); /* (a request ends on its loop: not reached) */
    }
}

/* Right after xjob_run: wakes the fiber on the loop only now, since the executor still
 * reads the job after run, and the loop may end the request (and free the job) at once. */
static void xjob_complete(kiln_job *xj)
{
    http_job *job = job_of(xj);
    kiln_fiber *f = job->leaving;
    if (!f) return;
    job->leaving = NULL;
    job->loop->wake(job->loop, f);
}

/* After the fiber parked on the executor thread (to leave it): see xjob_complete. */
static void note_leaving(kiln_fiber *f, void *arg)
{
    http_job *job = arg;
    job->leaving = f;
}

static void xjob_expired(kiln_job *xj)
{
    http_job *job = job_of(xj);
    job->moved = 0;
    job->loop->wake(job->loop, job->fiber);
}

/* After the fiber parked on the loop: hand it to an executor thread (or back to the loop
 * when none takes it). */
static void submit_parked(kiln_fiber *f, void *arg)
{
    http_job *job = arg;
    job->moved = 1;
    if (kiln_executor_submit(job->h->executor, &job->xjob) < 0) {
        job->moved = 0;
        job->loop->wake(job->loop, f);
    }
}

/* On the job's fiber, on its loop: continues on an executor thread. 1 if it moved. */
static int to_executor(http_job *job)
{
    kiln_fiber_park_then(submit_parked, job);
    return job->moved;
}

/* On the job's fiber: continues on the request's loop (no-op when there already). */
static void to_loop(http_job *job)
{
    if (!job->moved) return;
    kiln_fiber_park_then(note_leaving, job);
    job->moved = 0;
}

/* kiln_rt_call_preempt's hook: the running slice is spent. */
static void on_preempt(void *arg)
{
    http_job *job = arg;
    kiln_http_handler *h = job->h;
    if (job->moved || !h->executor || kiln_fiber_current() != job->fiber) {
        kiln_rt_slice_budget(job->moved ? 0 : h->budget_ns);
        return;
    }
    kiln_log_error("component '%s' ran past the inline budget (%.0f ms): it goes on on an "
                   "executor thread",
                   h->component->id, (double)h->budget_ns / 1e6);
    kiln_rt_slice_budget(to_executor(job) ? 0 : h->budget_ns);
}

/* For a moved guest: the response op runs on the loop; returns whether to move back. */
static int op_begin(http_job *job)
{
    int was = job->moved;
    to_loop(job);
    return was;
}

static void op_end(http_job *job, int was)
{
    if (was && !to_executor(job)) kiln_rt_slice_budget(job->h->budget_ns);
}

static char *dup(kiln_arena *a, const char *s, size_t len);

/* ---- the sink: the guest's response to res ---- */

static int start_on_loop(http_job *job, int status, const wh_fields *f)
{
    kiln_response *res = job->res;
    kiln_http_header *hs = kiln_arena_alloc(res->arena, (f->n + 1) * sizeof *hs);
    if (!hs) return -1;
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const wh_field *e = &f->items[i];
        if (strcmp(e->name, "content-length") == 0) {
            /* the server writes Content-Length itself: from the guest's value when valid */
            char *end;
            unsigned long long v = strtoull((const char *)e->value, &end, 10);
            if (e->value_len && *end == '\0' && !job->has_length) {
                job->has_length = 1;
                job->content_left = (size_t)v;
                res->content_length = (size_t)v;
            }
            continue;
        }
        hs[n++] = (kiln_http_header){e->name, e->name_len, (const char *)e->value, e->value_len};
    }
    job->started = 1;
    return res->ops->start(res, status, hs, n);
}

static int sink_start(void *arg, int status, const wh_fields *f)
{
    http_job *job = arg;
    int was = op_begin(job);
    int rc = start_on_loop(job, status, f);
    op_end(job, was);
    return rc;
}

static int write_on_loop(http_job *job, const void *data, size_t n)
{
    if (job->has_length) {
        if (n > job->content_left) return -1; /* more than the guest's Content-Length */
        job->content_left -= n;
    }
    kiln_response *res = job->res;
    if (res->ops->write(res, data, n) < 0) return -1;
    job->since_yield += n;
    if (job->since_yield >= YIELD_EVERY && kiln_fiber_current()) {
        job->since_yield = 0;
        kiln_wait_sleep(1); /* parks: the loop sends what was written */
        /* backpressure: wait while the connection has not taken what was written */
        while (res->ops->buffered && res->ops->buffered(res) > MAX_BUFFERED && !res->ops->gone(res))
            if (kiln_wait_sleep(1000000) == KILN_WAIT_INTERRUPTED) return -1;
    }
    return res->ops->gone(res) ? -1 : 0;
}

static int sink_write(void *arg, const void *data, size_t n)
{
    http_job *job = arg;
    int was = op_begin(job);
    int rc = write_on_loop(job, data, n);
    op_end(job, was);
    return rc;
}

/* Keeps the trailers for res->ops->finish (at the end of job_run, on the loop). */
static void sink_finish(void *arg, const wh_fields *trailers)
{
    http_job *job = arg;
    if (!trailers || !trailers->n) return;
    int was = op_begin(job); /* the arena is the loop's */
    kiln_http_header *hs = kiln_arena_alloc(job->res->arena, trailers->n * sizeof *hs);
    for (size_t i = 0; hs && i < trailers->n; i++) {
        const wh_field *e = &trailers->items[i];
        /* copies: the fields go with the instance, before finish */
        char *nm = dup(job->res->arena, e->name, e->name_len);
        char *v = dup(job->res->arena, (const char *)e->value, e->value_len);
        if (!nm || !v) {
            hs = NULL;
            break;
        }
        hs[i] = (kiln_http_header){nm, e->name_len, v, e->value_len};
    }
    if (hs) {
        job->trailers = hs;
        job->ntrailers = trailers->n;
    }
    op_end(job, was);
}

/* The streamed request body, read on the loop (the source is the loop's). */
static long sink_read(void *arg, void *buf, size_t cap)
{
    http_job *job = arg;
    int was = op_begin(job);
    long n = job->res->ops->gone(job->res) ? -1 : job->body->read(job->body, buf, cap);
    op_end(job, was);
    return n;
}

static int sink_wait_fd(void *arg)
{
    http_job *job = arg;
    return job->body->wait_fd(job->body);
}

/* The streamed body's trailer fields (after its end), as request trailers for the guest. */
static wh_fields *sink_trailers(void *arg)
{
    http_job *job = arg;
    int was = op_begin(job);
    size_t n = 0;
    const kiln_http_header *t = job->body->trailers ? job->body->trailers(job->body, &n) : NULL;
    wh_fields *f = t && n ? wh_fields_new() : NULL;
    for (size_t i = 0; f && i < n; i++) /* (a field the rules refuse is left out) */
        (void)wh_fields_append(f, t[i].name, t[i].name_len, (const uint8_t *)t[i].value,
                               t[i].value_len);
    op_end(job, was);
    return f;
}

/* ---- the guest ---- */

/* Waits for an instance slot (on the fiber: the loop serves others meanwhile) until the
 * queue timeout. 0 with the slot, or -1 (answered 503, or the client went away). */
static int wait_slot(http_job *job)
{
    kiln_http_handler *h = job->h;
    double deadline = h->queue_timeout_ms ? now_ms() + h->queue_timeout_ms : 0;
    int rc = 0;
    while (!kiln_slots_try(h->slots)) {
        if ((deadline && now_ms() >= deadline) || job->res->ops->gone(job->res)) {
            kiln_log_error("component '%s': request waited too long for a free instance: 503",
                           h->component->id);
            job->res->fault = KILN_FAULT_QUEUE_TIMEOUT;
            kiln_response_error(job->res, 503);
            rc = -1;
            break;
        }
        kiln_wait_sleep(1000000);
    }
    atomic_fetch_sub(&h->waiting, 1);
    return rc;
}

/* The guest's handle call (kiln_rt_call_preempt's function: within its time limit). */
static void guest_call(void *arg)
{
    http_job *job = arg;
    job->rc = kiln_component_call_timeout(job->ci, job->fn, job->args, NULL, &job->trap, 0);
}

/* Runs the request in a fresh instance (on a fiber of the I/O thread, holding a slot; the
 * guest may move to an executor thread and back, see "moving"). */
static void job_run(void *arg)
{
    http_job *job = arg;
    kiln_http_handler *h = job->h;
    kiln_http_component *c = h->component;
    kiln_response *res = job->res;
    if (job->waits && wait_slot(job) < 0) return;
    if (c->p3) {
        kiln_http_p3_serve(c, &job->req, job->body, res);
        kiln_slots_release(h->slots);
        return;
    }
    double t0 = now_ms();
    res->start_at_ns = kiln_realtime_ns();
    kiln_err err;
    kiln_component_instance *ci = kiln_http_component_instantiate(c, &err);
    res->start_ms = now_ms() - t0;
    int status = 0, broken = 0;
    if (!ci) {
        kiln_log_error("component '%s': %s", c->id, err.msg);
        status = 500;
        goto out;
    }
    kiln_wasihttp *wh = kiln_component_host_ctx(ci, "wasi:http");
    const kiln_component_func *fn = kiln_component_find_func(ci, HANDLE_FUNC);
    kiln_wasihttp_sink sink = {sink_start, sink_write, sink_finish, job, NULL, NULL, NULL};
    if (job->body) {
        sink.read = sink_read;
        sink.wait_fd = sink_wait_fd;
        sink.trailers = sink_trailers;
    }
    if (!wh || !fn) {
        kiln_log_error("component '%s': no wasi:http/incoming-handler handle to call", c->id);
        status = 500;
        goto out;
    }
    if (kiln_wasihttp_bind(wh, kiln_component_host_ctx(ci, "wasi 0.2"), &job->req, &sink) < 0) {
        kiln_log_error("component '%s': out of memory", c->id);
        status = 500;
        goto out;
    }
    memset(job->args, 0, sizeof job->args);
    job->args[0].res.rep = kiln_wasihttp_request_rep(wh);
    job->args[1].res.rep = kiln_wasihttp_outparam_rep(wh);
    job->ci = ci;
    job->fn = fn;
    kiln_trap trap = {0};
    int rc;
    if (h->budget_ns && h->executor && job->fiber) {
        job->loop = kiln_sched_current();
        kiln_trap outer;
        rc = kiln_rt_call_preempt(guest_call, job, &outer, c->timeout_ns, h->budget_ns, on_preempt,
                                  job);
        to_loop(job); /* the rest (the response, the access log) happens on the loop */
        if (rc == 0) {
            rc = job->rc;
            trap = job->trap;
        } else {
            trap = outer;
        }
    } else {
        rc = kiln_component_call_timeout(ci, fn, job->args, NULL, &trap, c->timeout_ns);
    }
    int finished;
    uint32_t ecase;
    kiln_wasihttp_outcome oc = kiln_wasihttp_outcome_of(wh, &finished, &ecase);
    if (rc < 0) {
        int timeout = trap.kind == KILN_TRAP_INTERRUPTED;
        if (timeout)
            kiln_log_error("component '%s' stopped: ran past its request timeout (%.0f ms)%s",
                           c->id, (double)c->timeout_ns / 1e6, job->started ? ABORTED : "");
        else
            kiln_log_error("component '%s' trapped: %s%s", c->id, kiln_trap_message(&trap),
                           job->started ? ABORTED : "");
        status = timeout ? 504 : 500;
        res->fault = timeout ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
        res->trap_kind = kiln_trap_kind_name(trap.kind);
        broken = 1;
    } else if (oc == KILN_WASIHTTP_NOT_SET) {
        kiln_log_error("component '%s' returned without setting the response "
                       "(response-outparam.set)",
                       c->id);
        status = 500;
    } else if (oc == KILN_WASIHTTP_ERROR) {
        kiln_log_error("component '%s' answered with the error %s", c->id,
                       kiln_wasihttp_error_name(ecase));
        status = 500;
    } else if (!finished) {
        kiln_log_error("component '%s' returned without finishing the response body "
                       "(outgoing-body.finish)" ABORTED,
                       c->id);
        broken = 1;
    } else if (job->has_length && job->content_left) {
        kiln_log_error("component '%s' wrote %zu bytes less than its Content-Length" ABORTED, c->id,
                       job->content_left);
        broken = 1;
    }
out:
    if (ci) res->mem_bytes = kiln_component_memory_bytes(ci);
    kiln_component_instance_free(ci);
    kiln_slots_release(h->slots);
    if (job->started && broken)
        res->ops->abort(res); /* the client must not take a cut body for a whole one */
    else if (job->started)
        res->ops->finish(res, job->trailers, job->ntrailers);
    else
        kiln_response_error(res, status ? status : 500);
}

/* ---- the request ---- */

/* Copies len bytes into the arena (NUL-terminated); NULL when out of memory. */
static char *dup(kiln_arena *a, const char *s, size_t len)
{
    char *p = kiln_arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static int read_body(kiln_arena *a, kiln_body_source *src, const uint8_t **out, size_t *out_len)
{
    kiln_buf b = KILN_BUF_INIT;
    char chunk[16384];
    for (;;) {
        long n = src->read(src, chunk, sizeof chunk);
        if (n < 0 || (n > 0 && kiln_buf_append(&b, chunk, (size_t)n) < 0)) {
            kiln_buf_free(&b);
            return -1;
        }
        if (n == 0) break;
    }
    char *p = dup(a, b.data ? b.data : "", b.len);
    *out = (const uint8_t *)p;
    *out_len = b.len;
    kiln_buf_free(&b);
    return p ? 0 : -1;
}

/* The spin-* headers (Spin's HTTP trigger), appended to hs at *n. */
static int spin_headers(const kiln_request *r, kiln_arena *a, kiln_wasihttp_header *hs, size_t *n)
{
    const kiln_route_match *m = r->route;
    kiln_buf url = KILN_BUF_INIT, addr = KILN_BUF_INIT;
    int rc = kiln_buf_printf(
        &url, "%s://%.*s%.*s%s%.*s", r->scheme, (int)(r->authority ? r->authority_len : 0),
        r->authority ? r->authority : "", (int)r->path_len, r->path, r->query ? "?" : "",
        (int)(r->query ? r->query_len : 0), r->query ? r->query : "");
    if (rc == 0) rc = kiln_buf_printf(&addr, "%s:%d", r->client_ip, r->client_port);
    const char *route = m && m->route ? m->route : "";
    const char *base = m && m->base ? m->base : "";
    size_t prefix = m ? m->prefix_len : r->path_len;
    if (prefix > r->path_len) prefix = r->path_len;
    const char *info = m && m->wildcard ? r->path + prefix : "";
    size_t info_len = m && m->wildcard ? r->path_len - prefix : 0;
    struct {
        const char *name, *value;
        size_t len;
    } add[] = {
        {"spin-full-url", url.data, url.len},
        {"spin-path-info", info, info_len},
        {"spin-matched-route", route, strlen(route)},
        {"spin-raw-component-route", route, strlen(route)},
        {"spin-component-route", base, strlen(base)},
        {"spin-base-path", "/", 1},
        {"spin-client-addr", addr.data, addr.len},
    };
    for (size_t i = 0; rc == 0 && i < sizeof add / sizeof add[0]; i++) {
        char *v = dup(a, add[i].value ? add[i].value : "", add[i].value ? add[i].len : 0);
        if (!v)
            rc = -1;
        else
            hs[(*n)++] = (kiln_wasihttp_header){add[i].name, strlen(add[i].name), v, add[i].len};
    }
    for (size_t i = 0; rc == 0 && m && i < m->nparams; i++) {
        kiln_buf name = KILN_BUF_INIT;
        char *nm = NULL, *v = NULL;
        if (kiln_buf_printf(&name, "spin-path-match-%s", m->params[i].name) == 0)
            nm = dup(a, name.data, name.len);
        v = dup(a, m->params[i].value, m->params[i].value_len);
        if (!nm || !v)
            rc = -1;
        else
            hs[(*n)++] = (kiln_wasihttp_header){nm, name.len, v, m->params[i].value_len};
        kiln_buf_free(&name);
    }
    kiln_buf_free(&url);
    kiln_buf_free(&addr);
    return rc;
}

static void http_handle(kiln_handler *base, kiln_request *req, kiln_response *res)
{
    kiln_http_handler *h = (kiln_http_handler *)base;
    kiln_arena *a = req->arena;
    http_job *job = kiln_arena_alloc(a, sizeof *job);
    size_t nparams = req->route ? req->route->nparams : 0;
    kiln_wasihttp_header *hs =
        kiln_arena_alloc(a, (req->nheaders + 8 + nparams) * sizeof(kiln_wasihttp_header));
    if (!job || !hs) {
        kiln_response_error(res, 500);
        return;
    }
    memset(job, 0, sizeof *job);
    job->h = h;
    job->res = res;
    job->xjob = (kiln_job){xjob_run, xjob_complete, xjob_expired, 0, NULL};
    kiln_wasihttp_request *q = &job->req;
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const kiln_http_header *e = &req->headers[i];
        if (e->name_len > 5 && strncasecmp(e->name, "spin-", 5) == 0) continue; /* not forged */
        char *nm = dup(a, e->name, e->name_len), *v = dup(a, e->value, e->value_len);
        if (!nm || !v) {
            kiln_response_error(res, 500);
            return;
        }
        hs[n++] = (kiln_wasihttp_header){nm, e->name_len, v, e->value_len};
    }
    kiln_buf pq = KILN_BUF_INIT;
    int rc =
        kiln_buf_printf(&pq, "%.*s%s%.*s", (int)req->path_len, req->path, req->query ? "?" : "",
                        (int)(req->query ? req->query_len : 0), req->query ? req->query : "");
    q->path_with_query = rc == 0 ? dup(a, pq.data, pq.len) : NULL;
    q->path_with_query_len = pq.len;
    kiln_buf_free(&pq);
    q->method = dup(a, req->method, req->method_len);
    q->method_len = req->method_len;
    q->chain_depth = req->chain_depth;
    if (req->traceparent) q->traceparent = dup(a, req->traceparent, strlen(req->traceparent));
    q->https = strcmp(req->scheme, "https") == 0;
    if (req->authority) {
        q->authority = dup(a, req->authority, req->authority_len);
        q->authority_len = req->authority_len;
    }
    if (!q->path_with_query || !q->method || (req->authority && !q->authority) ||
        spin_headers(req, a, hs, &n) < 0) {
        kiln_response_error(res, 500);
        return;
    }
    q->headers = hs;
    q->nheaders = n;
    /* a body streamed from the connection is read as the guest reads it; a buffered one
     * (HTTP/2: h2o's) is copied, since h2o frees it when the client goes away */
    if (req->body->wait_fd)
        job->body = req->body;
    else if (read_body(a, req->body, &q->body, &q->body_len) < 0) {
        kiln_log_error("component '%s': cannot read the request body", h->component->id);
        kiln_response_error(res, 500);
        return;
    }
    if (!kiln_slots_try(h->slots)) {
        /* no free slot: the request waits on its fiber (bounded in number and time) */
        if (atomic_fetch_add(&h->waiting, 1) >= h->max_waiting) {
            atomic_fetch_sub(&h->waiting, 1);
            kiln_log_error("component '%s': every instance slot is busy and %zu requests "
                           "wait already: 503",
                           h->component->id, h->max_waiting);
            res->fault = KILN_FAULT_QUEUE_FULL;
            kiln_response_error(res, 503);
            return;
        }
        job->waits = 1;
    }
    kiln_fiber *f = kiln_fiber_new(job_run, job);
    job->fiber = f;
    if (!f) {
        if (job->waits)
            atomic_fetch_sub(&h->waiting, 1);
        else
            kiln_slots_release(h->slots);
        kiln_response_error(res, 503);
        return;
    }
    /* The fiber finishes the request itself; when it parks, the loop's scheduler resumes
     * it later and frees it when done. */
    if (kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
}

void kiln_http_handler_init(kiln_http_handler *h, kiln_http_component *c, kiln_slots *slots,
                            size_t max_waiting, unsigned queue_timeout_ms, kiln_executor *executor,
                            unsigned inline_budget_ms)
{
    memset(h, 0, sizeof *h);
    h->base.handle = http_handle;
    h->base.name = c->id;
    h->component = c;
    h->slots = slots;
    h->max_waiting = max_waiting;
    h->queue_timeout_ms = queue_timeout_ms;
    h->executor = executor;
    h->budget_ns = (uint64_t)inline_budget_ms * 1000000u;
    atomic_init(&h->waiting, 0);
}
