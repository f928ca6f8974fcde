/* Unit tests of images: every instance made from an image starts from the image's state
 * (memory, globals, tables), is independent of the others, and reuses released slots;
 * the same for the bounds variant (small reservations, explicit checks); releasing a slot
 * whose guest only read pages makes none of them resident; a failing pthread_mutex_init
 * fails the image; funcref tables no other module reaches are shared, not copied; so is
 * a table imported by another instance of a set laid out in one block; a copy sets its
 * import words from a table learnt from the glue's rebind, to its own bindings. */
#include "engine/engine.h"
#include "engine/image.h"
#include "engine/module_internal.h"
#include "engine/runtime_internal.h"
#include "util/test.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pthread_mutex_init, interposed: fails while fail_mutex_init is set. */
static int fail_mutex_init;
int pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr)
{
    if (fail_mutex_init) return ENOMEM;
    int (*real)(pthread_mutex_t *, const pthread_mutexattr_t *);
    *(void **)&real = dlsym(RTLD_NEXT, "pthread_mutex_init");
    return real ? real(mutex, attr) : ENOSYS;
}

static const char *wat =
    "(module\n"
    "  (memory (export \"memory\") 1 4)\n"
    "  (global $g (mut i32) (i32.const 10))\n"
    "  (data (i32.const 0) \"abc\")\n"
    "  (data (i32.const 30000) \"xyz\")\n"
    "  (table 2 funcref) (elem (i32.const 1) $seven)\n"
    "  (type $r (func (result i32)))\n"
    "  (func $seven (result i32) (i32.add (global.get $g) (i32.const 7)))\n"
    "  (func (export \"bump\") (result i32)\n"
    "    (global.set $g (i32.add (global.get $g) (i32.const 1)))\n"
    "    (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (i32.const 1)))\n"
    "    (i32.add (i32.mul (global.get $g) (i32.const 1000)) (i32.load8_u (i32.const 0))))\n"
    "  (func (export \"indirect\") (result i32) (call_indirect (type $r) (i32.const 1)))\n"
    "  (func (export \"grow\") (result i32) (memory.grow (i32.const 1)))\n"
    "  (func (export \"touch_page1\") (i32.store (i32.const 65536) (i32.const 5)))\n"
    "  (func (export \"size\") (result i32) (memory.size))\n"
    "  (func (export \"scribble\") (param i32) (i32.store8 (local.get 0) (i32.const 255)))\n"
    "  (func (export \"sum\") (result i32) (local $i i32) (local $s i32)\n"
    "    (block $done (loop $next\n"
    "      (br_if $done (i32.ge_u (local.get $i) (i32.mul (memory.size) (i32.const 65536))))\n"
    "      (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $i))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br $next)))\n"
    "    (local.get $s)))\n";

/* Any import is accepted: provided by the bindings (check_set_share's importer). */
static kiln_fnptr accept_any(void *ctx, const kiln_import *imp)
{
    (void)ctx;
    (void)imp;
    return (kiln_fnptr)accept_any;
}

/* The linker load_text passes (NULL: one that accepts any import). */
static const kiln_linker *test_linker;

/* Compiles `text` on `tier` with `checks` (the image and test files go to dir). */
static kiln_module *load_text(const char *dir, const char *text, kiln_tier tier,
                              kiln_mem_checks checks)
{
    char path[256], cmd[600];
    snprintf(path, sizeof path, "%s/m.wat", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/m.wat -o %s/m.wasm", dir, dir);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/m.wasm", dir);
    kiln_compile_opts o = {.tier = tier, .cache_dir = dir, .memory_checks = checks};
    kiln_err err;
    kiln_linker any = {accept_any, NULL};
    kiln_module *m = kiln_module_load_file(path, &o, test_linker ? test_linker : &any, &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

static kiln_module *load_checks(const char *dir, kiln_mem_checks checks)
{
    return load_text(dir, wat, KILN_TIER_FAST, checks);
}

static kiln_module *load(const char *dir)
{
    return load_checks(dir, KILN_MEM_CHECKS_GUARD);
}

static int call(kiln_instance *inst, const char *name)
{
    kiln_val v[2] = {{0}};
    kiln_trap t;
    long i = kiln_module_export_index(kiln_instance_module(inst), name);
    if (kiln_instance_call(inst, i, v, &t) < 0) return -1000 - (int)t.kind;
    return (int)v[0].i32;
}

/* Calls export `name` with one i32 argument. */
static int call1(kiln_instance *inst, const char *name, int32_t arg)
{
    kiln_val v[2] = {{.i32 = arg}};
    kiln_trap t;
    long i = kiln_module_export_index(kiln_instance_module(inst), name);
    if (kiln_instance_call(inst, i, v, &t) < 0) return -1000 - (int)t.kind;
    return 0;
}

/* The byte sum of the image's memory: "abc" + "xyz". */
#define IMAGE_SUM (97 + 98 + 99 + 120 + 121 + 122)

/* Guests write anywhere in memory (pages that are zero in the image, pages holding its
 * data, the last byte); every later instance, in whatever slot, sees exactly the image.
 * Run for both slot kinds: copied (the default for small images) and copy-on-write. */
static void check_slot_reset(kiln_module *m, const char *mode)
{
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, NULL, &trap, &err);
    CHECK(img != NULL);
    if (!img) return;
    static const int32_t spots[][3] = {{5000, 30001, 65535}, {40000, 8191, 8192}, {0, 4096, 61440}};
    for (int round = 0; round < 3; round++) {
        kiln_instance *a = kiln_image_instantiate(img, NULL);
        kiln_instance *b = kiln_image_instantiate(img, NULL);
        CHECK(a && b);
        if (!a || !b) break;
        if (call(a, "sum") != IMAGE_SUM || call(b, "sum") != IMAGE_SUM)
            fprintf(stderr, "image (%s): round %d starts from a dirty slot\n", mode, round);
        CHECK_INT(call(a, "sum"), IMAGE_SUM);
        CHECK_INT(call(b, "sum"), IMAGE_SUM);
        for (int k = 0; k < 3; k++) {
            CHECK_INT(call1(a, "scribble", spots[round][k]), 0);
            CHECK_INT(call1(b, "scribble", spots[(round + 1) % 3][k]), 0);
        }
        CHECK(call(a, "sum") != IMAGE_SUM);
        CHECK_INT(call(a, "grow"), 1); /* growth is dropped with the slot too */
        CHECK_INT(call1(a, "scribble", 65536 + 100), 0);
        kiln_instance_free(a);
        kiln_instance_free(b);
    }
    kiln_instance *c = kiln_image_instantiate(img, NULL);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(call(c, "size"), 1);
        CHECK_INT(call(c, "sum"), IMAGE_SUM);
        kiln_instance_free(c);
    }
    kiln_image_free(img);
}

/* The number of host pages in [p, p + len) that are private pages of this process
 * (pagemap's exclusively-mapped bit, 56), or -1 when pagemap cannot be read. */
static long private_pages(const uint8_t *p, size_t len)
{
    long ps = sysconf(_SC_PAGESIZE), n = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ps <= 0) return -1;
    for (size_t off = 0; off < len; off += (size_t)ps) {
        uint64_t e;
        if (pread(fd, &e, sizeof e, (off_t)(((uintptr_t)p + off) / (size_t)ps * sizeof e)) !=
            (ssize_t)sizeof e) {
            close(fd);
            return -1;
        }
        n += (e >> 56) & 1;
    }
    close(fd);
    return n;
}

/* A guest that only reads the zero pages of its memory leaves none of them private after
 * the release (they map the shared zero page; zeroing them would copy it). The image has
 * data in two host pages (0 and 30000's), which stay; `sum` reads the other 14. */
static void check_read_costs_nothing(kiln_module *m)
{
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, NULL, &trap, &err);
    CHECK(img != NULL);
    if (!img) return;
    kiln_instance *inst = kiln_image_instantiate(img, NULL);
    CHECK(inst != NULL);
    if (inst) {
        const uint8_t *data = kiln_instance_memory(inst, "memory")->data;
        CHECK_INT(call(inst, "sum"), IMAGE_SUM);
        long before = private_pages(data, 65536);
        kiln_instance_free(inst);
        long after = private_pages(data, 65536);
        if (after != before)
            fprintf(stderr, "release made %ld read pages private\n", after - before);
        CHECK(before >= 0);
        CHECK_INT(after, before);
        CHECK(after <= 2);
    }
    kiln_image_free(img);
}

/* The bounds variant: same behaviour as the guard variant (out-of-bounds accesses trap as
 * KILN_TRAP_MEMORY_OOB, growth, slot reset), in reservations of its own kind, sized to the
 * instantiating thread's memory limit (growth stops there) or the module's maximum. */
static void check_bounds_variant(const char *dir)
{
    kiln_module *m = load_checks(dir, KILN_MEM_CHECKS_BOUNDS);
    CHECK(m != NULL);
    if (!m) return;
    kiln_rt_pool_stats before, after;
    kiln_rt_pool_stats_get(&before);
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, NULL, &trap, &err);
    CHECK(img != NULL);
    if (img) {
        kiln_rt_set_memory_limit_pages(2); /* as kiln up does per request */
        kiln_instance *a = kiln_image_instantiate(img, NULL);
        CHECK(a != NULL);
        if (a) {
            CHECK_INT(call(a, "bump"), 11098);
            CHECK_INT(call(a, "touch_page1"), -1000 - KILN_TRAP_MEMORY_OOB);
            CHECK_INT(call1(a, "scribble", 65535), 0);
            CHECK_INT(call1(a, "scribble", 65536), -1000 - KILN_TRAP_MEMORY_OOB);
            CHECK_INT(call1(a, "scribble", -1), -1000 - KILN_TRAP_MEMORY_OOB);
            CHECK_INT(call(a, "grow"), 1);
            CHECK_INT(call(a, "touch_page1"), 0);
            CHECK_INT(call(a, "grow"), -1); /* the limit of 2 pages, under the module's 4 */
            CHECK_INT(call(a, "size"), 2);
            kiln_instance_free(a);
        }
        kiln_rt_set_memory_limit_pages(0); /* now the module's maximum, 4, in a bigger slot */
        kiln_instance *b = kiln_image_instantiate(img, NULL);
        CHECK(b != NULL);
        if (b) {
            CHECK_INT(call(b, "sum"), IMAGE_SUM);
            for (int i = 1; i < 4; i++)
                CHECK_INT(call(b, "grow"), i);
            CHECK_INT(call(b, "grow"), -1);
            CHECK_INT(call1(b, "scribble", 4 * 65536 - 1), 0);
            CHECK_INT(call1(b, "scribble", 4 * 65536), -1000 - KILN_TRAP_MEMORY_OOB);
            kiln_instance_free(b);
        }
        kiln_image_free(img);
    }
    kiln_rt_pool_stats_get(&after);
    CHECK(after.bounds > before.bounds);
    check_slot_reset(m, "bounds");
    kiln_module_free(m);
}

static const char *table_wat =
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

/* Calls export `name` with one i32 argument (ignored when the export takes none): its
 * i32 result (for an export without results: the argument), or -1000 - the trap's
 * kind. */
static int call_i(kiln_instance *inst, const char *name, int32_t arg)
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

/* Funcref tables shared by an image's instances (funcref_table.c, image.c), on `tier`: a
 * table only its module reaches is not copied per instance; call_indirect through it
 * calls the calling instance's function (its globals, its memory); a write (table.set,
 * table.grow) gives the writing instance its own copy and no other instance sees it; a
 * funcref read out of it (table.get, table.copy into an exported table) names the
 * instance itself; images captured from instances sharing or owning it work the same. */
static void check_shared_tables(const char *dir, kiln_tier tier)
{
    kiln_module *m = load_text(dir, table_wat, tier, KILN_MEM_CHECKS_GUARD);
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
    CHECK_INT(call_i(a, "setg", 20), 20);
    CHECK_INT(call_i(a, "call", 1), 40);
    CHECK_INT(call_i(b, "call", 1), 10);
    CHECK_INT(call_i(b, "call", 0), NULL_ELEM);

    /* table.set: a gets its own copy, b does not see the write. */
    CHECK_INT(call_i(a, "set0", 0), 0);
    CHECK_INT(call_i(a, "call", 0), 8);
    CHECK_INT(call_i(a, "call", 1), 40);
    CHECK_INT(call_i(b, "call", 0), NULL_ELEM);
    CHECK(table(a, 0)->data != table(b, 0)->data);
    CHECK_INT(kiln_rt_funcref_elems_shared(table(a, 0)->data), 0);
    CHECK_INT(kiln_rt_funcref_elems_shared(table(b, 0)->data), 1);

    /* table.grow on a shared table: b's own, longer copy; a new instance has the image's. */
    CHECK_INT(call_i(b, "grow", 0), 2);
    CHECK_INT(call_i(b, "size", 0), 3);
    CHECK_INT(call_i(b, "call", 1), 10);
    CHECK_INT(call_i(b, "call", 2), NULL_ELEM);
    kiln_instance *c = kiln_image_instantiate(img, NULL);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(call_i(c, "size", 0), 2);
        CHECK_INT(call_i(c, "call", 0), NULL_ELEM);
        /* Funcrefs read out of the shared table leave it naming c itself. */
        CHECK_INT(call_i(c, "setg", 5), 5);
        CHECK_INT(call_i(c, "get_call", 0), 10);
        CHECK_INT(call_i(c, "copy_call", 0), 10);
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
            CHECK_INT(call_i(d, "call", 1), 10);
            CHECK_INT(call_i(e, "call", 1), 40);
            CHECK_INT(call_i(e, "call", 0), 8);
            CHECK_INT(kiln_rt_funcref_elems_shared(table(d, 0)->data), 1);
            CHECK_INT(kiln_rt_funcref_elems_shared(table(e, 0)->data), 1);
            CHECK_INT(call_i(e, "setg", 1), 1);
            CHECK_INT(call_i(e, "call", 1), 2);
            CHECK_INT(call_i(a, "call", 1), 40);
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

/* A set's copied table (kiln_image_instantiate_set + kiln_image_rebase): its array is
 * not zeroed when allocated, so until the rebase it is empty (size 0, nothing of the
 * array visible), and the rebase writes every element: the funcref the template stored
 * moves to the copy, the null one stays null, and calling through the table reaches the
 * copy's function with the copy's global. */
static void check_set_copy(const char *dir)
{
    kiln_module *m = load_text(dir, table_wat, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD);
    CHECK(m != NULL);
    if (!m) return;
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, NULL, &trap, &err);
    kiln_instance *t = img ? kiln_image_instantiate(img, NULL) : NULL;
    CHECK(t != NULL);
    /* $E[0] = $seven of t, absolute (an exported table is copied, not shared). */
    CHECK_INT(t ? call_i(t, "get_call", 0) : -1, 10);
    kiln_image *timg = t ? kiln_image_capture(t, &err) : NULL;
    CHECK(timg != NULL);
    void *blk = timg ? aligned_alloc(16, kiln_image_block_size(timg)) : NULL;
    kiln_instance *c = blk ? kiln_image_instantiate_set(timg, NULL, blk) : NULL;
    CHECK(c != NULL && table(c, 1) != NULL);
    if (c && table(c, 1)) {
        CHECK_INT(table(c, 1)->size, 0);
        kiln_image_reloc map;
        kiln_image_range(timg, &map.lo, &map.hi);
        map.to = kiln_instance_base(c);
        CHECK_INT(kiln_image_rebase(c, timg, &map, 1), 0);
        wasm_rt_funcref_table_t *e = table(c, 1);
        CHECK_INT(e->size, 2);
        uintptr_t mi = (uintptr_t)e->data[0].module_instance;
        CHECK(mi >= (uintptr_t)c && mi < (uintptr_t)c + c->alloc_size);
        CHECK(e->data[0].func != NULL);
        CHECK(e->data[1].func == NULL && e->data[1].module_instance == NULL);
        CHECK_INT(call_i(c, "setg", 3), 3);
        CHECK_INT(call_i(c, "get_call", 0), 6);
        CHECK_INT(call_i(t, "get_call", 0), 10);
    }
    kiln_instance_free(c);
    free(blk);
    kiln_image_free(timg);
    kiln_instance_free(t);
    kiln_image_free(img);
    kiln_module_free(m);
}

/* A set of two: $t defined and exported by the first, imported by the second (as
 * CPython's libpython table is by the other core modules of a component). */
static const char *definer_wat =
    "(module\n"
    "  (global $g (mut i32) (i32.const 5))\n"
    "  (type $r (func (result i32)))\n"
    "  (table $t (export \"t\") 3 10 funcref)\n"
    "  (elem (i32.const 0) func $g5 $one)\n"
    "  (func $g5 (result i32) (global.get $g))\n"
    "  (func $one (result i32) (i32.const 1))\n"
    "  (func (export \"setg\") (param i32) (result i32) (global.set $g (local.get 0))\n"
    "    (local.get 0))\n"
    "  (func (export \"call\") (param i32) (result i32)\n"
    "    (call_indirect (type $r) (local.get 0))))\n";
static const char *importer_wat =
    "(module\n"
    "  (import \"a\" \"t\" (table $t 3 10 funcref))\n"
    "  (table $own 2 funcref)\n"
    "  (type $r (func (result i32)))\n"
    "  (elem declare func $nine)\n"
    "  (func $nine (result i32) (i32.const 9))\n"
    "  (func (export \"call\") (param i32) (result i32)\n"
    "    (call_indirect $t (type $r) (local.get 0)))\n"
    "  (func (export \"get_call\") (param i32) (result i32)\n"
    "    (table.set $own (i32.const 0) (table.get $t (local.get 0)))\n"
    "    (call_indirect $own (type $r) (i32.const 0)))\n"
    "  (func (export \"copy_call\") (param i32) (result i32)\n"
    "    (table.copy $own $t (i32.const 1) (local.get 0) (i32.const 1))\n"
    "    (call_indirect $own (type $r) (i32.const 1)))\n"
    "  (func (export \"set9\") (param i32) (result i32)\n"
    "    (table.set $t (local.get 0) (ref.func $nine)) (local.get 0))\n"
    "  (func (export \"grow\") (result i32) (table.grow $t (ref.null func) (i32.const 2)))\n"
    "  (func (export \"size\") (result i32) (table.size $t)))\n";

/* One copy of the set: both instances in one block, the importer bound to the copy's
 * definer, copied tables rebased. */
typedef struct set_copy {
    void *blk;
    kiln_instance *a, *b;
} set_copy;

/* Fills the copied tables of c's two instances (kiln_image_rebase). */
static int rebase_set(kiln_image **imgs, set_copy *c)
{
    if (!c->a || !c->b) return -1;
    kiln_image_reloc map[2];
    kiln_image_range(imgs[0], &map[0].lo, &map[0].hi);
    kiln_image_range(imgs[1], &map[1].lo, &map[1].hi);
    map[0].to = kiln_instance_base(c->a);
    map[1].to = kiln_instance_base(c->b);
    if (map[1].lo < map[0].lo) {
        kiln_image_reloc x = map[0];
        map[0] = map[1];
        map[1] = x;
    }
    return kiln_image_rebase(c->a, imgs[0], map, 2) | kiln_image_rebase(c->b, imgs[1], map, 2);
}

/* The importer's binding (its table import) moved to the definer built at `a`. */
static kiln_binding importer_binding(kiln_image **imgs, const void *a)
{
    size_t nb;
    kiln_binding b = kiln_image_bindings(imgs[1], &nb)[0];
    uintptr_t lo, hi;
    kiln_image_range(imgs[0], &lo, &hi);
    b.ctx = (char *)b.ctx - lo + (uintptr_t)a;
    return b;
}

static int copy_set(kiln_image **imgs, const size_t *at, set_copy *c)
{
    *c = (set_copy){aligned_alloc(16, at[2]), NULL, NULL};
    if (!c->blk) return -1;
    c->a = kiln_image_instantiate_set(imgs[0], NULL, (char *)c->blk + at[0]);
    kiln_binding b = importer_binding(imgs, c->a);
    c->b = c->a ? kiln_image_instantiate_set(imgs[1], &b, (char *)c->blk + at[1]) : NULL;
    return rebase_set(imgs, c);
}

/* A copy of the set built in c->blk as a block used again does it (image.h): the
 * importer's bindings written in place, each native struct kept in `kept` (again == 0), or
 * the instances made from the kept structs in the same block, bindings as they were. */
static int copy_set_kept(kiln_image **imgs, const size_t *at, set_copy *c, char *kept, int again)
{
    size_t na = kiln_image_native_size(imgs[0]);
    char *pa = (char *)c->blk + at[0], *pb = (char *)c->blk + at[1];
    if (!again) *kiln_image_set_bindings(imgs[1], pb) = importer_binding(imgs, pa);
    c->a = again ? kiln_image_instantiate_again(imgs[0], pa, kept)
                 : kiln_image_instantiate_kept(imgs[0], pa, kept);
    c->b = again ? kiln_image_instantiate_again(imgs[1], pb, kept + na)
                 : kiln_image_instantiate_kept(imgs[1], pb, kept + na);
    return rebase_set(imgs, c);
}

static void free_set(set_copy *c)
{
    kiln_instance_free(c->b);
    kiln_instance_free(c->a);
    free(c->blk);
}

/* Shared imported table (kiln_image_share_set): two copies of a definer + importer set
 * use the image's array for $t; call_indirect through the definer and the importer,
 * table.get and table.copy out of it reach each copy's own function and global; a write
 * (table.set, table.grow) by one copy's importer gives that copy's definer its own array
 * and the other copy sees nothing of it. A set's block used again
 * (kiln_image_instantiate_kept / _again) starts from the image whatever its previous
 * copy wrote. */
static void check_set_share(const char *dir)
{
    char da[300], db[300];
    snprintf(da, sizeof da, "%s/a", dir);
    snprintf(db, sizeof db, "%s/b", dir);
    if (mkdir(da, 0700) < 0 || mkdir(db, 0700) < 0) CHECK(0);
    kiln_module *ma = load_text(da, definer_wat, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD);
    kiln_module *mb = load_text(db, importer_wat, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD);
    CHECK(ma && mb);
    if (!ma || !mb) return;
    kiln_trap trap;
    kiln_err err;
    kiln_instance *ta = kiln_instance_alloc(ma), *tb = kiln_instance_alloc(mb);
    CHECK(ta && tb);
    CHECK_INT(kiln_instance_init(ta, NULL, &trap), 0);
    kiln_binding bt = {NULL, kiln_instance_export_ptr(ta, kiln_module_export_index(ma, "t")), 0};
    CHECK_INT(kiln_instance_init(tb, &bt, &trap), 0);
    kiln_image *imgs[2] = {kiln_image_capture(ta, &err), kiln_image_capture(tb, &err)};
    CHECK(imgs[0] && imgs[1]);
    kiln_instance_free(tb);
    kiln_instance_free(ta);
    size_t at[3] = {0, kiln_image_block_size(imgs[0]), 0};
    at[2] = at[1] + kiln_image_block_size(imgs[1]);
    /* $t (the importer's $own, private, was shared by its capture already). */
    CHECK_INT(kiln_image_share_set(imgs, 2, at), 1);
    CHECK(kiln_image_instantiate(imgs[0], NULL) == NULL); /* only in its set's layout */
    set_copy x, y;
    CHECK_INT(copy_set(imgs, at, &x), 0);
    CHECK_INT(copy_set(imgs, at, &y), 0);
    if (!x.b || !y.b) goto out;
    wasm_rt_funcref_table_t *xt = kiln_instance_export_ptr(x.a, kiln_module_export_index(ma, "t"));
    wasm_rt_funcref_table_t *yt = kiln_instance_export_ptr(y.a, kiln_module_export_index(ma, "t"));
    CHECK(xt->data == yt->data && kiln_rt_funcref_elems_shared(xt->data));
    CHECK_INT(call_i(x.a, "setg", 7), 7);
    CHECK_INT(call_i(x.a, "call", 0), 7);
    CHECK_INT(call_i(y.a, "call", 0), 5);
    CHECK_INT(call_i(x.b, "call", 0), 7);
    CHECK_INT(call_i(y.b, "call", 0), 5);
    CHECK_INT(call_i(x.b, "call", 1), 1);
    CHECK_INT(call_i(x.b, "get_call", 0), 7);
    CHECK_INT(call_i(y.b, "get_call", 0), 5);
    CHECK_INT(call_i(x.b, "copy_call", 0), 7);
    CHECK_INT(call_i(y.b, "copy_call", 0), 5);
    CHECK(xt->data == yt->data); /* reads and writes of other tables left $t shared */
    CHECK_INT(call_i(x.b, "call", 2), -1000 - KILN_TRAP_NULL_ELEMENT);
    /* A write gives the writer's copy its own array; the other copy keeps the image's. */
    CHECK_INT(call_i(x.b, "set9", 1), 1);
    CHECK(xt->data != yt->data && !kiln_rt_funcref_elems_shared(xt->data));
    CHECK_INT(call_i(x.b, "call", 1), 9);
    CHECK_INT(call_i(x.a, "call", 1), 9);
    CHECK_INT(call_i(x.a, "call", 0), 7); /* its copy's elements still resolve */
    CHECK_INT(call_i(y.b, "call", 1), 1);
    CHECK_INT(call_i(y.a, "call", 1), 1);
    CHECK(kiln_rt_funcref_elems_shared(yt->data));
    CHECK_INT(call_i(y.b, "grow", 0), 3);
    CHECK_INT(call_i(y.b, "size", 0), 5);
    CHECK_INT(call_i(x.b, "size", 0), 3);
    CHECK_INT(call_i(y.a, "call", 0), 5);
    CHECK_INT(call_i(y.b, "call", 4), -1000 - KILN_TRAP_NULL_ELEMENT);
    CHECK(!kiln_rt_funcref_elems_shared(yt->data));
    /* A third copy starts from the image again. */
    set_copy z;
    CHECK_INT(copy_set(imgs, at, &z), 0);
    if (z.b) {
        CHECK_INT(call_i(z.b, "call", 0), 5);
        CHECK_INT(call_i(z.b, "call", 1), 1);
        CHECK_INT(call_i(z.b, "size", 0), 3);
    }
    free_set(&z);
    /* A block used again: its first copy writes its global, its tables (set9 gives the
     * definer its own array) and grows $t; made again in the same block from the kept
     * structs, it starts from the image, the importer still bound to its definer. */
    unsigned char moved[1] = {0};
    CHECK_INT(kiln_image_rebind_reads(imgs[1], moved), 0);
    moved[0] = 1; /* the importer's struct holds its table import's context */
    CHECK_INT(kiln_image_rebind_reads(imgs[1], moved), 1);
    char *kept = malloc(kiln_image_native_size(imgs[0]) + kiln_image_native_size(imgs[1]));
    set_copy w = {aligned_alloc(16, at[2]), NULL, NULL};
    CHECK(kept && w.blk);
    if (kept && w.blk) {
        CHECK_INT(copy_set_kept(imgs, at, &w, kept, 0), 0);
        CHECK_INT(call_i(w.a, "setg", 8), 8);
        CHECK_INT(call_i(w.b, "set9", 1), 1);
        CHECK_INT(call_i(w.b, "grow", 0), 3);
        CHECK_INT(call_i(w.b, "call", 1), 9);
        CHECK_INT(call_i(w.b, "size", 0), 5);
        for (int round = 0; round < 2; round++) {
            kiln_instance_free(w.b);
            kiln_instance_free(w.a);
            w.a = w.b = NULL;
            CHECK_INT(copy_set_kept(imgs, at, &w, kept, 1), 0);
            if (!w.b) break;
            CHECK_INT(call_i(w.b, "call", 0), 5);
            CHECK_INT(call_i(w.a, "call", 0), 5);
            CHECK_INT(call_i(w.b, "call", 1), 1);
            CHECK_INT(call_i(w.b, "size", 0), 3);
            CHECK(kiln_rt_funcref_elems_shared(((wasm_rt_funcref_table_t *)kiln_instance_export_ptr(
                                                    w.a, kiln_module_export_index(ma, "t")))
                                                   ->data));
            CHECK_INT(call_i(w.a, "setg", 6), 6);
            CHECK_INT(call_i(w.b, "call", 0), 6); /* through the importer's binding */
        }
    }
    free_set(&w);
    free(kept);
out:
    free_set(&x);
    free_set(&y);
    kiln_image_free(imgs[0]);
    kiln_image_free(imgs[1]);
    kiln_module_free(mb);
    kiln_module_free(ma);
}

/* A module whose instances reach their imports through words of the native struct that
 * the glue's rebind sets (the bindings array, the globals' contexts). */
static const char *import_wat =
    "(module\n"
    "  (import \"env\" \"f\" (func $f (result i32)))\n"
    "  (import \"env\" \"a\" (global $a i32))\n"
    "  (import \"env\" \"b\" (global $b (mut i32)))\n"
    "  (func (export \"read\") (result i32)\n"
    "    (i32.add (i32.mul (global.get $a) (i32.const 100)) (global.get $b)))\n"
    "  (func (export \"bump_b\") (result i32)\n"
    "    (global.set $b (i32.add (global.get $b) (i32.const 1))) (global.get $b))\n"
    "  (func (export \"calls\") (result i32) (call $f)))\n";

static uint32_t host_get(void *ctx)
{
    return (uint32_t) * (int *)ctx;
}

static kiln_fnptr accept_all(void *ctx, const kiln_import *imp)
{
    (void)ctx, (void)imp;
    return (kiln_fnptr)host_get;
}

/* Bindings of import_wat: f returns *fv, a and b are *av and *bv. */
static void bind3(kiln_binding *b, int *fv, int *av, int *bv)
{
    b[0] = (kiln_binding){(kiln_fnptr)host_get, fv, KILN_BIND_HOST};
    b[1] = (kiln_binding){NULL, av, KILN_BIND_HOST};
    b[2] = (kiln_binding){NULL, bv, KILN_BIND_HOST};
}

/* An image learns what the glue's rebind writes and a copy sets those words from its own
 * bindings without running the glue (image.c: learn_rebind): the copy's struct is what
 * the glue makes of it (running the glue again changes nothing), each copy reaches its own
 * bindings, never the image's or another copy's, and a set copy (bindings moved) too. */
static void check_rebind_table(const char *dir)
{
    kiln_linker lk = {accept_all, NULL};
    test_linker = &lk;
    kiln_module *m = load_text(dir, import_wat, KILN_TIER_FAST, KILN_MEM_CHECKS_GUARD);
    test_linker = NULL;
    CHECK(m != NULL);
    if (!m) return;
    int f0 = 5, a0 = 1, b0 = 2, f1 = 6, a1 = 3, b1 = 4, f2 = 7, a2 = 8, b2 = 9;
    kiln_binding b[3], c[3], d[3];
    bind3(b, &f0, &a0, &b0);
    bind3(c, &f1, &a1, &b1);
    bind3(d, &f2, &a2, &b2);
    kiln_trap trap;
    kiln_err err;
    kiln_image *img = kiln_image_new(m, b, &trap, &err);
    CHECK(img != NULL);
    if (!img) {
        kiln_module_free(m);
        return;
    }
    /* The bindings array (one import module) and the two globals' contexts. */
    CHECK_INT((long)kiln_image_rebind_words(img), 3);
    kiln_instance *x = kiln_image_instantiate(img, c);
    kiln_instance *y = kiln_image_instantiate(img, d);
    CHECK(x != NULL && y != NULL);
    if (x && y) {
        CHECK_INT(call(x, "read"), 304);
        CHECK_INT(call(y, "read"), 809);
        CHECK_INT(call(x, "calls"), 6);
        CHECK_INT(call(y, "calls"), 7);
        CHECK_INT(call(x, "bump_b"), 5);
        CHECK_INT(b1, 5);
        CHECK_INT(b0, 2); /* the image's global is not the copy's */
        CHECK_INT(b2, 9);
        unsigned char *ref = malloc(m->instance_size);
        CHECK(ref != NULL);
        if (ref) {
            memcpy(ref, x->native, m->instance_size);
            m->g_rebind(ref, x->bindings);
            CHECK(memcmp(ref, x->native, m->instance_size) == 0);
        }
        free(ref);
        size_t nb;
        const kiln_binding *ib = kiln_image_bindings(img, &nb);
        CHECK_INT((long)nb, 3);
        void *sblk = aligned_alloc(16, kiln_image_block_size(img));
        kiln_instance *s = sblk ? kiln_image_instantiate_set(img, d, sblk) : NULL;
        CHECK(s != NULL);
        if (s) {
            CHECK_INT(call(s, "read"), 809);
            CHECK_INT(call(s, "calls"), 7);
        }
        kiln_instance_free(s);
        free(sblk);
        CHECK(ib[1].ctx == &a0); /* the image keeps its own bindings */
    }
    kiln_instance_free(x);
    kiln_instance_free(y);
    kiln_image_free(img);
    kiln_module_free(m);
}

static kiln_image *image;

static void *worker(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 500; i++) {
        kiln_instance *inst = kiln_image_instantiate(image, NULL);
        if (!inst || call(inst, "bump") != 11098 || call(inst, "indirect") != 18) return NULL;
        kiln_instance_free(inst);
    }
    *ok = 1;
    return NULL;
}

int main(void)
{
    char dir[] = "/tmp/kiln-image-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    kiln_module *m = load(dir);
    CHECK(m != NULL);
    if (!m) return test_finish("image");
    kiln_trap trap;
    kiln_err err;
    image = kiln_image_new(m, NULL, &trap, &err);
    CHECK(image != NULL);
    if (!image) return test_finish("image");

    /* 'a' is 97: bump makes g 11 and byte 98 -> 11098, every time in a fresh instance. */
    kiln_instance *a = kiln_image_instantiate(image, NULL);
    kiln_instance *b = kiln_image_instantiate(image, NULL);
    CHECK_INT(call(a, "bump"), 11098);
    CHECK_INT(call(a, "bump"), 12099);
    CHECK_INT(call(b, "bump"), 11098);  /* b does not see a's changes */
    CHECK_INT(call(a, "indirect"), 19); /* the table points at a's own function and globals */
    CHECK_INT(call(b, "indirect"), 18);
    CHECK_INT(call(a, "grow"), 1);
    CHECK_INT(call(a, "size"), 2);
    CHECK_INT(call(b, "size"), 1);
    CHECK_INT(call(b, "touch_page1"), -1000 - KILN_TRAP_MEMORY_OOB); /* b did not grow */
    CHECK_INT(call(a, "touch_page1"), 0);
    kiln_instance_free(a);
    kiln_instance_free(b);

    /* Released slots come back reset: the grown page is gone, the data is the image's. */
    for (int i = 0; i < 3; i++) {
        kiln_instance *c = kiln_image_instantiate(image, NULL);
        CHECK_INT(call(c, "size"), 1);
        CHECK_INT(call(c, "bump"), 11098);
        CHECK_INT(call(c, "touch_page1"), -1000 - KILN_TRAP_MEMORY_OOB);
        kiln_instance_free(c);
    }

    /* Four threads, 2000 instances, each from the image. */
    pthread_t th[4];
    int ok[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &ok[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK_INT(ok[i], 1);

    kiln_rt_pool_stats before, after;
    kiln_rt_pool_stats_get(&before);
    for (int i = 0; i < 1000; i++)
        kiln_instance_free(kiln_image_instantiate(image, NULL));
    kiln_rt_pool_stats_get(&after);
    CHECK_INT(after.reservations, before.reservations); /* slots reused, no new mappings */

    kiln_image_free(image);

    /* Reserved slots are made at once: five live instances then map nothing new. */
    kiln_image *res = kiln_image_new(m, NULL, &trap, &err);
    CHECK(res != NULL);
    if (res) {
        CHECK_INT(kiln_image_reserve(res, 5), 0);
        kiln_rt_pool_stats_get(&before);
        kiln_instance *live[5];
        for (int i = 0; i < 5; i++) {
            live[i] = kiln_image_instantiate(res, NULL);
            CHECK(live[i] != NULL);
            if (live[i]) CHECK_INT(call(live[i], "sum"), IMAGE_SUM);
        }
        kiln_rt_pool_stats_get(&after);
        CHECK_INT(after.reservations, before.reservations);
        CHECK_INT(after.free, before.free);
        for (int i = 0; i < 5; i++)
            kiln_instance_free(live[i]);
        CHECK_INT(kiln_image_reserve(res, 3), 0); /* already has more: nothing to do */
        kiln_image_free(res);
    }

    check_read_costs_nothing(m);

    /* A failing pthread_mutex_init fails the image instead of using the lock. */
    fail_mutex_init = 1;
    kiln_image *bad = kiln_image_new(m, NULL, &trap, &err);
    fail_mutex_init = 0;
    CHECK(bad == NULL);
    if (bad) kiln_image_free(bad);

    check_bounds_variant(dir);

    check_shared_tables(dir, KILN_TIER_FAST);
    check_shared_tables(dir, KILN_TIER_OPT);
    check_set_copy(dir);
    check_set_share(dir);
    check_rebind_table(dir);

    check_slot_reset(m, "copy");
    setenv("KILN_IMAGE_COPY_MAX", "0", 1); /* every image copy-on-write */
    check_slot_reset(m, "copy-on-write");
    kiln_rt_pagemap_scan_disable(1); /* as on kernels without PAGEMAP_SCAN */
    check_slot_reset(m, "copy-on-write, pagemap read");
    kiln_rt_pagemap_scan_disable(0);
    setenv("KILN_COW_RESTORE_MAX", "0", 1); /* written pages dropped, not copied back */
    check_slot_reset(m, "copy-on-write, dropped");
    unsetenv("KILN_COW_RESTORE_MAX");
    unsetenv("KILN_IMAGE_COPY_MAX");
    kiln_module_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("image");
}
