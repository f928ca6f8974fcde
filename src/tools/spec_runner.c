/* spec_runner.c — runs the WebAssembly spec tests against Kiln's engine.
 *
 *   spec-runner [--tier fast|opt] [--cache-dir D] [--exclude F] [-j N] [--timeout S]
 *               [--no-fork] [--verbose] FILE.json...
 *
 * Each FILE.json is the output of `wast2json x.wast -o FILE.json` (the .wasm modules sit
 * next to it). Every command counts once: passed, failed, or skipped (text-format
 * modules, which Kiln cannot consume, and commands excluded by --exclude). Each file
 * runs in a child process (up to -j at once), so that an engine crash or hang costs one
 * file, not the run; its counters live in shared memory and the commands it did not
 * reach count as failed; a command running longer than --timeout seconds (default 60;
 * a compile included) kills its file's child the same way. Failures go to stderr, at most 10 per
 * file unless --verbose. The last line on stdout is `spec (TIER): N passed, N failed, N skipped`;
 * --verbose adds `FILE: N passed, N failed, N skipped` per file before it.
 *
 * The "spectest" host module and `register`ed instances are provided by this file's
 * linker; values are compared bit-exactly (NaN patterns as the spec defines them). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/suite.h"

typedef struct options {
    kiln_compile_opts copts;
    kiln_suite_opts s; /* verbose, jobs, no_fork, timeout, exclusions */
} options;

/* A module instance of the script (named or not). */
typedef struct instrec {
    char *name; /* "$M" or NULL */
    kiln_module *mod;
    kiln_instance *inst;
} instrec;

typedef struct regrec {
    char *as;
    instrec *rec;
} regrec;

/* The state of one file's run (in the child). */
typedef struct runner {
    const options *opt;
    const char *json_path;
    char *dir;       /* folder of the .json (where the .wasm files are) */
    char *wast;      /* base name of the source .wast, for exclusions and messages */
    instrec **insts; /* every instance created, freed at the end */
    size_t ninsts, capinsts;
    regrec *regs;
    size_t nregs, capregs;
    instrec *current;
    kiln_suite_slot *slot; /* aux: text-format modules skipped */
    long line;
    long shown;
    int force; /* report even beyond the limit (module failures: root causes) */
} runner;

/* ---- the "spectest" host module ------------------------------------------------- */

static uint32_t st_global_i32 = 666;
static uint64_t st_global_i64 = 666;
static float st_global_f32 = 666.6f;
static double st_global_f64 = 666.6;
static wasm_rt_memory_t st_memory;
static wasm_rt_funcref_table_t st_table;
static int st_allocated;

static void st_print(void *ctx) {}
static void st_print_i32(void *ctx, uint32_t a) {}
static void st_print_i64(void *ctx, uint64_t a) {}
static void st_print_f32(void *ctx, float a) {}
static void st_print_f64(void *ctx, double a) {}
static void st_print_i32_f32(void *ctx, uint32_t a, float b) {}
static void st_print_f64_f64(void *ctx, double a, double b) {}
static void *st_acc_global_i32(void *ctx)
{
    return &st_global_i32;
}
static void *st_acc_global_i64(void *ctx)
{
    return &st_global_i64;
}
static void *st_acc_global_f32(void *ctx)
{
    return &st_global_f32;
}
static void *st_acc_global_f64(void *ctx)
{
    return &st_global_f64;
}
static void *st_acc_memory(void *ctx)
{
    return &st_memory;
}
static void *st_acc_table(void *ctx)
{
    return &st_table;
}

typedef struct st_entry {
    const char *name;
    kiln_extern_kind kind;
    const char *type; /* functions and globals: exact type; memory/table: limits */
    kiln_fnptr fn;
} st_entry;

static const st_entry spectest[] = {
    {"print", KILN_EXTERN_FUNC, ":", (kiln_fnptr)st_print},
    {"print_i32", KILN_EXTERN_FUNC, "i:", (kiln_fnptr)st_print_i32},
    {"print_i64", KILN_EXTERN_FUNC, "j:", (kiln_fnptr)st_print_i64},
    {"print_f32", KILN_EXTERN_FUNC, "f:", (kiln_fnptr)st_print_f32},
    {"print_f64", KILN_EXTERN_FUNC, "d:", (kiln_fnptr)st_print_f64},
    {"print_i32_f32", KILN_EXTERN_FUNC, "if:", (kiln_fnptr)st_print_i32_f32},
    {"print_f64_f64", KILN_EXTERN_FUNC, "dd:", (kiln_fnptr)st_print_f64_f64},
    {"global_i32", KILN_EXTERN_GLOBAL, "i", (kiln_fnptr)st_acc_global_i32},
    {"global_i64", KILN_EXTERN_GLOBAL, "j", (kiln_fnptr)st_acc_global_i64},
    {"global_f32", KILN_EXTERN_GLOBAL, "f", (kiln_fnptr)st_acc_global_f32},
    {"global_f64", KILN_EXTERN_GLOBAL, "d", (kiln_fnptr)st_acc_global_f64},
    {"memory", KILN_EXTERN_MEMORY, "", (kiln_fnptr)st_acc_memory},
    {"table", KILN_EXTERN_TABLE, "", (kiln_fnptr)st_acc_table},
};

/* ---- small helpers ---------------------------------------------------------------- */

/* Reports one failure of the current command (at most 10 per file unless verbose). */
static void report(runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(runner *r, const char *fmt, ...)
{
    if (!r->opt->s.verbose && r->shown >= 10 && !r->force) {
        if (r->shown++ == 10) fprintf(stderr, "%s: more failures not shown\n", r->wast);
        return;
    }
    r->shown++;
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_buf_printf(&b, "%s:%ld: ", r->wast, r->line);
    kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.data) fprintf(stderr, "%s\n", b.data);
    kiln_buf_free(&b);
}

/* Reads a whole file into a NUL-terminated allocation. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    kiln_buf b = KILN_BUF_INIT;
    char chunk[65536];
    size_t n;
    int ok = 1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (kiln_buf_append(&b, chunk, n) != 0) {
            ok = 0;
            break;
        }
    if (ferror(f)) ok = 0;
    fclose(f);
    *len = b.len;
    char *s = ok ? kiln_buf_steal(&b) : NULL;
    kiln_buf_free(&b);
    return s;
}

/* Parses "min max" / "min -" (optionally after a reftype letter and a space). */
static int parse_limits(const char *s, char *reftype, uint64_t *min, uint64_t *max, int *has_max)
{
    *reftype = 0;
    if ((s[0] == 'r' || s[0] == 'e') && s[1] == ' ') {
        *reftype = s[0];
        s += 2;
    }
    char *end;
    errno = 0;
    *min = strtoull(s, &end, 10);
    if (end == s || errno) return -1;
    while (*end == ' ')
        end++;
    if (*end == '-' && end[1] == '\0') {
        *has_max = 0;
        *max = 0;
        return 0;
    }
    const char *m = end;
    *max = strtoull(m, &end, 10);
    if (end == m || errno || *end) return -1;
    *has_max = 1;
    return 0;
}

/* Import limits (from the importing module's type string) against what is provided:
 * the provided current size must cover min, and a max is needed and must fit. */
static int limits_ok(const char *import_type, char provided_ref, uint64_t cur, int prov_has_max,
                     uint64_t prov_max)
{
    char ref;
    uint64_t min, max;
    int has_max;
    if (parse_limits(import_type, &ref, &min, &max, &has_max) != 0) return 0;
    if (ref && provided_ref && ref != provided_ref) return 0;
    if (cur < min) return 0;
    if (has_max && (!prov_has_max || prov_max > max)) return 0;
    return 1;
}

/* ---- the linker -------------------------------------------------------------------- */

/* The registered instance named `as` (the latest registration wins). */
static instrec *find_registered(runner *r, const char *as)
{
    for (size_t i = r->nregs; i-- > 0;)
        if (strcmp(r->regs[i].as, as) == 0) return r->regs[i].rec;
    return NULL;
}

/* Resolves "spectest" imports and imports from registered instances, checking types. */
static kiln_fnptr resolve(void *ctx, const kiln_import *imp)
{
    runner *r = ctx;
    if (strcmp(imp->module, "spectest") == 0) {
        for (size_t i = 0; i < sizeof spectest / sizeof spectest[0]; i++) {
            const st_entry *e = &spectest[i];
            if (strcmp(e->name, imp->name) != 0) continue;
            if (e->kind != imp->kind) return NULL;
            if (e->kind == KILN_EXTERN_MEMORY)
                return limits_ok(imp->type, 0, st_memory.pages, 1, st_memory.max_pages) ? e->fn
                                                                                        : NULL;
            if (e->kind == KILN_EXTERN_TABLE)
                return limits_ok(imp->type, 'r', st_table.size, 1, st_table.max_size) ? e->fn
                                                                                      : NULL;
            return strcmp(e->type, imp->type) == 0 ? e->fn : NULL;
        }
        return NULL;
    }
    instrec *rec = find_registered(r, imp->module);
    if (!rec) return NULL;
    long idx = kiln_module_export_index(rec->mod, imp->name);
    if (idx < 0) return NULL;
    const kiln_export_info *ex = kiln_module_export(rec->mod, (size_t)idx);
    if (!ex || ex->kind != imp->kind) return NULL;
    if (ex->kind == KILN_EXTERN_MEMORY) {
        const wasm_rt_memory_t *m = kiln_instance_export_ptr(rec->inst, idx);
        if (!m) return NULL;
        int has_max = m->max_pages != UINT32_MAX;
        if (!limits_ok(imp->type, 0, m->pages, has_max, m->max_pages)) return NULL;
    } else if (ex->kind == KILN_EXTERN_TABLE) {
        /* Both table kinds share the layout {data, max_size, size}. The element type
         * comes from the export's type ("r ..." / "e ..."), when the engine gives one. */
        const wasm_rt_funcref_table_t *t = kiln_instance_export_ptr(rec->inst, idx);
        if (!t) return NULL;
        char ref = (ex->type[0] == 'r' || ex->type[0] == 'e') ? ex->type[0] : 0;
        int has_max = t->max_size != UINT32_MAX;
        if (!limits_ok(imp->type, ref, t->size, has_max, t->max_size)) return NULL;
    } else if (strcmp(ex->type, imp->type) != 0) {
        return NULL;
    }
    return kiln_module_export_fn(rec->mod, idx);
}

/* The binding of one import that resolve() accepted: a spectest host function with the
 * runner as context, a spectest memory/table/global, or a registered instance's export
 * (its functions are guest code, called with that instance). */
static void bind_import(runner *r, const kiln_import *imp, kiln_fnptr fn, kiln_binding *out)
{
    *out = (kiln_binding){fn, r, KILN_BIND_HOST};
    if (strcmp(imp->module, "spectest") == 0) {
        if (imp->kind != KILN_EXTERN_FUNC) out->ctx = ((void *(*)(void *))fn)(r);
        return;
    }
    instrec *rec = find_registered(r, imp->module);
    long idx = rec ? kiln_module_export_index(rec->mod, imp->name) : -1;
    if (idx < 0) return;
    if (imp->kind == KILN_EXTERN_FUNC)
        *out = (kiln_binding){kiln_module_export_fn(rec->mod, idx), kiln_instance_native(rec->inst),
                              KILN_BIND_GUEST};
    else
        *out = (kiln_binding){NULL, kiln_instance_export_ptr(rec->inst, idx), KILN_BIND_HOST};
}

/* Allocates the spectest memory and table (once per child process). */
static void spectest_init(void)
{
    if (st_allocated) return;
    wasm_rt_allocate_memory(&st_memory, 1, 2);
    wasm_rt_allocate_funcref_table(&st_table, 10, 20);
    st_allocated = 1;
}

static void spectest_free(void)
{
    if (!st_allocated) return;
    wasm_rt_free_memory(&st_memory);
    wasm_rt_free_funcref_table(&st_table);
    st_allocated = 0;
}

/* ---- modules and instances --------------------------------------------------------- */

/* Remembers an instance (for lookup by name and for freeing). Returns NULL when out of
 * memory (the module and instance are freed then). */
static instrec *add_instance(runner *r, const char *name, kiln_module *mod, kiln_instance *inst)
{
    instrec *rec = kiln_calloc(1, sizeof *rec);
    char *nm = name ? kiln_strdup(name) : NULL;
    if (r->ninsts == r->capinsts) {
        size_t ncap = r->capinsts ? r->capinsts * 2 : 16;
        instrec **n = kiln_realloc(r->insts, ncap * sizeof *n);
        if (n) {
            r->insts = n;
            r->capinsts = ncap;
        }
    }
    if (!rec || (name && !nm) || r->ninsts == r->capinsts) {
        kiln_free(rec);
        kiln_free(nm);
        if (inst) kiln_instance_free(inst);
        kiln_module_free(mod);
        return NULL;
    }
    rec->name = nm;
    rec->mod = mod;
    rec->inst = inst;
    r->insts[r->ninsts++] = rec;
    return rec;
}

/* Joins the JSON's folder and a module file name. */
static char *module_path(runner *r, const char *filename)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s/%s", r->dir, filename) != 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

typedef enum inst_status {
    INST_OK = 0,
    INST_LOAD_FAILED, /* err filled */
    INST_TRAPPED,     /* trap filled; the instance is kept alive (tables may point in) */
} inst_status;

/* Loads, links and instantiates a module file. On INST_OK *out is the new instance. */
static inst_status instantiate(runner *r, const char *filename, const char *name, instrec **out,
                               kiln_trap *trap, kiln_err *err)
{
    *out = NULL;
    memset(trap, 0, sizeof *trap);
    err->msg[0] = '\0';
    char *path = module_path(r, filename);
    if (!path) {
        kiln_err_set(err, "out of memory");
        return INST_LOAD_FAILED;
    }
    kiln_linker linker = {resolve, r};
    kiln_module *mod = kiln_module_load_file(path, &r->opt->copts, &linker, err);
    kiln_free(path);
    if (!mod) {
        if (!err->msg[0]) kiln_err_set(err, "%s: load failed (no message)", filename);
        return INST_LOAD_FAILED;
    }
    size_t nimp = kiln_module_import_count(mod);
    kiln_binding *b = kiln_calloc(nimp ? nimp : 1, sizeof *b);
    kiln_instance *inst = b ? kiln_instance_alloc(mod) : NULL;
    if (!inst) {
        kiln_free(b);
        kiln_module_free(mod);
        kiln_err_set(err, "%s: cannot allocate an instance", filename);
        return INST_LOAD_FAILED;
    }
    for (size_t i = 0; i < nimp; i++)
        bind_import(r, kiln_module_import(mod, i), kiln_module_import_fn(mod, i), &b[i]);
    int rc = kiln_instance_init(inst, b, trap);
    kiln_free(b);
    instrec *rec = add_instance(r, rc == 0 ? name : NULL, mod, inst);
    if (!rec) {
        kiln_err_set(err, "%s: out of memory", filename);
        return INST_LOAD_FAILED;
    }
    if (rc != 0) return INST_TRAPPED;
    *out = rec;
    return INST_OK;
}

/* The instance an action or register refers to (named, or the current one). */
static instrec *lookup(runner *r, const char *name)
{
    if (!name) return r->current;
    for (size_t i = r->ninsts; i-- > 0;)
        if (r->insts[i]->name && strcmp(r->insts[i]->name, name) == 0) return r->insts[i];
    return NULL;
}

/* ---- values ------------------------------------------------------------------------ */

typedef enum nan_kind { NAN_NONE = 0, NAN_CANONICAL, NAN_ARITHMETIC } nan_kind;

/* A value of a command: its type letter (as in signatures) and value or NaN pattern. */
typedef struct spec_val {
    char type;
    nan_kind nan;
    kiln_val v;
} spec_val;

/* The signature letter of a JSON value type name; 0 if unsupported (v128). */
static char type_letter(const char *t)
{
    if (!t) return 0;
    if (strcmp(t, "i32") == 0) return 'i';
    if (strcmp(t, "i64") == 0) return 'j';
    if (strcmp(t, "f32") == 0) return 'f';
    if (strcmp(t, "f64") == 0) return 'd';
    if (strcmp(t, "funcref") == 0) return 'r';
    if (strcmp(t, "externref") == 0) return 'e';
    return 0;
}

/* Parses {"type": T, "value": V} into *out. Returns 0, or -1 with a message. */
static int parse_value(const kiln_json *j, spec_val *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    const char *t = kiln_json_get_str(j, "type");
    const char *v = kiln_json_get_str(j, "value");
    out->type = type_letter(t);
    if (!out->type || !v) {
        snprintf(msg, msglen, "unsupported value type %s", t ? t : "(none)");
        return -1;
    }
    if (strcmp(v, "nan:canonical") == 0) {
        out->nan = NAN_CANONICAL;
        return 0;
    }
    if (strcmp(v, "nan:arithmetic") == 0) {
        out->nan = NAN_ARITHMETIC;
        return 0;
    }
    if (strcmp(v, "null") == 0 && (out->type == 'r' || out->type == 'e')) {
        if (out->type == 'r')
            out->v.funcref = wasm_rt_funcref_null_value;
        else
            out->v.externref = NULL;
        return 0;
    }
    char *end;
    errno = 0;
    uint64_t n = v[0] == '-' ? (uint64_t)strtoll(v, &end, 10) : strtoull(v, &end, 10);
    if (end == v || *end || errno) {
        snprintf(msg, msglen, "bad value \"%s\"", v);
        return -1;
    }
    uint32_t u32 = (uint32_t)n;
    switch (out->type) {
    case 'i':
        out->v.i32 = u32;
        break;
    case 'j':
        out->v.i64 = n;
        break;
    case 'f':
        memcpy(&out->v.f32, &u32, 4);
        break;
    case 'd':
        memcpy(&out->v.f64, &n, 8);
        break;
    case 'e':
        out->v.externref = (wasm_rt_externref_t)(uintptr_t)(n + 1);
        break; /* != null */
    case 'r':
        snprintf(msg, msglen, "non-null funcref constants are not supported");
        return -1;
    }
    return 0;
}

/* Appends a readable form of value v of type `type` to b. */
static void format_val(kiln_buf *b, char type, const kiln_val *v)
{
    uint32_t u32;
    uint64_t u64;
    switch (type) {
    case 'i':
        kiln_buf_printf(b, "i32:%" PRIu32, v->i32);
        break;
    case 'j':
        kiln_buf_printf(b, "i64:%" PRIu64, v->i64);
        break;
    case 'f':
        memcpy(&u32, &v->f32, 4);
        kiln_buf_printf(b, "f32:0x%08" PRIx32 " (%g)", u32, (double)v->f32);
        break;
    case 'd':
        memcpy(&u64, &v->f64, 8);
        kiln_buf_printf(b, "f64:0x%016" PRIx64 " (%g)", u64, v->f64);
        break;
    case 'r':
        kiln_buf_printf(b, "funcref:%s", v->funcref.func ? "non-null" : "null");
        break;
    case 'e':
        if (!v->externref)
            kiln_buf_puts(b, "externref:null");
        else
            kiln_buf_printf(b, "externref:%" PRIuPTR, (uintptr_t)v->externref - 1);
        break;
    default:
        kiln_buf_printf(b, "?%c", type);
        break;
    }
}

/* Whether a result matches the expected value (bit-exact; NaN patterns per the spec). */
static int val_matches(const spec_val *want, const kiln_val *got)
{
    uint32_t g32;
    uint64_t g64;
    switch (want->type) {
    case 'i':
        return got->i32 == want->v.i32;
    case 'j':
        return got->i64 == want->v.i64;
    case 'f':
        memcpy(&g32, &got->f32, 4);
        if (want->nan == NAN_CANONICAL) return (g32 & 0x7fffffffu) == 0x7fc00000u;
        if (want->nan == NAN_ARITHMETIC) return (g32 & 0x7fc00000u) == 0x7fc00000u;
        return memcmp(&got->f32, &want->v.f32, 4) == 0;
    case 'd':
        memcpy(&g64, &got->f64, 8);
        if (want->nan == NAN_CANONICAL)
            return (g64 & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
        if (want->nan == NAN_ARITHMETIC)
            return (g64 & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
        return memcmp(&got->f64, &want->v.f64, 8) == 0;
    case 'r':
        return (got->funcref.func == NULL) == (want->v.funcref.func == NULL);
    case 'e':
        return got->externref == want->v.externref;
    }
    return 0;
}

/* ---- actions ----------------------------------------------------------------------- */

typedef enum act_status { ACT_OK = 0, ACT_TRAP, ACT_ERROR } act_status;

typedef struct act_result {
    act_status status;
    kiln_trap trap;
    kiln_val *vals;    /* results (allocated) */
    const char *types; /* result type letters (points into the export's type string) */
    size_t n;
    char msg[512]; /* ACT_ERROR */
} act_result;

/* Finds the export `field` of `rec` (names may contain NUL bytes). */
static long find_export(instrec *rec, const kiln_json *field)
{
    if (!field || field->type != KILN_JSON_STRING) return -1;
    return kiln_module_export_index_n(rec->mod, field->str, field->len);
}

/* Runs an "invoke" or "get" action. The caller frees res->vals. */
static void run_action(runner *r, const kiln_json *action, act_result *res)
{
    memset(res, 0, sizeof *res);
    res->status = ACT_ERROR;
    const char *type = kiln_json_get_str(action, "type");
    const char *modname = kiln_json_get_str(action, "module");
    const kiln_json *field = kiln_json_get(action, "field");
    const char *fname = field && field->type == KILN_JSON_STRING ? field->str : "?";
    instrec *rec = lookup(r, modname);
    if (!rec || !rec->inst) {
        snprintf(res->msg, sizeof res->msg, "no module %s", modname ? modname : "(current)");
        return;
    }
    long idx = find_export(rec, field);
    const kiln_export_info *ex = idx >= 0 ? kiln_module_export(rec->mod, (size_t)idx) : NULL;
    if (!ex) {
        snprintf(res->msg, sizeof res->msg, "no export \"%s\"", fname);
        return;
    }
    if (type && strcmp(type, "get") == 0) {
        if (ex->kind != KILN_EXTERN_GLOBAL) {
            snprintf(res->msg, sizeof res->msg, "export \"%s\" is not a global", fname);
            return;
        }
        const void *p = kiln_instance_export_ptr(rec->inst, idx);
        size_t tl = strlen(ex->type);
        res->vals = kiln_calloc(1, sizeof *res->vals);
        if (!p || tl == 0 || !res->vals) {
            snprintf(res->msg, sizeof res->msg, "global \"%s\": no value", fname);
            return;
        }
        res->types = ex->type + tl - 1;
        res->n = 1;
        switch (*res->types) {
        case 'i':
            memcpy(&res->vals[0].i32, p, 4);
            break;
        case 'j':
            memcpy(&res->vals[0].i64, p, 8);
            break;
        case 'f':
            memcpy(&res->vals[0].f32, p, 4);
            break;
        case 'd':
            memcpy(&res->vals[0].f64, p, 8);
            break;
        case 'r':
            memcpy(&res->vals[0].funcref, p, sizeof(wasm_rt_funcref_t));
            break;
        case 'e':
            memcpy(&res->vals[0].externref, p, sizeof(wasm_rt_externref_t));
            break;
        default:
            snprintf(res->msg, sizeof res->msg, "global \"%s\": unsupported type %s", fname,
                     ex->type);
            return;
        }
        res->status = ACT_OK;
        return;
    }
    if (!type || strcmp(type, "invoke") != 0) {
        snprintf(res->msg, sizeof res->msg, "unknown action type %s", type ? type : "(none)");
        return;
    }
    if (ex->kind != KILN_EXTERN_FUNC) {
        snprintf(res->msg, sizeof res->msg, "export \"%s\" is not a function", fname);
        return;
    }
    const char *colon = strchr(ex->type, ':');
    if (!colon) {
        snprintf(res->msg, sizeof res->msg, "export \"%s\": bad type \"%s\"", fname, ex->type);
        return;
    }
    size_t nparams = (size_t)(colon - ex->type), nresults = strlen(colon + 1);
    const kiln_json *args = kiln_json_get(action, "args");
    size_t nargs = args && args->type == KILN_JSON_ARRAY ? args->count : 0;
    if (nargs != nparams) {
        snprintf(res->msg, sizeof res->msg, "\"%s\" takes %zu arguments, %zu given", fname, nparams,
                 nargs);
        return;
    }
    size_t nv = nparams > nresults ? nparams : nresults;
    res->vals = kiln_calloc(nv ? nv : 1, sizeof *res->vals);
    if (!res->vals) {
        snprintf(res->msg, sizeof res->msg, "out of memory");
        return;
    }
    for (size_t i = 0; i < nargs; i++) {
        spec_val a;
        if (parse_value(args->items[i], &a, res->msg, sizeof res->msg) != 0) return;
        if (a.type != ex->type[i]) {
            snprintf(res->msg, sizeof res->msg, "\"%s\" argument %zu: type %c, expected %c", fname,
                     i, a.type, ex->type[i]);
            return;
        }
        res->vals[i] = a.v;
    }
    res->types = colon + 1;
    res->n = nresults;
    res->status =
        kiln_instance_call(rec->inst, idx, res->vals, &res->trap) == 0 ? ACT_OK : ACT_TRAP;
}

/* ---- traps --------------------------------------------------------------------------- */

/* Whether a trap of kind k is the category the spec's message names. (Kiln's glue tells
 * apart what wasm2c folds together: memory vs table bounds, undefined vs uninitialized
 * elements vs signature mismatches in call_indirect.) */
static int trap_matches(const char *text, kiln_trap_kind k)
{
    static const struct {
        const char *prefix;
        kiln_trap_kind kind;
    } map[] = {
        {"unreachable", KILN_TRAP_UNREACHABLE},
        {"integer divide by zero", KILN_TRAP_DIV_BY_ZERO},
        {"integer overflow", KILN_TRAP_INT_OVERFLOW},
        {"invalid conversion to integer", KILN_TRAP_INVALID_CONVERSION},
        {"out of bounds memory access", KILN_TRAP_MEMORY_OOB},
        {"out of bounds table access", KILN_TRAP_TABLE_OOB},
        {"undefined element", KILN_TRAP_TABLE_OOB},
        {"uninitialized element", KILN_TRAP_NULL_ELEMENT},
        {"indirect call type mismatch", KILN_TRAP_INDIRECT_CALL_TYPE},
        {"call stack exhausted", KILN_TRAP_STACK_EXHAUSTED},
    };
    if (!text) return 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(text, map[i].prefix, strlen(map[i].prefix)) == 0) return k == map[i].kind;
    return 0;
}

/* ---- commands ------------------------------------------------------------------------ */

typedef enum outcome { PASS, FAIL, SKIP_TEXT } outcome;

/* module: load and instantiate; it becomes the current module. */
static outcome cmd_module(runner *r, const kiln_json *c)
{
    const char *filename = kiln_json_get_str(c, "filename");
    const char *name = kiln_json_get_str(c, "name");
    const char *mt = kiln_json_get_str(c, "module_type");
    if (mt && strcmp(mt, "text") == 0) {
        r->current = NULL;
        return SKIP_TEXT;
    }
    r->current = NULL;
    if (!filename) {
        report(r, "module: no filename");
        return FAIL;
    }
    instrec *rec;
    kiln_trap trap;
    kiln_err err;
    switch (instantiate(r, filename, name, &rec, &trap, &err)) {
    case INST_OK:
        r->current = rec;
        return PASS;
    case INST_LOAD_FAILED:
        r->force = 1;
        report(r, "module %s: %s", filename, err.msg);
        r->force = 0;
        return FAIL;
    case INST_TRAPPED:
        r->force = 1;
        report(r, "module %s: instantiation trapped: %s", filename, kiln_trap_message(&trap));
        r->force = 0;
        return FAIL;
    }
    return FAIL;
}

/* register: makes an instance's exports importable under a module name. */
static outcome cmd_register(runner *r, const kiln_json *c)
{
    const char *as = kiln_json_get_str(c, "as");
    const char *name = kiln_json_get_str(c, "name");
    instrec *rec = lookup(r, name);
    if (!as || !rec || !rec->inst) {
        report(r, "register: no module %s", name ? name : "(current)");
        return FAIL;
    }
    if (r->nregs == r->capregs) {
        size_t ncap = r->capregs ? r->capregs * 2 : 8;
        regrec *n = kiln_realloc(r->regs, ncap * sizeof *n);
        if (!n) {
            report(r, "register: out of memory");
            return FAIL;
        }
        r->regs = n;
        r->capregs = ncap;
    }
    char *dup = kiln_strdup(as);
    if (!dup) {
        report(r, "register: out of memory");
        return FAIL;
    }
    r->regs[r->nregs].as = dup;
    r->regs[r->nregs].rec = rec;
    r->nregs++;
    return PASS;
}

/* Describes an action for failure messages. */
static const char *action_field(const kiln_json *c)
{
    const char *f = kiln_json_get_str(kiln_json_get(c, "action"), "field");
    return f ? f : "?";
}

/* action / assert_return: run; with "expected", compare every result. */
static outcome cmd_return(runner *r, const kiln_json *c, int check)
{
    act_result res;
    run_action(r, kiln_json_get(c, "action"), &res);
    outcome o = FAIL;
    if (res.status == ACT_ERROR) {
        report(r, "\"%s\": %s", action_field(c), res.msg);
        goto out;
    }
    if (res.status == ACT_TRAP) {
        report(r, "\"%s\": unexpected trap: %s", action_field(c), kiln_trap_message(&res.trap));
        goto out;
    }
    if (!check) {
        o = PASS;
        goto out;
    }
    const kiln_json *exp = kiln_json_get(c, "expected");
    size_t nexp = exp && exp->type == KILN_JSON_ARRAY ? exp->count : 0;
    if (nexp != res.n) {
        report(r, "\"%s\": %zu results, expected %zu", action_field(c), res.n, nexp);
        goto out;
    }
    o = PASS;
    for (size_t i = 0; i < nexp; i++) {
        spec_val want;
        char msg[256];
        if (parse_value(exp->items[i], &want, msg, sizeof msg) != 0) {
            report(r, "\"%s\": %s", action_field(c), msg);
            o = FAIL;
            break;
        }
        if (want.type != res.types[i] || !val_matches(&want, &res.vals[i])) {
            kiln_buf b = KILN_BUF_INIT;
            kiln_buf_printf(&b, "\"%s\" result %zu: got ", action_field(c), i);
            format_val(&b, res.types[i], &res.vals[i]);
            kiln_buf_puts(&b, ", expected ");
            if (want.nan)
                kiln_buf_printf(&b, "%c:nan:%s", want.type,
                                want.nan == NAN_CANONICAL ? "canonical" : "arithmetic");
            else
                format_val(&b, want.type, &want.v);
            report(r, "%s", b.data ? b.data : "mismatch");
            kiln_buf_free(&b);
            o = FAIL;
            break;
        }
    }
out:
    kiln_free(res.vals);
    return o;
}

/* assert_trap / assert_exhaustion on an action: it must trap with the named category. */
static outcome cmd_trap(runner *r, const kiln_json *c)
{
    const char *text = kiln_json_get_str(c, "text");
    act_result res;
    run_action(r, kiln_json_get(c, "action"), &res);
    kiln_free(res.vals);
    if (res.status == ACT_ERROR) {
        report(r, "\"%s\": %s", action_field(c), res.msg);
        return FAIL;
    }
    if (res.status == ACT_OK) {
        report(r, "\"%s\": returned, expected trap \"%s\"", action_field(c), text ? text : "");
        return FAIL;
    }
    if (!trap_matches(text, res.trap.kind)) {
        report(r, "\"%s\": trapped with \"%s\", expected \"%s\"", action_field(c),
               kiln_trap_message(&res.trap), text ? text : "");
        return FAIL;
    }
    return PASS;
}

/* assert_invalid / assert_malformed / assert_unlinkable / assert_uninstantiable. */
static outcome cmd_bad_module(runner *r, const kiln_json *c, const char *kind)
{
    const char *filename = kiln_json_get_str(c, "filename");
    const char *text = kiln_json_get_str(c, "text");
    const char *mt = kiln_json_get_str(c, "module_type");
    if (mt && strcmp(mt, "text") == 0) return SKIP_TEXT;
    if (!filename) {
        report(r, "%s: no filename", kind);
        return FAIL;
    }
    int uninstantiable = strcmp(kind, "assert_uninstantiable") == 0;
    instrec *rec;
    kiln_trap trap;
    kiln_err err;
    inst_status st = instantiate(r, filename, NULL, &rec, &trap, &err);
    if (uninstantiable) {
        if (st == INST_TRAPPED && trap_matches(text, trap.kind)) return PASS;
        if (st == INST_TRAPPED)
            report(r, "%s %s: trapped with \"%s\", expected \"%s\"", kind, filename,
                   kiln_trap_message(&trap), text ? text : "");
        else if (st == INST_LOAD_FAILED)
            report(r, "%s %s: load failed: %s", kind, filename, err.msg);
        else
            report(r, "%s %s: instantiated, expected trap \"%s\"", kind, filename,
                   text ? text : "");
        return FAIL;
    }
    if (st == INST_LOAD_FAILED) return PASS;
    if (st == INST_TRAPPED)
        report(r, "%s %s: loaded and trapped in instantiation (%s), expected \"%s\"", kind,
               filename, kiln_trap_message(&trap), text ? text : "");
    else
        report(r, "%s %s: loaded, expected \"%s\"", kind, filename, text ? text : "");
    return FAIL;
}

/* Runs one command and counts it. */
static void run_command(runner *r, const kiln_json *c)
{
    const char *type = kiln_json_get_str(c, "type");
    const kiln_json *ln = kiln_json_get(c, "line");
    r->line = ln && ln->type == KILN_JSON_NUMBER ? (long)ln->number : 0;
    r->slot->line = r->line;
    if (r->opt->s.timeout && !r->opt->s.no_fork) alarm(r->opt->s.timeout); /* per command */
    if (kiln_suite_excluded(&r->opt->s.excl, r->wast, r->line)) {
        /* A module that is excluded still leaves no current module behind. */
        if (type && strcmp(type, "module") == 0) r->current = NULL;
        r->slot->skipped++;
        return;
    }
    outcome o = FAIL;
    if (!type)
        report(r, "command without a type");
    else if (strcmp(type, "module") == 0)
        o = cmd_module(r, c);
    else if (strcmp(type, "register") == 0)
        o = cmd_register(r, c);
    else if (strcmp(type, "action") == 0)
        o = cmd_return(r, c, 0);
    else if (strcmp(type, "assert_return") == 0)
        o = cmd_return(r, c, 1);
    else if (strcmp(type, "assert_trap") == 0 && !kiln_json_get(c, "action"))
        o = cmd_bad_module(r, c, "assert_uninstantiable"); /* a module trapping in start */
    else if (strcmp(type, "assert_trap") == 0 || strcmp(type, "assert_exhaustion") == 0)
        o = cmd_trap(r, c);
    else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0 ||
             strcmp(type, "assert_unlinkable") == 0 || strcmp(type, "assert_uninstantiable") == 0)
        o = cmd_bad_module(r, c, type);
    else
        report(r, "unknown command type %s", type);
    if (o == PASS)
        r->slot->passed++;
    else if (o == SKIP_TEXT)
        r->slot->skipped++, r->slot->aux++;
    else
        r->slot->failed++;
}

/* The base name of the source .wast ("x.wast"), from the JSON or the JSON's name. */
static char *wast_name(const kiln_json *doc, const char *json_path)
{
    const char *src = kiln_json_get_str(doc, "source_filename");
    const char *base;
    if (src) {
        base = strrchr(src, '/');
        return kiln_strdup(base ? base + 1 : src);
    }
    base = strrchr(json_path, '/');
    base = base ? base + 1 : json_path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0) n -= 5;
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_append(&b, base, n) != 0 || kiln_buf_puts(&b, ".wast") != 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* Runs every command of one JSON file (in the child; kiln_suite_file_fn, ctx: the options);
 * returns the exit status. */
static int run_file(void *ctx, const char *json_path, kiln_suite_slot *slot)
{
    const options *opt = ctx;
    size_t len;
    char *text = read_all(json_path, &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read: %s\n", json_path, strerror(errno));
        return 1;
    }
    char perr[256];
    kiln_json *doc = kiln_json_parse(text, len, perr, sizeof perr);
    kiln_free(text);
    const kiln_json *cmds = kiln_json_get(doc, "commands");
    if (!cmds || cmds->type != KILN_JSON_ARRAY) {
        fprintf(stderr, "%s: %s\n", json_path, doc ? "no \"commands\" array" : perr);
        kiln_json_free(doc);
        return 1;
    }
    runner r;
    memset(&r, 0, sizeof r);
    r.opt = opt;
    r.json_path = json_path;
    r.slot = slot;
    const char *slash = strrchr(json_path, '/');
    r.dir = slash ? kiln_strndup(json_path, (size_t)(slash - json_path)) : kiln_strdup(".");
    r.wast = wast_name(doc, json_path);
    if (!r.dir || !r.wast) {
        fprintf(stderr, "%s: out of memory\n", json_path);
        kiln_free(r.dir);
        kiln_free(r.wast);
        kiln_json_free(doc);
        return 1;
    }
    slot->total = (long)cmds->count;
    if (kiln_rt_init() != 0) fprintf(stderr, "%s: kiln_rt_init failed\n", json_path);
    spectest_init();
    for (size_t i = 0; i < cmds->count; i++)
        run_command(&r, cmds->items[i]);
    for (size_t i = r.ninsts; i-- > 0;) {
        if (r.insts[i]->inst) kiln_instance_free(r.insts[i]->inst);
    }
    for (size_t i = r.ninsts; i-- > 0;) {
        kiln_module_free(r.insts[i]->mod);
        kiln_free(r.insts[i]->name);
        kiln_free(r.insts[i]);
    }
    for (size_t i = 0; i < r.nregs; i++)
        kiln_free(r.regs[i].as);
    spectest_free();
    kiln_free(r.insts);
    kiln_free(r.regs);
    kiln_free(r.dir);
    kiln_free(r.wast);
    kiln_json_free(doc);
    return 0;
}

/* ---- the parent: options, children, totals ------------------------------------------- */

static const char usage_text[] =
    "usage: spec-runner [--tier fast|opt] [--cache-dir D] [--exclude FILE] "
    "[-j N] [--timeout SECONDS] [--no-fork] [--verbose] FILE.json...";

/* kiln_suite_main's prepare: the compile options from the parsed ones. */
static int prepare(void *ctx)
{
    options *opt = ctx;
    opt->copts.tier = KILN_TIER_FAST;
    opt->copts.cache_dir = opt->s.cache_dir;
    if (opt->s.tier && kiln_tier_parse(opt->s.tier, &opt->copts.tier) != 0) {
        fprintf(stderr, "spec-runner: unknown tier %s\n", opt->s.tier);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opt;
    memset(&opt, 0, sizeof opt);
    kiln_suite_slot *slots, total;
    int nfiles;
    int rc = kiln_suite_main(argc, argv, usage_text, &opt.s, prepare, run_file, &opt, &slots,
                             &nfiles, &total);
    if (rc >= 0) return rc;
    for (int i = 0; i < nfiles && opt.s.verbose; i++)
        printf("%s: %ld passed, %ld failed, %ld skipped\n", slots[i].name, slots[i].passed,
               slots[i].failed, slots[i].skipped);
    printf("spec (%s) skipped: %ld text-format modules, %ld excluded\n",
           kiln_tier_name(opt.copts.tier), total.aux, total.skipped - total.aux);
    printf("spec (%s): %ld passed, %ld failed, %ld skipped\n", kiln_tier_name(opt.copts.tier),
           total.passed, total.failed, total.skipped);
    kiln_suite_free(slots, nfiles);
    kiln_suite_exclusions_free(&opt.s.excl);
    return total.failed == 0 && total.passed > 0 ? 0 : 1;
}
