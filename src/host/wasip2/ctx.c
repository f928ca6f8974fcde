/* ctx.c — the WASI 0.2 provider: per-instance contexts and resource tables (wasip2.h). */
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
    kiln_free(w->streams);
    table_free(&w->errors);
    table_free(&w->pollables);
    kiln_free(w);
}

static void *ctx_new(const kiln_grants *g, char **err)
{
    kiln_wasip2 *w = kiln_calloc(1, sizeof *w);
    if (!w) goto oom;
    w->argc = g->wasi.argc;
    w->nenv = g->wasi.nenv;
    if (!(w->argv = strv_dup(g->wasi.argv, (size_t)g->wasi.argc))) goto oom;
    if (!(w->env = strv_dup(g->wasi.env, g->wasi.nenv))) goto oom;
    memcpy(w->stdio, g->wasi.stdio, sizeof w->stdio);
    return w;
oom:
    ctx_free(w);
    *err = kiln_strdup("wasi 0.2: out of memory");
    return NULL;
}

const kiln_chost_provider kiln_wasip2_provider = {
    "wasi 0.2", ifaces, sizeof ifaces / sizeof ifaces[0], ctx_new, ctx_free,
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

uint32_t p2_stream_new(kiln_wasip2 *w, int which)
{
    uint32_t i = 0;
    while (i < w->nstreams && w->streams[i].kind != P2_STREAM_FREE)
        i++;
    if (i == w->nstreams) {
        if (w->nstreams == w->capstreams) {
            uint32_t cap = w->capstreams ? w->capstreams * 2 : 4;
            p2_stream *n = kiln_realloc(w->streams, cap * sizeof *n);
            if (!n) return 0;
            w->streams = n;
            w->capstreams = cap;
        }
        w->nstreams++;
    }
    w->streams[i] = (p2_stream){which == 0 ? P2_STREAM_IN : P2_STREAM_OUT, w->stdio[which], 0, 0};
    return i + 1;
}

p2_stream *p2_stream_get(kiln_wasip2 *w, uint32_t rep, int kind)
{
    if (rep < 1 || rep > w->nstreams || w->streams[rep - 1].kind != kind) return NULL;
    return &w->streams[rep - 1];
}

uint32_t p2_pollable_new(kiln_wasip2 *w, uint64_t deadline)
{
    p2_pollable *p = kiln_malloc(sizeof *p);
    if (!p) return 0;
    p->deadline = deadline;
    uint32_t rep = p2_table_put(&w->pollables, p);
    if (!rep) kiln_free(p);
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
