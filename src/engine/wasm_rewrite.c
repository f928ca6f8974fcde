/* wasm_rewrite.c — the copy of a module that wasm2c translates (see wasm_rewrite.h).
 *
 * The module was decoded by wasm_reader.c (section order and sizes are valid); this
 * walks its sections once more and writes them in order, changed as the header says.
 * Every read is bounded by its section's end. */
#include "engine/wasm_rewrite.h"
#include "engine/code_scan.h"
#include "util/alloc.h"
#include "util/leb.h"

#include <stdio.h>
#include <string.h>

uint32_t kiln_wasm_import_modules(const kiln_wasm *w, uint32_t *mod_of)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < w->nimports; k++) {
        const kiln_wasm_import *im = &w->imports[k];
        uint32_t j = 0;
        for (; j < k; j++)
            if (w->imports[j].module_len == im->module_len &&
                memcmp(w->imports[j].module, im->module, im->module_len) == 0)
                break;
        mod_of[k] = j < k ? mod_of[j] : n++;
    }
    return n;
}

typedef struct rw {
    const uint8_t *p; /* the module */
    const kiln_wasm *w;
    size_t sec_start[13], sec_end[13]; /* body range per section id; end 0: absent */
    kiln_buf blob;                     /* becomes plan->bytes */
    kiln_init_plan *plan;
    kiln_buf *err;
    uint32_t *elem_table, *elem_count; /* per planned element segment */
    uint32_t new_type;                 /* index of the init functions' type */
    int keep_datas; /* the copy keeps its data segments (the code may name one) */
} rw;

static int put_uleb(kiln_buf *b, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v) byte |= 0x80;
        if (kiln_buf_append(b, &byte, 1) < 0) return -1;
    } while (v);
    return 0;
}

static int put_sleb32(kiln_buf *b, int32_t v)
{
    int64_t x = v;
    for (;;) {
        uint8_t byte = x & 0x7f;
        x >>= 7;
        int done = (x == 0 && !(byte & 0x40)) || (x == -1 && (byte & 0x40));
        if (!done) byte |= 0x80;
        if (kiln_buf_append(b, &byte, 1) < 0) return -1;
        if (done) return 0;
    }
}

static int put_byte(kiln_buf *b, uint8_t v)
{
    return kiln_buf_append(b, &v, 1);
}

static int put_name(kiln_buf *b, char prefix, uint32_t index)
{
    char name[16];
    int n = snprintf(name, sizeof name, "%c%u", prefix, index);
    return put_uleb(b, (uint64_t)n) < 0 ? -1 : kiln_buf_append(b, name, (size_t)n);
}

/* Skips a name (length + bytes). */
static int skip_name(const uint8_t *p, size_t end, size_t *pos)
{
    uint32_t n;
    if (kiln_leb_u32(p, end, pos, &n) < 0 || n > end - *pos) return -1;
    *pos += n;
    return 0;
}

/* Skips an import descriptor (kind + payload). */
static int skip_import_desc(const uint8_t *p, size_t end, size_t *pos)
{
    uint32_t v;
    if (*pos >= end) return -1;
    uint8_t kind = p[(*pos)++];
    switch (kind) {
    case 0:
        return kiln_leb_u32(p, end, pos, &v);
    case 1:
    case 2: {
        if (kind == 1 && (*pos)++ >= end) return -1; /* a table's reftype, then limits */
        if (*pos >= end) return -1;
        uint8_t flags = p[(*pos)++];
        if (kiln_leb_u32(p, end, pos, &v) < 0) return -1;
        return (flags & 1) ? kiln_leb_u32(p, end, pos, &v) : 0;
    }
    case 3:
        if (end - *pos < 2) return -1;
        *pos += 2;
        return 0;
    default:
        return -1;
    }
}

/* Checks a constant expression at *pos (see kiln_const_check) and copies it to the blob
 * when `span` is not NULL. */
static int take_expr(rw *r, size_t end, size_t *pos, char expect, kiln_init_span *span)
{
    char msg[128];
    size_t start = *pos;
    if (kiln_const_check(r->p, end, pos, r->w, r->plan->nglobal_imports, expect, msg, sizeof msg) <
        0) {
        kiln_buf_printf(r->err, "%s (at byte offset 0x%zx)", msg, start);
        return -1;
    }
    if (!span) return 0;
    span->off = r->blob.len;
    span->len = *pos - start;
    return kiln_buf_append(&r->blob, r->p + start, span->len);
}

/* Grows *arr (of *n elements) by one; returns the new element or NULL. */
static void *push(void **arr, size_t *n, size_t size)
{
    void *p = kiln_realloc(*arr, (*n + 1) * size);
    if (!p) return NULL;
    *arr = p;
    memset((char *)p + *n * size, 0, size);
    return (char *)p + (*n)++ * size;
}

/* A constant expression of `type` that wasm2c writes as zero. */
static int put_zero(kiln_buf *b, char type)
{
    static const uint8_t zeros[16];
    int rc = 0;
    switch (type) {
    case 'i':
        rc = put_byte(b, 0x41) | put_byte(b, 0);
        break;
    case 'j':
        rc = put_byte(b, 0x42) | put_byte(b, 0);
        break;
    case 'f':
        rc = put_byte(b, 0x43) | kiln_buf_append(b, zeros, 4);
        break;
    case 'd':
        rc = put_byte(b, 0x44) | kiln_buf_append(b, zeros, 8);
        break;
    case 'o':
        rc = put_byte(b, 0xfd) | put_byte(b, 12) | kiln_buf_append(b, zeros, 16);
        break;
    default:
        rc = put_byte(b, 0xd0) | put_byte(b, type == 'r' ? 0x70 : 0x6f);
        break;
    }
    return rc | put_byte(b, 0x0b);
}

static int imports_section(rw *r, size_t pos, size_t end, kiln_buf *sec)
{
    const kiln_wasm *w = r->w;
    uint32_t *mod_of = kiln_calloc(w->nimports + 1, sizeof *mod_of);
    if (!mod_of) return -1;
    kiln_wasm_import_modules(w, mod_of);
    uint32_t count;
    int ok = kiln_leb_u32(r->p, end, &pos, &count) == 0 && put_uleb(sec, count) == 0;
    for (uint32_t i = 0; ok && i < count; i++) {
        ok = i < w->nimports && skip_name(r->p, end, &pos) == 0 && skip_name(r->p, end, &pos) == 0;
        size_t desc = pos;
        ok = ok && skip_import_desc(r->p, end, &pos) == 0 && put_name(sec, 'm', mod_of[i]) == 0 &&
             put_name(sec, 'f', i) == 0 && kiln_buf_append(sec, r->p + desc, pos - desc) == 0;
    }
    kiln_free(mod_of);
    return ok ? 0 : -1;
}

static int exports_section(rw *r, size_t pos, size_t end, kiln_buf *sec)
{
    uint32_t count = 0;
    if (end && kiln_leb_u32(r->p, end, &pos, &count) < 0) return -1;
    if (put_uleb(sec, (uint64_t)count + r->plan->nelems) < 0) return -1;
    for (uint32_t i = 0; i < count; i++) {
        if (skip_name(r->p, end, &pos) < 0) return -1;
        size_t desc = pos;
        uint32_t idx;
        if (pos >= end || (pos++, kiln_leb_u32(r->p, end, &pos, &idx)) < 0 ||
            put_name(sec, 'e', i) < 0 || kiln_buf_append(sec, r->p + desc, pos - desc) < 0)
            return -1;
    }
    for (size_t k = 0; k < r->plan->nelems; k++)
        if (put_name(sec, 'i', (uint32_t)k) < 0 || put_byte(sec, 0) < 0 ||
            put_uleb(sec, (uint64_t)r->w->nfuncs + k) < 0)
            return -1;
    return 0;
}

/* Globals: zero initializers; the real ones go to the plan (a lone ref.func stays). */
static int globals_section(rw *r, size_t pos, size_t end, kiln_buf *sec)
{
    const kiln_wasm *w = r->w;
    uint32_t count;
    if (kiln_leb_u32(r->p, end, &pos, &count) < 0 || count > end - pos || put_uleb(sec, count) < 0)
        return -1; /* (every entry takes a byte at least) */
    uint32_t first = w->nglobals - count;
    for (uint32_t i = 0; i < count; i++) {
        if (end - pos < 2) return -1;
        char type = w->global_types[first + i];
        if (kiln_buf_append(sec, r->p + pos, 2) < 0) return -1;
        pos += 2;
        size_t expr = pos;
        uint32_t f;
        if (pos < end && r->p[pos] == 0xd2 && (pos++, kiln_leb_u32(r->p, end, &pos, &f)) == 0 &&
            pos < end && r->p[pos] == 0x0b) {
            if (kiln_buf_append(sec, r->p + expr, ++pos - expr) < 0) return -1;
            continue;
        }
        pos = expr;
        kiln_init_global g = {first + i, type, {0, 0}};
        if (take_expr(r, end, &pos, type, &g.expr) < 0 || put_zero(sec, type) < 0) return -1;
        kiln_init_global *slot = push((void **)&r->plan->globals, &r->plan->nglobals, sizeof g);
        if (!slot) return -1;
        *slot = g;
    }
    return pos == end ? 0 : -1;
}

/* Skips an element segment's items: a vector of function indices (`exprs` 0) or of
 * constant expressions (left to wasm2c to check); *n is their count. */
static int skip_items(rw *r, size_t end, size_t *pos, int exprs, uint32_t *n)
{
    if (kiln_leb_u32(r->p, end, pos, n) < 0) return -1;
    uint32_t x = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (!exprs) {
            if (kiln_leb_u32(r->p, end, pos, &x) < 0) return -1;
            if (x >= r->w->nfuncs) goto unknown;
            continue;
        }
        /* ref.func x / ref.null t / global.get x, then end */
        for (;;) {
            if (*pos >= end) return -1;
            uint8_t op = r->p[(*pos)++];
            if (op == 0x0b) break;
            if (op == 0xd0) {
                if ((*pos)++ >= end) return -1;
            } else if (op == 0xd2 || op == 0x23) {
                if (kiln_leb_u32(r->p, end, pos, &x) < 0) return -1;
                if (op == 0xd2 && x >= r->w->nfuncs) goto unknown;
            } else {
                kiln_buf_puts(r->err, "constant expression required in an element segment");
                return -1;
            }
        }
    }
    return 0;
unknown:
    /* Checked here: the copy has more functions (the init functions) than the module. */
    kiln_buf_printf(r->err, "unknown function %u in an element segment", x);
    return -1;
}

/* Element segments: active ones become passive (same items), applied at instantiation
 * by init function k (the plan's element k). */
static int elems_section(rw *r, size_t pos, size_t end, kiln_buf *sec)
{
    uint32_t count;
    if (kiln_leb_u32(r->p, end, &pos, &count) < 0 || count > end - pos || put_uleb(sec, count) < 0)
        return -1; /* (every entry takes a byte at least) */
    r->elem_table = kiln_calloc(count + 1, sizeof *r->elem_table);
    r->elem_count = kiln_calloc(count + 1, sizeof *r->elem_count);
    if (!r->elem_table || !r->elem_count) return -1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t flags, table = 0, n;
        size_t start = pos;
        if (kiln_leb_u32(r->p, end, &pos, &flags) < 0) return -1;
        if (flags > 7) {
            kiln_buf_printf(r->err, "malformed elements segment kind %u", flags);
            return -1;
        }
        int exprs = (flags & 4) != 0;
        if (flags & 1) { /* passive or declarative: unchanged */
            if (pos >= end) return -1;
            pos++; /* elemkind or reftype */
            if (skip_items(r, end, &pos, exprs, &n) < 0 ||
                kiln_buf_append(sec, r->p + start, pos - start) < 0)
                return -1;
            continue;
        }
        if ((flags & 2) && kiln_leb_u32(r->p, end, &pos, &table) < 0) return -1;
        kiln_init_elem e = {i, {0, 0}};
        if (take_expr(r, end, &pos, 'i', &e.offset) < 0) return -1;
        uint8_t kind = exprs ? 0x70 : 0x00; /* flags 0 and 4 imply funcref */
        if (flags & 2) {
            if (pos >= end) return -1;
            kind = r->p[pos++];
        }
        size_t items = pos;
        if (skip_items(r, end, &pos, exprs, &n) < 0) return -1;
        if (put_uleb(sec, exprs ? 5 : 1) < 0 || put_byte(sec, kind) < 0 ||
            kiln_buf_append(sec, r->p + items, pos - items) < 0)
            return -1;
        r->elem_table[r->plan->nelems] = table;
        r->elem_count[r->plan->nelems] = n;
        kiln_init_elem *slot = push((void **)&r->plan->elems, &r->plan->nelems, sizeof e);
        if (!slot) return -1;
        *slot = e;
    }
    return pos == end ? 0 : -1;
}

/* Data segments: active ones become empty passive ones; offset and bytes to the plan.
 * When the code names no data segment (r->keep_datas 0: no memory.init or data.drop in
 * it, code_scan.h) the copy keeps none, and no data count section: wasm2c makes a C
 * symbol per segment and copies its whole symbol set per function. Go's linker writes
 * 58,350 segments (32 s of wasm2c for a hello, 1 s without them), StarlingMonkey 10,000
 * for 12,704 functions (46 s, 20 s without). */
static int datas_section(rw *r, size_t pos, size_t end, kiln_buf *sec)
{
    uint32_t count;
    int keep = r->keep_datas;
    if (kiln_leb_u32(r->p, end, &pos, &count) < 0 || count > end - pos ||
        put_uleb(sec, keep ? count : 0) < 0)
        return -1; /* (every entry takes a byte at least) */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t flags, memory = 0, n;
        size_t start = pos;
        if (kiln_leb_u32(r->p, end, &pos, &flags) < 0) return -1;
        if (flags > 2) {
            kiln_buf_printf(r->err, "malformed data segment kind %u", flags);
            return -1;
        }
        if (flags == 1) {
            if (kiln_leb_u32(r->p, end, &pos, &n) < 0 || n > end - pos) return -1;
            pos += n;
            if (keep && kiln_buf_append(sec, r->p + start, pos - start) < 0) return -1;
            continue;
        }
        if (flags == 2 && kiln_leb_u32(r->p, end, &pos, &memory) < 0) return -1;
        if (memory >= r->w->nmemories) {
            kiln_buf_printf(r->err, "unknown memory %u in data segment %u", memory, i);
            return -1;
        }
        kiln_init_data d = {i, memory, {0, 0}, {0, 0}};
        if (take_expr(r, end, &pos, 'i', &d.offset) < 0) return -1;
        if (kiln_leb_u32(r->p, end, &pos, &n) < 0 || n > end - pos) return -1;
        d.data.off = r->blob.len;
        d.data.len = n;
        if (kiln_buf_append(&r->blob, r->p + pos, n) < 0) return -1;
        pos += n;
        if (keep && (put_byte(sec, 1) < 0 || put_byte(sec, 0) < 0)) return -1;
        kiln_init_data *slot = push((void **)&r->plan->datas, &r->plan->ndatas, sizeof d);
        if (!slot) return -1;
        *slot = d;
    }
    return pos == end ? 0 : -1;
}

/* A section that keeps its entries and gets `extra` more (types, functions, code):
 * the count is rewritten, the entries copied, then `more` appended. */
static int extend_section(rw *r, int id, uint32_t extra, const kiln_buf *more, kiln_buf *sec)
{
    size_t pos = r->sec_start[id], end = r->sec_end[id];
    uint32_t count = 0;
    if (end && kiln_leb_u32(r->p, end, &pos, &count) < 0) return -1;
    return put_uleb(sec, (uint64_t)count + extra) < 0 ||
                   (end && kiln_buf_append(sec, r->p + pos, end - pos) < 0) ||
                   (more->len && kiln_buf_append(sec, more->data, more->len) < 0)
               ? -1
               : 0;
}

/* The init functions: (param i32) -> (); table.init seg table (dest, 0, n); elem.drop. */
static int init_functions(rw *r, kiln_buf *types, kiln_buf *funcs, kiln_buf *code)
{
    size_t n = r->plan->nelems;
    if (!n) return 0;
    uint32_t ntypes = 0;
    size_t pos = r->sec_start[1];
    if (r->sec_end[1] && kiln_leb_u32(r->p, r->sec_end[1], &pos, &ntypes) < 0) return -1;
    r->new_type = ntypes;
    if (put_byte(types, 0x60) < 0 || put_uleb(types, 1) < 0 || put_byte(types, 0x7f) < 0 ||
        put_uleb(types, 0) < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        kiln_buf body = KILN_BUF_INIT;
        uint32_t seg = r->plan->elems[k].segment;
        int rc = put_uleb(&body, 0) | put_byte(&body, 0x20) | put_uleb(&body, 0) |
                 put_byte(&body, 0x41) | put_uleb(&body, 0) | put_byte(&body, 0x41) |
                 put_sleb32(&body, (int32_t)r->elem_count[k]) | put_byte(&body, 0xfc) |
                 put_uleb(&body, 12) | put_uleb(&body, seg) | put_uleb(&body, r->elem_table[k]) |
                 put_byte(&body, 0xfc) | put_uleb(&body, 13) | put_uleb(&body, seg) |
                 put_byte(&body, 0x0b);
        rc |= put_uleb(funcs, r->new_type) | put_uleb(code, body.len) |
              kiln_buf_append(code, body.data, body.len);
        kiln_buf_free(&body);
        if (rc) return -1;
    }
    return 0;
}

static int put_section(kiln_buf *out, uint8_t id, const kiln_buf *sec)
{
    return put_byte(out, id) < 0 || put_uleb(out, sec->len) < 0 ||
                   (sec->len && kiln_buf_append(out, sec->data, sec->len) < 0)
               ? -1
               : 0;
}

int kiln_wasm_rewrite(const uint8_t *bytes, size_t len, const kiln_wasm *w, kiln_buf *out,
                      kiln_init_plan **plan_out, kiln_rewrite_info *info, kiln_buf *err)
{
    rw r = {.p = bytes, .w = w, .blob = KILN_BUF_INIT, .err = err};
    kiln_buf types = KILN_BUF_INIT, funcs = KILN_BUF_INIT, code = KILN_BUF_INIT;
    kiln_buf sec = KILN_BUF_INIT;
    int rc = -1;
    r.plan = kiln_calloc(1, sizeof *r.plan);
    if (!r.plan) goto oom;
    /* Where imported globals and memories come from. */
    r.plan->global_import = kiln_calloc(w->nglobals + 1, sizeof(uint32_t));
    r.plan->memory_import = kiln_calloc(w->nmemories + 1, sizeof(uint32_t));
    if (!r.plan->global_import || !r.plan->memory_import) goto oom;
    for (uint32_t k = 0; k < w->nimports; k++) {
        if (w->imports[k].kind == KILN_EXTERN_GLOBAL)
            r.plan->global_import[r.plan->nglobal_imports++] = k;
        if (w->imports[k].kind == KILN_EXTERN_MEMORY)
            r.plan->memory_import[r.plan->nmemory_imports++] = k;
    }
    /* Find the sections (the reader checked their order and sizes). */
    for (size_t pos = 8; pos < len;) {
        uint8_t id = bytes[pos++];
        uint32_t size;
        if (kiln_leb_u32(bytes, len, &pos, &size) < 0 || size > len - pos) goto bad;
        if (id > 0 && id < 13) {
            r.sec_start[id] = pos;
            r.sec_end[id] = pos + size;
        }
        pos += size;
    }
    if (len < 8 || kiln_buf_append(out, bytes, 8) < 0) goto oom;
    /* The element section first: the init functions are added to earlier sections. */
    kiln_buf elems = KILN_BUF_INIT;
    if (r.sec_end[9] && elems_section(&r, r.sec_start[9], r.sec_end[9], &elems) < 0) {
        kiln_buf_free(&elems);
        goto bad;
    }
    if (init_functions(&r, &types, &funcs, &code) < 0) {
        kiln_buf_free(&elems);
        goto oom;
    }
    /* Without a data count section the code cannot name a segment (the binary format
     * requires it for memory.init and data.drop); with one, the code is read. The copy
     * may leave both sections out, so their counts are checked here, not by wasm2c. */
    if (r.sec_end[12]) {
        uint32_t ndc, nd = 0;
        size_t pc = r.sec_start[12], pd = r.sec_start[11];
        if (kiln_leb_u32(bytes, r.sec_end[12], &pc, &ndc) < 0 || pc != r.sec_end[12] ||
            (r.sec_end[11] && kiln_leb_u32(bytes, r.sec_end[11], &pd, &nd) < 0) || nd != ndc) {
            kiln_buf_puts(err, "data count and data section have inconsistent lengths");
            kiln_buf_free(&elems);
            goto bad;
        }
    }
    r.keep_datas = r.sec_end[12] && kiln_code_names_data(bytes, r.sec_start[10], r.sec_end[10]);
    static const uint8_t order[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11};
    for (size_t i = 0; i < sizeof order; i++) {
        uint8_t id = order[i];
        size_t s = r.sec_start[id], e = r.sec_end[id];
        int extra = r.plan->nelems > 0;
        int present = e != 0 || (extra && (id == 1 || id == 3 || id == 10)) || (id == 7 && extra);
        if (!present || (id == 12 && !r.keep_datas)) continue;
        kiln_buf_reset(&sec);
        int r2 = 0;
        switch (id) {
        case 1:
            r2 = extend_section(&r, 1, extra, &types, &sec);
            break;
        case 2:
            r2 = imports_section(&r, s, e, &sec);
            break;
        case 3:
            r2 = extend_section(&r, 3, (uint32_t)r.plan->nelems, &funcs, &sec);
            break;
        case 6:
            r2 = globals_section(&r, s, e, &sec);
            break;
        case 7:
            r2 = exports_section(&r, s, e, &sec);
            break;
        case 9:
            r2 = kiln_buf_append(&sec, elems.data, elems.len);
            break;
        case 10:
            r2 = extend_section(&r, 10, (uint32_t)r.plan->nelems, &code, &sec);
            break;
        case 11:
            r2 = datas_section(&r, s, e, &sec);
            break;
        default:
            r2 = kiln_buf_append(&sec, bytes + s, e - s);
            break;
        }
        if (r2 < 0 || put_section(out, id, &sec) < 0) {
            kiln_buf_free(&elems);
            goto bad;
        }
    }
    kiln_buf_free(&elems);
    r.plan->len = r.blob.len;
    r.plan->bytes = r.blob.len ? (uint8_t *)kiln_buf_steal(&r.blob) : NULL;
    info->nelem_inits = (uint32_t)r.plan->nelems;
    *plan_out = r.plan;
    r.plan = NULL;
    rc = 0;
    goto out;
oom:
    kiln_buf_puts(err, "out of memory");
    goto out;
bad:
    if (!err->len) kiln_buf_puts(err, "malformed module (global, element or data section)");
out:
    kiln_init_plan_free(r.plan);
    kiln_buf_free(&r.blob);
    kiln_buf_free(&types);
    kiln_buf_free(&funcs);
    kiln_buf_free(&code);
    kiln_buf_free(&sec);
    kiln_free(r.elem_table);
    kiln_free(r.elem_count);
    return rc;
}
