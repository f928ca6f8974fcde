/* Unit tests of the wasm2c boundary (codegen.c): wasm2c never sees a guest's names. It
 * writes import and export names into C comments and symbols without escaping them, so
 * a module could end a comment and have C of its choosing compiled into Kiln's process.
 * Kiln hands wasm2c a renamed copy (m<j>/f<k>/e<i>) and maps names back by index. */
#include "engine/codegen.h"
#include "engine/engine.h"
#include "engine/wasm_reader.h"
#include "util/file.h"
#include "util/leb.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *wat =
    "(module\n"
    "  (import \"*/ #error evil_module /*\" \"*/ #error evil_field /*\"\n"
    "    (func $h (param i32) (result i32)))\n"
    "  (import \"env\" \"evil_memory\\n#define x */\" (memory 1))\n"
    "  (func (export \"*/ #error evil_export /*\") (result i32) (call $h (i32.const 41)))\n"
    "  (func (export \"ok\\00with nul\") (result i32) (i32.const 5)))\n";

static uint32_t plus_one(void *ctx, uint32_t x)
{
    (void)ctx;
    return x + 1;
}

static kiln_fnptr resolve(void *ctx, const kiln_import *imp)
{
    (void)ctx;
    return imp->kind == KILN_EXTERN_FUNC ? (kiln_fnptr)plus_one : (kiln_fnptr)resolve;
}

/* Active data segments without a data count section (Go's linker writes 58,350), and a
 * passive one that memory.init names (wat2wasm then writes the data count section). */
static const char *wat_data =
    "(module (memory (export \"mem\") 1)\n"
    "  (data (i32.const 16) \"ab\") (data (i32.const 18) \"cd\") (data (i32.const 20) \"ef\")\n"
    "  (func (export \"get\") (param i32) (result i32) (i32.load8_u (local.get 0))))\n";
static const char *wat_passive =
    "(module (memory (export \"mem\") 1)\n"
    "  (data (i32.const 8) \"xy\") (data $p \"PQ\")\n"
    "  (func (export \"init\") (memory.init $p (i32.const 32) (i32.const 0) (i32.const 2)))\n"
    "  (func (export \"get\") (param i32) (result i32) (i32.load8_u (local.get 0))))\n";

/* Assembles wat into dir/name.wasm, read into *bytes. */
static void assemble(const char *dir, const char *name, const char *text, kiln_buf *bytes)
{
    char wpath[160], wasm[160], cmd[400];
    snprintf(wpath, sizeof wpath, "%s/%s.wat", dir, name);
    snprintf(wasm, sizeof wasm, "%s/%s.wasm", dir, name);
    FILE *f = fopen(wpath, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", wpath, wasm);
    CHECK(system(cmd) == 0);
    CHECK(kiln_read_file(wasm, bytes) == 0);
}

/* Where section `id` of a module starts (its id byte; *body: its contents), or -1. */
static long section_at(const kiln_buf *b, int id, size_t *body)
{
    const uint8_t *p = (const uint8_t *)b->data;
    size_t pos = 8;
    while (pos < b->len) {
        size_t at = pos++;
        uint32_t size;
        if (kiln_leb_u32(p, b->len, &pos, &size) < 0) return -1;
        *body = pos;
        if (p[at] == id) return (long)at;
        pos += size;
    }
    return -1;
}

/* The entry count of section `id` of a module (-1: absent). */
static long section_count(const kiln_buf *b, int id)
{
    size_t pos;
    uint32_t count;
    if (section_at(b, id, &pos) < 0 || kiln_leb_u32((const uint8_t *)b->data, b->len, &pos, &count))
        return -1;
    return count;
}

/* Inserts a data count section (count n) before the code section of *b. */
static void add_data_count(kiln_buf *b, uint8_t n)
{
    size_t body;
    long at = section_at(b, 10, &body);
    kiln_buf out = KILN_BUF_INIT;
    const uint8_t sec[3] = {12, 1, n};
    CHECK(at > 0 && kiln_buf_append(&out, b->data, (size_t)at) == 0 &&
          kiln_buf_append(&out, sec, sizeof sec) == 0 &&
          kiln_buf_append(&out, b->data + at, b->len - (size_t)at) == 0);
    kiln_buf_free(b);
    *b = out;
}

/* wasm2c's copy keeps no data segment the code cannot name (no data count section, or
 * one but no memory.init or data.drop in the code), and the module's data is still where
 * it belongs after instantiation; the segments stay when memory.init names one. */
static void test_data_segments(const char *dir)
{
    /* Case 0: no data count; 1: memory.init; 2: a data count, no memory.init. */
    const char *texts[3] = {wat_data, wat_passive, wat_data};
    for (int k = 0; k < 3; k++) {
        kiln_buf bytes = KILN_BUF_INIT, copy = KILN_BUF_INIT, err = KILN_BUF_INIT;
        int init = k == 1;
        assemble(dir, init ? "passive" : "data", texts[k], &bytes);
        if (k == 2) add_data_count(&bytes, 3);
        CHECK(section_count(&bytes, 12) == (k == 0 ? -1 : k == 1 ? 2 : 3));
        char rerr[256];
        kiln_wasm *w = kiln_wasm_read((const uint8_t *)bytes.data, bytes.len, rerr, sizeof rerr);
        kiln_init_plan *plan = NULL;
        kiln_rewrite_info info;
        CHECK(w && kiln_wasm_rewrite((const uint8_t *)bytes.data, bytes.len, w, &copy, &plan, &info,
                                     &err) == 0);
        CHECK(section_count(&bytes, 11) == (init ? 2 : 3));
        CHECK(section_count(&copy, 11) == (init ? 2 : 0)); /* none the code cannot name */
        CHECK(section_count(&copy, 12) == (init ? 2 : -1));
        kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
        kiln_linker linker = {resolve, NULL};
        kiln_err e;
        kiln_module *m = kiln_module_load_bytes(
            init ? "passive" : "data", (const uint8_t *)bytes.data, bytes.len, &o, &linker, &e);
        CHECK(m != NULL);
        kiln_instance *inst = m ? kiln_instance_alloc(m) : NULL;
        kiln_trap t;
        CHECK(inst && kiln_instance_init(inst, NULL, &t) == 0);
        long get = m ? kiln_module_export_index(m, "get") : -1;
        const char *want = init ? "xy" : "abcdef";
        for (size_t i = 0; inst && get >= 0 && want[i]; i++) {
            kiln_val v[1] = {{.i32 = (uint32_t)((init ? 8 : 16) + i)}};
            CHECK(kiln_instance_call(inst, get, v, &t) == 0 && v[0].i32 == (uint8_t)want[i]);
        }
        if (inst && init) {
            kiln_val v[1] = {{.i32 = 32}};
            CHECK(kiln_instance_call(inst, kiln_module_export_index(m, "init"), v, &t) == 0);
            CHECK(kiln_instance_call(inst, get, v, &t) == 0 && v[0].i32 == 'P');
        }
        if (inst) kiln_instance_free(inst);
        kiln_module_free(m);
        kiln_wasm_free(w);
        kiln_init_plan_free(plan);
        kiln_buf_free(&bytes);
        kiln_buf_free(&copy);
        kiln_buf_free(&err);
    }
    /* A data count that is not the data section's count is malformed (the copy may leave
     * both out, so wasm2c would not see it). */
    kiln_buf bytes = KILN_BUF_INIT, copy = KILN_BUF_INIT, err = KILN_BUF_INIT;
    assemble(dir, "data", wat_data, &bytes);
    add_data_count(&bytes, 2);
    char rerr[256];
    kiln_wasm *w = kiln_wasm_read((const uint8_t *)bytes.data, bytes.len, rerr, sizeof rerr);
    kiln_init_plan *plan = NULL;
    kiln_rewrite_info info;
    CHECK(w && kiln_wasm_rewrite((const uint8_t *)bytes.data, bytes.len, w, &copy, &plan, &info,
                                 &err) < 0);
    CHECK(err.data && strstr(err.data, "inconsistent lengths"));
    kiln_wasm_free(w);
    kiln_buf_free(&bytes);
    kiln_buf_free(&copy);
    kiln_buf_free(&err);
}

int main(void)
{
    char dir[] = "/tmp/kiln-codegen-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char wpath[128], wasm[128], cmd[400];
    snprintf(wpath, sizeof wpath, "%s/m.wat", dir);
    snprintf(wasm, sizeof wasm, "%s/m.wasm", dir);
    FILE *f = fopen(wpath, "w");
    if (!f) return 1;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", wpath, wasm);
    CHECK(system(cmd) == 0);

    kiln_buf bytes = KILN_BUF_INIT, c = KILN_BUF_INIT, err = KILN_BUF_INIT;
    CHECK(kiln_read_file(wasm, &bytes) == 0);
    char rerr[256];
    kiln_wasm *w = kiln_wasm_read((const uint8_t *)bytes.data, bytes.len, rerr, sizeof rerr);
    CHECK(w != NULL);
    kiln_buf copy = KILN_BUF_INIT;
    kiln_init_plan *plan = NULL;
    kiln_rewrite_info info;
    CHECK(w && kiln_wasm_rewrite((const uint8_t *)bytes.data, bytes.len, w, &copy, &plan, &info,
                                 &err) == 0);
    for (int v = 0; w && plan && v < 4; v++) {
        int direct = v & 1;
        kiln_mem_checks checks = v & 2 ? KILN_MEM_CHECKS_BOUNDS : KILN_MEM_CHECKS_GUARD;
        kiln_buf_reset(&c);
        CHECK(kiln_codegen((const uint8_t *)copy.data, copy.len, w, &info, direct, checks, &c,
                           &err) == 0);
        /* Not one byte of a guest name reaches the C given to the compiler. */
        CHECK(c.data && strstr(c.data, "evil") == NULL);
        CHECK(c.data && strstr(c.data, "#error") == NULL);
        CHECK(c.data && strstr(c.data, "with nul") == NULL);
        /* The renamed symbols are there instead. */
        CHECK(c.data && strstr(c.data, "Z_m0Z_f0") != NULL);
        CHECK(c.data && strstr(c.data, "Z_kmodZ_e0") != NULL);
    }
    kiln_wasm_free(w);
    kiln_init_plan_free(plan);
    kiln_buf_free(&copy);

    /* The real names still work from the outside: load, bind, call by name. */
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_linker linker = {resolve, NULL};
    kiln_err e;
    kiln_module *m = kiln_module_load_file(wasm, &o, &linker, &e);
    CHECK(m != NULL);
    if (m) {
        CHECK_STR(kiln_module_import(m, 0)->module, "*/ #error evil_module /*");
        CHECK_STR(kiln_module_import(m, 0)->name, "*/ #error evil_field /*");
        wasm_rt_memory_t mem;
        memset(&mem, 0, sizeof mem);
        kiln_binding b[2] = {{(kiln_fnptr)plus_one, NULL, 0}, {NULL, &mem, 0}};
        kiln_instance *inst = kiln_instance_alloc(m);
        kiln_trap t;
        CHECK(inst && kiln_instance_init(inst, b, &t) == 0);
        long ex = kiln_module_export_index(m, "*/ #error evil_export /*");
        CHECK(ex >= 0);
        kiln_val v[1] = {{0}};
        CHECK(inst && kiln_instance_call(inst, ex, v, &t) == 0 && v[0].i32 == 42);
        CHECK(kiln_module_export_index_n(m, "ok\0with nul", 11) >= 0);
        kiln_instance_free(inst);
        kiln_module_free(m);
    }
    kiln_buf_free(&bytes);
    kiln_buf_free(&c);
    kiln_buf_free(&err);
    test_data_segments(dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("codegen");
}
