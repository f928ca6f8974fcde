/* host.c — the registry of component interface providers and the shape check (host.h). */
#include "component/host.h"
#include "component/reader.h"
#include "host/wasihttp/wasihttp.h"
#include "host/wasip2/wasip2.h"
#include "host/wasip3/http.h"
#include "host/wasip3/sockets.h"
#include "host/wasip3/wasip3.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

#define MAX_PROVIDERS 32

static const kiln_chost_provider *providers[MAX_PROVIDERS] = {
    &kiln_wasip2_provider, &kiln_wasihttp_provider, &kiln_wasip3_provider, &kiln_p3http_provider,
    &kiln_p3sockets_provider};
static size_t nproviders = 5;

/* "ns:pkg/iface" and the version of an import name; 0, or -1 if not an interface name. */
static int split_name(const char *name, char *base, size_t cap, const char **version)
{
    const char *at = strchr(name, '@');
    size_t n = at ? (size_t)(at - name) : strlen(name);
    if (n >= cap || !strchr(name, ':') || !memchr(name, '/', n)) return -1;
    memcpy(base, name, n);
    base[n] = '\0';
    *version = at ? at + 1 : "";
    return 0;
}

static const kiln_chost_iface *find_in(const kiln_chost_provider *p, const char *base,
                                       const char *version)
{
    for (size_t i = 0; i < p->nifaces; i++) {
        const kiln_chost_iface *f = p->ifaces[i];
        if (strcmp(f->name, base) == 0 && kiln_component_version_compatible(version, f->version))
            return f;
    }
    return NULL;
}

int kiln_chost_register(const kiln_chost_provider *p)
{
    if (nproviders == MAX_PROVIDERS) return -1;
    for (size_t i = 0; i < p->nifaces; i++) {
        char name[300];
        snprintf(name, sizeof name, "%s@%s", p->ifaces[i]->name, p->ifaces[i]->version);
        if (kiln_chost_find(name, NULL)) return -1;
    }
    providers[nproviders++] = p;
    return 0;
}

const kiln_chost_iface *kiln_chost_find(const char *import_name,
                                        const kiln_chost_provider **provider)
{
    char base[256];
    const char *version;
    if (split_name(import_name, base, sizeof base, &version) < 0) return NULL;
    for (size_t i = 0; i < nproviders; i++) {
        const kiln_chost_iface *f = find_in(providers[i], base, version);
        if (f) {
            if (provider) *provider = providers[i];
            return f;
        }
    }
    return NULL;
}

const kiln_chost_func *kiln_chost_find_func(const kiln_chost_iface *i, const char *name)
{
    for (size_t k = 0; k < i->nfuncs; k++)
        if (strcmp(i->funcs[k].name, name) == 0) return &i->funcs[k];
    return NULL;
}

long kiln_chost_find_resource(const kiln_chost_iface *i, const char *name)
{
    for (size_t k = 0; k < i->nresources; k++)
        if (strcmp(i->resources[k].name, name) == 0) return (long)k;
    return -1;
}

/* ---- shapes ---- */

static const char *prim_names[] = {"bool", "s8",  "u8",  "s16", "u16",  "s32",    "u32",
                                   "s64",  "u64", "f32", "f64", "char", "string", "error-context"};

static void shape(kiln_buf *b, const kiln_ctype *t);

static void shape_ref(kiln_buf *b, const kiln_cvalref *r)
{
    shape(b, r->type);
}

static void shape_fields(kiln_buf *b, const kiln_ctype *t, int named, int cases)
{
    for (uint32_t i = 0; i < t->nitems; i++) {
        const kiln_cfield *f = &t->items[i];
        if (i) kiln_buf_puts(b, ", ");
        if (named && f->name) kiln_buf_puts(b, f->name);
        if (f->has_type) {
            if (cases) {
                kiln_buf_putc(b, '(');
                shape_ref(b, &f->type);
                kiln_buf_putc(b, ')');
            } else {
                if (named) kiln_buf_puts(b, ": ");
                shape_ref(b, &f->type);
            }
        }
    }
}

static void shape_elem(kiln_buf *b, const char *name, const kiln_ctype *t)
{
    kiln_buf_puts(b, name);
    if (t->has_elem) {
        kiln_buf_putc(b, '<');
        shape_ref(b, &t->elem);
        kiln_buf_putc(b, '>');
    }
}

static void shape(kiln_buf *b, const kiln_ctype *t)
{
    if (!t) {
        kiln_buf_puts(b, "?");
        return;
    }
    if (KILN_CT_IS_PRIMITIVE(t->kind)) {
        kiln_buf_puts(b, prim_names[t->kind]);
        return;
    }
    switch (t->kind) {
    case KILN_CT_RECORD:
        kiln_buf_puts(b, "record{");
        shape_fields(b, t, 1, 0);
        kiln_buf_putc(b, '}');
        break;
    case KILN_CT_VARIANT:
        kiln_buf_puts(b, "variant{");
        shape_fields(b, t, 1, 1);
        kiln_buf_putc(b, '}');
        break;
    case KILN_CT_ENUM:
    case KILN_CT_FLAGS:
        kiln_buf_puts(b, t->kind == KILN_CT_ENUM ? "enum{" : "flags{");
        shape_fields(b, t, 1, 0);
        kiln_buf_putc(b, '}');
        break;
    case KILN_CT_TUPLE:
        kiln_buf_puts(b, "tuple<");
        shape_fields(b, t, 0, 0);
        kiln_buf_putc(b, '>');
        break;
    case KILN_CT_LIST:
        kiln_buf_puts(b, "list<");
        shape_ref(b, &t->elem);
        kiln_buf_putc(b, '>');
        break;
    case KILN_CT_FIXED_LIST:
        kiln_buf_puts(b, "list<");
        shape_ref(b, &t->elem);
        kiln_buf_printf(b, ", %u>", t->len);
        break;
    case KILN_CT_OPTION:
        kiln_buf_puts(b, "option<");
        shape_ref(b, &t->elem);
        kiln_buf_putc(b, '>');
        break;
    case KILN_CT_RESULT:
        kiln_buf_puts(b, "result");
        if (t->has_elem || t->has_elem2) {
            kiln_buf_putc(b, '<');
            if (t->has_elem)
                shape_ref(b, &t->elem);
            else
                kiln_buf_putc(b, '_');
            if (t->has_elem2) {
                kiln_buf_puts(b, ", ");
                shape_ref(b, &t->elem2);
            }
            kiln_buf_putc(b, '>');
        }
        break;
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
        kiln_buf_puts(b, t->kind == KILN_CT_OWN ? "own<" : "borrow<");
        kiln_buf_puts(b, t->elem.type && t->elem.type->name ? t->elem.type->name : "?");
        kiln_buf_putc(b, '>');
        break;
    case KILN_CT_STREAM:
        shape_elem(b, "stream", t);
        break;
    case KILN_CT_FUTURE:
        shape_elem(b, "future", t);
        break;
    case KILN_CT_MAP:
        kiln_buf_puts(b, "map<");
        shape_ref(b, &t->elem);
        kiln_buf_puts(b, ", ");
        shape_ref(b, &t->elem2);
        kiln_buf_putc(b, '>');
        break;
    case KILN_CT_FUNC:
        kiln_buf_putc(b, '(');
        shape_fields(b, t, 0, 0);
        kiln_buf_putc(b, ')');
        if (t->has_elem) {
            kiln_buf_puts(b, " -> ");
            shape_ref(b, &t->elem);
        }
        break;
    case KILN_CT_RESOURCE:
        kiln_buf_puts(b, t->name ? t->name : "resource");
        break;
    default:
        kiln_buf_puts(b, "?");
        break;
    }
}

int kiln_chost_shape(const kiln_ctype *t, char *out, size_t cap)
{
    kiln_buf b = KILN_BUF_INIT;
    shape(&b, t);
    int rc = b.data && b.len < cap ? 0 : -1;
    if (cap) {
        size_t n = b.data ? (b.len < cap ? b.len : cap - 1) : 0;
        if (n) memcpy(out, b.data, n);
        out[n] = '\0';
    }
    kiln_buf_free(&b);
    return rc;
}

/* Skips one type in a printed shape: up to the ',' / ')' / '>' / '}' that ends it at
 * nesting depth 0. */
static const char *skip_type(const char *s)
{
    int depth = 0;
    for (; *s; s++) {
        if (*s == '<' || *s == '(' || *s == '{')
            depth++;
        else if (*s == '>' || *s == ')' || *s == '}') {
            if (depth == 0) return s;
            depth--;
        } else if (*s == ',' && depth == 0)
            return s;
        else if (*s == ' ' && depth == 0 && s[1] == '-' && s[2] == '>')
            return s;
    }
    return s;
}

int kiln_chost_shape_match(const char *pattern, const char *have)
{
    const char *p = pattern, *h = have;
    while (*p) {
        if (*p == '*') {
            p++;
            h = skip_type(h);
            continue;
        }
        if (*p != *h) return 0;
        p++, h++;
    }
    return *h == '\0';
}

/* ---- import checks ---- */

static int addf(char **msg, const char *fmt, const char *a, const char *b, const char *c)
{
    char line[1200];
    snprintf(line, sizeof line, fmt, a, b, c);
    size_t old = *msg ? strlen(*msg) : 0, n = strlen(line);
    char *m = kiln_realloc(*msg, old + n + 2);
    if (!m) return -1;
    memcpy(m + old, line, n);
    m[old + n] = '\n';
    m[old + n + 1] = '\0';
    *msg = m;
    return 0;
}

/* 1 if the instance type declares export `name` as a new (sub resource), not (eq …) of
 * a type of another interface. */
static int declares_resource(const kiln_ctype *type, const char *name)
{
    for (uint32_t i = 0; i < type->ndecls; i++) {
        const kiln_cdecl *d = &type->decls[i];
        if (d->kind == KILN_CDECL_EXPORT && d->ext.sort == KILN_CSORT_TYPE &&
            d->ext.bound_sub_resource && strcmp(d->ext.name, name) == 0)
            return 1;
    }
    return 0;
}

int kiln_chost_check_import(const char *name, const kiln_ctype *type, char **msg)
{
    const kiln_chost_provider *p = NULL;
    const kiln_chost_iface *f = kiln_chost_find(name, &p);
    if (!f) {
        char base[256];
        const char *version;
        int known = 0;
        if (split_name(name, base, sizeof base, &version) == 0)
            for (size_t i = 0; i < nproviders && !known; i++)
                for (size_t k = 0; k < providers[i]->nifaces; k++)
                    if (strcmp(providers[i]->ifaces[k]->name, base) == 0) {
                        known = 1;
                        if (addf(msg, "%s: no host provides this version (%s has %s)", name,
                                 providers[i]->name, providers[i]->ifaces[k]->version) < 0)
                            return -1;
                        break;
                    }
        if (!known && addf(msg, "%s: no host provides this interface%s%s", name, "", "") < 0)
            return -1;
        return 1;
    }
    if (!type || type->kind != KILN_CT_INSTANCE) {
        if (addf(msg, "%s: imported as a %s, the host provides an instance", name,
                 type && type->kind == KILN_CT_FUNC ? "function" : "non-instance", "") < 0)
            return -1;
        return 1;
    }
    int problems = 0;
    char have[4096], where[300];
    snprintf(where, sizeof where, "%s, %s@%s", p->name, f->name, f->version);
    for (uint32_t i = 0; i < type->nexports; i++) {
        const kiln_citem *e = &type->exports[i];
        if (e->sort == KILN_CSORT_TYPE) {
            if (declares_resource(type, e->name) && kiln_chost_find_resource(f, e->name) < 0) {
                if (addf(msg, "%s: resource '%s' is not provided by the host (%s)", name, e->name,
                         where) < 0)
                    return -1;
                problems++;
            }
            continue;
        }
        if (e->sort != KILN_CSORT_FUNC) {
            if (addf(msg, "%s: '%s' is a %s; the host provides only functions and types", name,
                     e->name, kiln_csort_name(e->sort)) < 0)
                return -1;
            problems++;
            continue;
        }
        const kiln_chost_func *fn = kiln_chost_find_func(f, e->name);
        if (!fn) {
            if (addf(msg, "%s: function '%s' is not provided by the host (%s)", name, e->name,
                     where) < 0)
                return -1;
            problems++;
            continue;
        }
        if (!fn->shape) continue;
        int fits = kiln_chost_shape(e->type, have, sizeof have) == 0;
        if (!fits || !kiln_chost_shape_match(fn->shape, have)) {
            char line[4600];
            snprintf(line, sizeof line, "function '%s' has type %s%s; the host's is %s", e->name,
                     have, fits ? "" : "...", fn->shape);
            if (addf(msg, "%s: %s%s", name, line, "") < 0) return -1;
            problems++;
        }
    }
    return problems;
}
