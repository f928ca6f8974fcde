/* variables.c — application variables: resolution through the providers at start, and the
 * fermyon:spin/variables@2.0.0, spin:variables/variables@3.0.0 and wasi:config/store hosts over a
 * component's resolved variables (spin.h). */
#include "host/spin/spin.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hosts ---- */

/* results[0] = err(case disc with a payload string printed by fmt into the call's arena). */
int spin_err_str(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    kiln_cval *outer = kiln_cabi_alloc(cx, 2 * sizeof *outer);
    char *s = n >= 0 ? kiln_cabi_alloc(cx, (size_t)n + 1) : NULL;
    if (!outer || !s) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    outer[0].var.disc = disc;
    outer[0].var.payload = &outer[1];
    outer[1].str.ptr = s;
    outer[1].str.len = (size_t)n;
    r->var.disc = 1;
    r->var.payload = &outer[0];
    return 0;
}

/* The component's variable named (p, n), or NULL. */
static const spin_var *find_var(const spin_component *c, const char *p, size_t n)
{
    size_t nv = 0;
    const spin_var *vs = c ? spin_component_vars(c, &nv) : NULL;
    for (size_t i = 0; i < nv; i++)
        if (strlen(vs[i].name) == n && memcmp(vs[i].name, p, n) == 0) return &vs[i];
    return NULL;
}

/* results[0] = ok(string v) (v outlives the call: the application's). */
static int ok_str(kiln_cabi_cx *cx, kiln_cval *r, const char *v, int optional)
{
    kiln_cval *p = kiln_cabi_alloc(cx, 2 * sizeof *p);
    if (!p) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return -1;
    }
    p[1].str.ptr = (char *)v;
    p[1].str.len = strlen(v);
    if (optional) {
        p[0].var.disc = 1; /* some */
        p[0].var.payload = &p[1];
    } else {
        p[0] = p[1];
    }
    r->var.disc = 0;
    r->var.payload = &p[0];
    return 0;
}

/* fermyon:spin/variables get: error cases invalid-name, undefined, provider, other. */
static int spin_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const char *name = args[0].str.ptr;
    size_t n = args[0].str.len;
    const char *why = kiln_spin_name_invalid(name, n);
    if (why) return spin_err_str(cx, &res[0], 0, "\"%.*s\": %s", (int)n, name, why);
    const spin_component *c = spin_ctx_component(ctx);
    const spin_var *v = find_var(c, name, n);
    if (!v)
        return spin_err_str(cx, &res[0], 1, "no variable for \"%s\".\"%.*s\"",
                            c ? spin_component_id(c) : "", (int)n, name);
    return ok_str(cx, &res[0], v->value, 0);
}

/* wasi:config/store get: none for an invalid or undefined name (Spin's mapping). */
static int config_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const spin_var *v = find_var(spin_ctx_component(ctx), args[0].str.ptr, args[0].str.len);
    if (!v) {
        kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
        if (!p) {
            snprintf(cx->err, sizeof cx->err, "out of memory");
            return -1;
        }
        p->var.disc = 0; /* none */
        p->var.payload = NULL;
        res[0].var.disc = 0;
        res[0].var.payload = p;
        return 0;
    }
    return ok_str(cx, &res[0], v->value, 1);
}

static int config_get_all(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const spin_component *c = spin_ctx_component(ctx);
    size_t n = 0;
    const spin_var *vs = c ? spin_component_vars(c, &n) : NULL;
    kiln_cval *list = kiln_cabi_alloc(cx, (1 + 3 * n) * sizeof *list);
    if (!list) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return -1;
    }
    kiln_cval *pairs = list + 1, *fields = list + 1 + n;
    for (size_t i = 0; i < n; i++) {
        fields[2 * i].str.ptr = vs[i].name;
        fields[2 * i].str.len = strlen(vs[i].name);
        fields[2 * i + 1].str.ptr = vs[i].value;
        fields[2 * i + 1].str.len = strlen(vs[i].value);
        pairs[i].agg.items = &fields[2 * i];
        pairs[i].agg.n = 2;
    }
    list[0].agg.items = pairs;
    list[0].agg.n = (uint32_t)n;
    res[0].var.disc = 0;
    res[0].var.payload = &list[0];
    return 0;
}

static const kiln_chost_func variables_funcs[] = {
    {"get",
     "(string) -> result<string, variant{invalid-name(string), undefined(string), "
     "provider(string), other(string)}>",
     spin_get},
};
const kiln_chost_iface kiln_spin_variables_iface = {"fermyon:spin/variables", "2.0.0", NULL, 0,
                                                    variables_funcs,          1};
/* spin:variables/variables@3.0.0 (Spin 3's package; Spin's Python SDK 5 imports it): the
 * same function and error variant, declared `async func`; it completes at once. */
const kiln_chost_iface kiln_spin_variables3_iface = {
    "spin:variables/variables", "3.0.0", NULL, 0, variables_funcs, 1};

static const kiln_chost_func config_funcs[] = {
    {"get", "(string) -> result<option<string>, variant{upstream(string), io(string)}>",
     config_get},
    {"get-all", "() -> result<list<tuple<string, string>>, variant{upstream(string), io(string)}>",
     config_get_all},
};
const kiln_chost_iface kiln_wasi_config_store_iface = {
    "wasi:config/store", "0.2.0-draft-2024-09-27", NULL, 0, config_funcs, 2};
