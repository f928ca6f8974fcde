/* module.c — the load pipeline: read → validate → link → (cache | wasm2c → compile →
 * cache) → dlopen → bind imports. See engine.h. */
#include "engine/cache.h"
#include "engine/codegen.h"
#include "engine/compiler.h"
#include "engine/engine.h"
#include "engine/module_internal.h"
#include "engine/wasm_reader.h"
#include "engine/wasm_rewrite.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/file.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void kiln_err_set(kiln_err *e, const char *fmt, ...)
{
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

const char *kiln_tier_name(kiln_tier t)
{
    return t == KILN_TIER_FAST ? "fast" : t == KILN_TIER_OPT ? "opt" : "auto";
}

int kiln_tier_parse(const char *s, kiln_tier *out)
{
    if (strcmp(s, "fast") == 0)
        *out = KILN_TIER_FAST;
    else if (strcmp(s, "opt") == 0)
        *out = KILN_TIER_OPT;
    else if (strcmp(s, "auto") == 0)
        *out = KILN_TIER_AUTO;
    else
        return -1;
    return 0;
}

const kiln_host_func *kiln_host_find(const kiln_host_module *m, const char *name)
{
    for (size_t i = 0; i < m->nfuncs; i++)
        if (strcmp(m->funcs[i].name, name) == 0) return &m->funcs[i];
    return NULL;
}

const char *kiln_extern_kind_name(kiln_extern_kind k)
{
    switch (k) {
    case KILN_EXTERN_FUNC:
        return "func";
    case KILN_EXTERN_TABLE:
        return "table";
    case KILN_EXTERN_MEMORY:
        return "memory";
    case KILN_EXTERN_GLOBAL:
        return "global";
    default:
        return "tag";
    }
}

const char *kiln_valtype_name(char letter)
{
    switch (letter) {
    case 'i':
        return "i32";
    case 'j':
        return "i64";
    case 'f':
        return "f32";
    case 'd':
        return "f64";
    case 'o':
        return "v128";
    case 'r':
        return "funcref";
    case 'e':
        return "externref";
    default:
        return "ref";
    }
}

/* Writes a signature "ij:f" as "(i32, i64) -> f32". */
static void describe_sig(kiln_buf *b, const char *sig)
{
    kiln_buf_putc(b, '(');
    const char *p = sig;
    for (; *p && *p != ':'; p++)
        kiln_buf_printf(b, "%s%s", p == sig ? "" : ", ", kiln_valtype_name(*p));
    kiln_buf_puts(b, ") -> (");
    if (*p == ':') p++;
    for (const char *r = p; *r; r++)
        kiln_buf_printf(b, "%s%s", r == p ? "" : ", ", kiln_valtype_name(*r));
    kiln_buf_putc(b, ')');
}

/* Copies the module's import declarations and checks each against the linker; lists
 * all missing ones in one message. */
static int link_imports(kiln_module *m, const kiln_wasm *w, const kiln_linker *linker,
                        kiln_buf *msg)
{
    int missing = 0;
    size_t n = w->nimports ? w->nimports : 1;
    m->import_fns = kiln_calloc(n, sizeof(kiln_fnptr));
    m->imports = kiln_calloc(n, sizeof *m->imports);
    if (!m->import_fns || !m->imports) return -1;
    for (uint32_t i = 0; i < w->nimports; i++) {
        const kiln_wasm_import *im = &w->imports[i];
        kiln_import *c = &m->imports[m->nimports++];
        c->kind = im->kind;
        if (!(c->module = kiln_strndup(im->module, im->module_len)) ||
            !(c->name = kiln_strndup(im->name, im->name_len)) || !(c->type = kiln_strdup(im->type)))
            return -1;
        kiln_import imp = {im->module, im->name, im->kind, im->type};
        kiln_fnptr fn = linker && linker->resolve ? linker->resolve(linker->ctx, &imp) : NULL;
        if (fn) {
            m->import_fns[i] = fn;
            continue;
        }
        missing++;
        kiln_buf_printf(msg, "\n  unknown import: \"%s\" \"%s\" %s ", im->module, im->name,
                        kiln_extern_kind_name(im->kind));
        if (im->kind == KILN_EXTERN_FUNC)
            describe_sig(msg, im->type);
        else
            kiln_buf_puts(msg, im->type);
    }
    return missing ? -1 : 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds the entry for the module's copy (wasm_rewrite.h) and tier into the cache.
 * Returns 0 or -1 with *err. */
static int build_entry(const char *name, const kiln_buf *copy, const kiln_wasm *w,
                       const kiln_rewrite_info *info, kiln_tier tier, kiln_mem_checks checks,
                       const char *dir, const char *key, int verbose, kiln_buf *err)
{
    kiln_buf c = KILN_BUF_INIT;
    int rc = -1;
    double t0 = now_seconds();
    if (kiln_codegen((const uint8_t *)copy->data, copy->len, w, info, tier == KILN_TIER_FAST,
                     checks, &c, err) < 0)
        goto out;
    double t1 = now_seconds();
    char *tmp = kiln_cache_temp_path(dir, key);
    if (!tmp) goto out;
    if (kiln_compile_c(tier, c.data, c.len, tmp, err) == 0 &&
        kiln_cache_commit(dir, key, tmp, err) == 0)
        rc = 0;
    else
        unlink(tmp);
    kiln_free(tmp);
    if (verbose && rc == 0)
        fprintf(stderr, "kiln: %s: wasm2c %.3fs (%zu KB of C), %s tier %.3fs\n", name, t1 - t0,
                c.len / 1024, kiln_tier_name(tier), now_seconds() - t1);
out:
    kiln_buf_free(&c);
    return rc;
}

/* Asks the glue once where the instance's own memories and tables are in its native
 * struct (m->mem_off etc.; the accessors only compute addresses). 0, or -1 with err. */
static int locate_own(kiln_module *m, kiln_buf *err)
{
    unsigned n[3] = {m->nmemories, m->nfuncref_tables, m->nexternref_tables};
    size_t *off[3] = {NULL, NULL, NULL};
    char *native = kiln_calloc(1, m->instance_size ? m->instance_size : 1);
    void **out = kiln_calloc((size_t)n[0] + n[1] + n[2] + 1, sizeof *out);
    int ok = native && out;
    for (int k = 0; k < 3 && ok; k++)
        ok = (off[k] = kiln_calloc((size_t)n[k] + 1, sizeof *off[k])) != NULL;
    if (ok) {
        m->g_memories(native, (wasm_rt_memory_t **)out);
        m->g_funcref_tables(native, (wasm_rt_funcref_table_t **)(out + n[0]));
        m->g_externref_tables(native, (wasm_rt_externref_table_t **)(out + n[0] + n[1]));
    }
    static const size_t sizes[3] = {sizeof(wasm_rt_memory_t), sizeof(wasm_rt_funcref_table_t),
                                    sizeof(wasm_rt_externref_table_t)};
    for (int k = 0, at = 0; k < 3 && ok; at += (int)n[k], k++)
        for (unsigned i = 0; i < n[k] && ok; i++) {
            uintptr_t p = (uintptr_t)out[at + i], lo = (uintptr_t)native;
            ok = p >= lo && p - lo <= m->instance_size - sizes[k];
            if (ok) off[k][i] = (size_t)(p - lo);
        }
    kiln_free(native);
    kiln_free(out);
    if (!ok) {
        for (int k = 0; k < 3; k++)
            kiln_free(off[k]);
        kiln_buf_puts(err, off[2] ? "compiled module's image glue names memory outside its instance"
                                  : "out of memory");
        return -1;
    }
    m->mem_off = off[0];
    m->ft_off = off[1];
    m->et_off = off[2];
    return 0;
}

/* dlopens the verified entry (at entry_path) and finds Kiln's glue in it. The glue has
 * no writable state of its own (imports are bound per instance, engine.h), so every
 * module loaded from the same entry shares one dlopen handle, refcounted by libdl. */
static int bind_glue(kiln_module *m, const char *entry_path, const kiln_wasm *w, kiln_buf *err)
{
    m->dl = dlopen(entry_path, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        const char *e = dlerror();
        kiln_buf_printf(err, "cannot load compiled module: %s", e ? e : "out of memory");
        return -1;
    }
    const unsigned *abi = dlsym(m->dl, "kiln_glue_abi");
    const size_t *isize = dlsym(m->dl, "kiln_glue_instance_size");
    const unsigned *nimports = dlsym(m->dl, "kiln_glue_nimports");
    m->g_init_module = (void (*)(void))dlsym(m->dl, "kiln_glue_init_module");
    m->g_instantiate = (void (*)(void *, kiln_binding *))dlsym(m->dl, "kiln_glue_instantiate");
    m->g_free = (void (*)(void *))dlsym(m->dl, "kiln_glue_free");
    m->g_calls = dlsym(m->dl, "kiln_glue_calls");
    m->g_export_fns = dlsym(m->dl, "kiln_glue_export_fns");
    if (!abi || *abi != KILN_ABI_VERSION || !isize || !nimports || *nimports != w->nimports ||
        !m->g_init_module || !m->g_instantiate || !m->g_free || !m->g_calls || !m->g_export_fns) {
        kiln_buf_puts(err, "compiled module lacks Kiln's glue or has another ABI version");
        return -1;
    }
    const unsigned *nmem = dlsym(m->dl, "kiln_glue_nmemories");
    const unsigned *nft = dlsym(m->dl, "kiln_glue_nfuncref_tables");
    const unsigned *net = dlsym(m->dl, "kiln_glue_nexternref_tables");
    m->g_memories = (void (*)(void *, wasm_rt_memory_t **))dlsym(m->dl, "kiln_glue_memories");
    m->g_funcref_tables =
        (void (*)(void *, wasm_rt_funcref_table_t **))dlsym(m->dl, "kiln_glue_funcref_tables");
    m->g_externref_tables =
        (void (*)(void *, wasm_rt_externref_table_t **))dlsym(m->dl, "kiln_glue_externref_tables");
    m->g_rebind = (void (*)(void *, kiln_binding *))dlsym(m->dl, "kiln_glue_rebind");
    m->g_funcref_private = dlsym(m->dl, "kiln_glue_funcref_private");
    if (!nmem || !nft || !net || !m->g_memories || !m->g_funcref_tables || !m->g_externref_tables ||
        !m->g_rebind || !m->g_funcref_private) {
        kiln_buf_puts(err, "compiled module lacks Kiln's image glue");
        return -1;
    }
    const unsigned *nglobals = dlsym(m->dl, "kiln_glue_nglobals");
    const unsigned *nelem_inits = dlsym(m->dl, "kiln_glue_nelem_inits");
    m->g_global_offsets = dlsym(m->dl, "kiln_glue_global_offsets");
    m->g_start = (void (*)(void *))dlsym(m->dl, "kiln_glue_start");
    m->g_elem_init = (void (*)(void *, unsigned, uint32_t))dlsym(m->dl, "kiln_glue_elem_init");
    if (!nglobals || *nglobals != w->nglobals || !nelem_inits || *nelem_inits != m->plan->nelems ||
        !m->g_global_offsets || !m->g_start || !m->g_elem_init) {
        kiln_buf_puts(err, "compiled module lacks Kiln's instantiation glue");
        return -1;
    }
    m->nmemories = *nmem;
    m->nfuncref_tables = *nft;
    m->nexternref_tables = *net;
    m->instance_size = *isize;
    return locate_own(m, err);
}

static void init_module_tramp(void *arg)
{
    ((void (*)(void))arg)();
}

/* Copies what outlives the kiln_wasm: export descriptions. */
static int copy_exports(kiln_module *m, const kiln_wasm *w)
{
    m->nexports = w->nexports;
    m->exports = kiln_calloc(w->nexports ? w->nexports : 1, sizeof *m->exports);
    if (!m->exports) return -1;
    for (uint32_t i = 0; i < w->nexports; i++) {
        m->exports[i].name = kiln_strndup(w->exports[i].name, w->exports[i].name_len);
        m->exports[i].name_len = w->exports[i].name_len;
        m->exports[i].type = kiln_strdup(w->exports[i].type);
        m->exports[i].kind = w->exports[i].kind;
        if (!m->exports[i].name || !m->exports[i].type) return -1;
    }
    return 0;
}

static kiln_module *load(const char *name, const uint8_t *bytes, size_t len,
                         const kiln_compile_opts *opts, const kiln_linker *linker, kiln_err *e)
{
    kiln_compile_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (kiln_rt_init() < 0) {
        kiln_err_set(e, "%s: cannot initialize the runtime", name);
        return NULL;
    }
    char rerr[512];
    kiln_wasm *w = kiln_wasm_read(bytes, len, rerr, sizeof rerr);
    if (!w) {
        kiln_err_set(e, "%s: %s", name, rerr);
        return NULL;
    }
    kiln_module *m = kiln_calloc(1, sizeof *m);
    kiln_buf err = KILN_BUF_INIT, copy = KILN_BUF_INIT;
    int fd = -1;
    if (!m) {
        kiln_buf_puts(&err, "out of memory");
        goto fail;
    }
    if (link_imports(m, w, linker, &err) < 0) {
        kiln_err_set(e, "%s: the module needs imports that Kiln does not provide:%s", name,
                     err.data ? err.data : " (out of memory)");
        kiln_buf_free(&err);
        kiln_module_free(m);
        kiln_wasm_free(w);
        return NULL;
    }
    if (copy_exports(m, w) < 0) {
        kiln_buf_puts(&err, "out of memory");
        goto fail;
    }
    /* What wasm2c compiles, and what Kiln applies at instantiation (wasm_rewrite.h). */
    kiln_rewrite_info info;
    if (kiln_wasm_rewrite(bytes, len, w, &copy, &m->plan, &info, &err) < 0) {
        char *why = kiln_buf_steal(&err);
        kiln_buf_printf(&err, "invalid module: %s", why ? why : "out of memory");
        kiln_free(why);
        goto fail;
    }
    char dir[4096];
    if (kiln_cache_prepare(opts, dir, sizeof dir, &err) < 0) goto fail;
    kiln_tier tier = opts->tier;
    kiln_mem_checks checks = kiln_mem_checks_resolve(opts->memory_checks);
    m->checks = checks;
    char key[KILN_CACHE_KEY_HEX];
    kiln_buf note = KILN_BUF_INIT;
    if (tier == KILN_TIER_AUTO) {
        kiln_cache_key((const uint8_t *)copy.data, copy.len, KILN_TIER_OPT, checks, key);
        fd = kiln_cache_open(dir, key, &note);
        tier = fd >= 0 ? KILN_TIER_OPT : KILN_TIER_FAST;
    }
    if (fd < 0) {
        kiln_cache_key((const uint8_t *)copy.data, copy.len, tier, checks, key);
        fd = kiln_cache_open(dir, key, &note);
    }
    if (note.len && opts->verbose) fprintf(stderr, "kiln: %s\n", note.data);
    kiln_buf_free(&note);
    m->tier = tier;
    m->cached = fd >= 0;
    char entry[4200]; /* dir (< 4096) + "/" + key + ".so" */
    snprintf(entry, sizeof entry, "%s/%s.so", dir, key);
    for (;;) {
        if (fd < 0) {
            double t0 = now_seconds();
            if (build_entry(name, &copy, w, &info, tier, checks, dir, key, opts->verbose, &err) < 0)
                goto fail;
            m->compile_seconds = now_seconds() - t0;
            fd = kiln_cache_open(dir, key, NULL);
            if (fd < 0) {
                kiln_buf_puts(&err, "the cache entry just written cannot be read back");
                goto fail;
            }
        }
        if (bind_glue(m, entry, w, &err) == 0) break;
        if (!m->cached) goto fail;
        /* A cached entry that does not load (made by an older Kiln, or damaged in a way
         * the checksum cannot see): drop it and build it again, once. */
        if (opts->verbose)
            fprintf(stderr, "kiln: %s: cached build does not load (%s); rebuilding\n", name,
                    err.data);
        kiln_buf_reset(&err);
        close(fd);
        fd = -1;
        if (m->dl) dlclose(m->dl);
        m->dl = NULL;
        m->cached = 0;
        unlink(entry);
    }
    close(fd);
    fd = -1;
    kiln_trap trap;
    if (kiln_rt_call(init_module_tramp, (void *)m->g_init_module, &trap) < 0) {
        kiln_buf_printf(&err, "module initialization failed: %s", kiln_trap_message(&trap));
        goto fail;
    }
    kiln_wasm_free(w);
    kiln_buf_free(&copy);
    return m;
fail:
    kiln_err_set(e, "%s: %s", name, err.data ? err.data : "out of memory");
    kiln_buf_free(&err);
    if (fd >= 0) close(fd);
    kiln_module_free(m);
    kiln_wasm_free(w);
    kiln_buf_free(&copy);
    return NULL;
}

kiln_module *kiln_module_load_bytes(const char *name, const uint8_t *bytes, size_t len,
                                    const kiln_compile_opts *opts, const kiln_linker *linker,
                                    kiln_err *err)
{
    return load(name, bytes, len, opts, linker, err);
}

kiln_module *kiln_module_load_file(const char *path, const kiln_compile_opts *opts,
                                   const kiln_linker *linker, kiln_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kiln_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        kiln_err_set(e, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *bytes = kiln_malloc(len ? len : 1);
    if (!bytes) {
        kiln_err_set(e, "%s: out of memory reading %zu bytes", path, len);
        close(fd);
        return NULL;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = read(fd, bytes + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    kiln_module *m = load(path, bytes, off, opts, linker, e);
    kiln_free(bytes);
    return m;
}

void kiln_module_free(kiln_module *m)
{
    if (!m) return;
    if (m->dl) dlclose(m->dl);
    for (size_t i = 0; i < m->nimports; i++) {
        kiln_free((char *)m->imports[i].module);
        kiln_free((char *)m->imports[i].name);
        kiln_free((char *)m->imports[i].type);
    }
    kiln_free(m->imports);
    for (size_t i = 0; i < m->nexports && m->exports; i++) {
        kiln_free((char *)m->exports[i].name);
        kiln_free((char *)m->exports[i].type);
    }
    kiln_free(m->exports);
    kiln_free(m->import_fns);
    kiln_free(m->mem_off);
    kiln_free(m->ft_off);
    kiln_free(m->et_off);
    kiln_init_plan_free(m->plan);
    kiln_free(m);
}

kiln_tier kiln_module_tier(const kiln_module *m)
{
    return m->tier;
}

kiln_mem_checks kiln_module_memory_checks(const kiln_module *m)
{
    return m->checks;
}

int kiln_module_was_cached(const kiln_module *m)
{
    return m->cached;
}

double kiln_module_compile_seconds(const kiln_module *m)
{
    return m->compile_seconds;
}

size_t kiln_module_import_count(const kiln_module *m)
{
    return m->nimports;
}

const kiln_import *kiln_module_import(const kiln_module *m, size_t i)
{
    return i < m->nimports ? &m->imports[i] : NULL;
}

kiln_fnptr kiln_module_import_fn(const kiln_module *m, size_t i)
{
    return i < m->nimports ? m->import_fns[i] : NULL;
}

size_t kiln_module_export_count(const kiln_module *m)
{
    return m->nexports;
}

const kiln_export_info *kiln_module_export(const kiln_module *m, size_t i)
{
    return i < m->nexports ? &m->exports[i] : NULL;
}

long kiln_module_export_index_n(const kiln_module *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->nexports; i++)
        if (m->exports[i].name_len == len && memcmp(m->exports[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

long kiln_module_export_index(const kiln_module *m, const char *name)
{
    return kiln_module_export_index_n(m, name, strlen(name));
}

kiln_fnptr kiln_module_export_fn(const kiln_module *m, long i)
{
    return i >= 0 && (size_t)i < m->nexports ? m->g_export_fns[i] : NULL;
}
