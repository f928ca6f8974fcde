/* Unit tests of the wasm2c boundary (codegen.c): wasm2c never sees a guest's names. It
 * writes import and export names into C comments and symbols without escaping them, so
 * a module could end a comment and have C of its choosing compiled into Kiln's process.
 * Kiln hands wasm2c a renamed copy (m<j>/f<k>/e<i>) and maps names back by index. */
#include "engine/codegen.h"
#include "engine/engine.h"
#include "engine/wasm_reader.h"
#include "util/file.h"
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
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("codegen");
}
