/* reader_test.c — unit tests of the component reader and validator, on components
 * encoded by hand with the small encoder below: every section, every type, the errors
 * (with their section and offset), and every truncation of a valid component. */
#include "component/reader.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/test.h"

#include <stdlib.h>

/* ---- a tiny encoder ---- */

static void put(kiln_buf *b, const void *p, size_t n)
{
    if (kiln_buf_append(b, p, n) < 0) abort();
}
static void u8(kiln_buf *b, uint8_t v)
{
    put(b, &v, 1);
}
static void u32(kiln_buf *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        u8(b, byte | (v ? 0x80 : 0));
    } while (v);
}
static void str(kiln_buf *b, const char *s)
{
    u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}
/* Appends section `id` holding `content` (then reset). */
static void section(kiln_buf *out, uint8_t id, kiln_buf *content)
{
    u8(out, id);
    u32(out, (uint32_t)content->len);
    put(out, content->data, content->len);
    kiln_buf_reset(content);
}
static void preamble(kiln_buf *b)
{
    put(b, "\0asm\x0d\0\x01\0", 8);
}

/* A core module exporting memory, realloc (iiii:i) and init (:). */
static void core_module(kiln_buf *m)
{
    static const uint8_t mod[] = {0, 'a', 's', 'm', 1, 0, 0, 0,
                                  /* types: (i32 i32 i32 i32) -> i32, () -> () */
                                  1, 12, 2, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0,
                                  /* funcs */
                                  3, 3, 2, 0, 1,
                                  /* memory 1 */
                                  5, 3, 1, 0, 1,
                                  /* exports */
                                  7, 27, 3, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0, 7, 'r', 'e', 'a',
                                  'l', 'l', 'o', 'c', 0, 0, 4, 'i', 'n', 'i', 't', 0, 1,
                                  /* code */
                                  10, 9, 2, 4, 0, 0x41, 0, 0x0b, 2, 0, 0x0b};
    put(m, mod, sizeof mod);
}

static kiln_component *read_buf(const kiln_buf *b, char *err, size_t errlen)
{
    return kiln_component_read((const uint8_t *)b->data, b->len, "t.wasm", err, errlen);
}

/* A component using every section: custom, core module, core instance, core type,
 * nested component, instance, alias, type, canon, start, import, export. */
static void full_component(kiln_buf *c)
{
    kiln_buf s = KILN_BUF_INIT;
    preamble(c);
    /* custom */
    str(&s, "producers");
    put(&s, "xyz", 3);
    section(c, 0, &s);
    /* type 0: string -> string func; type 1: () -> (); type 2: instance type */
    u32(&s, 3);
    u8(&s, 0x40), u32(&s, 1), str(&s, "s"), u8(&s, 0x73), u8(&s, 0x00), u8(&s, 0x73);
    u8(&s, 0x40), u32(&s, 0), u8(&s, 0x01), u8(&s, 0x00);
    u8(&s, 0x42), u32(&s, 4);
    u8(&s, 0x04), u8(&s, 0x00), str(&s, "res"), u8(&s, 0x03), u8(&s, 0x01); /* type 0 */
    u8(&s, 0x01), u8(&s, 0x68), u32(&s, 0);                                 /* type 1 */
    u8(&s, 0x01), u8(&s, 0x40), u32(&s, 1), str(&s, "self"), u32(&s, 1), u8(&s, 0x01),
        u8(&s, 0x00); /* type 2 */
    u8(&s, 0x04), u8(&s, 0x00), str(&s, "[method]res.get"), u8(&s, 0x01), u32(&s, 2);
    section(c, 7, &s);
    /* imports: func "f" (type 0), instance "wasi:x/y@0.2.3" (type 2) */
    u32(&s, 2);
    u8(&s, 0x00), str(&s, "f"), u8(&s, 0x01), u32(&s, 0);
    u8(&s, 0x00), str(&s, "wasi:x/y@0.2.3"), u8(&s, 0x05), u32(&s, 2);
    section(c, 10, &s);
    /* core module 0 */
    core_module(&s);
    section(c, 1, &s);
    /* core instance 0: instantiate module 0 */
    u32(&s, 1);
    u8(&s, 0x00), u32(&s, 0), u32(&s, 0);
    section(c, 2, &s);
    /* core type 0: func (i32) -> () */
    u32(&s, 1);
    u8(&s, 0x60), u32(&s, 1), u8(&s, 0x7f), u32(&s, 0);
    section(c, 3, &s);
    /* aliases: core memory 0, core func 0 (realloc), core func 1 (init) */
    u32(&s, 3);
    u8(&s, 0x00), u8(&s, 0x02), u8(&s, 0x01), u32(&s, 0), str(&s, "memory");
    u8(&s, 0x00), u8(&s, 0x00), u8(&s, 0x01), u32(&s, 0), str(&s, "realloc");
    u8(&s, 0x00), u8(&s, 0x00), u8(&s, 0x01), u32(&s, 0), str(&s, "init");
    section(c, 6, &s);
    /* canon: lower func 0 (memory 0, realloc 0, utf8) -> core func 2; lift core func 1 as
     * type 1 -> func 2 */
    u32(&s, 2);
    u8(&s, 0x01), u8(&s, 0x00), u32(&s, 0), u32(&s, 3);
    u8(&s, 0x03), u32(&s, 0), u8(&s, 0x04), u32(&s, 0), u8(&s, 0x00);
    u8(&s, 0x00), u8(&s, 0x00), u32(&s, 1), u32(&s, 0), u32(&s, 1);
    section(c, 8, &s);
    /* start func 2 */
    u32(&s, 1), u32(&s, 0), u32(&s, 0);
    section(c, 9, &s);
    /* nested component: empty, with a type */
    {
        kiln_buf n = KILN_BUF_INIT, ns = KILN_BUF_INIT;
        preamble(&n);
        u32(&ns, 1);
        u8(&ns, 0x7f);
        section(&n, 7, &ns);
        put(&s, n.data, n.len);
        kiln_buf_free(&n);
        kiln_buf_free(&ns);
    }
    section(c, 4, &s);
    /* instances: instantiate component 0; inline exports of func 2 */
    u32(&s, 2);
    u8(&s, 0x00), u32(&s, 0), u32(&s, 0);
    u8(&s, 0x01), u32(&s, 1), u8(&s, 0x00), str(&s, "run"), u8(&s, 0x01), u32(&s, 1);
    section(c, 5, &s);
    /* exports: func "run" (func 2), instance "wasi:cli/run@0.2.0" (instance 2) */
    u32(&s, 2);
    u8(&s, 0x00), str(&s, "run"), u8(&s, 0x01), u32(&s, 1), u8(&s, 0x00);
    u8(&s, 0x00), str(&s, "wasi:cli/run@0.2.0"), u8(&s, 0x05), u32(&s, 2), u8(&s, 0x00);
    section(c, 11, &s);
    kiln_buf_free(&s);
}

static void test_full(void)
{
    kiln_buf c = KILN_BUF_INIT;
    full_component(&c);
    char err[512];
    kiln_component *comp = read_buf(&c, err, sizeof err);
    if (!comp) fprintf(stderr, "  error: %s\n", err);
    CHECK(comp != NULL);
    if (comp) {
        CHECK_INT(comp->ncustom, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_CORE_MODULE].n, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_CORE_INSTANCE].n, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_CORE_FUNC].n, 3);
        CHECK_INT(comp->spaces[KILN_CSORT_CORE_MEMORY].n, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_CORE_TYPE].n, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_FUNC].n, 3); /* import f, lift, export run */
        CHECK_INT(comp->spaces[KILN_CSORT_INSTANCE].n, 4);
        CHECK_INT(comp->spaces[KILN_CSORT_COMPONENT].n, 1);
        CHECK_INT(comp->spaces[KILN_CSORT_TYPE].n, 3);
        CHECK_INT(comp->type->nimports, 2);
        CHECK_INT(comp->type->nexports, 2);
        CHECK_STR(comp->type->imports[1].name, "wasi:x/y@0.2.3");
        const kiln_ctype *it = comp->type->imports[1].type;
        CHECK(it && it->kind == KILN_CT_INSTANCE && it->nexports == 2);
        if (it && it->nexports == 2) {
            CHECK(it->exports[0].type->kind == KILN_CT_RESOURCE && it->exports[0].type->abstract);
            CHECK_STR(it->exports[0].type->name, "res");
            const kiln_ctype *ft = it->exports[1].type;
            CHECK(ft->kind == KILN_CT_FUNC && ft->nitems == 1);
            CHECK(ft->items[0].type.type->kind == KILN_CT_BORROW);
            CHECK(ft->items[0].type.type->elem.type == it->exports[0].type);
        }
        /* the embedded module's byte range */
        const kiln_cdef *m = NULL;
        for (uint32_t i = 0; i < comp->ndefs; i++)
            if (comp->defs[i].kind == KILN_CDEF_CORE_MODULE) m = &comp->defs[i];
        CHECK(m && m->module.len > 8 && memcmp(m->module.bytes, "\0asm", 4) == 0);
        CHECK(m && m->module.bytes == (const uint8_t *)c.data + m->module.offset);
        CHECK_STR(comp->spaces[KILN_CSORT_CORE_FUNC].types[2]->sig,
                  "iii:"); /* lowered: string -> string via retptr */
        kiln_component_free(comp);
    }
    /* every prefix is rejected cleanly, except those ending at a section boundary, which
     * are shorter valid components (copied to an exact-size buffer for ASan) */
    int all_rejected = 1, all_named = 1, boundaries = 0;
    size_t next_boundary = 8;
    for (size_t n = 0; n < c.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy) abort();
        memcpy(copy, c.data, n);
        int boundary = n == next_boundary;
        if (boundary) { /* the next section's end: id, LEB size, contents */
            size_t p = n + 1, size = 0, shift = 0;
            uint8_t byte;
            do {
                byte = (uint8_t)c.data[p++];
                size |= (size_t)(byte & 0x7f) << shift;
                shift += 7;
            } while (byte & 0x80);
            next_boundary = p + size;
            boundaries++;
        }
        kiln_component *p = kiln_component_read(copy, n, "t.wasm", err, sizeof err);
        if (p && !boundary) all_rejected = 0;
        kiln_component_free(p);
        if (!p && strncmp(err, "t.wasm: ", 8) != 0) all_named = 0;
        free(copy);
    }
    CHECK(all_rejected);
    CHECK(all_named);
    CHECK_INT(boundaries, 12);
    /* and every single-byte corruption is handled (accepted or rejected, no crash) */
    for (size_t i = 8; i < c.len; i++) {
        uint8_t *copy = malloc(c.len);
        if (!copy) abort();
        memcpy(copy, c.data, c.len);
        copy[i] ^= 0xff;
        kiln_component_free(kiln_component_read(copy, c.len, "t.wasm", err, sizeof err));
        free(copy);
    }
    /* out of memory at every allocation: a clean error */
    int oom_ok = 1;
    for (long k = 0; k < 200; k++) {
        kiln_alloc_fail_after(k);
        kiln_component *p = read_buf(&c, err, sizeof err);
        kiln_alloc_fail_after(-1);
        if (p)
            kiln_component_free(p);
        else if (!strstr(err, "out of memory"))
            oom_ok = 0;
    }
    CHECK(oom_ok);
    kiln_buf_free(&c);
}

/* A component of preamble + one section with the given content. */
static kiln_component *one_section(uint8_t id, const uint8_t *content, size_t n, char *err,
                                   size_t errlen)
{
    kiln_buf c = KILN_BUF_INIT, s = KILN_BUF_INIT;
    preamble(&c);
    put(&s, content, n);
    section(&c, id, &s);
    kiln_component *comp = read_buf(&c, err, errlen);
    kiln_buf_free(&c);
    kiln_buf_free(&s);
    return comp;
}

#define EXPECT_ERR(id, want, ...)                                                                  \
    do {                                                                                           \
        static const uint8_t bytes_[] = {__VA_ARGS__};                                             \
        char err_[512];                                                                            \
        kiln_component *c_ = one_section(id, bytes_, sizeof bytes_, err_, sizeof err_);            \
        CHECK(c_ == NULL);                                                                         \
        kiln_component_free(c_);                                                                   \
        if (!strstr(err_, want)) fprintf(stderr, "  want '%s' in: %s\n", want, err_);              \
        CHECK(strstr(err_, want) != NULL);                                                         \
    } while (0)

#define EXPECT_OK(id, ...)                                                                         \
    do {                                                                                           \
        static const uint8_t bytes_[] = {__VA_ARGS__};                                             \
        char err_[512];                                                                            \
        kiln_component *c_ = one_section(id, bytes_, sizeof bytes_, err_, sizeof err_);            \
        if (!c_) fprintf(stderr, "  unexpected error: %s\n", err_);                                \
        CHECK(c_ != NULL);                                                                         \
        kiln_component_free(c_);                                                                   \
    } while (0)

static void test_types(void)
{
    /* every primitive, then each defined value type referring to earlier ones */
    static const uint8_t types[] = {
        27,   0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x7a, 0x79, 0x78, 0x77, 0x76,
        0x75, 0x74, 0x73, 0x64,                                           /* 0..13 */
        0x72, 2,    1,    'a',  0x79, 1,    'b',  0x73,                   /* 14 record */
        0x71, 2,    1,    'x',  0x00, 0x00, 1,    'y',  0x01, 0x75, 0x00, /* 15 variant */
        0x70, 14,                                                         /* 16 list<record> */
        0x67, 0x7d, 4,                                                    /* 17 list<u8, 4> */
        0x6f, 2,    0x7f, 16,                                             /* 18 tuple */
        0x6e, 2,    1,    'p',  1,    'q',                                /* 19 flags */
        0x6d, 1,    1,    'e',                                            /* 20 enum */
        0x6b, 0x73,                                                       /* 21 option<string> */
        0x6a, 0x01, 0x79, 0x01, 0x73, /* 22 result<u32, string> */
        0x6a, 0x00, 0x00,             /* 23 result */
        0x66, 0x01, 0x7d,             /* 24 stream<u8> */
        0x65, 0x00,                   /* 25 future */
        0x63, 0x73, 0x79,             /* 26 map<string, u32> */
    };
    char err[512];
    kiln_component *c = one_section(7, types, sizeof types, err, sizeof err);
    if (!c) fprintf(stderr, "  error: %s\n", err);
    CHECK(c != NULL);
    if (c) {
        const kiln_cspace *t = &c->spaces[KILN_CSORT_TYPE];
        CHECK_INT(t->n, 27);
        CHECK(t->types[0]->kind == KILN_CT_BOOL && t->types[12]->kind == KILN_CT_STRING);
        CHECK(t->types[13]->kind == KILN_CT_ERROR_CONTEXT);
        const kiln_ctype *rec = t->types[14];
        CHECK(rec->kind == KILN_CT_RECORD && rec->nitems == 2);
        CHECK_INT(rec->size, 12);
        CHECK_INT(rec->align, 4);
        CHECK_INT(rec->flat, 3);
        CHECK(rec->has_heap);
        CHECK(t->types[15]->kind == KILN_CT_VARIANT && t->types[15]->size == 16);
        CHECK(t->types[16]->elem.type == rec);
        CHECK_INT(t->types[17]->size, 4);
        CHECK_INT(t->types[17]->len, 4);
        CHECK(t->types[18]->kind == KILN_CT_TUPLE &&
              t->types[18]->items[1].type.type == t->types[16]);
        CHECK_INT(t->types[19]->size, 1);
        CHECK(t->types[20]->kind == KILN_CT_ENUM);
        CHECK_INT(t->types[21]->size, 12);
        CHECK(t->types[22]->has_elem && t->types[22]->has_elem2);
        CHECK(!t->types[23]->has_elem && !t->types[23]->has_elem2);
        CHECK(t->types[24]->kind == KILN_CT_STREAM && t->types[24]->has_elem);
        CHECK(t->types[25]->kind == KILN_CT_FUTURE && !t->types[25]->has_elem);
        CHECK(t->types[26]->kind == KILN_CT_MAP);
        kiln_component_free(c);
    }
    /* resource, own, borrow, func (sync and async), component type */
    EXPECT_OK(7, 6, 0x3f, 0x7f, 0x00, 0x69, 0, 0x68, 0, 0x40, 1, 1, 'r', 1, 0x00, 1, 0x43, 0, 0x01,
              0x00, 0x41, 2, 0x03, 0x00, 1, 'i', 0x03, 0x01, 0x04, 0x00, 1, 'g', 0x03, 0x00, 0);
    EXPECT_OK(7, 0); /* an empty vector as the first definitions (found by fuzzing) */
    EXPECT_ERR(7, "flags type must have 1 to 32 flags", 1, 0x6e, 0);
    EXPECT_ERR(7, "fixed-length list must have a length > 0", 1, 0x67, 0x7f, 0);
    EXPECT_ERR(7, "own of type 0: is a u32, not a resource type", 2, 0x79, 0x69, 0);
    EXPECT_ERR(7, "function result must not hold a borrow", 3, 0x3f, 0x7f, 0x00, 0x68, 0, 0x40, 0,
               0x00, 1);
    /* sizes of 2^28 bytes or more, also with 64-bit pointers (max-value-size.wast) */
    EXPECT_ERR(7, "exceeds the maximum byte size", 3, 0x67, 0x7d, 0xff, 0xff, 0xff, 0x7f, 0x67,
               0x7d, 1, 0x6f, 2, 0, 1);
    EXPECT_ERR(7, "(with 64-bit pointers)", 1, 0x67, 0x73, 0x80, 0x80, 0x80, 0x08);
    EXPECT_OK(7, 3, 0x67, 0x7d, 0xfe, 0xff, 0xff, 0x7f, 0x67, 0x7d, 1, 0x6f, 2, 0, 1);
    EXPECT_OK(7, 1, 0x67, 0x73, 0xff, 0xff, 0xff, 0x07);
    /* core module types: unique export names and import pairs, memory limits
     * (component-spec core-modules.wast) */
    EXPECT_ERR(3, "export name 'a' already defined", 1, 0x50, 3, 0x01, 0x60, 0, 0, 0x03, 1, 'a',
               0x00, 0, 0x03, 1, 'a', 0x00, 0);
    EXPECT_ERR(3, "duplicate import name ':a'", 1, 0x50, 2, 0x00, 0, 1, 'a', 0x02, 0x00, 1, 0x00, 0,
               1, 'a', 0x02, 0x00, 1);
    EXPECT_OK(3, 1, 0x50, 2, 0x00, 0, 1, 'a', 0x02, 0x00, 1, 0x00, 0, 1, 'b', 0x02, 0x00, 1);
    EXPECT_ERR(3, "memory size must be at most 65536 pages", 1, 0x50, 1, 0x00, 0, 0, 0x02, 0x00,
               0xf0, 0xa2, 0x04);
    /* stream<char> (component-spec binary/binary.wast) */
    EXPECT_ERR(7, "stream<char> is not valid", 1, 0x66, 0x01, 0x74);
    EXPECT_ERR(7, "'Ab' is not a valid label", 1, 0x72, 1, 2, 'A', 'b', 0x7f);
    EXPECT_ERR(7, "label 'A' conflicts with the earlier 'a'", 1, 0x72, 2, 1, 'a', 0x7f, 1, 'A',
               0x7f);
    EXPECT_ERR(7, "value type refers to type 5: no such type (0 types)", 1, 0x70, 5);
    EXPECT_ERR(7, "invalid type opcode 0x50", 1, 0x50);
    EXPECT_ERR(7, "resource types cannot be defined in instance types", 1, 0x42, 1, 0x01, 0x3f,
               0x7f, 0x00);
    EXPECT_ERR(7, "definition count 1000 larger than the bytes left", 0xe8, 0x07, 0x7f);
    EXPECT_ERR(7, "definition count 4294967295", 0xff, 0xff, 0xff, 0xff, 0x0f);
}

static void test_errors(void)
{
    char err[512];
    /* the example of the brief: a lower of a missing func */
    kiln_component *c = one_section(8, (const uint8_t[]){1, 0x01, 0x00, 7, 0}, 5, err, sizeof err);
    CHECK(c == NULL);
    CHECK_STR(err, "t.wasm: section 'canon' (id 8) at offset 0xb: lower of func 7: no such func "
                   "(0 funcs)");
    EXPECT_ERR(8, "lift to type 0: no such type", 1, 0x00, 0x00, 0, 0, 0);
    EXPECT_ERR(8, "invalid canon opcode 0x08", 1, 0x08);
    EXPECT_ERR(8, "invalid canon opcode 0x07", 1, 0x07, 0);
    EXPECT_ERR(8, "'cancellable' immediate (0x01) is no longer supported", 1, 0x0c, 0x01);
    EXPECT_OK(8, 3, 0x0c, 0x00, 0x1f, 0x24); /* thread.yield, waitable-set.new, backpressure.inc */
    EXPECT_ERR(8, "conflicting or duplicate string-encoding", 1, 0x01, 0x00, 0, 2, 0x00, 0x01);
    EXPECT_ERR(8, "duplicate canon option", 1, 0x01, 0x00, 0, 2, 0x03, 0, 0x03, 0);
    EXPECT_ERR(12, "value definitions (section 12) are not supported", 0);
    EXPECT_ERR(13, "unknown section id 13", 0);
    EXPECT_ERR(10, "invalid name 'Foo-bar'", 1, 0x00, 7, 'F', 'o', 'o', '-', 'b', 'a', 'r', 0x01,
               0);
    EXPECT_ERR(10, "version is not a valid semver", 1, 0x00, 13, 'a', ':', 'b', '/', 'c', '@', '1',
               '.', '2', '.', '3', '.', '4', 0x05, 0);
    EXPECT_ERR(10, "import or export of type 0: no such type", 1, 0x00, 1, 'f', 0x01, 0);
    EXPECT_ERR(6, "alias of instance 0: no such instance", 1, 0x01, 0x00, 0, 1, 'f');
    EXPECT_ERR(6, "outer alias count 1 exceeds", 1, 0x03, 0x02, 1, 0);
    EXPECT_ERR(2, "instantiation of core module 0: no such core module", 1, 0x00, 0, 0);
    EXPECT_ERR(11, "export of func 0: no such func", 1, 0x00, 1, 'f', 0x01, 0, 0x00);
    EXPECT_ERR(1, "embedded core module does not start with a core module preamble", 0, 'a');
    EXPECT_ERR(4, "unsupported component version", 0, 'a', 's', 'm', 0x0e, 0, 1, 0);
    EXPECT_ERR(4, "a core module, not a component", 0, 'a', 's', 'm', 1, 0, 0, 0);
    EXPECT_ERR(0, "name length", 5, 'a');
    /* duplicate imports (strongly-unique names) */
    kiln_buf b = KILN_BUF_INIT, s = KILN_BUF_INIT;
    preamble(&b);
    u32(&s, 1), u8(&s, 0x40), u32(&s, 0), u8(&s, 0x01), u8(&s, 0x00);
    section(&b, 7, &s);
    u32(&s, 2);
    u8(&s, 0x00), str(&s, "a-b"), u8(&s, 0x01), u32(&s, 0);
    u8(&s, 0x00), str(&s, "A-b"), u8(&s, 0x01), u32(&s, 0);
    section(&b, 10, &s);
    c = read_buf(&b, err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "at offset 0x19: import name 'A-b' conflicts with the earlier 'a-b'") !=
          NULL);
    /* [method] of an unknown resource */
    kiln_buf_reset(&b);
    preamble(&b);
    u32(&s, 1), u8(&s, 0x40), u32(&s, 0), u8(&s, 0x01), u8(&s, 0x00);
    section(&b, 7, &s);
    u32(&s, 1), u8(&s, 0x00), str(&s, "[method]r.x"), u8(&s, 0x01), u32(&s, 0);
    section(&b, 10, &s);
    c = read_buf(&b, err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "names resource 'r', which is not imported before it") != NULL);
    /* an export's [method] needs the resource exported under that name: importing it is not
     * enough (component-spec annotated-names.wast), here in a component type */
    kiln_buf_reset(&b);
    preamble(&b);
    static const uint8_t ctype[] = {1,    0x41, 4,    0x03, 0x00, 1,   'b', 0x03, 0x01, /* import */
                                    0x01, 0x68, 0x00, /* borrow 0 */
                                    0x01, 0x40, 1,    4,    's',  'e', 'l', 'f',  1,    0x01,
                                    0x00, 0x04, 0x00, 13,   '[',  'm', 'e', 't',  'h',  'o',
                                    'd',  ']',  'b',  '.',  'f',  'o', 'o', 0x01, 2};
    put(&s, ctype, sizeof ctype);
    section(&b, 7, &s);
    c = read_buf(&b, err, sizeof err);
    CHECK(c == NULL);
    if (!strstr(err, "names resource 'b', which is not exported before it"))
        fprintf(stderr, "  got: %s\n", err);
    CHECK(strstr(err, "names resource 'b', which is not exported before it") != NULL);
    /* canon lower of a string func without memory, without realloc, bad realloc */
    for (int variant = 0; variant < 3; variant++) {
        kiln_buf_reset(&b);
        preamble(&b);
        u32(&s, 1), u8(&s, 0x40), u32(&s, 0), u8(&s, 0x00), u8(&s, 0x73);
        section(&b, 7, &s);
        u32(&s, 1), u8(&s, 0x00), str(&s, "f"), u8(&s, 0x01), u32(&s, 0);
        section(&b, 10, &s);
        core_module(&s);
        section(&b, 1, &s);
        u32(&s, 1), u8(&s, 0x00), u32(&s, 0), u32(&s, 0);
        section(&b, 2, &s);
        u32(&s, 3);
        u8(&s, 0x00), u8(&s, 0x02), u8(&s, 0x01), u32(&s, 0), str(&s, "memory");
        u8(&s, 0x00), u8(&s, 0x00), u8(&s, 0x01), u32(&s, 0), str(&s, "realloc");
        u8(&s, 0x00), u8(&s, 0x00), u8(&s, 0x01), u32(&s, 0), str(&s, "init");
        section(&b, 6, &s);
        u32(&s, 1), u8(&s, 0x01), u8(&s, 0x00), u32(&s, 0);
        if (variant == 0) u32(&s, 0);
        if (variant == 1) u32(&s, 1), u8(&s, 0x03), u32(&s, 0);
        if (variant == 2) u32(&s, 2), u8(&s, 0x03), u32(&s, 0), u8(&s, 0x04), u32(&s, 1);
        section(&b, 8, &s);
        c = read_buf(&b, err, sizeof err);
        CHECK(c == NULL);
        const char *want[] = {"option 'memory' is required", "option 'realloc' is required",
                              "realloc option: core func 1: has type :, want iiii:i"};
        if (!strstr(err, want[variant])) fprintf(stderr, "  got: %s\n", err);
        CHECK(strstr(err, want[variant]) != NULL);
    }
    /* components nested too deeply */
    kiln_buf_reset(&b);
    preamble(&b);
    for (int i = 0; i < KILN_COMPONENT_MAX_DEPTH + 2; i++) {
        kiln_buf outer = KILN_BUF_INIT;
        preamble(&outer);
        section(&outer, 4, &b);
        kiln_buf_free(&b);
        b = outer;
    }
    c = read_buf(&b, err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "components nested more than 32 deep") != NULL);
    /* a component type that exports (eq R) of a resource R may not be outer-aliased into
     * a nested component (component-spec validation/outer-alias.wast) */
    for (int cross = 0; cross < 2; cross++) {
        kiln_buf_reset(&b);
        preamble(&b);
        static const uint8_t types[] = {2,    0x3f, 0x7f, 0x00, /* resource (rep i32) */
                                        0x41, 2,    0x02, 0x03, 0x02, 1,    0, /* alias outer 1 0 */
                                        0x04, 0x00, 1,    'a',  0x03, 0x00, 0}; /* export (eq) */
        put(&s, types, sizeof types);
        section(&b, 7, &s);
        kiln_buf inner = KILN_BUF_INIT;
        preamble(&inner);
        if (cross) {
            static const uint8_t alias[] = {1, 0x03, 0x02, 1, 1}; /* alias outer 1 1 (type) */
            put(&s, alias, sizeof alias);
            section(&inner, 6, &s);
        }
        put(&s, inner.data, inner.len);
        kiln_buf_free(&inner);
        section(&b, 4, &s);
        c = read_buf(&b, err, sizeof err);
        if (!cross) {
            if (!c) fprintf(stderr, "  unexpected error: %s\n", err);
            CHECK(c != NULL);
            kiln_component_free(c);
            continue;
        }
        CHECK(c == NULL);
        if (!strstr(err, "refers to a resource")) fprintf(stderr, "  got: %s\n", err);
        CHECK(strstr(err, "refers to a resource") != NULL);
    }
    /* name attributes: `implements` names an interface, only on instances with plain names
     * (component-spec attributes.wast) */
    static const struct {
        uint8_t functype;
        const char *impl, *name, *want;
    } attrs[] = {{0, "a:b/c", "a", NULL},
                 {1, "a:b/c", "a", "only instances can have an `implements`"},
                 {0, "x", "a", "must be an interface name"},
                 {0, "", "a", "not a valid name"},
                 {0, "a:b/c", "a1:b/c", "is not valid with `implements`"}};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        kiln_buf_reset(&b);
        preamble(&b);
        static const uint8_t inst[] = {1, 0x42, 0}, fn[] = {1, 0x40, 0, 0x01, 0x00};
        if (attrs[i].functype)
            put(&s, fn, sizeof fn);
        else
            put(&s, inst, sizeof inst);
        section(&b, 7, &s);
        u32(&s, 1), u8(&s, 0x02), str(&s, attrs[i].name), u32(&s, 2);
        u8(&s, 0x00), str(&s, attrs[i].impl), u8(&s, 0x02), str(&s, "id");
        u8(&s, attrs[i].functype ? 0x01 : 0x05), u32(&s, 0);
        section(&b, 10, &s);
        c = read_buf(&b, err, sizeof err);
        if (!attrs[i].want) {
            if (!c) fprintf(stderr, "  unexpected error: %s\n", err);
            CHECK(c != NULL);
        } else {
            CHECK(c == NULL);
            if (!strstr(err, attrs[i].want)) fprintf(stderr, "  got: %s\n", err);
            CHECK(strstr(err, attrs[i].want) != NULL);
        }
        kiln_component_free(c);
    }
    /* a core module is not a component */
    c = kiln_component_read((const uint8_t *)"\0asm\1\0\0\0", 8, "m.wasm", err, sizeof err);
    CHECK(c == NULL);
    CHECK_STR(err, "m.wasm: at offset 0x0: a core module, not a component");
    kiln_buf_free(&b);
    kiln_buf_free(&s);
}

static void test_names(void)
{
    const char *good[] = {"a",
                          "a-b-c",
                          "a1-2-3",
                          "A-B-C",
                          "get-JSON",
                          "[constructor]r",
                          "[method]r.get-x",
                          "[static]r.new",
                          "wasi:http/types@0.2.0",
                          "wasi:io/poll",
                          "a:b/c@1.0.0-rc.1+build.5",
                          "wasi:http/handler@0.3.0-rc-2025-09-16",
                          "ns:p:q/x/y",
                          "a:b/c@1.0.0"};
    const char *bad[] = {"",
                         "1-a",
                         "a--b",
                         "a-",
                         "Ab",
                         "a_b",
                         "[foo]a",
                         "[method]r",
                         "Wasi:http/types",
                         "wasi:http",
                         "wasi:http/types@0.2.01",
                         "wasi:http/types@",
                         "wasi:/x",
                         "wasi:http/types@0.02",
                         "a:b/c@0.2",
                         "a:b/c@1",
                         "url=<https://x>"};
    char why[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int r = kiln_component_parse_name(good[i], NULL, why, sizeof why);
        if (r != 0) fprintf(stderr, "  '%s' rejected: %s\n", good[i], why);
        CHECK(r == 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = kiln_component_parse_name(bad[i], NULL, why, sizeof why);
        if (r == 0) fprintf(stderr, "  '%s' accepted\n", bad[i]);
        CHECK(r < 0);
    }
    kiln_cname n;
    CHECK(kiln_component_parse_name("wasi:http/types@0.2.3", &n, why, sizeof why) == 0);
    CHECK(n.is_interface);
    CHECK_STR(n.ns, "wasi");
    CHECK_STR(n.pkg, "http");
    CHECK_STR(n.iface, "types");
    CHECK_STR(n.version, "0.2.3");
    char canon[64];
    CHECK(kiln_component_canonical_name("[method]foo.FOO", canon, sizeof canon) == 0);
    CHECK_STR(canon, "foo");
    CHECK(kiln_component_canonical_name("[static]Foo-BAR.x", canon, sizeof canon) == 0);
    CHECK_STR(canon, "foobar.x");
    /* hyphens do not make names distinct (component-spec validation/kebab.wast) */
    CHECK(kiln_component_canonical_name("FOOB-ar", canon, sizeof canon) == 0);
    CHECK_STR(canon, "foobar");
    CHECK(kiln_component_canonical_name("[static]foo-bar.FO-ob-AR", canon, sizeof canon) == 0);
    CHECK_STR(canon, "foobar");
    CHECK(kiln_component_canonical_name("[method]foo-bar.foobar", canon, sizeof canon) == 0);
    CHECK_STR(canon, "foobar");
    CHECK(kiln_component_canonical_name("a:b/c@1.0.0-rc", canon, sizeof canon) == 0);
    CHECK_STR(canon, "a:b/c@1.0.0-rc");
}

static void test_versions(void)
{
    CHECK(kiln_component_version_compatible("0.2.3", "0.2.0"));
    CHECK(kiln_component_version_compatible("0.2.0", "0.2.12"));
    CHECK(!kiln_component_version_compatible("0.2.3", "0.3.0"));
    CHECK(kiln_component_version_compatible("1.2.3", "1.0.0"));
    CHECK(!kiln_component_version_compatible("1.2.3", "2.0.0"));
    CHECK(!kiln_component_version_compatible("0.0.1", "0.0.2"));
    CHECK(kiln_component_version_compatible("0.0.1", "0.0.1"));
    CHECK(!kiln_component_version_compatible("0.3.0-rc-2025-09-16", "0.3.0"));
    CHECK(kiln_component_version_compatible("0.3.0-rc-1", "0.3.0-rc-1"));
    CHECK(kiln_component_version_compatible("0.2.1+build", "0.2.5"));
    CHECK(!kiln_component_version_compatible("0.2", "0.2.0"));
    CHECK(!kiln_component_version_compatible("", "0.2.0"));
    CHECK(kiln_component_version_compatible("", ""));
}

int main(void)
{
    test_full();
    test_types();
    test_errors();
    test_names();
    test_versions();
    CHECK(kiln_component_is_component((const uint8_t *)"\0asm\x0d\0\x01\0", 8));
    CHECK(!kiln_component_is_component((const uint8_t *)"\0asm\1\0\0\0", 8));
    return test_finish("reader_test");
}
