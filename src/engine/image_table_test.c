/* Unit tests of funcref tables shared by an image's instances (funcref_table.c, image.c),
 * on both tiers: a table only its module reaches is not copied per instance (every
 * instance uses the image's array); call_indirect through it calls the calling instance's
 * function (its globals, its memory); a write (table.set, table.grow) gives the writing
 * instance its own copy and no other instance sees it; a funcref read out of the shared
 * table (table.get, table.copy into an exported table) names the instance itself; an
 * image captured from an instance that shares a table gives working copies too. */
#include "engine/engine.h"
#include "engine/image.h"
#include "engine/module_internal.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *wat =
    "(module\n"
    "  (memory (export \"memory\") 1)\n"
    "  (global $g (mut i32) (i32.const 10))\n"
    "  (type $r (func (result i32)))\n"
    "  (table $T 2 funcref)\n"
    "  (table $E (export \"etab\") 2 funcref)\n"
    "  (elem (table $T) (i32.const 1) func $seven)\n"
    "  (elem declare func $eight)\n"
    "  (func $seven (result i32) (i32.add (global.get $g) (i32.load8_u (i32.const 0))))\n"
    "  (func $eight (result i32) (i32.const 8))\n"
    "  (func (export \"setg\") (param i32)\n"
    "    (global.set $g (local.get 0)) (i32.store8 (i32.const 0) (local.get 0)))\n"
    "  (func (export \"call\") (param i32) (result i32)\n"
    "    (call_indirect $T (type $r) (local.get 0)))\n"
    "  (func (export \"set0\") (table.set $T (i32.const 0) (ref.func $eight)))\n"
    "  (func (export \"grow\") (result i32) (table.grow $T (ref.null func) (i32.const 1)))\n"
    "  (func (export \"size\") (result i32) (table.size $T))\n"
    "  (func (export \"get_call\") (result i32)\n"
    "    (table.set $E (i32.const 0) (table.get $T (i32.const 1)))\n"
    "    (call_indirect $E (type $r) (i32.const 0)))\n"
    "  (func (export \"copy_call\") (result i32)\n"
    "    (table.copy $E $T (i32.const 1) (i32.const 1) (i32.const 1))\n"
    "    (call_indirect $E (type $r) (i32.const 1))))\n";

static kiln_module *load(const char *dir, kiln_tier tier)
{
    char path[256], cmd[600];
    snprintf(path, sizeof path, "%s/t.wat", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/t.wat -o %s/t.wasm", dir, dir);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/t.wasm", dir);
    kiln_compile_opts o = {.tier = tier, .cache_dir = dir};
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &o, NULL, &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

/* Calls export `name` with one i32 argument (ignored when the export takes none): its
 * i32 result (for an export without results: the argument), or -1000 - the trap's
 * kind. */
static int call(kiln_instance *inst, const char *name, int32_t arg)
{
    kiln_val v[2] = {{.i32 = arg}};
    kiln_trap t;
    long i = kiln_module_export_index(kiln_instance_module(inst), name);
    if (kiln_instance_call(inst, i, v, &t) < 0) return -1000 - (int)t.kind;
    return (int)v[0].i32;
}

/* The instance's own funcref table k (0: $T, the private one; 1: $E, exported). */
static wasm_rt_funcref_table_t *table(kiln_instance *inst, unsigned k)
{
    wasm_rt_funcref_table_t *ft[2] = {NULL, NULL};
    if (inst->module->nfuncref_tables != 2) return NULL;
    inst->module->g_funcref_tables(inst->native, ft);
    return ft[k];
}

/* Whether every element of the exported table names a real (not relative) instance. */
static int exported_absolute(kiln_instance *inst)
{
    const wasm_rt_funcref_table_t *e =
        kiln_instance_export_ptr(inst, kiln_module_export_index(inst->module, "etab"));
    for (uint32_t i = 0; e && i < e->size; i++)
        if ((uintptr_t)e->data[i].module_instance & 1) return 0;
    return e != NULL;
}

#define NULL_ELEM (-1000 - KILN_TRAP_NULL_ELEMENT)

static void check_tier(const char *dir, kiln_tier tier)
{
    kiln_module *m = load(dir, tier);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_INT(m->g_funcref_private[0], 1);
    CHECK_INT(m->g_funcref_private[1], 0);
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, NULL, &trap, &err);
    CHECK(img != NULL);
    kiln_instance *a = img ? kiln_image_instantiate(img, NULL) : NULL;
    kiln_instance *b = img ? kiln_image_instantiate(img, NULL) : NULL;
    CHECK(a && b && table(a, 0) && table(b, 0));
    if (!a || !b || !table(a, 0) || !table(b, 0)) goto out;

    /* Not copied: both use the image's array; the exported table is each one's own. */
    CHECK(table(a, 0)->data == table(b, 0)->data);
    CHECK_INT(kiln_rt_funcref_elems_shared(table(a, 0)->data), 1);
    CHECK(table(a, 1)->data != table(b, 1)->data);

    /* The shared element calls the caller's $seven: its global, its memory. */
    CHECK_INT(call(a, "setg", 20), 20);
    CHECK_INT(call(a, "call", 1), 40);
    CHECK_INT(call(b, "call", 1), 10);
    CHECK_INT(call(b, "call", 0), NULL_ELEM);

    /* table.set: a gets its own copy, b does not see the write. */
    CHECK_INT(call(a, "set0", 0), 0);
    CHECK_INT(call(a, "call", 0), 8);
    CHECK_INT(call(a, "call", 1), 40);
    CHECK_INT(call(b, "call", 0), NULL_ELEM);
    CHECK(table(a, 0)->data != table(b, 0)->data);
    CHECK_INT(kiln_rt_funcref_elems_shared(table(a, 0)->data), 0);
    CHECK_INT(kiln_rt_funcref_elems_shared(table(b, 0)->data), 1);

    /* table.grow on a shared table: b's own, longer copy; a new instance has the image's. */
    CHECK_INT(call(b, "grow", 0), 2);
    CHECK_INT(call(b, "size", 0), 3);
    CHECK_INT(call(b, "call", 1), 10);
    CHECK_INT(call(b, "call", 2), NULL_ELEM);
    kiln_instance *c = kiln_image_instantiate(img, NULL);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(call(c, "size", 0), 2);
        CHECK_INT(call(c, "call", 0), NULL_ELEM);
        /* Funcrefs read out of the shared table leave it naming c itself. */
        CHECK_INT(call(c, "setg", 5), 5);
        CHECK_INT(call(c, "get_call", 0), 10);
        CHECK_INT(call(c, "copy_call", 0), 10);
        CHECK_INT(exported_absolute(c), 1);
        CHECK_INT(kiln_rt_funcref_elems_shared(table(c, 0)->data), 1);

        /* Images of instances that share (c) or own (a) the table work the same. */
        kiln_image *from_c = kiln_image_capture(c, &err);
        kiln_image *from_a = kiln_image_capture(a, &err);
        CHECK(from_c && from_a);
        kiln_instance *d = from_c ? kiln_image_instantiate(from_c, NULL) : NULL;
        kiln_instance *e = from_a ? kiln_image_instantiate(from_a, NULL) : NULL;
        CHECK(d && e);
        if (d && e) {
            CHECK_INT(call(d, "call", 1), 10);
            CHECK_INT(call(e, "call", 1), 40);
            CHECK_INT(call(e, "call", 0), 8);
            CHECK_INT(kiln_rt_funcref_elems_shared(table(d, 0)->data), 1);
            CHECK_INT(kiln_rt_funcref_elems_shared(table(e, 0)->data), 1);
            CHECK_INT(call(e, "setg", 1), 1);
            CHECK_INT(call(e, "call", 1), 2);
            CHECK_INT(call(a, "call", 1), 40);
        }
        kiln_instance_free(d);
        kiln_instance_free(e);
        kiln_image_free(from_c);
        kiln_image_free(from_a);
        kiln_instance_free(c);
    }
out:
    kiln_instance_free(a);
    kiln_instance_free(b);
    kiln_image_free(img);
    kiln_module_free(m);
}

int main(void)
{
    char dir[] = "/tmp/kiln-image-table-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    check_tier(dir, KILN_TIER_FAST);
    check_tier(dir, KILN_TIER_OPT);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("image_table");
}
