/* compose.c — component dependencies: matching dependency names to imports, and loading a
 * component with its dependencies (compose.h). */
#include "component/compose.h"
#include "component/inst_internal.h"
#include "component/reader.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <stdio.h>
#include <string.h>

#define LINK_P2 "wasi:http/incoming-handler"
#define LINK_P3 "wasi:http/handler"

int kiln_compose_spec_add(kiln_compose_spec *s, const char *name, const char *path,
                          const char *export_name, int inherit)
{
    kiln_compose_dep *n = kiln_realloc(s->deps, (s->ndeps + 1) * sizeof *n);
    if (!n) return -1;
    s->deps = n;
    kiln_compose_dep *d = &n[s->ndeps];
    memset(d, 0, sizeof *d);
    d->name = kiln_strdup(name);
    d->path = kiln_strdup(path);
    d->export_name = export_name ? kiln_strdup(export_name) : NULL;
    d->inherit = inherit;
    d->sub = NULL;
    s->ndeps++;
    return d->name && d->path && (!export_name || d->export_name) ? 0 : -1;
}

kiln_compose_spec *kiln_compose_spec_dup(const kiln_compose_spec *s)
{
    kiln_compose_spec *c = kiln_calloc(1, sizeof *c);
    if (c) c->deny_self = s->deny_self;
    for (size_t i = 0; c && i < s->ndeps; i++) {
        const kiln_compose_dep *d = &s->deps[i];
        if (kiln_compose_spec_add(c, d->name, d->path, d->export_name, d->inherit) < 0 ||
            (d->sub && !(c->deps[i].sub = kiln_compose_spec_dup(d->sub)))) {
            kiln_compose_spec_free(c, 1);
            return NULL;
        }
        c->deps[i].link = d->link;
    }
    return c;
}

kiln_compose_spec *kiln_compose_chain(const char *path, const kiln_compose_spec *inner,
                                      const char *const *mw, const int *inherit, size_t n)
{
    /* from the innermost link out: spec k loads mw[k] with mw[k + 1] (or path) as its
     * dependency */
    kiln_compose_spec *next = NULL;
    for (size_t k = n; k-- > 0;) {
        kiln_compose_spec *s = kiln_calloc(1, sizeof *s);
        const char *dep = k + 1 < n ? mw[k + 1] : path;
        if (!s || kiln_compose_spec_add(s, "wasi:http/incoming-handler", dep, NULL,
                                        k + 1 < n ? inherit[k + 1] : KILN_INHERIT_ALL) < 0) {
            kiln_compose_spec_free(s, 1);
            kiln_compose_spec_free(next, 1);
            return NULL;
        }
        s->deny_self = KILN_INHERIT_ALL & ~inherit[k];
        s->deps[0].link = 1;
        if (k + 1 < n) {
            s->deps[0].sub = next;
        } else if (inner && inner->ndeps && !(s->deps[0].sub = kiln_compose_spec_dup(inner))) {
            kiln_compose_spec_free(s, 1);
            return NULL;
        }
        next = s;
    }
    return next;
}

void kiln_compose_spec_free(kiln_compose_spec *s, int self)
{
    if (!s) return;
    for (size_t i = 0; i < s->ndeps; i++) {
        kiln_free(s->deps[i].name);
        kiln_free(s->deps[i].path);
        kiln_free(s->deps[i].export_name);
        kiln_compose_spec_free(s->deps[i].sub, 1);
    }
    kiln_free(s->deps);
    s->deps = NULL;
    s->ndeps = 0;
    if (self) kiln_free(s);
}

/* A name split as Spin's DependencyName / ImportName: "ns:pkg[/iface][@version]" or a plain
 * kebab name (pkg NULL). Pointers into the name with lengths. */
typedef struct parsed_name {
    const char *pkg, *iface, *ver, *plain;
    size_t pkg_len, iface_len, ver_len, plain_len;
} parsed_name;

/* 1 if s[0..n) is a kebab-case word list ("foo-bar2"), as Spin's KebabId. */
static int kebab(const char *s, size_t n)
{
    if (!n || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
        if (c == '-' && s[i + 1] == '-') return 0;
    }
    return 1;
}

/* Parses name into *p; 0, or -1 when it is not a valid name. */
static int parse_name(const char *name, parsed_name *p)
{
    memset(p, 0, sizeof *p);
    size_t n = strlen(name);
    const char *at = strchr(name, '@');
    size_t body = at ? (size_t)(at - name) : n;
    if (at) {
        p->ver = at + 1;
        p->ver_len = n - body - 1;
        if (!p->ver_len) return -1;
    }
    const char *colon = memchr(name, ':', body);
    if (!colon) {
        if (at || !kebab(name, n)) return -1;
        p->plain = name;
        p->plain_len = n;
        return 0;
    }
    const char *slash = memchr(name, '/', body);
    if (!kebab(name, (size_t)(colon - name))) return -1;
    p->pkg = name;
    p->pkg_len = slash ? (size_t)(slash - name) : body;
    if (!kebab(colon + 1, (size_t)(name + p->pkg_len - colon - 1))) return -1;
    if (slash) {
        p->iface = slash + 1;
        p->iface_len = (size_t)(name + body - slash - 1);
        if (!kebab(p->iface, p->iface_len)) return -1;
    }
    return 0;
}

static int same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

int kiln_compose_match(const char *dep, const char *import)
{
    parsed_name d, i;
    if (parse_name(dep, &d) < 0) return -1;
    if (parse_name(import, &i) < 0) return 0;
    if (d.plain || i.plain)
        return d.plain && i.plain && same(d.plain, d.plain_len, i.plain, i.plain_len);
    if (!same(d.pkg, d.pkg_len, i.pkg, i.pkg_len)) return 0;
    if (d.iface && !(i.iface && same(d.iface, d.iface_len, i.iface, i.iface_len))) return 0;
    if (d.ver && !(i.ver && same(d.ver, d.ver_len, i.ver, i.ver_len))) return 0;
    return 1;
}

/* A middleware chain link's dependency name: the HTTP handler the middleware imports,
 * wasi:http/handler (0.3) if it imports that, else wasi:http/incoming-handler (0.2). */
static const char *link_name(const char *const *imports, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kiln_compose_match(LINK_P3, imports[i]) == 1) return LINK_P3;
    return LINK_P2;
}

int kiln_compose_resolve(const kiln_compose_spec *s, const char *id, const char *const *imports,
                         size_t n, long *which, char *err, size_t errcap)
{
    for (size_t i = 0; i < n; i++)
        which[i] = -1;
    for (size_t k = 0; k < s->ndeps; k++) {
        const char *dn = s->deps[k].link ? link_name(imports, n) : s->deps[k].name;
        size_t matched = 0;
        for (size_t i = 0; i < n; i++) {
            int m = kiln_compose_match(dn, imports[i]);
            if (m < 0) {
                snprintf(err, errcap, "component `%s`: `%s` is not a valid dependency name", id,
                         dn);
                return -1;
            }
            if (!m) continue;
            if (which[i] >= 0) {
                snprintf(err, errcap,
                         "component `%s` has dependency conflicts: import '%s' satisfied by "
                         "dependencies: '%s, %s'",
                         id, imports[i], s->deps[which[i]].name, dn);
                return -1;
            }
            which[i] = (long)k;
            matched++;
        }
        if (!matched && s->deps[k].link) {
            snprintf(err, errcap,
                     "a middleware imports neither wasi:http/handler@0.3 nor "
                     "wasi:http/incoming-handler@0.2 (the next component of the chain)");
            return -1;
        }
        if (!matched) {
            snprintf(err, errcap, "dependency '%s' doesn't match any imports of component '%s'", dn,
                     id);
            return -1;
        }
    }
    return 0;
}

/* The exported instance of a component named `name`, else one whose name differs only by
 * a semver-compatible version ("wasi:http/incoming-handler@0.2.0" for an import of @0.2.12);
 * NULL if none. */
static const kiln_citem *export_of(const kiln_component *c, const char *name)
{
    const kiln_ctype *t = c->type;
    for (uint32_t i = 0; i < t->nexports; i++)
        if (t->exports[i].sort == KILN_CSORT_INSTANCE && strcmp(t->exports[i].name, name) == 0)
            return &t->exports[i];
    const char *at = strchr(name, '@');
    if (!at) return NULL;
    size_t base = (size_t)(at - name);
    for (uint32_t i = 0; i < t->nexports; i++) {
        const char *en = t->exports[i].name, *eat = strchr(en, '@');
        if (t->exports[i].sort == KILN_CSORT_INSTANCE && eat && (size_t)(eat - en) == base &&
            strncmp(en, name, base) == 0 &&
            (kiln_component_version_compatible(at + 1, eat + 1) ||
             kiln_component_version_compatible(eat + 1, at + 1)))
            return &t->exports[i];
    }
    return NULL;
}

/* A type in host.h's shape notation (allocated; NULL out of memory or past 1 MiB). */
static char *shape_of(const kiln_ctype *t)
{
    for (size_t cap = 1024; cap <= ((size_t)1 << 20); cap *= 4) {
        char *s = kiln_malloc(cap);
        if (!s) return NULL;
        if (kiln_chost_shape(t, s, cap) == 0) return s;
        kiln_free(s);
    }
    return NULL;
}

/* Checks that the export type `have` gives everything the import type `want` needs: every
 * function with the same type (printed in host.h's shape notation), every type by name.
 * 0, or -1 with err. */
static int check_subtype(const kiln_ctype *want, const kiln_ctype *have, const char *what,
                         kiln_err *err)
{
    for (uint32_t i = 0; i < want->nexports; i++) {
        const kiln_citem *w = &want->exports[i];
        const kiln_citem *h = NULL;
        for (uint32_t k = 0; k < have->nexports && !h; k++)
            if (have->exports[k].sort == w->sort && strcmp(have->exports[k].name, w->name) == 0)
                h = &have->exports[k];
        if (!h) {
            kiln_err_set(err, "%s: no %s '%s'", what, kiln_csort_name(w->sort), w->name);
            return -1;
        }
        if (w->sort != KILN_CSORT_FUNC) continue;
        char *ws = shape_of(w->type), *hs = shape_of(h->type);
        int same = ws && hs && strcmp(ws, hs) == 0;
        if (!same)
            kiln_err_set(err, "%s: function '%s' has type %s, the import needs %s", what, w->name,
                         hs ? hs : "?", ws ? ws : "?");
        kiln_free(ws);
        kiln_free(hs);
        if (!same) return -1;
    }
    return 0;
}

/* Loads a component file without checking its imports (ki_load). */
static kiln_loaded_component *load_file(const char *path, const kiln_compile_opts *opts, int check,
                                        kiln_err *err)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_read_file(path, &b) < 0) {
        kiln_err_set(err, "%s: cannot read the component", path);
        kiln_buf_free(&b);
        return NULL;
    }
    kiln_loaded_component *lc =
        ki_load(path, (const uint8_t *)(b.data ? b.data : ""), b.len, opts, check, err);
    kiln_buf_free(&b);
    return lc;
}

/* Links the dependencies' exports to lc's imports per the spec. 0, or -1 with err. */
static int link_deps(kiln_loaded_component *lc, const char *id, const kiln_compose_spec *s,
                     kiln_err *err)
{
    const kiln_ctype *t = lc->model->type;
    size_t n = t->nimports;
    const char **names = kiln_calloc(n + 1, sizeof *names);
    long *which = kiln_calloc(n + 1, sizeof *which);
    lc->link_import = kiln_calloc(n + 1, sizeof *lc->link_import);
    lc->link_export = kiln_calloc(n + 1, sizeof *lc->link_export);
    lc->link_dep = kiln_calloc(n + 1, sizeof *lc->link_dep);
    int rc = -1;
    char *msg = NULL;
    if (!names || !which || !lc->link_import || !lc->link_export || !lc->link_dep) {
        kiln_err_set(err, "%s: out of memory", id);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = t->imports[i].name;
    if (kiln_compose_resolve(s, id, names, n, which, err->msg, sizeof err->msg) < 0) goto out;
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        const kiln_citem *im = &t->imports[i];
        if (which[i] < 0) {
            int r = ki_check_import(lc->model, im, &msg);
            if (r < 0) {
                kiln_err_set(err, "%s: out of memory", id);
                goto out;
            }
            problems += r;
            continue;
        }
        const kiln_compose_dep *d = &s->deps[which[i]];
        const char *ex = d->export_name ? d->export_name : im->name;
        const kiln_citem *ei = export_of(lc->deps[which[i]]->model, ex);
        const kiln_ctype *et = ei ? ei->type : NULL;
        if (ei) ex = ei->name;
        if (im->sort == KILN_CSORT_INSTANCE && !et && d->link) {
            kiln_err_set(err,
                         "the next component of the middleware chain (%s) does not export '%s', "
                         "which the middleware in front of it imports (a chain is all "
                         "wasi:http/handler@0.3, as Spin composes it, or all "
                         "wasi:http/incoming-handler@0.2)",
                         d->path, im->name);
            goto out;
        }
        if (im->sort != KILN_CSORT_INSTANCE || !et) {
            kiln_err_set(err, "dependency '%s' doesn't export '%s' to satisfy import '%s'", d->name,
                         ex, im->name);
            goto out;
        }
        char what[600];
        snprintf(what, sizeof what,
                 "dependency '%s' exports '%s' which is not compatible with import '%s'", d->name,
                 ex, im->name);
        if (check_subtype(im->type, et, what, err) < 0) goto out;
        size_t k = lc->nlinks;
        lc->link_import[k] = kiln_strdup(im->name);
        lc->link_export[k] = kiln_strdup(ex);
        lc->link_dep[k] = (size_t)which[i];
        lc->nlinks++;
        if (!lc->link_import[k] || !lc->link_export[k]) {
            kiln_err_set(err, "%s: out of memory", id);
            goto out;
        }
    }
    if (problems) {
        size_t len = strlen(msg);
        if (len && msg[len - 1] == '\n') msg[len - 1] = '\0';
        kiln_err_set(err, "%s: %d import%s not provided by the host or a dependency:\n%s", id,
                     problems, problems == 1 ? " is" : "s are", msg);
        goto out;
    }
    rc = 0;
out:
    kiln_free(msg);
    kiln_free(names);
    kiln_free(which);
    return rc;
}

kiln_loaded_component *kiln_component_load_composed(const char *id, const char *path,
                                                    const kiln_compose_spec *s,
                                                    const kiln_compile_opts *opts, kiln_err *err)
{
    if (!s || (!s->ndeps && !s->deny_self)) return kiln_component_load_file(path, opts, err);
    kiln_loaded_component *lc = load_file(path, opts, s->ndeps == 0, err);
    if (!lc) return NULL;
    lc->deny_self = s->deny_self & KILN_INHERIT_ALL;
    if (!s->ndeps) return lc;
    lc->deps = kiln_calloc(s->ndeps, sizeof *lc->deps);
    lc->dep_inherit = kiln_calloc(s->ndeps, sizeof *lc->dep_inherit);
    if (!lc->deps || !lc->dep_inherit) {
        kiln_err_set(err, "%s: out of memory", id);
        kiln_component_unload(lc);
        return NULL;
    }
    for (size_t k = 0; k < s->ndeps; k++) {
        kiln_err e;
        lc->deps[k] = s->deps[k].sub ? kiln_component_load_composed(id, s->deps[k].path,
                                                                    s->deps[k].sub, opts, &e)
                                     : load_file(s->deps[k].path, opts, 1, &e);
        if (!lc->deps[k]) {
            kiln_err_set(err, "component `%s`: dependency '%s': %s", id, s->deps[k].name, e.msg);
            kiln_component_unload(lc);
            return NULL;
        }
        lc->dep_inherit[k] = s->deps[k].inherit & KILN_INHERIT_ALL;
        lc->ndeps++;
        lc->compile_seconds += lc->deps[k]->compile_seconds;
        lc->cached &= lc->deps[k]->cached;
    }
    if (link_deps(lc, id, s, err) < 0) {
        kiln_component_unload(lc);
        return NULL;
    }
    return lc;
}

kiln_loaded_component *kiln_component_reload(const kiln_loaded_component *old,
                                             const kiln_compile_opts *opts, kiln_err *err)
{
    /* its imports were checked when old was loaded, from these very bytes */
    kiln_loaded_component *lc = ki_load(old->name, old->bytes, old->len, opts, 0, err);
    if (!lc) return NULL;
    lc->deny_self = old->deny_self;
    size_t n = old->ndeps, nl = old->nlinks;
    if (n && (!(lc->deps = kiln_calloc(n, sizeof *lc->deps)) ||
              !(lc->dep_inherit = kiln_calloc(n, sizeof *lc->dep_inherit))))
        goto oom;
    for (size_t k = 0; k < n; k++) {
        if (!(lc->deps[k] = kiln_component_reload(old->deps[k], opts, err))) {
            kiln_component_unload(lc);
            return NULL;
        }
        lc->dep_inherit[k] = old->dep_inherit[k];
        lc->ndeps++;
        lc->compile_seconds += lc->deps[k]->compile_seconds;
        lc->cached &= lc->deps[k]->cached;
    }
    if (nl && (!(lc->link_import = kiln_calloc(nl, sizeof *lc->link_import)) ||
               !(lc->link_export = kiln_calloc(nl, sizeof *lc->link_export)) ||
               !(lc->link_dep = kiln_calloc(nl, sizeof *lc->link_dep))))
        goto oom;
    for (size_t i = 0; i < nl; i++) {
        lc->link_import[i] = kiln_strdup(old->link_import[i]);
        lc->link_export[i] = kiln_strdup(old->link_export[i]);
        lc->link_dep[i] = old->link_dep[i];
        lc->nlinks++;
        if (!lc->link_import[i] || !lc->link_export[i]) goto oom;
    }
    return lc;
oom:
    kiln_err_set(err, "%s: out of memory", old->name);
    kiln_component_unload(lc);
    return NULL;
}

/* ---- deny-all grants for dependencies that share the component's WASI contexts ---- */

/* wasi:cli/environment get-environment and get-arguments, wasi:filesystem/preopens
 * get-directories: an empty list. */
static int deny_empty_list(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)args;
    res[0].agg.items = NULL;
    res[0].agg.n = 0;
    return 0;
}

/* wasi:cli/environment initial-cwd: none. */
static int deny_none(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)args;
    res[0].var.disc = 0;
    res[0].var.payload = NULL;
    return 0;
}

/* wasi:http/outgoing-handler handle: err(error-code.HTTP-request-denied). The request
 * (own) is the host's now; it is dropped with the instance's context. */
static int deny_outgoing(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)args;
    kiln_cval *e = kiln_cabi_alloc(cx, sizeof *e);
    if (!e) return -1;
    e->var.disc = 15; /* HTTP-request-denied */
    e->var.payload = NULL;
    res[0].var.disc = 1;
    res[0].var.payload = e;
    return 0;
}

static const struct {
    const char *iface, *func;
    kiln_chost_func stub;
} deny_stubs[] = {
    {"wasi:cli/environment", "get-environment", {"get-environment", NULL, deny_empty_list}},
    {"wasi:cli/environment", "get-arguments", {"get-arguments", NULL, deny_empty_list}},
    {"wasi:cli/environment", "initial-cwd", {"initial-cwd", NULL, deny_none}},
    {"wasi:filesystem/preopens", "get-directories", {"get-directories", NULL, deny_empty_list}},
    {"wasi:http/outgoing-handler", "handle", {"handle", NULL, deny_outgoing}},
};

const kiln_chost_func *ki_deny_stub(const char *import_name, const char *func)
{
    const char *at = strchr(import_name, '@');
    size_t n = at ? (size_t)(at - import_name) : strlen(import_name);
    for (size_t i = 0; i < sizeof deny_stubs / sizeof deny_stubs[0]; i++)
        if (strlen(deny_stubs[i].iface) == n && strncmp(deny_stubs[i].iface, import_name, n) == 0 &&
            strcmp(deny_stubs[i].func, func) == 0)
            return &deny_stubs[i].stub;
    return NULL;
}

/* Spin's capability sets (crates/capabilities), by interface name without its version. */
static const struct {
    const char *iface;
    int set;
} capabilities[] = {
    {"fermyon:spin/llm", KILN_INHERIT_AI_MODELS},
    {"fermyon:spin/http", KILN_INHERIT_OUTBOUND},
    {"fermyon:spin/mysql", KILN_INHERIT_OUTBOUND},
    {"fermyon:spin/postgres", KILN_INHERIT_OUTBOUND},
    {"fermyon:spin/redis", KILN_INHERIT_OUTBOUND},
    {"fermyon:spin/mqtt", KILN_INHERIT_OUTBOUND},
    {"spin:mqtt/mqtt", KILN_INHERIT_OUTBOUND},
    {"spin:mysql/mysql", KILN_INHERIT_OUTBOUND},
    {"spin:postgres/postgres", KILN_INHERIT_OUTBOUND},
    {"spin:redis/redis", KILN_INHERIT_OUTBOUND},
    {"wasi:http/outgoing-handler", KILN_INHERIT_OUTBOUND},
    {"wasi:http/client", KILN_INHERIT_OUTBOUND},
    {"wasi:sockets/ip-name-lookup", KILN_INHERIT_OUTBOUND},
    {"wasi:sockets/tcp", KILN_INHERIT_OUTBOUND},
    {"wasi:sockets/tcp-create-socket", KILN_INHERIT_OUTBOUND},
    {"wasi:sockets/udp", KILN_INHERIT_OUTBOUND},
    {"wasi:sockets/udp-create-socket", KILN_INHERIT_OUTBOUND},
    {"wasi:cli/environment", KILN_INHERIT_ENVIRONMENT},
    {"wasi:filesystem/preopens", KILN_INHERIT_FILES},
    {"fermyon:spin/key-value", KILN_INHERIT_KEY_VALUE},
    {"spin:key-value/key-value", KILN_INHERIT_KEY_VALUE},
    {"wasi:keyvalue/store", KILN_INHERIT_KEY_VALUE},
    {"wasi:keyvalue/atomics", KILN_INHERIT_KEY_VALUE},
    {"wasi:keyvalue/batch", KILN_INHERIT_KEY_VALUE},
    {"fermyon:spin/sqlite", KILN_INHERIT_SQLITE},
    {"spin:sqlite/sqlite", KILN_INHERIT_SQLITE},
    {"fermyon:spin/config", KILN_INHERIT_VARIABLES},
    {"fermyon:spin/variables", KILN_INHERIT_VARIABLES},
    {"spin:variables/variables", KILN_INHERIT_VARIABLES},
    {"wasi:config/store", KILN_INHERIT_VARIABLES},
};

int kiln_compose_capability(const char *import_name)
{
    const char *at = strchr(import_name, '@');
    size_t n = at ? (size_t)(at - import_name) : strlen(import_name);
    for (size_t i = 0; i < sizeof capabilities / sizeof capabilities[0]; i++)
        if (strlen(capabilities[i].iface) == n &&
            strncmp(capabilities[i].iface, import_name, n) == 0)
            return capabilities[i].set;
    return 0;
}

int kiln_compose_inherit_key(const char *key)
{
    static const struct {
        const char *key;
        int set;
    } keys[] = {{"ai_models", KILN_INHERIT_AI_MODELS},
                {"allowed_outbound_hosts", KILN_INHERIT_OUTBOUND},
                {"environment", KILN_INHERIT_ENVIRONMENT},
                {"files", KILN_INHERIT_FILES},
                {"key_value_stores", KILN_INHERIT_KEY_VALUE},
                {"sqlite_databases", KILN_INHERIT_SQLITE},
                {"variables", KILN_INHERIT_VARIABLES}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].key, key) == 0) return keys[i].set;
    return 0;
}

int ki_shared_provider(const kiln_chost_provider *p)
{
    return strcmp(p->name, "wasi 0.2") == 0 || strcmp(p->name, "wasi:http") == 0;
}
