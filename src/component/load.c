/* load.c — loading a component: read, validate, check imports against the host registry,
 * compile every embedded core module (instance.h). */
#include "component/async.h"
#include "component/inst_internal.h"
#include "component/reader.h"
#include "util/alloc.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The load-time linker of embedded modules: everything is provided at instantiation
 * (by the component's own definitions, which the validator checked). */
static kiln_fnptr accept_all(void *ctx, const kiln_import *imp)
{
    (void)ctx, (void)imp;
    return (kiln_fnptr)accept_all;
}

static const kiln_linker component_linker = {accept_all, NULL};

/* 1 if the component imports type `name` bounded by (eq T): an alias of a type it can
 * already name (a world-level `use`: wit-component imports the record, variant or
 * resource of another interface that way), which needs nothing from the host. A
 * (sub resource) import would need a host resource type and is refused. */
static int imports_eq_type(const kiln_component *c, const char *name)
{
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_IMPORT && d->ext.sort == KILN_CSORT_TYPE &&
            !d->ext.bound_sub_resource && strcmp(d->ext.name, name) == 0)
            return 1;
    }
    return 0;
}

int ki_check_import(const kiln_component *c, const kiln_citem *im, char **msg)
{
    if (im->sort == KILN_CSORT_INSTANCE) return kiln_chost_check_import(im->name, im->type, msg);
    if (im->sort == KILN_CSORT_TYPE && imports_eq_type(c, im->name)) return 0;
    char line[600];
    snprintf(line, sizeof line, "%s: a %s import; the host provides only instances\n", im->name,
             kiln_csort_name(im->sort));
    size_t old = *msg ? strlen(*msg) : 0;
    char *m = kiln_realloc(*msg, old + strlen(line) + 1);
    if (!m) return -1;
    strcpy(m + old, line);
    *msg = m;
    return 1;
}

/* Checks the imports of the outermost component; returns the number of problems (lines
 * in *msg), -1 when out of memory. */
static int check_imports(const kiln_component *c, char **msg)
{
    int problems = 0;
    const kiln_ctype *t = c->type;
    for (uint32_t i = 0; i < t->nimports; i++) {
        int r = ki_check_import(c, &t->imports[i], msg);
        if (r < 0) return -1;
        problems += r;
    }
    return problems;
}

/* Collects module definitions depth-first in binary order. */
static int collect(kiln_loaded_component *lc, const kiln_component *c, size_t *cap)
{
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_COMPONENT) {
            if (collect(lc, d->component, cap) < 0) return -1;
            continue;
        }
        if (d->kind != KILN_CDEF_CORE_MODULE) continue;
        if (lc->nmodules == *cap) {
            size_t n = *cap ? *cap * 2 : 8;
            const kiln_cmodule **defs = kiln_realloc(lc->defs, n * sizeof *defs);
            if (!defs) return -1;
            lc->defs = defs;
            kiln_module **mods = kiln_realloc(lc->modules, n * sizeof *mods);
            if (!mods) return -1;
            lc->modules = mods;
            *cap = n;
        }
        lc->defs[lc->nmodules] = &d->module;
        lc->modules[lc->nmodules++] = NULL;
    }
    return 0;
}

/* Checks the canon definitions this runtime supports (async.c's ka_op_supported: streams,
 * futures, threads and error contexts are refused at load). */
static int check_supported(const kiln_component *c, const char *name, kiln_err *err)
{
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_COMPONENT) {
            if (check_supported(d->component, name, err) < 0) return -1;
            continue;
        }
        const char *what = NULL;
        if (d->kind == KILN_CDEF_START)
            what = "a component start function";
        else if (d->kind == KILN_CDEF_CANON) {
            uint8_t op = d->canon.op;
            if (op == KILN_CANON_RESOURCE_DROP && d->canon.flag)
                what = "resource.drop async";
            else if (!ka_op_supported(&d->canon))
                what = kiln_canon_op_name(op);
        } else if ((d->kind == KILN_CDEF_IMPORT || d->kind == KILN_CDEF_EXPORT) &&
                   d->ext.sort == KILN_CSORT_VALUE)
            what = "value imports and exports";
        if (what) {
            kiln_err_set(err, "%s: offset 0x%zx: %s is not supported", name, d->offset,
                         what ? what : "canon");
            return -1;
        }
    }
    return 0;
}

kiln_loaded_component *kiln_component_load(const char *name, const uint8_t *bytes, size_t len,
                                           const kiln_compile_opts *opts, kiln_err *err)
{
    return ki_load(name, bytes, len, opts, 1, err);
}

kiln_loaded_component *ki_load(const char *name, const uint8_t *bytes, size_t len,
                               const kiln_compile_opts *opts, int check, kiln_err *err)
{
    kiln_loaded_component *lc = kiln_calloc(1, sizeof *lc);
    if (!lc || !(lc->name = kiln_strdup(name)) || !(lc->bytes = kiln_malloc(len ? len : 1))) {
        kiln_err_set(err, "%s: out of memory", name);
        kiln_component_unload(lc);
        return NULL;
    }
    memcpy(lc->bytes, bytes, len);
    lc->len = len;
    lc->model = kiln_component_read(lc->bytes, len, name, err->msg, sizeof err->msg);
    if (!lc->model) {
        kiln_component_unload(lc);
        return NULL;
    }
    if (check_supported(lc->model, name, err) < 0) {
        kiln_component_unload(lc);
        return NULL;
    }
    lc->async = ka_component_is_async(lc->model);
    char *msg = NULL;
    int problems = check ? check_imports(lc->model, &msg) : 0;
    if (problems != 0) {
        if (problems < 0)
            kiln_err_set(err, "%s: out of memory", name);
        else {
            size_t n = strlen(msg);
            if (n && msg[n - 1] == '\n') msg[n - 1] = '\0';
            kiln_err_set(err, "%s: %d import%s not provided by the host:\n%s", name, problems,
                         problems == 1 ? " is" : "s are", msg);
        }
        kiln_free(msg);
        kiln_component_unload(lc);
        return NULL;
    }
    size_t cap = 0;
    if (collect(lc, lc->model, &cap) < 0) {
        kiln_err_set(err, "%s: out of memory", name);
        kiln_component_unload(lc);
        return NULL;
    }
    lc->cached = 1;
    for (size_t i = 0; i < lc->nmodules; i++) {
        char mname[600];
        snprintf(mname, sizeof mname, "%s (core module %zu)", name, i);
        const kiln_cmodule *cm = lc->defs[i];
        lc->modules[i] =
            kiln_module_load_bytes(mname, cm->bytes, cm->len, opts, &component_linker, err);
        if (!lc->modules[i]) {
            kiln_component_unload(lc);
            return NULL;
        }
        lc->compile_seconds += kiln_module_compile_seconds(lc->modules[i]);
        lc->cached &= kiln_module_was_cached(lc->modules[i]);
    }
    return lc;
}

kiln_loaded_component *kiln_component_load_file(const char *path, const kiln_compile_opts *opts,
                                                kiln_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kiln_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        kiln_err_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size, off = 0;
    uint8_t *bytes = kiln_malloc(len ? len : 1);
    if (!bytes) {
        kiln_err_set(err, "%s: out of memory reading %zu bytes", path, len);
        close(fd);
        return NULL;
    }
    while (off < len) {
        ssize_t n = read(fd, bytes + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            kiln_err_set(err, "%s: read failed: %s", path, n < 0 ? strerror(errno) : "short");
            kiln_free(bytes);
            close(fd);
            return NULL;
        }
        off += (size_t)n;
    }
    close(fd);
    kiln_loaded_component *lc = kiln_component_load(path, bytes, len, opts, err);
    kiln_free(bytes);
    return lc;
}

void kiln_component_unload(kiln_loaded_component *lc)
{
    if (!lc) return;
    for (size_t i = 0; i < lc->ndeps; i++)
        kiln_component_unload(lc->deps[i]);
    kiln_free(lc->deps);
    kiln_free(lc->dep_inherit);
    for (size_t i = 0; i < lc->nlinks; i++) {
        kiln_free(lc->link_import[i]);
        kiln_free(lc->link_export[i]);
    }
    kiln_free(lc->link_import);
    kiln_free(lc->link_export);
    kiln_free(lc->link_dep);
    for (size_t i = 0; i < lc->nmodules; i++)
        kiln_module_free(lc->modules[i]);
    kiln_free(lc->modules);
    kiln_free(lc->defs);
    kiln_component_free(lc->model);
    kiln_free(lc->bytes);
    kiln_free(lc->name);
    kiln_free(lc);
}

const kiln_component *kiln_component_model(const kiln_loaded_component *lc)
{
    return lc->model;
}
size_t kiln_component_module_count(const kiln_loaded_component *lc)
{
    return lc->nmodules;
}
int kiln_component_was_cached(const kiln_loaded_component *lc)
{
    return lc->cached;
}
double kiln_component_compile_seconds(const kiln_loaded_component *lc)
{
    return lc->compile_seconds;
}
kiln_tier kiln_component_tier(const kiln_loaded_component *lc)
{
    return lc->nmodules ? kiln_module_tier(lc->modules[0]) : KILN_TIER_FAST;
}
