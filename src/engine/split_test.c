/* Unit tests of the opt tier's split (split.h): a real wasm2c output (data segment, global,
 * table with call_indirect, an import, recursion across functions) is cut into parts that
 * hold every function body once and share the module's data only by declaration; the
 * module compiled in 4 parts loads and computes what the unsplit build computes; text
 * without function bodies is left to be compiled whole. */
#include "engine/codegen.h"
#include "engine/compiler.h"
#include "engine/engine.h"
#include "engine/split.h"
#include "engine/wasm_reader.h"
#include "util/file.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPARTS 4

static const char *wat =
    "(module\n"
    "  (import \"env\" \"plus_one\" (func $h (param i32) (result i32)))\n"
    "  (type $t (func (param i32) (result i32)))\n"
    "  (memory 1)\n"
    "  (data (i32.const 16) \"hello split\")\n"
    "  (global $g (mut i32) (i32.const 7))\n"
    "  (table 2 funcref)\n"
    "  (elem (i32.const 0) $double $fib)\n"
    "  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))\n"
    "  (func $triple (export \"triple\") (param i32) (result i32)\n"
    "    (i32.mul (local.get 0) (i32.const 3)))\n"
    "  (func $fib (param i32) (result i32)\n"
    "    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))\n"
    "      (then (local.get 0))\n"
    "      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))\n"
    "                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))\n"
    "  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))\n"
    /* wasm2c wraps a signature this long over several lines */
    "  (func $many (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 "
    "i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) "
    "(result i32) (local.get 39))\n"
    "  (func (export \"run\") (param i32) (result i32)\n"
    "    (global.set $g (i32.add (global.get $g) (i32.const 1)))\n"
    "    (i32.add\n"
    "      (i32.add (call $fib (local.get 0))\n"
    "               (call_indirect (type $t) (local.get 0) (i32.const 0)))\n"
    "      (i32.add (i32.load8_u (i32.const 16))\n"
    "               (i32.add (global.get $g)\n"
    "                        (i32.add (call $h (local.get 0)) (call $sq (i32.const 3))))))\n"
    "    (call $many (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) "
    "(i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))\n"
    "    (i32.add)))\n";

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

/* Lines of text[0..len) that open a function definition whose name starts with "w2c_"
 * (after "static " or the hidden attribute). */
static int count_bodies(const char *text, size_t len)
{
    int n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *w = strstr(p, " w2c_");
        if (ln > 3 && memcmp(p + ln - 3, ") {", 3) == 0 && w && w < p + ln && p[0] != ' ') n++;
        p += ln + 1;
    }
    return n;
}

/* Splits the module's opt-tier C and checks the parts' shape. */
static void test_split_shape(const kiln_buf *bytes)
{
    char rerr[256];
    kiln_wasm *w = kiln_wasm_read((const uint8_t *)bytes->data, bytes->len, rerr, sizeof rerr);
    CHECK(w != NULL);
    kiln_buf copy = KILN_BUF_INIT, c = KILN_BUF_INIT, err = KILN_BUF_INIT;
    kiln_init_plan *plan = NULL;
    kiln_rewrite_info info;
    CHECK(w && kiln_wasm_rewrite((const uint8_t *)bytes->data, bytes->len, w, &copy, &plan, &info,
                                 &err) == 0);
    CHECK(w && plan &&
          kiln_codegen((const uint8_t *)copy.data, copy.len, w, &info, 0, KILN_MEM_CHECKS_GUARD, &c,
                       &err) == 0);
    if (c.data) {
        kiln_buf parts[NPARTS] = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
        CHECK_INT(kiln_split_c(c.data, c.len, NPARTS, parts), 0);
        int total = 0;
        for (int k = 0; k < NPARTS; k++) {
            int n = count_bodies(parts[k].data, parts[k].len);
            CHECK(n >= 1); /* 6 bodies over 4 parts, balanced by size */
            total += n;
            /* No wasm function or module data stays file-local. */
            CHECK(strstr(parts[k].data, "\nstatic u32 func_types") == NULL);
            CHECK(strstr(parts[k].data, "\nstatic u32 w2c_") == NULL);
        }
        CHECK_INT(total, count_bodies(c.data, c.len));
        /* Part 0 keeps the data and the glue; the others only declare the data. */
        CHECK(strstr(parts[0].data, "kiln_glue_export_fns") != NULL);
        for (int k = 1; k < NPARTS; k++) {
            CHECK(strstr(parts[k].data, "extern __attribute__((visibility(\"hidden\"))) u32 "
                                        "func_types") != NULL);
            CHECK(strstr(parts[k].data, "] = {\n") == NULL); /* no initialized data */
            CHECK(strstr(parts[k].data, "kiln_glue_export_fns") == NULL);
        }
        for (int k = 0; k < NPARTS; k++)
            kiln_buf_free(&parts[k]);
        /* The opt tier compiles the parts separately: a failing compiler names its part. */
        char so[] = "/tmp/kiln-split-test-so.XXXXXX";
        int fd = mkstemp(so);
        CHECK(fd >= 0);
        if (fd >= 0) close(fd);
        setenv("KILN_OPT_PARTS", "4", 1);
        setenv("KILN_CC", "false", 1);
        kiln_buf_reset(&err);
        CHECK_INT(kiln_compile_c(KILN_TIER_OPT, c.data, c.len, so, &err), -1);
        CHECK(err.data && strstr(err.data, " of 4") != NULL);
        unsetenv("KILN_CC");
        unsetenv("KILN_OPT_PARTS");
        unlink(so);
    }
    /* Text without function bodies: left whole. */
    kiln_buf none[2] = {KILN_BUF_INIT, KILN_BUF_INIT};
    const char *plain = "static int x = 1;\nint get(void) { return x; }\n";
    CHECK_INT(kiln_split_c(plain, strlen(plain), 2, none), 1);
    CHECK(none[0].len == 0 && none[1].len == 0);
    kiln_wasm_free(w);
    kiln_init_plan_free(plan);
    kiln_buf_free(&copy);
    kiln_buf_free(&c);
    kiln_buf_free(&err);
}

/* Loads the module on the opt tier (into its own cache) and returns run(10) twice and
 * triple(5), -1 in each on failure. */
static void run_opt(const char *wasm, const char *cache, int out[3])
{
    out[0] = out[1] = out[2] = -1;
    kiln_compile_opts o = {.tier = KILN_TIER_OPT, .cache_dir = cache};
    kiln_linker linker = {resolve, NULL};
    kiln_err e;
    kiln_module *m = kiln_module_load_file(wasm, &o, &linker, &e);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "load: %s\n", e.msg);
        return;
    }
    CHECK(kiln_module_tier(m) == KILN_TIER_OPT);
    kiln_binding b[1] = {{(kiln_fnptr)plus_one, NULL, 0}};
    kiln_instance *inst = kiln_instance_alloc(m);
    kiln_trap t;
    CHECK(inst && kiln_instance_init(inst, b, &t) == 0);
    long run = kiln_module_export_index(m, "run"), triple = kiln_module_export_index(m, "triple");
    CHECK(run >= 0 && triple >= 0);
    for (int i = 0; inst && i < 2; i++) {
        kiln_val v[1] = {{0}};
        v[0].i32 = 10;
        if (kiln_instance_call(inst, run, v, &t) == 0) out[i] = (int)v[0].i32;
    }
    kiln_val v[1] = {{0}};
    v[0].i32 = 5;
    if (inst && kiln_instance_call(inst, triple, v, &t) == 0) out[2] = (int)v[0].i32;
    kiln_instance_free(inst);
    kiln_module_free(m);
}

int main(void)
{
    char dir[] = "/tmp/kiln-split-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char wpath[128], wasm[128], cmd[400], whole[128], split[128];
    snprintf(wpath, sizeof wpath, "%s/m.wat", dir);
    snprintf(wasm, sizeof wasm, "%s/m.wasm", dir);
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(split, sizeof split, "%s/split", dir);
    FILE *f = fopen(wpath, "w");
    if (!f) return 1;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s -o %s", wpath, wasm);
    CHECK(system(cmd) == 0);
    kiln_buf bytes = KILN_BUF_INIT;
    CHECK(kiln_read_file(wasm, &bytes) == 0);
    test_split_shape(&bytes);
    kiln_buf_free(&bytes);

    /* fib(10) + double(10) + 'h' + (7 + 1) + plus_one(10) + sq(3) = 55+20+104+8+11+9. */
    int a[3], s[3];
    setenv("KILN_OPT_PARTS", "1", 1);
    run_opt(wasm, whole, a);
    setenv("KILN_OPT_PARTS", "4", 1);
    run_opt(wasm, split, s);
    unsetenv("KILN_OPT_PARTS");
    CHECK_INT(a[0], 207);
    CHECK_INT(a[1], 208);
    CHECK_INT(a[2], 15);
    for (int i = 0; i < 3; i++)
        CHECK_INT(s[i], a[i]);

    /* The scheme is part of the cache key: entries of another scheme are not reused. */
    CHECK(strstr(kiln_compiler_identity(KILN_TIER_OPT), KILN_SPLIT_SCHEME) != NULL);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("split");
}
