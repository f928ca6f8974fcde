/* component_spec_runner.c — runs the component-model specification's tests
 * (WebAssembly/component-model test/ .wast files) against Kiln's component runtime.
 *
 *   component-spec-runner [--tier fast|opt] [--cache-dir D] [--exclude F] [-j N]
 *                         [--timeout S] [--no-fork] [--verbose] FILE.json...
 *
 * Each FILE.json is the output of `wasm-tools json-from-wast X.wast -o FILE.json
 * --wasm-dir DIR` with DIR the folder of FILE.json (the component binaries sit next to
 * it). A file is named in messages and in the exclusion list by the last two components of
 * its "source_filename" ("values/strings.wast").
 *
 * Commands (each counts once: passed, failed or skipped):
 *   module [name]          load + instantiate; the instance becomes the current one
 *   module_definition name load only (a later module_instance instantiates it)
 *   module_instance i m    instantiate definition m as instance i (the current one)
 *   assert_invalid, assert_malformed   loading must fail
 *   assert_uninstantiable  loading may succeed, instantiating must fail
 *   assert_return          invoke the export with the arguments lifted into kiln_cval by the
 *                          function's parameter types; the result must equal the expected
 *                          value (compared by the result type; floats bit-exactly)
 *   assert_trap            the invocation must trap
 *   action                 the invocation must not trap
 * No host imports are provided: a component that imports anything fails to load (the
 * tests register nothing). Every file runs in a child process (up to -j at once) so that a
 * crash or a hang (--timeout seconds per command, default 60) costs one file, not the run;
 * the commands it did not reach count as failed.
 *
 * Exclusions (--exclude F): the list format of util/suite.h, PATH a file
 * ("values/strings.wast") or a folder ending in '/' ("async/"). Excluded commands are
 * skipped and the reason printed. Output on stdout: one line per file
 * "FILE — N passed, N failed, N skipped" (no colon: tests/run-all.sh sums only the
 * suite's line), then "component-spec: N passed, N failed, N skipped" last; skips print
 * "FILE:LINE: skipped: REASON" or "PATH: N commands skipped: REASON" (PATH: the excluded
 * file or folder) as they happen. Failures go to
 * stderr, at most 10 per file unless --verbose. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component/instance.h"
#include "component/reader.h"
#include "engine/runtime.h"
#include "util/alloc.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/json.h"
#include "util/suite.h"

typedef struct options {
    kiln_compile_opts copts;
    kiln_suite_opts s; /* verbose, jobs, no_fork, timeout, exclusions */
} options;

/* A loaded component (named by module_definition or anonymous) and an instance. */
typedef struct def_rec {
    char *name;
    kiln_loaded_component *lc;
} def_rec;

typedef struct inst_rec {
    char *name;
    kiln_component_instance *ci;
} inst_rec;

typedef struct runner {
    const options *opt;
    char *dir;  /* folder of the .json */
    char *wast; /* "values/strings.wast" */
    def_rec *defs;
    size_t ndefs;
    inst_rec *insts;
    size_t ninsts;
    kiln_component_instance *current;
    kiln_suite_slot *slot; /* aux: modules validated, not instantiated */
    long line, shown;
    kiln_arena arena; /* one command's values */
} runner;

typedef enum outcome { PASS, FAIL, SKIP } outcome;

/* ---- messages ---------------------------------------------------------------------- */

/* Reports one failure of the current command (at most 10 per file unless verbose). */
static void report(runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(runner *r, const char *fmt, ...)
{
    if (!r->opt->s.verbose && r->shown >= 10) {
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

/* ---- values: JSON → kiln_cval by type, comparison, printing --------------------------- */

static const char *const kind_names[] = {
    [KILN_CT_BOOL] = "bool",     [KILN_CT_S8] = "s8",           [KILN_CT_U8] = "u8",
    [KILN_CT_S16] = "s16",       [KILN_CT_U16] = "u16",         [KILN_CT_S32] = "s32",
    [KILN_CT_U32] = "u32",       [KILN_CT_S64] = "s64",         [KILN_CT_U64] = "u64",
    [KILN_CT_F32] = "f32",       [KILN_CT_F64] = "f64",         [KILN_CT_CHAR] = "char",
    [KILN_CT_STRING] = "string", [KILN_CT_RECORD] = "record",   [KILN_CT_VARIANT] = "variant",
    [KILN_CT_LIST] = "list",     [KILN_CT_FIXED_LIST] = "list", [KILN_CT_TUPLE] = "tuple",
    [KILN_CT_FLAGS] = "flags",   [KILN_CT_ENUM] = "enum",       [KILN_CT_OPTION] = "option",
    [KILN_CT_RESULT] = "result", [KILN_CT_OWN] = "own",         [KILN_CT_BORROW] = "borrow",
};

static const char *kind_name(const kiln_ctype *t)
{
    if ((size_t)t->kind < sizeof kind_names / sizeof kind_names[0] && kind_names[t->kind])
        return kind_names[t->kind];
    return "?";
}

/* list<u8> and list<s8> travel as bytes (kiln_component_call: host.h's convention). */
static int is_bytes(const kiln_ctype *t)
{
    return t->kind == KILN_CT_LIST && t->elem.type &&
           (t->elem.type->kind == KILN_CT_U8 || t->elem.type->kind == KILN_CT_S8);
}

static int field_index(const kiln_ctype *t, const char *name, uint32_t *out)
{
    for (uint32_t i = 0; i < t->nitems; i++)
        if (t->items[i].name && strcmp(t->items[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

/* Decodes the one UTF-8 scalar of s (exactly one). */
static int one_scalar(const char *s, size_t n, uint64_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    size_t len;
    if (n == 0) return -1;
    if (p[0] < 0x80)
        c = p[0], len = 1;
    else if ((p[0] & 0xe0) == 0xc0)
        c = p[0] & 0x1f, len = 2;
    else if ((p[0] & 0xf0) == 0xe0)
        c = p[0] & 0x0f, len = 3;
    else if ((p[0] & 0xf8) == 0xf0)
        c = p[0] & 0x07, len = 4;
    else
        return -1;
    if (len != n) return -1;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return -1;
        c = (c << 6) | (p[i] & 0x3f);
    }
    *out = c;
    return 0;
}

static kiln_cval *new_vals(runner *r, size_t n)
{
    kiln_cval *v = kiln_arena_alloc(&r->arena, (n ? n : 1) * sizeof *v);
    if (v) memset(v, 0, (n ? n : 1) * sizeof *v);
    return v;
}

/* Converts the test value j ({"type": T, "value": V}) to a kiln_cval of type t, in the
 * runner's arena. 0, or -1 with msg filled. */
static int from_json(runner *r, const kiln_ctype *t, const kiln_json *j, kiln_cval *out, char *msg,
                     size_t cap)
{
    const char *jt = kiln_json_get_str(j, "type");
    const kiln_json *v = kiln_json_get(j, "value");
    if (!jt || !v) {
        snprintf(msg, cap, "a value without type/value");
        return -1;
    }
    if (strcmp(jt, kind_name(t)) != 0) {
        snprintf(msg, cap, "a %s value for a parameter/result of type %s", jt, kind_name(t));
        return -1;
    }
    memset(out, 0, sizeof *out);
    switch (t->kind) {
    case KILN_CT_BOOL:
        if (v->type != KILN_JSON_BOOL) break;
        out->u = (uint64_t)v->boolean;
        return 0;
    case KILN_CT_S8:
    case KILN_CT_S16:
    case KILN_CT_S32:
    case KILN_CT_S64:
        if (v->type != KILN_JSON_STRING) break;
        out->s = strtoll(v->str, NULL, 10);
        return 0;
    case KILN_CT_U8:
    case KILN_CT_U16:
    case KILN_CT_U32:
    case KILN_CT_U64:
        if (v->type != KILN_JSON_STRING) break;
        out->u = strtoull(v->str, NULL, 10);
        return 0;
    case KILN_CT_F32: {
        if (v->type != KILN_JSON_STRING) break;
        uint32_t bits = (uint32_t)strtoul(v->str, NULL, 10);
        memcpy(&out->f32, &bits, 4);
        return 0;
    }
    case KILN_CT_F64: {
        if (v->type != KILN_JSON_STRING) break;
        uint64_t bits = strtoull(v->str, NULL, 10);
        memcpy(&out->f64, &bits, 8);
        return 0;
    }
    case KILN_CT_CHAR:
        if (v->type != KILN_JSON_STRING || one_scalar(v->str, v->len, &out->u) != 0) break;
        return 0;
    case KILN_CT_STRING:
        if (v->type != KILN_JSON_STRING) break;
        out->str.ptr = kiln_arena_strndup(&r->arena, v->str, v->len);
        out->str.len = v->len;
        if (!out->str.ptr) goto oom;
        return 0;
    case KILN_CT_LIST:
    case KILN_CT_FIXED_LIST:
    case KILN_CT_TUPLE:
    case KILN_CT_RECORD: {
        if (v->type != KILN_JSON_ARRAY) break;
        if (is_bytes(t)) {
            out->str.ptr = kiln_arena_alloc(&r->arena, v->count ? v->count : 1);
            if (!out->str.ptr) goto oom;
            out->str.len = v->count;
            for (size_t i = 0; i < v->count; i++) {
                kiln_cval b;
                if (from_json(r, t->elem.type, v->items[i], &b, msg, cap) != 0) return -1;
                out->str.ptr[i] = (char)b.u;
            }
            return 0;
        }
        int per_item = t->kind == KILN_CT_TUPLE || t->kind == KILN_CT_RECORD;
        if (per_item && v->count != t->nitems) {
            snprintf(msg, cap, "%zu items for a %s of %u", v->count, kind_name(t), t->nitems);
            return -1;
        }
        out->agg.n = (uint32_t)v->count;
        out->agg.items = new_vals(r, v->count);
        if (!out->agg.items) goto oom;
        for (size_t i = 0; i < v->count; i++) {
            const kiln_json *item = v->items[i];
            if (t->kind == KILN_CT_RECORD) { /* ["name", value] */
                const kiln_json *nm = kiln_json_at(item, 0);
                if (!nm || nm->type != KILN_JSON_STRING || !t->items[i].name ||
                    strcmp(nm->str, t->items[i].name) != 0) {
                    snprintf(msg, cap, "record field %zu is not %s", i,
                             t->items[i].name ? t->items[i].name : "?");
                    return -1;
                }
                item = kiln_json_at(item, 1);
            }
            const kiln_ctype *et = per_item ? t->items[i].type.type : t->elem.type;
            if (!item || from_json(r, et, item, &out->agg.items[i], msg, cap) != 0) return -1;
        }
        return 0;
    }
    case KILN_CT_VARIANT: {
        const char *cs = kiln_json_get_str(v, "case");
        const kiln_json *pl = kiln_json_get(v, "payload");
        if (!cs || field_index(t, cs, &out->var.disc) != 0) break;
        if (t->items[out->var.disc].has_type != (pl != NULL && pl->type != KILN_JSON_NULL)) break;
        if (!t->items[out->var.disc].has_type) return 0;
        out->var.payload = new_vals(r, 1);
        if (!out->var.payload) goto oom;
        return from_json(r, t->items[out->var.disc].type.type, pl, out->var.payload, msg, cap);
    }
    case KILN_CT_ENUM:
        if (v->type != KILN_JSON_STRING || field_index(t, v->str, &out->var.disc) != 0) break;
        return 0;
    case KILN_CT_OPTION:
        if (v->type == KILN_JSON_NULL) return 0;
        out->var.disc = 1;
        out->var.payload = new_vals(r, 1);
        if (!out->var.payload) goto oom;
        return from_json(r, t->elem.type, v, out->var.payload, msg, cap);
    case KILN_CT_RESULT: {
        const kiln_json *ok = kiln_json_get(v, "Ok"), *er = kiln_json_get(v, "Err");
        if ((ok == NULL) == (er == NULL)) break;
        out->var.disc = ok ? 0 : 1;
        const kiln_json *pl = ok ? ok : er;
        int has = ok ? t->has_elem : t->has_elem2;
        if (has != (pl->type != KILN_JSON_NULL)) break;
        if (!has) return 0;
        out->var.payload = new_vals(r, 1);
        if (!out->var.payload) goto oom;
        return from_json(r, ok ? t->elem.type : t->elem2.type, pl, out->var.payload, msg, cap);
    }
    case KILN_CT_FLAGS: {
        if (v->type != KILN_JSON_ARRAY) break;
        size_t words = (t->nitems + 31) / 32;
        out->flags = kiln_arena_alloc(&r->arena, (words ? words : 1) * sizeof(uint32_t));
        if (!out->flags) goto oom;
        memset(out->flags, 0, (words ? words : 1) * sizeof(uint32_t));
        for (size_t i = 0; i < v->count; i++) {
            uint32_t k;
            if (v->items[i]->type != KILN_JSON_STRING || field_index(t, v->items[i]->str, &k) != 0)
                goto bad;
            out->flags[k / 32] |= 1u << (k % 32);
        }
        return 0;
    }
    default:
        snprintf(msg, cap, "values of type %s cannot be written in a test", kind_name(t));
        return -1;
    }
bad:
    snprintf(msg, cap, "a %s value that does not fit its type", jt);
    return -1;
oom:
    snprintf(msg, cap, "out of memory");
    return -1;
}

/* Whether a and b, two values of type t, are equal (floats by bits). */
static int cval_eq(const kiln_ctype *t, const kiln_cval *a, const kiln_cval *b)
{
    switch (t->kind) {
    case KILN_CT_BOOL:
        return (a->u != 0) == (b->u != 0);
    case KILN_CT_S8:
    case KILN_CT_S16:
    case KILN_CT_S32:
    case KILN_CT_S64:
        return a->s == b->s;
    case KILN_CT_U8:
    case KILN_CT_U16:
    case KILN_CT_U32:
    case KILN_CT_U64:
    case KILN_CT_CHAR:
        return a->u == b->u;
    case KILN_CT_F32:
        return memcmp(&a->f32, &b->f32, 4) == 0;
    case KILN_CT_F64:
        return memcmp(&a->f64, &b->f64, 8) == 0;
    case KILN_CT_STRING:
        return a->str.len == b->str.len && memcmp(a->str.ptr, b->str.ptr, a->str.len) == 0;
    case KILN_CT_LIST:
    case KILN_CT_FIXED_LIST:
    case KILN_CT_TUPLE:
    case KILN_CT_RECORD:
        if (is_bytes(t))
            return a->str.len == b->str.len && memcmp(a->str.ptr, b->str.ptr, a->str.len) == 0;
        if (a->agg.n != b->agg.n) return 0;
        for (uint32_t i = 0; i < a->agg.n; i++) {
            const kiln_ctype *et = (t->kind == KILN_CT_TUPLE || t->kind == KILN_CT_RECORD)
                                       ? t->items[i].type.type
                                       : t->elem.type;
            if (!cval_eq(et, &a->agg.items[i], &b->agg.items[i])) return 0;
        }
        return 1;
    case KILN_CT_ENUM:
        return a->var.disc == b->var.disc;
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        if (a->var.disc != b->var.disc) return 0;
        const kiln_ctype *pt = NULL;
        if (t->kind == KILN_CT_VARIANT) {
            if (a->var.disc < t->nitems && t->items[a->var.disc].has_type)
                pt = t->items[a->var.disc].type.type;
        } else if (t->kind == KILN_CT_OPTION) {
            if (a->var.disc == 1) pt = t->elem.type;
        } else if (a->var.disc == 0 ? t->has_elem : t->has_elem2) {
            pt = a->var.disc == 0 ? t->elem.type : t->elem2.type;
        }
        if (!pt) return 1;
        if (!a->var.payload || !b->var.payload) return a->var.payload == b->var.payload;
        return cval_eq(pt, a->var.payload, b->var.payload);
    }
    case KILN_CT_FLAGS:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (((a->flags[i / 32] >> (i % 32)) & 1) != ((b->flags[i / 32] >> (i % 32)) & 1))
                return 0;
        return 1;
    default:
        return 0;
    }
}

/* Appends a readable form of v (of type t) to b. */
static void cval_print(kiln_buf *b, const kiln_ctype *t, const kiln_cval *v)
{
    switch (t->kind) {
    case KILN_CT_BOOL:
        kiln_buf_puts(b, v->u ? "true" : "false");
        return;
    case KILN_CT_S8:
    case KILN_CT_S16:
    case KILN_CT_S32:
    case KILN_CT_S64:
        kiln_buf_printf(b, "%" PRId64, v->s);
        return;
    case KILN_CT_U8:
    case KILN_CT_U16:
    case KILN_CT_U32:
    case KILN_CT_U64:
        kiln_buf_printf(b, "%" PRIu64, v->u);
        return;
    case KILN_CT_CHAR:
        kiln_buf_printf(b, "U+%04" PRIX64, v->u);
        return;
    case KILN_CT_F32: {
        uint32_t bits;
        memcpy(&bits, &v->f32, 4);
        kiln_buf_printf(b, "f32:0x%08" PRIx32, bits);
        return;
    }
    case KILN_CT_F64: {
        uint64_t bits;
        memcpy(&bits, &v->f64, 8);
        kiln_buf_printf(b, "f64:0x%016" PRIx64, bits);
        return;
    }
    case KILN_CT_STRING:
        kiln_buf_printf(b, "\"%.*s\"", (int)(v->str.len > 200 ? 200 : v->str.len), v->str.ptr);
        return;
    case KILN_CT_LIST:
    case KILN_CT_FIXED_LIST:
    case KILN_CT_TUPLE:
    case KILN_CT_RECORD:
        if (is_bytes(t)) {
            kiln_buf_printf(b, "bytes[%zu]", v->str.len);
            return;
        }
        kiln_buf_putc(b, t->kind == KILN_CT_RECORD ? '{' : '[');
        for (uint32_t i = 0; i < v->agg.n && i < 32; i++) {
            if (i) kiln_buf_puts(b, ", ");
            const kiln_ctype *et = (t->kind == KILN_CT_TUPLE || t->kind == KILN_CT_RECORD)
                                       ? t->items[i].type.type
                                       : t->elem.type;
            cval_print(b, et, &v->agg.items[i]);
        }
        kiln_buf_putc(b, t->kind == KILN_CT_RECORD ? '}' : ']');
        return;
    case KILN_CT_ENUM:
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT:
        kiln_buf_printf(b, "case %u", v->var.disc);
        if (v->var.payload) {
            const kiln_ctype *pt = t->kind == KILN_CT_VARIANT  ? t->items[v->var.disc].type.type
                                   : t->kind == KILN_CT_OPTION ? t->elem.type
                                   : v->var.disc == 0          ? t->elem.type
                                                               : t->elem2.type;
            kiln_buf_putc(b, '(');
            cval_print(b, pt, v->var.payload);
            kiln_buf_putc(b, ')');
        }
        return;
    case KILN_CT_FLAGS:
        kiln_buf_printf(b, "flags 0x%x", t->nitems ? v->flags[0] : 0);
        return;
    default:
        kiln_buf_printf(b, "<%s>", kind_name(t));
    }
}

/* ---- components and instances -------------------------------------------------------- */

static kiln_loaded_component *load(runner *r, const char *filename, kiln_err *err)
{
    kiln_buf path = KILN_BUF_INIT, bytes = KILN_BUF_INIT;
    kiln_loaded_component *lc = NULL;
    if (kiln_buf_printf(&path, "%s/%s", r->dir, filename) != 0) {
        kiln_err_set(err, "out of memory");
    } else if (kiln_read_file(path.data, &bytes) != 0) {
        kiln_err_set(err, "%s: %s", path.data, strerror(errno));
    } else {
        lc = kiln_component_load(filename, (const uint8_t *)bytes.data, bytes.len, &r->opt->copts,
                                 err);
    }
    kiln_buf_free(&path);
    kiln_buf_free(&bytes);
    return lc;
}

/* The load-time linker of embedded core modules: their imports are the component's
 * business (as in load.c). */
static kiln_fnptr accept_all(void *ctx, const kiln_import *imp)
{
    (void)ctx, (void)imp;
    return (kiln_fnptr)accept_all;
}

/* Compiles every core module of c, depth-first (the engine validates them). 0 or -1. */
static int compile_modules(runner *r, const kiln_component *c, const char *file, kiln_err *err)
{
    static const kiln_linker linker = {accept_all, NULL};
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_COMPONENT && compile_modules(r, d->component, file, err) != 0)
            return -1;
        if (d->kind != KILN_CDEF_CORE_MODULE) continue;
        kiln_module *m = kiln_module_load_bytes(file, d->module.bytes, d->module.len,
                                                &r->opt->copts, &linker, err);
        if (!m) return -1;
        kiln_module_free(m);
    }
    return 0;
}

/* Validates a component as the specification defines validity, whatever the host
 * provides: Kiln's reader and validator, then the engine's validation of every embedded
 * core module. 0 (valid; *nimports = its imports), or -1 with err filled. */
static int validate_only(runner *r, const char *filename, uint32_t *nimports, kiln_err *err)
{
    kiln_buf path = KILN_BUF_INIT, bytes = KILN_BUF_INIT;
    int rc = -1;
    if (kiln_buf_printf(&path, "%s/%s", r->dir, filename) != 0) {
        kiln_err_set(err, "out of memory");
    } else if (kiln_read_file(path.data, &bytes) != 0) {
        kiln_err_set(err, "%s: %s", path.data, strerror(errno));
    } else {
        kiln_component *c = kiln_component_read((const uint8_t *)bytes.data, bytes.len, filename,
                                                err->msg, sizeof err->msg);
        if (c && compile_modules(r, c, filename, err) == 0) {
            *nimports = c->type ? c->type->nimports : 0;
            rc = 0;
        }
        kiln_component_free(c);
    }
    kiln_buf_free(&path);
    kiln_buf_free(&bytes);
    return rc;
}

/* Keeps lc (owned by the runner from now on) under name (may be NULL). */
static int add_def(runner *r, const char *name, kiln_loaded_component *lc)
{
    def_rec *n = kiln_realloc(r->defs, (r->ndefs + 1) * sizeof *n);
    if (!n) return -1;
    r->defs = n;
    n[r->ndefs].name = name ? kiln_strdup(name) : NULL;
    n[r->ndefs].lc = lc;
    r->ndefs++;
    return 0;
}

static int add_inst(runner *r, const char *name, kiln_component_instance *ci)
{
    inst_rec *n = kiln_realloc(r->insts, (r->ninsts + 1) * sizeof *n);
    if (!n) return -1;
    r->insts = n;
    n[r->ninsts].name = name ? kiln_strdup(name) : NULL;
    n[r->ninsts].ci = ci;
    r->ninsts++;
    r->current = ci;
    return 0;
}

static kiln_loaded_component *find_def(runner *r, const char *name)
{
    for (size_t i = r->ndefs; i-- > 0;)
        if (r->defs[i].name && strcmp(r->defs[i].name, name) == 0) return r->defs[i].lc;
    return NULL;
}

static kiln_component_instance *find_inst(runner *r, const char *name)
{
    for (size_t i = r->ninsts; i-- > 0;)
        if (r->insts[i].name && strcmp(r->insts[i].name, name) == 0) return r->insts[i].ci;
    return NULL;
}

static outcome cmd_module(runner *r, const kiln_json *c, int instantiate)
{
    const char *file = kiln_json_get_str(c, "filename");
    const char *name = kiln_json_get_str(c, "name");
    kiln_err err;
    err.msg[0] = '\0';
    if (!file) {
        report(r, "module without filename");
        return FAIL;
    }
    kiln_loaded_component *lc = load(r, file, &err);
    if (instantiate) r->current = NULL;
    if (!lc) {
        /* A component that imports what no host provides cannot be instantiated here (the
         * tests register nothing): it counts when it is valid. */
        uint32_t nimports = 0;
        kiln_err verr;
        if (validate_only(r, file, &nimports, &verr) == 0 && nimports > 0) {
            r->slot->aux++;
            if (r->opt->s.verbose)
                fprintf(stderr, "%s:%ld: valid; not instantiated: %s\n", r->wast, r->line, err.msg);
            return PASS;
        }
        report(r, "loading failed: %s", err.msg);
        return FAIL;
    }
    if (add_def(r, instantiate ? NULL : name, lc) != 0) {
        kiln_component_unload(lc);
        return FAIL;
    }
    if (!instantiate) return PASS;
    kiln_component_instance *ci = kiln_component_instantiate(lc, NULL, &err);
    if (!ci) {
        report(r, "instantiating failed: %s", err.msg);
        r->current = NULL;
        return FAIL;
    }
    if (add_inst(r, name, ci) != 0) {
        kiln_component_instance_free(ci);
        return FAIL;
    }
    return PASS;
}

static outcome cmd_instance(runner *r, const kiln_json *c)
{
    const char *inst = kiln_json_get_str(c, "instance");
    const char *mod = kiln_json_get_str(c, "module");
    kiln_loaded_component *lc = mod ? find_def(r, mod) : NULL;
    r->current = NULL;
    if (!lc) {
        report(r, "no component definition %s", mod ? mod : "(none)");
        return FAIL;
    }
    kiln_err err;
    err.msg[0] = '\0';
    kiln_component_instance *ci = kiln_component_instantiate(lc, NULL, &err);
    if (!ci) {
        report(r, "instantiating %s failed: %s", mod, err.msg);
        return FAIL;
    }
    if (add_inst(r, inst, ci) != 0) {
        kiln_component_instance_free(ci);
        return FAIL;
    }
    return PASS;
}

/* assert_invalid / assert_malformed: the component must be invalid (validate_only fails;
 * a refusal for what the host does not provide does not count); assert_uninstantiable:
 * loading succeeds and instantiating fails. */
static outcome cmd_bad(runner *r, const kiln_json *c, int uninstantiable)
{
    const char *file = kiln_json_get_str(c, "filename");
    const char *text = kiln_json_get_str(c, "text");
    kiln_err err;
    err.msg[0] = '\0';
    if (!file) {
        report(r, "assertion without filename");
        return FAIL;
    }
    if (!uninstantiable) {
        uint32_t nimports;
        if (validate_only(r, file, &nimports, &err) == 0) {
            report(r, "valid, expected to be refused: %s", text ? text : "");
            return FAIL;
        }
        if (r->opt->s.verbose)
            fprintf(stderr, "%s:%ld: refused as expected (%s): %s\n", r->wast, r->line,
                    text ? text : "", err.msg);
        return PASS;
    }
    kiln_loaded_component *lc = load(r, file, &err);
    if (!lc) {
        report(r, "loading failed, expected to fail instantiating: %s", err.msg);
        return FAIL;
    }
    outcome o = FAIL;
    {
        kiln_component_instance *ci = kiln_component_instantiate(lc, NULL, &err);
        if (ci) {
            kiln_component_instance_free(ci);
            report(r, "instantiated, expected to fail: %s", text ? text : "");
        } else {
            o = PASS;
        }
    }
    kiln_component_unload(lc);
    return o;
}

typedef struct invoke_result {
    int ok; /* the call returned (not trapped) */
    int setup_failed;
    const kiln_ctype *rtype; /* NULL: no result */
    kiln_cval result;
    kiln_trap trap;
} invoke_result;

/* Runs an "invoke" action on the current (or named) instance. */
static void invoke(runner *r, const kiln_json *action, invoke_result *res)
{
    memset(res, 0, sizeof *res);
    res->setup_failed = 1;
    const char *type = kiln_json_get_str(action, "type");
    const char *field = kiln_json_get_str(action, "field");
    const char *mod = kiln_json_get_str(action, "module");
    const kiln_json *args = kiln_json_get(action, "args");
    if (!type || strcmp(type, "invoke") != 0 || !field) {
        report(r, "unsupported action %s", type ? type : "(none)");
        return;
    }
    kiln_component_instance *ci = mod ? find_inst(r, mod) : r->current;
    if (!ci) {
        report(r, "invoke %s: no instance", field);
        return;
    }
    const kiln_component_func *f = kiln_component_find_func(ci, field);
    if (!f) {
        report(r, "invoke %s: no such exported function", field);
        return;
    }
    const kiln_ctype *ft = kiln_component_func_type(f);
    size_t nargs = args && args->type == KILN_JSON_ARRAY ? args->count : 0;
    if (nargs != ft->nitems) {
        report(r, "invoke %s: %zu arguments for %u parameters", field, nargs, ft->nitems);
        return;
    }
    kiln_cval *argv = new_vals(r, nargs);
    if (!argv) return;
    char msg[256];
    for (size_t i = 0; i < nargs; i++)
        if (from_json(r, ft->items[i].type.type, args->items[i], &argv[i], msg, sizeof msg) != 0) {
            report(r, "invoke %s: argument %zu: %s", field, i, msg);
            return;
        }
    res->setup_failed = 0;
    res->rtype = ft->has_elem ? ft->elem.type : NULL;
    res->ok = kiln_component_call(ci, f, argv, &res->result, &res->trap) == 0;
}

static outcome cmd_return(runner *r, const kiln_json *c)
{
    invoke_result res;
    invoke(r, kiln_json_get(c, "action"), &res);
    if (res.setup_failed) return FAIL;
    if (!res.ok) {
        report(r, "trapped: %s", kiln_trap_message(&res.trap));
        return FAIL;
    }
    const kiln_json *exp = kiln_json_get(c, "expected");
    size_t nexp = exp && exp->type == KILN_JSON_ARRAY ? exp->count : 0;
    if (nexp != (res.rtype ? 1u : 0u)) {
        report(r, "%zu expected values for %d results", nexp, res.rtype ? 1 : 0);
        return FAIL;
    }
    if (!res.rtype) return PASS;
    kiln_cval want;
    char msg[256];
    if (from_json(r, res.rtype, exp->items[0], &want, msg, sizeof msg) != 0) {
        report(r, "expected value: %s", msg);
        return FAIL;
    }
    if (cval_eq(res.rtype, &want, &res.result)) return PASS;
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_puts(&b, "got ");
    cval_print(&b, res.rtype, &res.result);
    kiln_buf_puts(&b, ", expected ");
    cval_print(&b, res.rtype, &want);
    report(r, "%s", b.data ? b.data : "wrong result");
    kiln_buf_free(&b);
    return FAIL;
}

static outcome cmd_trap(runner *r, const kiln_json *c, int expect_trap)
{
    invoke_result res;
    invoke(r, kiln_json_get(c, "action"), &res);
    if (res.setup_failed) return FAIL;
    if (expect_trap && res.ok) {
        const char *text = kiln_json_get_str(c, "text");
        report(r, "returned, expected a trap: %s", text ? text : "");
        return FAIL;
    }
    if (!expect_trap && !res.ok) {
        report(r, "trapped: %s", kiln_trap_message(&res.trap));
        return FAIL;
    }
    if (expect_trap && r->opt->s.verbose)
        fprintf(stderr, "%s:%ld: trapped as expected (%s): %s\n", r->wast, r->line,
                kiln_json_get_str(c, "text") ? kiln_json_get_str(c, "text") : "",
                kiln_trap_message(&res.trap));
    return PASS;
}

/* ---- files ---------------------------------------------------------------------------- */

static void run_command(runner *r, const kiln_json *c)
{
    const char *type = kiln_json_get_str(c, "type");
    const kiln_json *ln = kiln_json_get(c, "line");
    r->line = ln && ln->type == KILN_JSON_NUMBER ? (long)ln->number : 0;
    r->slot->line = r->line;
    const kiln_suite_exclusion *e = kiln_suite_excluded(&r->opt->s.excl, r->wast, r->line);
    if (e && e->line != 0) {
        printf("%s:%ld: skipped: %s\n", r->wast, r->line, e->reason);
        r->slot->skipped++;
        return;
    }
    kiln_arena_init(&r->arena, NULL, 0);
    alarm(r->opt->s.timeout);
    outcome o = FAIL;
    if (!type)
        report(r, "command without type");
    else if (strcmp(type, "module") == 0)
        o = cmd_module(r, c, 1);
    else if (strcmp(type, "module_definition") == 0)
        o = cmd_module(r, c, 0);
    else if (strcmp(type, "module_instance") == 0)
        o = cmd_instance(r, c);
    else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0)
        o = cmd_bad(r, c, 0);
    else if (strcmp(type, "assert_uninstantiable") == 0)
        o = cmd_bad(r, c, 1);
    else if (strcmp(type, "assert_return") == 0)
        o = cmd_return(r, c);
    else if (strcmp(type, "assert_trap") == 0)
        o = cmd_trap(r, c, 1);
    else if (strcmp(type, "action") == 0)
        o = cmd_trap(r, c, 0);
    else
        report(r, "unknown command %s", type);
    alarm(0);
    kiln_arena_free(&r->arena);
    if (o == PASS)
        r->slot->passed++;
    else
        r->slot->failed++;
}

/* "values/strings.wast": the last two components of the JSON's source_filename (else
 * the JSON's own name). */
static char *wast_name(const kiln_json *doc, const char *json_path)
{
    const char *src = kiln_json_get_str(doc, "source_filename");
    const char *s = src ? src : json_path;
    const char *end = s + strlen(s), *p = end;
    int slashes = 0;
    while (p > s && slashes < 2) {
        p--;
        if (*p == '/' && ++slashes == 2) p++;
    }
    return kiln_strdup(p);
}

static void free_runner(runner *r)
{
    for (size_t i = r->ninsts; i-- > 0;) {
        kiln_component_instance_free(r->insts[i].ci);
        kiln_free(r->insts[i].name);
    }
    for (size_t i = r->ndefs; i-- > 0;) {
        kiln_component_unload(r->defs[i].lc);
        kiln_free(r->defs[i].name);
    }
    kiln_free(r->insts);
    kiln_free(r->defs);
    kiln_free(r->dir);
    kiln_free(r->wast);
}

/* Runs one JSON file, counting into slot (kiln_suite_file_fn; ctx: the options). 0, or 1
 * when the file cannot be read. */
static int run_file(void *ctx, const char *json_path, kiln_suite_slot *slot)
{
    const options *opt = ctx;
    kiln_buf text = KILN_BUF_INIT;
    if (kiln_read_file(json_path, &text) != 0) {
        fprintf(stderr, "%s: cannot read: %s\n", json_path, strerror(errno));
        kiln_buf_free(&text);
        return 1;
    }
    char perr[256];
    kiln_json *doc = kiln_json_parse(text.data ? text.data : "", text.len, perr, sizeof perr);
    kiln_buf_free(&text);
    const kiln_json *cmds = kiln_json_get(doc, "commands");
    if (!cmds || cmds->type != KILN_JSON_ARRAY) {
        fprintf(stderr, "%s: %s\n", json_path, doc ? "no \"commands\" array" : perr);
        kiln_json_free(doc);
        return 1;
    }
    runner r;
    memset(&r, 0, sizeof r);
    r.opt = opt;
    r.slot = slot;
    const char *slash = strrchr(json_path, '/');
    r.dir = slash ? kiln_strndup(json_path, (size_t)(slash - json_path)) : kiln_strdup(".");
    r.wast = wast_name(doc, json_path);
    if (!r.dir || !r.wast) {
        fprintf(stderr, "%s: out of memory\n", json_path);
        free_runner(&r);
        kiln_json_free(doc);
        return 1;
    }
    snprintf(slot->name, sizeof slot->name, "%s", r.wast);
    slot->total = (long)cmds->count;
    const kiln_suite_exclusion *whole = kiln_suite_excluded(&opt->s.excl, r.wast, 0);
    if (whole && whole->line == 0) {
        slot->skipped = (long)cmds->count;
        printf("%s: %zu commands skipped: %s\n", whole->path, cmds->count, whole->reason);
    } else {
        if (kiln_rt_init() != 0) fprintf(stderr, "%s: kiln_rt_init failed\n", json_path);
        for (size_t i = 0; i < cmds->count; i++)
            run_command(&r, cmds->items[i]);
    }
    free_runner(&r);
    kiln_json_free(doc);
    return 0;
}

/* ---- the parent: options, children, totals --------------------------------------------- */

static const char usage_text[] =
    "usage: component-spec-runner [--tier fast|opt] [--cache-dir D] "
    "[--exclude FILE] [-j N] [--timeout SECONDS] [--no-fork] [--verbose] "
    "FILE.json...";

/* kiln_suite_main's prepare: the compile options from the parsed ones. */
static int prepare(void *ctx)
{
    options *opt = ctx;
    opt->copts.tier = KILN_TIER_FAST;
    opt->copts.cache_dir = opt->s.cache_dir;
    if (opt->s.tier && kiln_tier_parse(opt->s.tier, &opt->copts.tier) != 0) {
        fprintf(stderr, "component-spec-runner: unknown tier %s\n", opt->s.tier);
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
    for (int i = 0; i < nfiles; i++)
        printf("%s \xe2\x80\x94 %ld passed, %ld failed, %ld skipped\n", slots[i].name,
               slots[i].passed, slots[i].failed, slots[i].skipped);
    printf("component-spec: %ld of the passed modules were validated, not instantiated: they "
           "import what no host provides\n",
           total.aux);
    printf("component-spec: %ld passed, %ld failed, %ld skipped\n", total.passed, total.failed,
           total.skipped);
    kiln_suite_free(slots, nfiles);
    kiln_suite_exclusions_free(&opt.s.excl);
    return total.failed == 0 && total.passed > 0 ? 0 : 1;
}
