/* wasm_reader.c — decoding of a Wasm binary's envelope and declarations (see header).
 *
 * A cursor walks the bytes; every read checks the remaining length first, so truncated
 * or hostile input ends in an error message with the offset, never an overread. */
#include "engine/wasm_reader.h"
#include "util/leb.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *base;
    size_t pos, end;
    char *err;
    size_t errlen;
    int failed;
} cursor;

/* Records the first error with the current offset; later errors are ignored. */
static void fail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(cursor *c, const char *fmt, ...)
{
    if (c->failed) return;
    c->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s (at byte offset 0x%zx)", msg, c->pos);
}

static int read_byte(cursor *c, uint8_t *out)
{
    if (c->failed) return -1;
    if (c->pos >= c->end) {
        fail(c, "unexpected end of module");
        return -1;
    }
    *out = c->base[c->pos++];
    return 0;
}

/* Unsigned LEB128 of at most `bits` bits. */
static int read_uleb(cursor *c, unsigned bits, uint64_t *out)
{
    if (c->failed) return -1;
    int r = kiln_leb_u(c->base, c->end, &c->pos, bits, out);
    if (r == KILN_LEB_TRUNCATED)
        fail(c, "unexpected end of module");
    else if (r == KILN_LEB_TOO_LONG)
        fail(c, "integer representation too long or too large");
    return r == KILN_LEB_OK ? 0 : -1;
}

static int read_u32(cursor *c, uint32_t *out)
{
    uint64_t v;
    if (read_uleb(c, 32, &v) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Signed LEB128: only its length matters to us (constant expressions). */
static int skip_sleb(cursor *c, unsigned bits)
{
    unsigned n = 0;
    for (;;) {
        uint8_t b;
        if (read_byte(c, &b) < 0) return -1;
        n += 7;
        if (!(b & 0x80)) break;
        if (n >= bits + 7) {
            fail(c, "integer representation too long");
            return -1;
        }
    }
    return 0;
}

static int skip_bytes(cursor *c, size_t n)
{
    if (c->failed) return -1;
    if (n > c->end - c->pos) {
        fail(c, "unexpected end of section or function");
        return -1;
    }
    c->pos += n;
    return 0;
}

/* A name: length-prefixed UTF-8 (which may contain NUL). Returns a NUL-terminated copy
 * and its length in *len_out (when not NULL). */
static char *read_name_n(cursor *c, size_t *len_out)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return NULL;
    if (n > c->end - c->pos) {
        fail(c, "unexpected end: name of %u bytes", n);
        return NULL;
    }
    const uint8_t *s = c->base + c->pos;
    /* UTF-8 validation: the spec requires names to be valid UTF-8. */
    for (uint32_t i = 0; i < n;) {
        uint8_t b = s[i];
        uint32_t len = b < 0x80             ? 1
                       : (b & 0xe0) == 0xc0 ? 2
                       : (b & 0xf0) == 0xe0 ? 3
                       : (b & 0xf8) == 0xf0 ? 4
                                            : 0;
        if (!len || i + len > n) {
            fail(c, "malformed UTF-8 encoding in a name");
            return NULL;
        }
        uint32_t cp = len == 1 ? b : b & (0x7f >> len);
        for (uint32_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                fail(c, "malformed UTF-8 encoding in a name");
                return NULL;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            fail(c, "malformed UTF-8 encoding in a name");
            return NULL;
        }
        i += len;
    }
    char *r = kiln_strndup((const char *)s, n);
    if (!r) {
        fail(c, "out of memory");
        return NULL;
    }
    c->pos += n;
    if (len_out) *len_out = n;
    return r;
}

static char *read_name(cursor *c)
{
    return read_name_n(c, NULL);
}

char kiln_wasm_valtype_letter(uint8_t code)
{
    switch (code) {
    case 0x7f:
        return 'i';
    case 0x7e:
        return 'j';
    case 0x7d:
        return 'f';
    case 0x7c:
        return 'd';
    case 0x7b:
        return 'o';
    case 0x70:
        return 'r';
    case 0x6f:
        return 'e';
    default:
        return 0;
    }
}

static char read_valtype(cursor *c, kiln_wasm *w)
{
    uint8_t b;
    if (read_byte(c, &b) < 0) return 0;
    char l = kiln_wasm_valtype_letter(b);
    if (!l) {
        c->pos--;
        fail(c, "malformed value type 0x%02x", b);
        return 0;
    }
    if (l == 'o') w->uses_simd_types = 1;
    return l;
}

static int read_limits(cursor *c, kiln_wasm_limits *l, int is_memory)
{
    uint8_t flags;
    uint64_t v;
    if (read_byte(c, &flags) < 0) return -1;
    if (flags > 1) {
        /* 2/3: shared memory (threads), 4+: memory64; not supported. */
        fail(c,
             is_memory ? "unsupported memory flags 0x%02x (shared or 64-bit memory)"
                       : "malformed table limits flags 0x%02x",
             flags);
        return -1;
    }
    if (read_uleb(c, 32, &v) < 0) return -1;
    l->min = v;
    l->has_max = flags & 1;
    l->max = 0;
    if (l->has_max) {
        if (read_uleb(c, 32, &v) < 0) return -1;
        l->max = v;
    }
    return 0;
}

/* Skips a constant expression up to and including its `end`. */
static int skip_const_expr(cursor *c)
{
    for (;;) {
        uint8_t op;
        if (read_byte(c, &op) < 0) return -1;
        switch (op) {
        case 0x0b:
            return 0;
        case 0x41:
            skip_sleb(c, 32);
            break;
        case 0x42:
            skip_sleb(c, 64);
            break;
        case 0x43:
            skip_bytes(c, 4);
            break;
        case 0x44:
            skip_bytes(c, 8);
            break;
        case 0x23:
        case 0xd2: {
            uint32_t x;
            read_u32(c, &x);
            break;
        }
        case 0xd0:
            skip_bytes(c, 1);
            break;
        case 0x6a:
        case 0x6b:
        case 0x6c:
        case 0x7c:
        case 0x7d:
        case 0x7e:
            break; /* extended const */
        case 0xfd: {
            uint32_t sub;
            if (read_u32(c, &sub) < 0) return -1;
            if (sub != 12) {
                fail(c, "constant expression required");
                return -1;
            }
            skip_bytes(c, 16);
            break;
        }
        default:
            c->pos--;
            fail(c, "constant expression required (opcode 0x%02x)", op);
            return -1;
        }
        if (c->failed) return -1;
    }
}

static char *limits_type(const kiln_wasm_limits *l, char reftype)
{
    kiln_buf b = KILN_BUF_INIT;
    if (reftype) kiln_buf_printf(&b, "%c ", reftype);
    kiln_buf_printf(&b, "%llu", (unsigned long long)l->min);
    if (l->has_max)
        kiln_buf_printf(&b, " %llu", (unsigned long long)l->max);
    else
        kiln_buf_puts(&b, " -");
    return kiln_buf_steal(&b);
}

/* Appends a table's or memory's type string ("r 1 -", "1 2") to the per-index list. */
static int add_limits_type(char ***list, uint32_t *count, const kiln_wasm_limits *l, char reftype)
{
    char **p = kiln_realloc(*list, (*count + 1) * sizeof *p);
    if (!p) return -1;
    *list = p;
    p[*count] = limits_type(l, reftype);
    if (!p[*count]) return -1;
    (*count)++;
    return 0;
}

static char *global_type(char valtype, int mut)
{
    char s[8];
    snprintf(s, sizeof s, "%s%c", mut ? "mut " : "", valtype);
    return kiln_strdup(s);
}

static int grow(void **arr, size_t count, size_t elem)
{
    void *p = kiln_realloc(*arr, (count + 1) * elem);
    if (!p) return -1;
    *arr = p;
    return 0;
}

static void read_type_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    if (n > c->end - c->pos) {
        fail(c, "type count %u exceeds section size", n);
        return;
    }
    w->types = kiln_calloc(n, sizeof(char *));
    if (!w->types) return fail(c, "out of memory");
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        uint8_t form;
        if (read_byte(c, &form) < 0) return;
        if (form != 0x60) {
            c->pos--;
            return fail(c, "malformed function type form 0x%02x", form);
        }
        kiln_buf sig = KILN_BUF_INIT;
        for (int part = 0; part < 2 && !c->failed; part++) {
            uint32_t k;
            if (read_u32(c, &k) < 0) break;
            if (k > c->end - c->pos) {
                fail(c, "too many value types");
                break;
            }
            for (uint32_t j = 0; j < k && !c->failed; j++) {
                char l = read_valtype(c, w);
                if (l) kiln_buf_putc(&sig, l);
            }
            if (part == 0) kiln_buf_putc(&sig, ':');
        }
        w->types[i] = kiln_buf_steal(&sig);
        w->ntypes = i + 1;
        if (!w->types[i]) fail(c, "out of memory");
    }
}

static void read_import_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    if (n > c->end - c->pos) return fail(c, "import count %u exceeds section size", n);
    w->imports = kiln_calloc(n, sizeof *w->imports);
    if (!w->imports) return fail(c, "out of memory");
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        kiln_wasm_import *im = &w->imports[i];
        w->nimports = i + 1;
        im->module = read_name_n(c, &im->module_len);
        if (!im->module) return;
        im->name = read_name_n(c, &im->name_len);
        if (!im->name) return;
        uint8_t kind;
        if (read_byte(c, &kind) < 0) return;
        switch (kind) {
        case 0:
            im->kind = KILN_EXTERN_FUNC;
            if (read_u32(c, &im->type_index) < 0) return;
            if (im->type_index >= w->ntypes) return fail(c, "unknown type %u", im->type_index);
            if (grow((void **)&w->func_types, w->nfuncs, sizeof(uint32_t)) < 0)
                return fail(c, "out of memory");
            w->func_types[w->nfuncs++] = im->type_index;
            w->nfunc_imports++;
            im->type = kiln_strdup(w->types[im->type_index]);
            break;
        case 1: {
            im->kind = KILN_EXTERN_TABLE;
            uint8_t rt;
            if (read_byte(c, &rt) < 0) return;
            im->reftype = kiln_wasm_valtype_letter(rt);
            if (im->reftype != 'r' && im->reftype != 'e')
                return fail(c, "malformed reference type");
            if (read_limits(c, &im->limits, 0) < 0) return;
            im->type = limits_type(&im->limits, im->reftype);
            if (add_limits_type(&w->table_types, &w->ntables, &im->limits, im->reftype) < 0)
                return fail(c, "out of memory");
            break;
        }
        case 2:
            im->kind = KILN_EXTERN_MEMORY;
            if (read_limits(c, &im->limits, 1) < 0) return;
            im->type = limits_type(&im->limits, 0);
            if (add_limits_type(&w->memory_types, &w->nmemories, &im->limits, 0) < 0)
                return fail(c, "out of memory");
            break;
        case 3: {
            im->kind = KILN_EXTERN_GLOBAL;
            im->valtype = read_valtype(c, w);
            uint8_t m;
            if (read_byte(c, &m) < 0) return;
            if (m > 1) return fail(c, "malformed mutability");
            im->mut = m;
            if (grow((void **)&w->global_types, w->nglobals, 1) < 0 ||
                grow((void **)&w->global_mut, w->nglobals, 1) < 0)
                return fail(c, "out of memory");
            w->global_types[w->nglobals] = im->valtype;
            w->global_mut[w->nglobals++] = m;
            im->type = global_type(im->valtype, m);
            break;
        }
        default:
            c->pos--;
            return fail(c, "malformed import kind 0x%02x", kind);
        }
        if (!im->type && !c->failed) return fail(c, "out of memory");
    }
}

static void read_function_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    if (n > c->end - c->pos) return fail(c, "function count %u exceeds section size", n);
    uint32_t *p = kiln_realloc(w->func_types, ((size_t)w->nfuncs + n + 1) * sizeof(uint32_t));
    if (!p) return fail(c, "out of memory");
    w->func_types = p;
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        uint32_t t;
        if (read_u32(c, &t) < 0) return;
        if (t >= w->ntypes) return fail(c, "unknown type %u", t);
        w->func_types[w->nfuncs++] = t;
    }
}

static void read_table_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        uint8_t rt;
        kiln_wasm_limits l;
        if (read_byte(c, &rt) < 0) return;
        char r = kiln_wasm_valtype_letter(rt);
        if (r != 'r' && r != 'e') return fail(c, "malformed reference type");
        if (read_limits(c, &l, 0) < 0) return;
        if (add_limits_type(&w->table_types, &w->ntables, &l, r) < 0)
            return fail(c, "out of memory");
    }
}

static void read_memory_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        kiln_wasm_limits l;
        if (read_limits(c, &l, 1) < 0) return;
        if (add_limits_type(&w->memory_types, &w->nmemories, &l, 0) < 0)
            return fail(c, "out of memory");
    }
}

static void read_global_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    if (n > c->end - c->pos) return fail(c, "global count %u exceeds section size", n);
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        char vt = read_valtype(c, w);
        uint8_t m;
        if (read_byte(c, &m) < 0) return;
        if (m > 1) return fail(c, "malformed mutability");
        if (grow((void **)&w->global_types, w->nglobals, 1) < 0 ||
            grow((void **)&w->global_mut, w->nglobals, 1) < 0)
            return fail(c, "out of memory");
        w->global_types[w->nglobals] = vt;
        w->global_mut[w->nglobals++] = m;
        skip_const_expr(c);
    }
}

static void read_export_section(cursor *c, kiln_wasm *w)
{
    uint32_t n;
    if (read_u32(c, &n) < 0) return;
    if (n > c->end - c->pos) return fail(c, "export count %u exceeds section size", n);
    w->exports = kiln_calloc(n, sizeof *w->exports);
    if (!w->exports) return fail(c, "out of memory");
    for (uint32_t i = 0; i < n && !c->failed; i++) {
        kiln_wasm_export *e = &w->exports[i];
        w->nexports = i + 1;
        e->name = read_name_n(c, &e->name_len);
        if (!e->name) return;
        uint8_t kind;
        if (read_byte(c, &kind) < 0) return;
        if (kind > 3) return fail(c, "malformed export kind 0x%02x", kind);
        e->kind = (kiln_extern_kind)kind;
        if (read_u32(c, &e->index) < 0) return;
    }
}

/* Export types need every declaration; computed after all sections are read. */
static void type_exports(cursor *c, kiln_wasm *w)
{
    for (uint32_t i = 0; i < w->nexports && !c->failed; i++) {
        kiln_wasm_export *e = &w->exports[i];
        for (uint32_t j = 0; j < i; j++)
            if (w->exports[j].name_len == e->name_len &&
                memcmp(w->exports[j].name, e->name, e->name_len) == 0)
                return fail(c, "duplicate export name \"%s\"", e->name);
        switch (e->kind) {
        case KILN_EXTERN_FUNC:
            if (e->index >= w->nfuncs) return fail(c, "unknown function %u in export", e->index);
            e->type = kiln_strdup(w->types[w->func_types[e->index]]);
            break;
        case KILN_EXTERN_GLOBAL:
            if (e->index >= w->nglobals) return fail(c, "unknown global %u in export", e->index);
            e->type = global_type(w->global_types[e->index], w->global_mut[e->index]);
            break;
        case KILN_EXTERN_MEMORY:
            if (e->index >= w->nmemories) return fail(c, "unknown memory %u in export", e->index);
            e->type = kiln_strdup(w->memory_types[e->index]);
            break;
        case KILN_EXTERN_TABLE:
            if (e->index >= w->ntables) return fail(c, "unknown table %u in export", e->index);
            e->type = kiln_strdup(w->table_types[e->index]);
            break;
        }
        if (!e->type) return fail(c, "out of memory");
    }
}

/* Section ids in their required order (custom sections, id 0, may appear anywhere;
 * data count, id 12, sits between element (9) and code (10)). */
static int section_rank(uint8_t id)
{
    static const int rank[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id < sizeof rank / sizeof rank[0] ? rank[id] : -1;
}

kiln_wasm *kiln_wasm_read(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
    cursor c = {bytes, 0, len, err, errlen, 0};
    kiln_wasm *w = kiln_calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (len < 4 || memcmp(bytes, "\0asm", 4) != 0) {
        if (len >= 4 && (memcmp(bytes, "(mod", 4) == 0 || memcmp(bytes, "(;", 2) == 0 ||
                         memcmp(bytes, ";;", 2) == 0))
            fail(&c, "not a WebAssembly binary: this looks like the text format (.wat); "
                     "convert it with wat2wasm");
        else
            fail(&c, "not a WebAssembly binary (magic number \\0asm missing)");
        goto out;
    }
    if (len < 8) {
        c.pos = len;
        fail(&c, "unexpected end of module: truncated header");
        goto out;
    }
    uint32_t version = bytes[4] | bytes[5] << 8 | bytes[6] << 16 | (uint32_t)bytes[7] << 24;
    if (version != 1) {
        c.pos = 4;
        if (version == 0x1000d)
            fail(&c, "this is a WebAssembly component (component model), not a core module; "
                     "components are not supported yet");
        else
            fail(&c, "unknown binary version %u", version);
        goto out;
    }
    c.pos = 8;
    int last_rank = 0;
    uint32_t ncode = 0;
    int seen_code = 0;
    while (c.pos < len && !c.failed) {
        size_t sec_start = c.pos;
        uint8_t id;
        uint32_t size;
        if (read_byte(&c, &id) < 0 || read_u32(&c, &size) < 0) break;
        int rank = section_rank(id);
        if (rank < 0) {
            c.pos = sec_start;
            fail(&c, "malformed section id %u", id);
            break;
        }
        if (size > len - c.pos) {
            fail(&c, "section %u size %u runs past the end of the module (truncated?)", id, size);
            break;
        }
        if (id != 0) {
            if (rank <= last_rank) {
                c.pos = sec_start;
                fail(&c, "section %u out of order or duplicated", id);
                break;
            }
            last_rank = rank;
        }
        cursor s = c;
        s.end = c.pos + size;
        switch (id) {
        case 0: {
            char *name = read_name(&s);
            kiln_free(name);
            if (!s.failed) s.pos = s.end; /* the payload is not ours to check */
            break;
        }
        case 1:
            read_type_section(&s, w);
            break;
        case 2:
            read_import_section(&s, w);
            break;
        case 3:
            read_function_section(&s, w);
            break;
        case 4:
            read_table_section(&s, w);
            break;
        case 5:
            read_memory_section(&s, w);
            break;
        case 6:
            read_global_section(&s, w);
            break;
        case 7:
            read_export_section(&s, w);
            break;
        case 8:
            w->has_start = 1;
            read_u32(&s, &w->start);
            break;
        case 10:
            seen_code = 1;
            read_u32(&s, &ncode);
            s.pos = s.end; /* bodies are validated by wasm2c */
            break;
        default:
            s.pos = s.end;
            break; /* element, data, data count: checked by wasm2c */
        }
        if (s.failed) {
            c.failed = 1;
            break;
        }
        if (s.pos != s.end) {
            c.pos = s.pos;
            fail(&c, "section size mismatch in section %u", id);
            break;
        }
        c.pos = s.end;
    }
    if (!c.failed) {
        uint32_t ndefined = w->nfuncs - w->nfunc_imports;
        if ((seen_code ? ncode : 0) != ndefined)
            fail(&c, "function and code section have inconsistent lengths (%u vs %u)", ndefined,
                 seen_code ? ncode : 0);
        else if (w->has_start && w->start >= w->nfuncs)
            fail(&c, "unknown start function %u", w->start);
    }
    if (!c.failed) type_exports(&c, w);
out:
    if (c.failed) {
        kiln_wasm_free(w);
        return NULL;
    }
    return w;
}

const char *kiln_wasm_func_sig(const kiln_wasm *w, uint32_t func_index)
{
    if (func_index >= w->nfuncs) return NULL;
    return w->types[w->func_types[func_index]];
}

void kiln_wasm_free(kiln_wasm *w)
{
    if (!w) return;
    for (uint32_t i = 0; i < w->ntypes; i++)
        kiln_free(w->types[i]);
    kiln_free(w->types);
    for (uint32_t i = 0; i < w->nimports; i++) {
        kiln_free(w->imports[i].module);
        kiln_free(w->imports[i].name);
        kiln_free(w->imports[i].type);
    }
    kiln_free(w->imports);
    for (uint32_t i = 0; i < w->nexports; i++) {
        kiln_free(w->exports[i].name);
        kiln_free(w->exports[i].type);
    }
    kiln_free(w->exports);
    for (uint32_t i = 0; i < w->ntables && w->table_types; i++)
        kiln_free(w->table_types[i]);
    for (uint32_t i = 0; i < w->nmemories && w->memory_types; i++)
        kiln_free(w->memory_types[i]);
    kiln_free(w->table_types);
    kiln_free(w->memory_types);
    kiln_free(w->func_types);
    kiln_free(w->global_types);
    kiln_free(w->global_mut);
    kiln_free(w);
}
