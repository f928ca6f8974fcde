/* ctx.c — the WASI 0.2 provider: per-instance contexts and resource tables (wasip2.h). */
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const kiln_chost_iface *const ifaces[] = {
    &kiln_wasip2_cli_environment,
    &kiln_wasip2_cli_exit,
    &kiln_wasip2_cli_stdin,
    &kiln_wasip2_cli_stdout,
    &kiln_wasip2_cli_stderr,
    &kiln_wasip2_cli_terminal_input,
    &kiln_wasip2_cli_terminal_output,
    &kiln_wasip2_cli_terminal_stdin,
    &kiln_wasip2_cli_terminal_stdout,
    &kiln_wasip2_cli_terminal_stderr,
    &kiln_wasip2_io_error,
    &kiln_wasip2_io_streams,
    &kiln_wasip2_io_poll,
    &kiln_wasip2_clocks_wall,
    &kiln_wasip2_clocks_monotonic,
    &kiln_wasip2_random_random,
    &kiln_wasip2_random_insecure,
    &kiln_wasip2_random_insecure_seed,
    &kiln_wasip2_fs_types,
    &kiln_wasip2_fs_preopens,
    &kiln_wasip2_sockets_network,
    &kiln_wasip2_sockets_instance_network,
    &kiln_wasip2_sockets_tcp,
    &kiln_wasip2_sockets_tcp_create,
    &kiln_wasip2_sockets_udp,
    &kiln_wasip2_sockets_udp_create,
    &kiln_wasip2_sockets_ip_name_lookup,
};

static void strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        kiln_free(v[i]);
    kiln_free(v);
}

static char **strv_dup(const char *const *v, size_t n)
{
    char **out = kiln_calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = kiln_strdup(v[i]))) {
            strv_free(out, n);
            return NULL;
        }
    return out;
}

static void table_free(p2_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        kiln_free(t->items[i]);
    kiln_free(t->items);
}

static void ctx_free(void *p)
{
    kiln_wasip2 *w = p;
    if (!w) return;
    strv_free(w->argv, (size_t)w->argc);
    strv_free(w->env, w->nenv);
    for (uint32_t i = 0; i < w->nstreams; i++)
        if (w->streams[i].kind != P2_STREAM_FREE && w->streams[i].file_fd >= 0)
            close(w->streams[i].file_fd);
    for (uint32_t i = 0; i < w->nstreams; i++)
        if (w->streams[i].kind != P2_STREAM_FREE && w->streams[i].ops && w->streams[i].ops->close)
            w->streams[i].ops->close(w->streams[i].ops_arg);
    kiln_free(w->streams);
    table_free(&w->errors);
    for (uint32_t i = 0; i < w->pollables.n; i++) {
        p2_pollable *q = w->pollables.items[i];
        if (q && q->kind == P2_POLL_HOST) q->ready->release(q->arg);
    }
    table_free(&w->pollables);
    for (uint32_t i = 0; i < w->descs.n; i++) {
        p2_desc *d = w->descs.items[i];
        if (d && !d->borrowed) close(d->fd);
    }
    table_free(&w->descs);
    for (uint32_t i = 0; i < w->dirs.n; i++) {
        p2_dirstream *d = w->dirs.items[i];
        if (d && d->dir) closedir(d->dir);
    }
    table_free(&w->dirs);
    for (size_t i = 0; i < w->npreopens; i++) {
        p2_preopen *o = &w->preopens[i];
        if (o->borrowed) continue;
        if (o->fd >= 0) close(o->fd);
        kiln_free(o->guest_path);
        kiln_free(o->host_path);
    }
    kiln_free(w->preopens);
    p2_net_free(w);
    kiln_free(w);
}

/* 1 if preopen o of a template is what grant p asks for. */
static int same_preopen(const p2_preopen *o, const kiln_wasi_preopen *p)
{
    return strcmp(o->host_path, p->host_path) == 0 &&
           strcmp(o->guest_path, p->guest_path ? p->guest_path : "/") == 0 &&
           o->readonly == (p->readonly != 0);
}

/* Opens the granted preopens, or borrows tmpl's (non-NULL for a copy: wasip2.h "Copies");
 * 0, or -1 with *err set (NULL *err: out of memory). */
static int open_preopens(kiln_wasip2 *w, const kiln_wasi_config *c, const kiln_wasip2 *tmpl,
                         char **err)
{
    if (!c->npreopens) return 0;
    if (!(w->preopens = kiln_calloc(c->npreopens, sizeof *w->preopens))) return -1;
    for (size_t i = 0; i < c->npreopens; i++) {
        const kiln_wasi_preopen *p = &c->preopens[i];
        p2_preopen *o = &w->preopens[w->npreopens++];
        if (tmpl && i < tmpl->npreopens && same_preopen(&tmpl->preopens[i], p)) {
            *o = tmpl->preopens[i];
            o->borrowed = 1;
            continue;
        }
        o->readonly = p->readonly != 0;
        o->fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (o->fd < 0) {
            size_t n = strlen(p->host_path) + 128;
            if ((*err = kiln_malloc(n)))
                snprintf(*err, n, "cannot open directory %s: %s", p->host_path, strerror(errno));
            return -1;
        }
        if (!(o->guest_path = kiln_strdup(p->guest_path ? p->guest_path : "/")) ||
            !(o->host_path = kiln_strdup(p->host_path)))
            return -1;
    }
    return 0;
}

/* A context from the grants; tmpl: the template of a copy (its preopens may be borrowed). */
static kiln_wasip2 *ctx_make(const kiln_grants *g, const kiln_wasip2 *tmpl, char **err)
{
    *err = NULL;
    kiln_wasip2 *w = kiln_calloc(1, sizeof *w);
    if (!w) goto oom;
    w->argc = g->wasi.argc;
    w->nenv = g->wasi.nenv;
    /* (none: no allocation; the users go by argc and nenv) */
    if (w->argc && !(w->argv = strv_dup(g->wasi.argv, (size_t)g->wasi.argc))) goto oom;
    if (w->nenv && !(w->env = strv_dup(g->wasi.env, g->wasi.nenv))) goto oom;
    memcpy(w->stdio, g->wasi.stdio, sizeof w->stdio);
    if (p2_net_new(w, g) < 0) goto oom;
    if (open_preopens(w, &g->wasi, tmpl, err) < 0) {
        if (*err) {
            ctx_free(w);
            return NULL;
        }
        goto oom;
    }
    return w;
oom:
    ctx_free(w);
    *err = kiln_strdup("out of memory");
    return NULL;
}

static void *ctx_new(const kiln_grants *g, char **err)
{
    return ctx_make(g, NULL, err);
}

/* 1 if table t holds nothing. */
static int table_empty(const p2_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->items[i]) return 0;
    return 1;
}

/* A context for a copy of the instance whose context was tmpl (wasip2.h "Copies"). */
static void *ctx_clone(const void *tmpl, const kiln_grants *g, char **err)
{
    const kiln_wasip2 *t = tmpl;
    const char *why = NULL;
    for (uint32_t i = 0; i < t->nstreams && !why; i++)
        if (t->streams[i].kind != P2_STREAM_FREE &&
            (t->streams[i].ops || t->streams[i].file_fd >= 0 || !t->streams[i].stdio))
            why = "a stream other than stdio's";
    if (!why && !table_empty(&t->errors)) why = "an I/O error";
    if (!why && !table_empty(&t->pollables)) why = "a pollable";
    if (!why && !table_empty(&t->dirs)) why = "a directory-entry-stream";
    if (!why && !p2_net_idle(t)) why = "a socket";
    for (uint32_t i = 0; i < t->descs.n && !why; i++) {
        const p2_desc *d = t->descs.items[i];
        if (d && (!d->preopen || d->preopen > g->wasi.npreopens))
            why = "a descriptor other than get-directories'";
    }
    if (why) {
        size_t n = strlen(why) + 64;
        if ((*err = kiln_malloc(n))) snprintf(*err, n, "its initialization left %s open", why);
        return NULL;
    }
    kiln_wasip2 *w = ctx_make(g, t, err);
    if (!w) return NULL;
    w->network = t->network;
    w->no_openat2 = t->no_openat2;
    if (t->nstreams) {
        if (!(w->streams = kiln_malloc(t->nstreams * sizeof *w->streams))) goto oom;
        memcpy(w->streams, t->streams, t->nstreams * sizeof *w->streams);
        w->nstreams = w->capstreams = t->nstreams;
        for (uint32_t i = 0; i < t->nstreams; i++)
            if (w->streams[i].kind != P2_STREAM_FREE)
                w->streams[i].io = w->stdio[w->streams[i].stdio - 1];
    }
    if (!t->descs.n) return w;
    if (!(w->descs.items = kiln_calloc(t->descs.cap, sizeof *w->descs.items))) goto oom;
    w->descs.cap = t->descs.cap;
    w->descs.n = t->descs.n;
    for (uint32_t i = 0; i < t->descs.n; i++) {
        const p2_desc *d = t->descs.items[i];
        if (!d) continue;
        p2_desc *c = kiln_malloc(sizeof *c);
        if (!c) goto oom;
        *c = *d;
        const p2_preopen *o = &w->preopens[d->preopen - 1];
        c->borrowed = o->borrowed;
        c->fd = o->borrowed ? o->fd : fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
        if (c->fd < 0) {
            kiln_free(c);
            size_t n = 128;
            if ((*err = kiln_malloc(n)))
                snprintf(*err, n, "cannot copy a preopen's descriptor: %s", strerror(errno));
            ctx_free(w);
            return NULL;
        }
        w->descs.items[i] = c;
    }
    return w;
oom:
    ctx_free(w);
    *err = kiln_strdup("out of memory");
    return NULL;
}

const kiln_chost_provider kiln_wasip2_provider = {
    "wasi 0.2", ifaces, sizeof ifaces / sizeof ifaces[0], ctx_new, ctx_free, ctx_clone,
};

uint32_t p2_table_put(p2_table *t, void *item)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (!t->items[i]) {
            t->items[i] = item;
            return i + 1;
        }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 8;
        void **n = kiln_realloc(t->items, cap * sizeof *n);
        if (!n) return 0;
        t->items = n;
        t->cap = cap;
    }
    t->items[t->n++] = item;
    return t->n;
}

void *p2_table_get(const p2_table *t, uint32_t rep)
{
    return rep >= 1 && rep <= t->n ? t->items[rep - 1] : NULL;
}

void *p2_table_take(p2_table *t, uint32_t rep)
{
    void *p = p2_table_get(t, rep);
    if (p) t->items[rep - 1] = NULL;
    return p;
}

/* A free stream slot: its index, or UINT32_MAX when out of memory. */
static uint32_t stream_slot(kiln_wasip2 *w)
{
    uint32_t i = 0;
    while (i < w->nstreams && w->streams[i].kind != P2_STREAM_FREE)
        i++;
    if (i == w->nstreams) {
        if (w->nstreams == w->capstreams) {
            uint32_t cap = w->capstreams ? w->capstreams * 2 : 4;
            p2_stream *n = kiln_realloc(w->streams, cap * sizeof *n);
            if (!n) return UINT32_MAX;
            w->streams = n;
            w->capstreams = cap;
        }
        w->nstreams++;
    }
    return i;
}

uint32_t p2_stream_new(kiln_wasip2 *w, int which)
{
    uint32_t i = stream_slot(w);
    if (i == UINT32_MAX) return 0;
    memset(&w->streams[i], 0, sizeof w->streams[i]);
    w->streams[i].kind = which == 0 ? P2_STREAM_IN : P2_STREAM_OUT;
    w->streams[i].io = w->stdio[which];
    w->streams[i].file_fd = -1;
    w->streams[i].stdio = which + 1;
    return i + 1;
}

uint32_t p2_stream_new_file(kiln_wasip2 *w, int kind, int fd, uint64_t off, int append)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return 0;
    uint32_t i = stream_slot(w);
    if (i == UINT32_MAX) {
        close(d);
        return 0;
    }
    memset(&w->streams[i], 0, sizeof w->streams[i]);
    w->streams[i].kind = kind;
    w->streams[i].io.fd = -1;
    w->streams[i].file_fd = d;
    w->streams[i].off = off;
    w->streams[i].append = append;
    return i + 1;
}

uint32_t p2_stream_new_ops(kiln_wasip2 *w, int kind, const p2_stream_ops *ops, void *arg)
{
    uint32_t i = stream_slot(w);
    if (i == UINT32_MAX) return 0;
    memset(&w->streams[i], 0, sizeof w->streams[i]);
    w->streams[i].kind = kind;
    w->streams[i].io.fd = -1;
    w->streams[i].file_fd = -1;
    w->streams[i].ops = ops;
    w->streams[i].ops_arg = arg;
    return i + 1;
}

uint32_t p2_stream_new_ready(kiln_wasip2 *w, const p2_stream_ops *ops, void *arg,
                             const p2_ready_ops *ready)
{
    uint32_t rep = p2_stream_new_ops(w, P2_STREAM_IN, ops, arg);
    if (rep) w->streams[rep - 1].ready = ready;
    return rep;
}

uint32_t p2_pollable_new_host(kiln_wasip2 *w, const p2_ready_ops *ready, void *arg)
{
    p2_pollable *p = kiln_calloc(1, sizeof *p);
    if (!p) return 0;
    p->kind = P2_POLL_HOST;
    p->fd = -1;
    p->ready = ready;
    p->arg = arg;
    uint32_t rep = p2_table_put(&w->pollables, p);
    if (!rep) {
        kiln_free(p);
        return 0;
    }
    ready->retain(arg);
    return rep;
}

p2_stream *p2_stream_get(kiln_wasip2 *w, uint32_t rep, int kind)
{
    if (rep < 1 || rep > w->nstreams || w->streams[rep - 1].kind != kind) return NULL;
    return &w->streams[rep - 1];
}

uint32_t p2_pollable_new(kiln_wasip2 *w, uint64_t deadline)
{
    p2_pollable *p = kiln_calloc(1, sizeof *p);
    if (!p) return 0;
    p->kind = P2_POLL_CLOCK;
    p->deadline = deadline;
    p->fd = -1;
    uint32_t rep = p2_table_put(&w->pollables, p);
    if (!rep) kiln_free(p);
    return rep;
}

uint32_t p2_pollable_new_fd(kiln_wasip2 *w, int fd, short events)
{
    p2_pollable *p = kiln_calloc(1, sizeof *p);
    if (!p) return 0;
    p->kind = P2_POLL_FD;
    p->fd = fd;
    p->events = events;
    uint32_t rep = p2_table_put(&w->pollables, p);
    if (!rep) kiln_free(p);
    return rep;
}

uint32_t p2_error_new(kiln_wasip2 *w, const char *msg, int e)
{
    size_t n = strlen(msg);
    p2_error *x = kiln_malloc(sizeof *x + n + 1);
    if (!x) return 0;
    x->host_errno = e;
    memcpy(x->msg, msg, n + 1);
    uint32_t rep = p2_table_put(&w->errors, x);
    if (!rep) kiln_free(x);
    return rep;
}

uint64_t p2_monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int p2_fail(kiln_cabi_cx *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof cx->err, fmt, ap);
    va_end(ap);
    return -1;
}

void p2_ok(kiln_cval *r)
{
    r->var.disc = 0;
    r->var.payload = NULL;
}

int p2_bytes_list(kiln_cabi_cx *cx, kiln_cval *v, const uint8_t *bytes, size_t n)
{
    char *p = kiln_cabi_alloc(cx, n ? n : 1);
    if (!p) return p2_fail(cx, "out of memory");
    if (n) memcpy(p, bytes, n);
    v->str.ptr = p;
    v->str.len = n;
    return 0;
}
