/* Unit tests of Kiln's part of instantiation (consts.h, wasm_rewrite.h, instance.c):
 * extended-const initializers in globals and segment offsets (what dynamically linked
 * CPython uses, and wasm2c 1.0.32 cannot compile), imported globals read at
 * instantiation, segments applied in order with the spec's bounds checks, images, and
 * one cache entry for two modules that differ only in data and global initial values. */
#include "engine/engine.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* %s: the data of the first segment, %d: g3's initial value. */
static const char *main_wat =
    "(module\n"
    "  (import \"env\" \"base\" (global $base i32))\n"
    "  (import \"env\" \"base64\" (global $b64 i64))\n"
    "  (import \"env\" \"tbase\" (global $tbase i32))\n"
    "  (import \"env\" \"tab\" (table 4 funcref))\n"
    "  (memory (export \"mem\") 1)\n"
    "  (global $g1 (mut i32) (i32.add (global.get $base) (i32.const 16)))\n"
    "  (global $g2 i64 (i64.mul (global.get $b64) (i64.const 3)))\n"
    "  (global $g3 i32 (i32.sub (i32.const %d) (i32.const 1)))\n"
    "  (global $g4 f64 (f64.const 2.5))\n"
    "  (global $g5 funcref (ref.func $seven))\n"
    "  (global $g6 (export \"copied\") i32 (global.get $base))\n"
    "  (data (i32.add (global.get $base) (i32.const 4)) \"%s\")\n"
    "  (data (i32.const 0) \"A\")\n"
    "  (elem (table 0) (i32.add (global.get $tbase) (i32.const 1)) func $seven $eight)\n"
    "  (func $seven (result i32) (i32.const 7))\n"
    "  (func $eight (result i32) (i32.const 8))\n"
    "  (func $start (global.set $g1 (i32.add (global.get $g1) (i32.const 1))))\n"
    "  (start $start)\n"
    "  (func (export \"g1\") (result i32) (global.get $g1))\n"
    "  (func (export \"g2\") (result i64) (global.get $g2))\n"
    "  (func (export \"g3\") (result i32) (global.get $g3))\n"
    "  (func (export \"g4\") (result f64) (global.get $g4))\n"
    "  (func (export \"g5\") (result i32)\n"
    "    (table.set 0 (i32.const 0) (global.get $g5))\n"
    "    (call_indirect (result i32) (i32.const 0)))\n"
    "  (func (export \"call\") (param i32) (result i32)\n"
    "    (call_indirect (result i32) (local.get 0)))\n"
    "  (func (export \"load\") (param i32) (result i32) (i32.load8_u (local.get 0))))\n";

/* A module writing into an imported memory at an imported base + 1. */
static const char *import_mem_wat = "(module\n"
                                    "  (import \"env\" \"mem\" (memory 1))\n"
                                    "  (import \"env\" \"base\" (global i32))\n"
                                    "  (data (i32.add (global.get 0) (i32.const 1)) \"Z\"))\n";

/* Invalid: what wasm2c no longer sees, Kiln must refuse. */
static const char *invalid_wats[] = {
    /* a mutable import in a constant expression */
    "(module (import \"env\" \"m\" (global (mut i32))) (global i32 (global.get 0)))",
    /* a defined global in a constant expression (Wasm 2.0) */
    "(module (global i32 (i32.const 1)) (global i32 (global.get 0)))",
    /* type mismatch */
    "(module (global i32 (i64.add (i64.const 1) (i64.const 2))))",
    /* a data offset of the wrong type */
    "(module (memory 1) (data (i64.const 0) \"x\"))",
    /* a data segment without a memory */
    "(module (data (i32.const 0) \"\"))",
};

static char dir[] = "/tmp/kiln-consts-test.XXXXXX";

/* Writes wat to DIR/NAME.wat and converts it; returns the .wasm path (static buffer
 * per name). */
static const char *wasm_of(const char *name, const char *wat)
{
    static char paths[8][160];
    static int next;
    char *wasm = paths[next++ % 8], watp[160], cmd[512];
    snprintf(watp, sizeof watp, "%s/%s.wat", dir, name);
    snprintf(wasm, 160, "%s/%s.wasm", dir, name);
    FILE *f = fopen(watp, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm --enable-extended-const --no-check %s -o %s", watp, wasm);
    return system(cmd) == 0 ? wasm : NULL;
}

static kiln_fnptr resolve(void *ctx, const kiln_import *imp)
{
    (void)ctx;
    (void)imp;
    return (kiln_fnptr)resolve; /* any non-NULL: every import is bound per instance */
}

static kiln_module *load(const char *name, const char *wat, kiln_err *e)
{
    const char *wasm = wasm_of(name, wat);
    if (!wasm) return NULL;
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_linker linker = {resolve, NULL};
    return kiln_module_load_file(wasm, &o, &linker, e);
}

static uint64_t call(kiln_instance *inst, const char *fn, uint32_t arg)
{
    kiln_val v[1];
    kiln_trap t;
    v[0].i64 = 0;
    v[0].i32 = arg;
    long ex = kiln_module_export_index(kiln_instance_module(inst), fn);
    if (ex < 0 || kiln_instance_call(inst, ex, v, &t) < 0) return 0xdeadULL;
    return v[0].i64;
}

static void main_module_text(char *out, size_t n, const char *data, int g3)
{
    snprintf(out, n, main_wat, g3, data);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    char wat[4096];
    kiln_err e;

    /* Globals, segments and start with base = 100, tbase = 0. */
    main_module_text(wat, sizeof wat, "hi!", 100);
    kiln_module *m = load("a", wat, &e);
    CHECK(m != NULL);
    if (!m) fprintf(stderr, "  %s\n", e.msg);
    uint32_t base = 100, tbase = 0;
    uint64_t b64 = 5;
    wasm_rt_funcref_table_t tab;
    memset(&tab, 0, sizeof tab);
    wasm_rt_allocate_funcref_table(&tab, 4, 4);
    kiln_binding b[4] = {{NULL, &base, 0}, {NULL, &b64, 0}, {NULL, &tbase, 0}, {NULL, &tab, 0}};
    kiln_instance *inst = m ? kiln_instance_alloc(m) : NULL;
    kiln_trap t;
    CHECK(inst && kiln_instance_init(inst, b, &t) == 0);
    if (inst) {
        CHECK_INT(call(inst, "g1", 0), 117); /* base + 16, + 1 by the start function */
        CHECK_INT(call(inst, "g2", 0), 15);
        CHECK_INT((uint32_t)call(inst, "g3", 0), 99);
        kiln_val v[1];
        long ex = kiln_module_export_index(m, "g4");
        CHECK(kiln_instance_call(inst, ex, v, &t) == 0 && v[0].f64 == 2.5);
        CHECK_INT((uint32_t)call(inst, "g5", 0), 7); /* ref.func kept in the C */
        CHECK_INT((uint32_t)call(inst, "call", 1), 7);
        CHECK_INT((uint32_t)call(inst, "call", 2), 8);
        CHECK_INT((uint32_t)call(inst, "load", 104), 'h');
        CHECK_INT((uint32_t)call(inst, "load", 106), '!');
        CHECK_INT((uint32_t)call(inst, "load", 0), 'A');
        long cg = kiln_module_export_index(m, "copied");
        uint32_t *copied = cg >= 0 ? kiln_instance_export_ptr(inst, cg) : NULL;
        CHECK(copied && *copied == 100);

        /* An imported memory: another module's data lands in this one's memory. */
        kiln_module *m2 = load("b", import_mem_wat, &e);
        CHECK(m2 != NULL);
        kiln_instance *i2 = m2 ? kiln_instance_alloc(m2) : NULL;
        kiln_binding b2[2] = {{NULL, kiln_instance_memory(inst, "mem"), 0}, {NULL, &base, 0}};
        CHECK(i2 && kiln_instance_init(i2, b2, &t) == 0);
        CHECK_INT((uint32_t)call(inst, "load", 101), 'Z');
        kiln_instance_free(i2);
        kiln_module_free(m2);
    }
    kiln_instance_free(inst);

    /* Images are captured after Kiln's part: their copies have the values. */
    kiln_image *img = m ? kiln_image_new(m, b, &t, &e) : NULL;
    CHECK(img != NULL);
    kiln_instance *ic = img ? kiln_image_instantiate(img, b) : NULL;
    CHECK(ic != NULL);
    if (ic) {
        CHECK_INT(call(ic, "g1", 0), 117);
        CHECK_INT((uint32_t)call(ic, "load", 105), 'i');
        CHECK_INT((uint32_t)call(ic, "call", 2), 8);
    }
    kiln_instance_free(ic);
    kiln_image_free(img);

    /* Out of bounds data: instantiation traps; the element segment (applied before the
     * data segments) stays written in the imported table, the later data segment is not
     * applied. */
    base = 65534;
    memset(tab.data, 0, tab.size * sizeof *tab.data);
    inst = m ? kiln_instance_alloc(m) : NULL;
    CHECK(inst && kiln_instance_init(inst, b, &t) < 0 && t.kind == KILN_TRAP_MEMORY_OOB);
    CHECK(tab.data[1].func != NULL);
    if (inst) CHECK_INT((uint32_t)call(inst, "load", 0), 0);
    kiln_instance_free(inst);

    /* Out of bounds element segment (tbase + 1 + 2 > 4): instantiation traps. */
    base = 100;
    tbase = 2;
    inst = m ? kiln_instance_alloc(m) : NULL;
    CHECK(inst && kiln_instance_init(inst, b, &t) < 0 && t.kind != KILN_TRAP_NONE);
    kiln_instance_free(inst);
    tbase = 0;
    CHECK(m && !kiln_module_was_cached(m));
    kiln_module_free(m);

    /* Same code, other data and initial values: the same cache entry, its own values. */
    main_module_text(wat, sizeof wat, "yo!", 50);
    m = load("c", wat, &e);
    CHECK(m && kiln_module_was_cached(m));
    inst = m ? kiln_instance_alloc(m) : NULL;
    CHECK(inst && kiln_instance_init(inst, b, &t) == 0);
    if (inst) {
        CHECK_INT((uint32_t)call(inst, "load", 104), 'y');
        CHECK_INT((uint32_t)call(inst, "g3", 0), 49);
    }
    kiln_instance_free(inst);
    kiln_module_free(m);

    for (size_t i = 0; i < sizeof invalid_wats / sizeof invalid_wats[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "bad%zu", i);
        const char *wasm = wasm_of(name, invalid_wats[i]);
        kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
        kiln_linker linker = {resolve, NULL};
        kiln_module *bad = wasm ? kiln_module_load_file(wasm, &o, &linker, &e) : NULL;
        CHECK(wasm && bad == NULL);
        kiln_module_free(bad);
    }

    wasm_rt_free_funcref_table(&tab);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("consts");
}
