/* wagi.c — the WAGI executor: one fresh instance per request (see wagi.h). */
#include "exec/wagi/wagi.h"
#include "exec/guest_log.h"
#include "host/registry.h"
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The grants of image time: no arguments, no environment, stdio closed. Module
 * initialization (data and element segments, a start function, a reactor's
 * _initialize) runs with them. */
static void image_grants(kiln_grants *g)
{
    static const char *const argv0[] = {"kiln-image"};
    memset(g, 0, sizeof *g);
    g->wasi.argc = 1;
    g->wasi.argv = argv0;
    for (int i = 0; i < 3; i++)
        g->wasi.stdio[i].fd = -1;
}

static void code_free(kiln_wagi_code *code)
{
    kiln_image_free(code->image);
    kiln_host_plan_free(code->plan);
    kiln_module_free(code->module);
    kiln_free(code);
}

/* Loads `wasm_path` at `opts`' tier and makes its image. NULL with *err on failure; a
 * module whose initialization traps still loads (it then fails per request, loudly). */
static kiln_wagi_code *code_load(const char *id, const char *wasm_path,
                                 const kiln_compile_opts *opts, kiln_err *err)
{
    kiln_wagi_code *code = kiln_calloc(1, sizeof *code);
    if (!code) {
        kiln_err_set(err, "%s: out of memory", wasm_path);
        return NULL;
    }
    code->module = kiln_module_load_file(wasm_path, opts, kiln_hosts_linker(), err);
    if (!code->module || !(code->plan = kiln_host_plan_new(code->module, err))) {
        code_free(code);
        return NULL;
    }
    kiln_grants g;
    image_grants(&g);
    char *herr = NULL;
    kiln_hosts *h = kiln_hosts_new(code->plan, &g, &herr);
    size_t n = kiln_module_import_count(code->module);
    kiln_binding *b = kiln_calloc(n ? n : 1, sizeof *b);
    if (h && b) {
        kiln_hosts_bind(h, b);
        kiln_trap trap;
        kiln_err ierr;
        code->image = kiln_image_new(code->module, b, &trap, &ierr);
        if (!code->image)
            fprintf(stderr, "kiln: component '%s': no image (%s); instantiating per request\n", id,
                    ierr.msg);
    }
    kiln_free(herr);
    kiln_free(b);
    kiln_hosts_free(h);
    return code;
}

kiln_wagi_component *kiln_wagi_component_new(const char *id, const char *wasm_path,
                                             const kiln_compile_opts *opts, const char *entry,
                                             kiln_err *err)
{
    if (!entry) entry = "_start";
    kiln_wagi_component *c = kiln_calloc(1, sizeof *c);
    if (!c || !(c->id = kiln_strdup(id)) || !(c->unit = kiln_calloc(1, sizeof *c->unit)) ||
        !(c->unit->wasm_path = kiln_strdup(wasm_path))) {
        kiln_wagi_component_free(c);
        kiln_err_set(err, "%s: out of memory", wasm_path);
        return NULL;
    }
    c->owns_module = 1;
    c->unit->opts = *opts;
    c->unit->opts.cache_dir = NULL; /* not owned: the cache dir is fixed below */
    c->stdout_limit = 64u << 20;
    c->stderr_limit = 64u << 10;
    kiln_wagi_code *code = code_load(id, wasm_path, opts, err);
    if (!code) {
        kiln_wagi_component_free(c);
        return NULL;
    }
    c->unit->codes = code;
    atomic_store(&c->unit->current, code);
    if (opts->cache_dir) c->unit->opts.cache_dir = opts->cache_dir; /* outlives the server */
    c->module = code->module;
    c->entry_index = kiln_module_export_index(c->module, entry);
    const kiln_export_info *ex =
        c->entry_index >= 0 ? kiln_module_export(c->module, (size_t)c->entry_index) : NULL;
    if (!ex || ex->kind != KILN_EXTERN_FUNC || strcmp(ex->type, ":") != 0) {
        kiln_err_set(err, "%s: component '%s' has no exported function %s() to run as WAGI",
                     wasm_path, id, entry);
        kiln_wagi_component_free(c);
        return NULL;
    }
    return c;
}

kiln_tier kiln_wagi_component_tier(const kiln_wagi_component *c)
{
    return kiln_module_tier(atomic_load(&c->unit->current)->module);
}

int kiln_wagi_component_tier_up(kiln_wagi_component *c, kiln_err *err)
{
    kiln_wagi_unit *u = c->unit;
    if (kiln_wagi_component_tier(c) == KILN_TIER_OPT) return 0;
    kiln_compile_opts o = u->opts;
    o.tier = KILN_TIER_OPT;
    kiln_wagi_code *code = code_load(c->id, u->wasm_path, &o, err);
    if (!code) return -1;
    if (code->image && kiln_image_reserve(code->image, u->pool_size) < 0)
        fprintf(stderr, "kiln: component '%s': cannot prepare %zu instance slots\n", c->id,
                u->pool_size);
    /* Only the thread doing tier-up writes the list; requests read `current` only. */
    code->next = u->codes;
    u->codes = code;
    atomic_store(&u->current, code);
    return 1;
}

int kiln_wagi_component_reserve(kiln_wagi_component *c, size_t n)
{
    c->unit->pool_size = n;
    kiln_wagi_code *code = atomic_load(&c->unit->current);
    return code->image ? kiln_image_reserve(code->image, n) : 0;
}

int kiln_wagi_component_preopen(kiln_wagi_component *c, const char *host_path,
                                const char *guest_path)
{
    return kiln_wasi_preopens_add(&c->preopens, &c->npreopens, host_path, guest_path, 1);
}

kiln_wagi_component *kiln_wagi_component_share(const kiln_wagi_component *base,
                                               const char *argv_tmpl)
{
    kiln_wagi_component *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->module = base->module;
    c->unit = base->unit;
    c->entry_index = base->entry_index;
    c->stdout_limit = base->stdout_limit;
    c->stderr_limit = base->stderr_limit;
    c->log = base->log;
    c->timeout_ns = base->timeout_ns;
    c->max_memory_pages = base->max_memory_pages;
    c->rerunnable = base->rerunnable;
    int rc = (c->id = kiln_strdup(base->id)) ? 0 : -1;
    if (rc == 0 && argv_tmpl && !(c->argv_tmpl = kiln_strdup(argv_tmpl))) rc = -1;
    for (size_t i = 0; i < base->env.n && rc == 0; i++)
        rc = kiln_strv_push(&c->env, base->env.v[i]);
    for (size_t i = 0; i < base->npreopens && rc == 0; i++)
        rc = kiln_wagi_component_preopen(c, base->preopens[i].host_path,
                                         base->preopens[i].guest_path);
    if (rc < 0) {
        kiln_wagi_component_free(c);
        return NULL;
    }
    return c;
}

void kiln_wagi_component_free(kiln_wagi_component *c)
{
    if (!c) return;
    if (c->unit && c->owns_module) {
        for (kiln_wagi_code *code = c->unit->codes, *next; code; code = next) {
            next = code->next;
            code_free(code);
        }
        kiln_free(c->unit->wasm_path);
        kiln_free(c->unit);
    }
    kiln_wasi_preopens_free(c->preopens, c->npreopens);
    kiln_strv_free(&c->env);
    kiln_free(c->argv_tmpl);
    kiln_free(c->id);
    kiln_free(c);
}

int kiln_wagi_is_command(const kiln_module *m)
{
    long i = kiln_module_export_index(m, "_start");
    if (i < 0) return 0;
    const kiln_export_info *ex = kiln_module_export(m, (size_t)i);
    return ex && ex->kind == KILN_EXTERN_FUNC;
}

/* Writes the guest's stderr to the server's stderr, each line prefixed with the
 * component's name, or with --log-dir to the component's stderr file, each line prefixed
 * with the request's id (exec/guest_log.h: control bytes escaped, one write). */
static void log_guest_stderr(const kiln_wagi_component *c, const char *request_id,
                             const kiln_buf *err)
{
    if (!err->len) return;
    char prefix[160];
    if (c->log)
        snprintf(prefix, sizeof prefix, "[%s] ", request_id ? request_id : "-");
    else
        snprintf(prefix, sizeof prefix, "[%s] ", c->id);
    kiln_guest_log_lines(c->log ? c->log->err_fd : 2, prefix, err->data, err->len);
}

/* Builds the WASI configuration and runs the instance; the executor's one blocking call
 * (a later change moves it to executor threads with timeouts). Returns 0 on exit(0). */
static int run_instance(const kiln_wagi_component *c, const kiln_strv *argv, const kiln_strv *env,
                        const uint8_t *body, size_t body_len, kiln_buf *err_out, uint64_t budget_ns,
                        kiln_wagi_result *r)
{
    kiln_grants g = {0};
    g.component = c->id;
    g.wasi.argc = (int)argv->n;
    g.wasi.argv = (const char *const *)argv->v;
    g.wasi.nenv = env->n;
    g.wasi.env = (const char *const *)env->v;
    g.wasi.npreopens = c->npreopens;
    g.wasi.preopens = c->preopens;
    g.wasi.stdio[0] = (kiln_wasi_stdio){.fd = -1, .in_data = body, .in_len = body_len};
    g.wasi.stdio[1] = (kiln_wasi_stdio){.fd = -1, .out = &r->out, .limit = c->stdout_limit};
    g.wasi.stdio[2] = (kiln_wasi_stdio){.fd = -1, .out = err_out, .limit = c->stderr_limit};
    char *herr = NULL;
    double t0 = now_ms();
    kiln_wagi_code *code = atomic_load(&c->unit->current);
    kiln_hosts *h = kiln_hosts_new(code->plan, &g, &herr);
    if (!h) {
        kiln_buf_printf(&r->log, "component '%s': cannot set up its host APIs: %s", c->id,
                        herr ? herr : "out of memory");
        kiln_free(herr);
        return -1;
    }
    size_t nimp = kiln_module_import_count(code->module);
    kiln_binding b_local[16], *b = nimp <= 16 ? b_local : kiln_calloc(nimp, sizeof *b);
    kiln_instance *inst = NULL;
    int rc = -1;
    kiln_trap trap = {0};
    if (!b) {
        kiln_buf_printf(&r->log, "component '%s': out of memory", c->id);
        goto out;
    }
    kiln_hosts_bind(h, b);
    kiln_rt_set_memory_limit_pages(c->max_memory_pages);
    if (code->image) {
        inst = kiln_image_instantiate(code->image, b);
    } else {
        inst = kiln_instance_alloc(code->module);
        if (inst) {
            kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
            if ((kiln_instance_init(inst, b, &trap) < 0 ||
                 kiln_instance_reactor_initialize(inst, &trap) < 0) &&
                !(trap.kind == KILN_TRAP_EXIT && trap.exit_code == 0)) {
                r->instantiate_ms = now_ms() - t0;
                r->fault = KILN_FAULT_TRAP;
                r->trap_kind = kiln_trap_kind_name(trap.kind);
                kiln_buf_printf(&r->log, "component '%s': initialization failed: %s", c->id,
                                kiln_trap_message(&trap));
                goto out;
            }
        }
    }
    if (!inst) {
        kiln_buf_printf(&r->log, "component '%s': cannot create an instance (out of memory)",
                        c->id);
        goto out;
    }
    kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
    double t1 = now_ms();
    r->instantiate_ms = t1 - t0;
    kiln_val vals[1] = {{0}};
    /* budget_ns bounds each running slice (the inline path); the request timeout bounds
     * the whole call, time parked in waits included. */
    if (kiln_instance_call_budget(inst, c->entry_index, vals, &trap, c->timeout_ns, budget_ns) ==
            0 ||
        (trap.kind == KILN_TRAP_EXIT && trap.exit_code == 0)) {
        rc = 0;
    } else if (trap.kind == KILN_TRAP_EXIT) {
        kiln_buf_printf(&r->log, "component '%s' exited with status %d", c->id, trap.exit_code);
    } else if (trap.kind == KILN_TRAP_BUDGET) {
        r->over_budget = 1;
    } else if (trap.kind == KILN_TRAP_INTERRUPTED) {
        r->res.status = 504;
        r->fault = KILN_FAULT_TIMEOUT;
        kiln_buf_printf(&r->log, "component '%s' stopped: ran past its request timeout (%.0f ms)",
                        c->id, (double)c->timeout_ns / 1e6);
    } else {
        r->fault = KILN_FAULT_TRAP;
        r->trap_kind = kiln_trap_kind_name(trap.kind);
        kiln_buf_printf(&r->log, "component '%s' trapped: %s", c->id, kiln_trap_message(&trap));
    }
    r->run_ms = now_ms() - t1;
    wasm_rt_memory_t *mem = kiln_instance_memory(inst, "memory");
    r->mem_bytes = mem ? (uint64_t)mem->size : 0;
    if (rc == 0 && c->stdout_limit && r->out.len >= c->stdout_limit) {
        rc = -1;
        kiln_buf_printf(&r->log,
                        "component '%s' wrote more than the response size limit (%zu bytes)", c->id,
                        c->stdout_limit);
    }
out:
    if (b != b_local) kiln_free(b);
    kiln_instance_free(inst);
    kiln_hosts_free(h);
    return rc;
}

int kiln_wagi_prepare(const kiln_wagi_component *c, const kiln_cgi_request *req, kiln_arena *arena,
                      kiln_wagi_prepared *p)
{
    memset(p, 0, sizeof *p);
    p->argv.arena = p->env.arena = arena;
    /* component environment first; the request's CGI variables win over it */
    for (size_t i = 0; i < c->env.n; i++)
        if (kiln_strv_putenv(&p->env, c->env.v[i]) < 0) goto oom;
    kiln_cgi_request creq = *req;
    creq.pass_authorization = c->pass_authorization;
    if (kiln_cgi_env(&creq, &p->env) < 0 || kiln_cgi_argv(req, c->argv_tmpl, &p->argv) < 0)
        goto oom;
    if (p->argv.n == 0 && kiln_strv_push(&p->argv, c->id) < 0) goto oom;
    return 0;
oom:
    kiln_wagi_prepared_free(p);
    return -1;
}

void kiln_wagi_prepared_free(kiln_wagi_prepared *p)
{
    kiln_strv_free(&p->argv);
    kiln_strv_free(&p->env);
}

/* Logs the guest's stderr and turns its stdout into the response (or a failure). */
static void finish_result(const kiln_wagi_component *c, const kiln_wagi_prepared *p, int ok,
                          kiln_buf *err, kiln_wagi_result *r)
{
    log_guest_stderr(c, p->request_id, err);
    if (!ok) {
        if (r->res.status != 504) r->res.status = 500;
        r->res.failed = 1;
    } else if (kiln_cgi_parse_response(r->out.data ? r->out.data : "", r->out.len, &r->res) < 0) {
        kiln_cgi_response_free(&r->res);
        r->res.status = 500;
        r->res.failed = 1;
        kiln_buf_printf(&r->log, "component '%s': out of memory parsing its output", c->id);
    } else if (r->res.notes.len) {
        kiln_buf_printf(&r->log, "component '%s': %s", c->id, r->res.notes.data);
    }
}

/* Runs a prepared request with the request timeout and, when budget_ns > 0, a budget per
 * running slice. Stopped at the budget, the attempt is discarded (r->over_budget set,
 * nothing kept). */
static void execute(const kiln_wagi_component *c, const kiln_wagi_prepared *p, const uint8_t *body,
                    size_t body_len, uint64_t budget_ns, kiln_wagi_result *r)
{
    memset(r, 0, sizeof *r);
    r->res.status = 500;
    kiln_buf err = KILN_BUF_INIT;
    int ok = run_instance(c, &p->argv, &p->env, body, body_len, &err, budget_ns, r) == 0;
    if (r->over_budget) {
        kiln_buf_free(&r->out);
        kiln_buf_free(&r->log);
    } else {
        finish_result(c, p, ok, &err, r);
    }
    kiln_buf_free(&err);
}

int kiln_wagi_execute(const kiln_wagi_component *c, const kiln_wagi_prepared *p,
                      const uint8_t *body, size_t body_len, kiln_wagi_result *r)
{
    execute(c, p, body, body_len, 0, r);
    return 0;
}

int kiln_wagi_inline_allowed(const kiln_wagi_component *c)
{
    return (long long)now_ms() >= atomic_load_explicit(&c->inline_after_ms, memory_order_relaxed);
}

int kiln_wagi_execute_inline(kiln_wagi_component *c, const kiln_wagi_prepared *p,
                             const uint8_t *body, size_t body_len, uint64_t budget_ns,
                             kiln_wagi_result *r)
{
    execute(c, p, body, body_len, budget_ns, r);
    if (r->over_budget) /* keep the component off the inline path for 10 s */
        atomic_store_explicit(&c->inline_after_ms, (long long)now_ms() + 10000,
                              memory_order_relaxed);
    return 0;
}

void kiln_wagi_result_free(kiln_wagi_result *r)
{
    kiln_cgi_response_free(&r->res);
    kiln_buf_free(&r->out);
    kiln_buf_free(&r->log);
}
