/* Unit tests of per-instance import binding (engine.h: kiln_binding): every import of an
 * instance resolves to the {function, context} chosen when the instance is made, so two
 * instances of one module can run at once with different host contexts, one instance's
 * exports can be another's imports (functions, memory, through a table too), images
 * rebind per instance, and an unbound import is refused instead of called. */
#include "engine/engine.h"
#include "util/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The provider: exports a function that uses its own state, a memory, and a loop. */
static const char *provider_wat =
    "(module\n"
    "  (memory (export \"mem\") 1)\n"
    "  (global $base (mut i32) (i32.const 1000))\n"
    "  (func (export \"add\") (param i32 i32) (result i32)\n"
    "    (i32.add (global.get $base) (i32.add (local.get 0) (local.get 1))))\n"
    "  (func (export \"spin\") (loop $l (br $l))))\n";

/* The consumer: a host function, the provider's function and memory, and a table entry
 * that points at the imported function. */
static const char *consumer_wat =
    "(module\n"
    "  (import \"host\" \"get\" (func $get (result i32)))\n"
    "  (import \"p\" \"add\" (func $add (param i32 i32) (result i32)))\n"
    "  (import \"p\" \"spin\" (func $spin))\n"
    "  (import \"p\" \"mem\" (memory 1))\n"
    "  (type $t (func (param i32 i32) (result i32)))\n"
    "  (table 1 funcref) (elem (i32.const 0) $add)\n"
    "  (func (export \"run\") (result i32)\n"
    "    (i32.store (i32.const 16) (call $get))\n"
    "    (call $add (call $get) (i32.const 1)))\n"
    "  (func (export \"run_indirect\") (result i32)\n"
    "    (call_indirect (type $t) (call $get) (i32.const 2) (i32.const 0)))\n"
    "  (func (export \"spin\") (call $spin)))\n";

/* A generic host function (KILN_BIND_HOST_VALS): arguments and results in one array. */
static const char *vals_wat =
    "(module\n"
    "  (import \"h\" \"mix\" (func $mix (param i32 i64 f32 f64) (result i64 f64)))\n"
    "  (import \"h\" \"one\" (func $one (param i32) (result i32)))\n"
    "  (import \"h\" \"none\" (func $none))\n"
    "  (func (export \"go\") (result i64) (local $f f64)\n"
    "    (call $none)\n"
    "    (call $mix (call $one (i32.const 41)) (i64.const 5000000000) (f32.const 2.5)\n"
    "      (f64.const 0.25))\n"
    "    (local.set $f) (i64.add (i64.trunc_f64_s (f64.mul (local.get $f) (f64.const 100))))))\n";

static int none_calls;

static void vals_mix(void *ctx, kiln_val *v)
{
    (void)ctx;
    uint64_t sum = v[0].i32 + v[1].i64;
    double f = (double)v[2].f32 + v[3].f64; /* 2.75 */
    v[0].i64 = sum;
    v[1].f64 = f;
}

static void vals_one(void *ctx, kiln_val *v)
{
    v[0].i32 = v[0].i32 + *(int *)ctx;
}

static void vals_none(void *ctx, kiln_val *v)
{
    (void)ctx, (void)v;
    none_calls++;
}

static char dir[] = "/tmp/kiln-link-test.XXXXXX";

static kiln_module *load(const char *name, const char *wat, const kiln_linker *linker)
{
    char path[256], cmd[700];
    snprintf(path, sizeof path, "%s/%s.wat", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s/%s.wat -o %s/%s.wasm", dir, name, dir, name);
    if (system(cmd) != 0) return NULL;
    snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = dir};
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &o, linker, &err);
    if (!m) fprintf(stderr, "%s\n", err.msg);
    return m;
}

/* The host function: returns the int its context points at. */
static uint32_t host_get(void *ctx)
{
    return (uint32_t) * (int *)ctx;
}

static kiln_fnptr accept_all(void *ctx, const kiln_import *imp)
{
    (void)ctx;
    if (strcmp(imp->module, "host") == 0) return (kiln_fnptr)host_get;
    return (kiln_fnptr)accept_all; /* any non-NULL: provided at instantiation */
}

static kiln_module *prov_m, *cons_m;
static kiln_instance *prov;

/* Bindings of the consumer for host context `value`. */
static void bind(kiln_binding *b, int *value)
{
    b[0] = (kiln_binding){(kiln_fnptr)host_get, value, KILN_BIND_HOST};
    b[1] = (kiln_binding){kiln_module_export_fn(prov_m, kiln_module_export_index(prov_m, "add")),
                          kiln_instance_native(prov), KILN_BIND_GUEST};
    b[2] = (kiln_binding){kiln_module_export_fn(prov_m, kiln_module_export_index(prov_m, "spin")),
                          kiln_instance_native(prov), KILN_BIND_GUEST};
    b[3] = (kiln_binding){NULL, kiln_instance_memory(prov, "mem"), KILN_BIND_HOST};
}

static int call(kiln_instance *inst, const char *name, kiln_trap *t)
{
    kiln_val v[2] = {{0}};
    long i = kiln_module_export_index(kiln_instance_module(inst), name);
    if (kiln_instance_call(inst, i, v, t) < 0) return -1;
    return (int)v[0].i32;
}

typedef struct worker_arg {
    kiln_instance *inst;
    int want, bad;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    kiln_trap t;
    for (int i = 0; i < 20000; i++)
        if (call(a->inst, "run", &t) != a->want) a->bad++;
    return NULL;
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    kiln_linker linker = {accept_all, NULL};
    prov_m = load("provider", provider_wat, NULL);
    cons_m = load("consumer", consumer_wat, &linker);
    CHECK(prov_m && cons_m);
    if (!prov_m || !cons_m) return test_finish("link");
    CHECK_INT(kiln_module_import_count(cons_m), 4);
    CHECK_STR(kiln_module_import(cons_m, 1)->module, "p");
    CHECK_STR(kiln_module_import(cons_m, 1)->name, "add");
    CHECK(kiln_module_import_fn(cons_m, 0) == (kiln_fnptr)host_get);

    kiln_trap t;
    prov = kiln_instance_alloc(prov_m);
    CHECK(prov && kiln_instance_init(prov, NULL, &t) == 0);

    /* Two instances of one module, different host contexts, alive at once. */
    int seven = 7, hundred = 100;
    kiln_binding b1[4], b2[4];
    bind(b1, &seven);
    bind(b2, &hundred);
    kiln_instance *c1 = kiln_instance_alloc(cons_m), *c2 = kiln_instance_alloc(cons_m);
    CHECK(kiln_instance_init(c1, b1, &t) == 0);
    memset(b1, 0, sizeof b1); /* the engine copied them: the caller's array may go */
    CHECK(kiln_instance_init(c2, b2, &t) == 0);
    CHECK_INT(call(c1, "run", &t), 1000 + 7 + 1);
    CHECK_INT(call(c2, "run", &t), 1000 + 100 + 1);
    /* The imported memory is the provider's. */
    const wasm_rt_memory_t *pm = kiln_instance_memory(prov, "mem");
    CHECK_INT(pm->data[16], 100);
    /* Through the table: the entry for the imported function reaches the provider. */
    CHECK_INT(call(c1, "run_indirect", &t), 1000 + 7 + 2);
    CHECK_INT(call(c2, "run_indirect", &t), 1000 + 100 + 2);

    /* At once, on two threads. */
    worker_arg a1 = {c1, 1008, 0}, a2 = {c2, 1101, 0};
    pthread_t th1, th2;
    CHECK(pthread_create(&th1, NULL, worker, &a1) == 0);
    CHECK(pthread_create(&th2, NULL, worker, &a2) == 0);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    CHECK_INT(a1.bad, 0);
    CHECK_INT(a2.bad, 0);

    /* A guest-to-guest call stays interruptible (it is not a host section). */
    long spin = kiln_module_export_index(cons_m, "spin");
    kiln_val v[1];
    CHECK(kiln_instance_call_timeout(c1, spin, v, &t, 50000000) < 0);
    CHECK_INT(t.kind, KILN_TRAP_INTERRUPTED);

    /* Images rebind per instance: the same image, two contexts, tables included. */
    int three = 3, four = 4;
    kiln_binding ib[4];
    bind(ib, &three);
    kiln_err err;
    kiln_image *img = kiln_image_new(cons_m, ib, &t, &err);
    CHECK(img != NULL);
    bind(ib, &four);
    kiln_instance *i4 = img ? kiln_image_instantiate(img, ib) : NULL;
    bind(ib, &seven);
    kiln_instance *i7 = img ? kiln_image_instantiate(img, ib) : NULL;
    CHECK(i4 && i7);
    if (i4 && i7) {
        CHECK_INT(call(i4, "run", &t), 1005);
        CHECK_INT(call(i7, "run", &t), 1008);
        CHECK_INT(call(i4, "run_indirect", &t), 1006);
        CHECK_INT(call(i7, "run_indirect", &t), 1009);
    }
    kiln_instance_free(i4);
    kiln_instance_free(i7);

    /* Generic host bindings: any core signature, multi-value results. */
    kiln_module *vm = load("vals", vals_wat, &linker);
    CHECK(vm != NULL);
    if (vm) {
        int one = 1;
        kiln_binding vb[3] = {{(kiln_fnptr)vals_mix, NULL, KILN_BIND_HOST_VALS},
                              {(kiln_fnptr)vals_one, &one, KILN_BIND_HOST_VALS},
                              {(kiln_fnptr)vals_none, NULL, KILN_BIND_HOST_VALS}};
        kiln_instance *vi = kiln_instance_alloc(vm);
        CHECK(vi && kiln_instance_init(vi, vb, &t) == 0);
        kiln_val r[1] = {{0}};
        CHECK(kiln_instance_call(vi, kiln_module_export_index(vm, "go"), r, &t) == 0);
        CHECK_INT(r[0].i64, 5000000042ll + 275);
        CHECK_INT(none_calls, 1);
        kiln_instance_free(vi);
        kiln_module_free(vm);
    }

    /* A guest import without results runs once (the glue once fell through to a second,
     * host-style call of the same function). */
    kiln_module *bm = load("bumper",
                           "(module (global $n (export \"n\") (mut i32) (i32.const 0))\n"
                           "  (func (export \"bump\")\n"
                           "    (global.set $n (i32.add (global.get $n) (i32.const 1)))))\n",
                           NULL);
    kiln_module *gm = load("caller",
                           "(module (import \"p\" \"bump\" (func $bump))\n"
                           "  (func (export \"go\") (call $bump)))\n",
                           &linker);
    CHECK(bm && gm);
    if (bm && gm) {
        kiln_instance *bi = kiln_instance_alloc(bm), *gi = kiln_instance_alloc(gm);
        CHECK(bi && kiln_instance_init(bi, NULL, &t) == 0);
        kiln_binding gb[1] = {{kiln_module_export_fn(bm, kiln_module_export_index(bm, "bump")),
                               kiln_instance_native(bi), KILN_BIND_GUEST}};
        CHECK(gi && kiln_instance_init(gi, gb, &t) == 0);
        kiln_val r[1] = {{0}};
        CHECK(kiln_instance_call(gi, kiln_module_export_index(gm, "go"), r, &t) == 0);
        const uint32_t *n = kiln_instance_export_ptr(bi, kiln_module_export_index(bm, "n"));
        CHECK(n != NULL);
        if (n) CHECK_INT(*n, 1);
        kiln_instance_free(gi);
        kiln_instance_free(bi);
    }
    kiln_module_free(gm);
    kiln_module_free(bm);

    /* An unbound import is refused with its name, never called. */
    kiln_binding partial[4];
    bind(partial, &seven);
    partial[2].fn = NULL;
    kiln_instance *bad = kiln_instance_alloc(cons_m);
    CHECK(kiln_instance_init(bad, partial, &t) < 0);
    CHECK_INT(t.kind, KILN_TRAP_HOST);
    CHECK(strstr(t.message, "\"p\" \"spin\"") != NULL);
    kiln_instance_free(bad);
    bad = kiln_instance_alloc(cons_m);
    CHECK(kiln_instance_init(bad, NULL, &t) < 0);
    kiln_instance_free(bad);
    CHECK(img && kiln_image_instantiate(img, partial) == NULL);

    kiln_image_free(img);
    kiln_instance_free(c1);
    kiln_instance_free(c2);
    kiln_instance_free(prov);
    kiln_module_free(cons_m);
    kiln_module_free(prov_m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("link");
}
