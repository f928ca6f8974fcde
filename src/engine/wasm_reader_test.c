/* Unit tests of the module reader: declarations decoded with their types, and each
 * kind of malformed input rejected with a message instead of an overread. */
#include "engine/wasm_reader.h"
#include "util/test.h"

#include <string.h>

#define MOD(...) ((const uint8_t[]){0, 'a', 's', 'm', 1, 0, 0, 0, __VA_ARGS__})
#define LEN(...) (sizeof((const uint8_t[]){0, 'a', 's', 'm', 1, 0, 0, 0, __VA_ARGS__}))
#define READ(...) kiln_wasm_read(MOD(__VA_ARGS__), LEN(__VA_ARGS__), err, sizeof err)

static char err[512];

static void test_declarations(void)
{
    /* types: (i32 i64)->(f32), ()->(); imports: env.f func 0, env.m memory 1..2,
     * env.g global mut i32; func section: 1 func of type 1; export "run" func 1,
     * "mem" memory 0, "g" global 0; code: 1 empty body. */
    kiln_wasm *w =
        READ(1, 10, 2, 0x60, 2, 0x7f, 0x7e, 1, 0x7d, 0x60, 0, 0,                     /* type */
             2, 28, 3, 3, 'e', 'n', 'v', 1, 'f', 0, 0,                               /* import f */
             3, 'e', 'n', 'v', 1, 'm', 2, 1, 1, 2,                                   /* import m */
             3, 'e', 'n', 'v', 1, 'g', 3, 0x7f, 1,                                   /* import g */
             3, 2, 1, 1,                                                             /* function */
             7, 17, 3, 3, 'r', 'u', 'n', 0, 1, 3, 'm', 'e', 'm', 2, 0, 1, 'g', 3, 0, /* export */
             10, 4, 1, 2, 0, 0x0b);                                                  /* code */
    CHECK(w != NULL);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_INT(w->ntypes, 2);
    CHECK_STR(w->types[0], "ij:f");
    CHECK_STR(w->types[1], ":");
    CHECK_INT(w->nimports, 3);
    CHECK_STR(w->imports[0].module, "env");
    CHECK_STR(w->imports[0].type, "ij:f");
    CHECK_INT(w->imports[1].kind, KILN_EXTERN_MEMORY);
    CHECK_STR(w->imports[1].type, "1 2");
    CHECK_STR(w->imports[2].type, "mut i");
    CHECK_INT(w->nfuncs, 2);
    CHECK_INT(w->nexports, 3);
    CHECK_STR(w->exports[0].name, "run");
    CHECK_STR(w->exports[0].type, ":");
    CHECK_STR(w->exports[2].type, "mut i");
    CHECK_STR(kiln_wasm_func_sig(w, 0), "ij:f");
    kiln_wasm_free(w);
}

static void expect_error(const uint8_t *bytes, size_t len, const char *needle)
{
    err[0] = '\0';
    kiln_wasm *w = kiln_wasm_read(bytes, len, err, sizeof err);
    CHECK(w == NULL);
    if (!strstr(err, needle)) {
        test_failed++;
        fprintf(stderr, "  FAIL error \"%s\" lacks \"%s\"\n", err, needle);
    } else {
        test_passed++;
    }
    kiln_wasm_free(w);
}

static void test_malformed(void)
{
    expect_error((const uint8_t *)"hello", 5, "not a WebAssembly binary");
    expect_error((const uint8_t *)"(module)", 8, "text format");
    expect_error((const uint8_t *)"\0asm\1\0", 6, "truncated");
    expect_error((const uint8_t *)"\0asm\2\0\0\0", 8, "unknown binary version");
    expect_error((const uint8_t *)"\0asm\x0d\0\1\0", 8, "component");
    expect_error(MOD(1, 4, 1, 0x60, 0, 0, 1, 4, 1, 0x60, 0, 0),
                 LEN(1, 4, 1, 0x60, 0, 0, 1, 4, 1, 0x60, 0, 0), "out of order");
    expect_error(MOD(1, 10, 1), LEN(1, 10, 1), "runs past the end");
    expect_error(MOD(14, 0), LEN(14, 0), "malformed section id");
    expect_error(MOD(1, 6, 1, 0x60, 0x80, 0x80, 0x80, 0x80),
                 LEN(1, 6, 1, 0x60, 0x80, 0x80, 0x80, 0x80), "");
    expect_error(MOD(1, 4, 1, 0x60, 1, 0x55), LEN(1, 4, 1, 0x60, 1, 0x55), "malformed value type");
    expect_error(MOD(1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0), LEN(1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0),
                 "inconsistent lengths");
    expect_error(MOD(1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 9, 2, 1, 'a', 0, 0, 1, 'a', 0, 0, 10, 4, 1,
                     2, 0, 0x0b),
                 LEN(1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 9, 2, 1, 'a', 0, 0, 1, 'a', 0, 0, 10, 4, 1,
                     2, 0, 0x0b),
                 "duplicate export");
    expect_error(MOD(2, 6, 1, 0, 1, 0xff, 0, 0), LEN(2, 6, 1, 0, 1, 0xff, 0, 0), "UTF-8");
    expect_error(MOD(5, 3, 1, 3, 1), LEN(5, 3, 1, 3, 1), "shared or 64-bit");
}

static void test_simd_detected(void)
{
    kiln_wasm *w = READ(1, 5, 1, 0x60, 1, 0x7b, 0);
    CHECK(w && w->uses_simd_types);
    kiln_wasm_free(w);
}

int main(void)
{
    test_declarations();
    test_malformed();
    test_simd_detected();
    return test_finish("wasm_reader");
}
