/* compose_load_test.c — loading and instantiating a component with a dependency
 * (kiln_component_load_composed, compose.h): a WAT main component whose import
 * kiln:test/greet@0.1.0 no host provides, satisfied by a WAT dependency's export; a string
 * crosses both ways, a fresh instance and each copy from an image get a fresh dependency,
 * and the refusals (no dependency, a wrong export, a name matching nothing) say why. The
 * components are written in the component text format and converted with wasm-tools at
 * test time, as instance_test.c's. */
#include "component/compose.h"
#include "component/instance.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WASM_TOOLS "/var/cache/kiln-tools/cargo/bin/wasm-tools"

static char dir[] = "/tmp/kiln-compose-test.XXXXXX";
static char cache[300];

/* A core module's bump allocator: cabi_realloc as export "realloc" (and $realloc), over the
 * module's global $bump. */
#define BUMP_REALLOC                                                                               \
    "    (func $realloc (export \"realloc\") (param i32 i32 i32 i32) (result i32)\n"               \
    "      (local $p i32)\n"                                                                       \
    "      (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))\n"   \
    "      (global.set $bump (i32.add (local.get $p) (local.get 3)))\n"                            \
    "      (local.get $p))\n"

/* The dependency: greet(name) = "hello, " + name + "!"; count() = calls so far. */
static const char dep_wat[] =
    "(component\n"
    "  (core module $m\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global $bump (mut i32) (i32.const 4096))\n"
    "    (global $calls (mut i32) (i32.const 0))\n"
    "    (data (i32.const 16) \"hello, !\")\n" BUMP_REALLOC
    "    (func (export \"greet\") (param $p i32) (param $n i32) (result i32)\n"
    "      (local $out i32)\n"
    "      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)\n"
    "                                     (i32.add (local.get $n) (i32.const 8))))\n"
    "      (memory.copy (local.get $out) (i32.const 16) (i32.const 7))\n"
    "      (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $p) (local.get $n))\n"
    "      (i32.store8 (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 7)))\n"
    "                  (i32.const 33))\n"
    "      (i32.store (i32.const 8) (local.get $out))\n"
    "      (i32.store (i32.const 12) (i32.add (local.get $n) (i32.const 8)))\n"
    "      (i32.const 8))\n"
    "    (func (export \"count\") (result i32)\n"
    "      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))\n"
    "      (global.get $calls)))\n"
    "  (core instance $i (instantiate $m))\n"
    "  (func $greet (param \"name\" string) (result string)\n"
    "    (canon lift (core func $i \"greet\") (memory (core memory $i \"mem\"))\n"
    "      (realloc (core func $i \"realloc\"))))\n"
    "  (func $count (result u32) (canon lift (core func $i \"count\")))\n"
    "  (instance $api (export \"greet\" (func $greet)) (export \"count\" (func $count)))\n"
    "  (export \"kiln:test/greet@0.1.0\" (instance $api)))\n";

/* The main component: run(name) = greet(name); twice() = the second of two count()s. */
static const char main_wat[] =
    "(component\n"
    "  (import \"kiln:test/greet@0.1.0\" (instance $g\n"
    "    (export \"greet\" (func (param \"name\" string) (result string)))\n"
    "    (export \"count\" (func (result u32)))))\n"
    "  (core module $mm\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global $bump (mut i32) (i32.const 1024))\n" BUMP_REALLOC "  )\n"
    "  (core instance $mi (instantiate $mm))\n"
    "  (alias core export $mi \"mem\" (core memory $mem))\n"
    "  (alias core export $mi \"realloc\" (core func $realloc))\n"
    "  (alias export $g \"greet\" (func $greet))\n"
    "  (alias export $g \"count\" (func $count))\n"
    "  (core func $greet-low (canon lower (func $greet) (memory $mem) (realloc $realloc)))\n"
    "  (core func $count-low (canon lower (func $count)))\n"
    "  (core module $m\n"
    "    (import \"env\" \"greet\" (func $greet (param i32 i32 i32)))\n"
    "    (import \"env\" \"count\" (func $count (result i32)))\n"
    "    (func (export \"run\") (param i32 i32) (result i32)\n"
    "      (call $greet (local.get 0) (local.get 1) (i32.const 16))\n"
    "      (i32.const 16))\n"
    "    (func (export \"twice\") (result i32)\n"
    "      (drop (call $count))\n"
    "      (call $count)))\n"
    "  (core instance $shim (export \"greet\" (func $greet-low)) (export \"count\" (func "
    "$count-low)))\n"
    "  (core instance $i (instantiate $m (with \"env\" (instance $shim))))\n"
    "  (func (export \"run\") (param \"name\" string) (result string)\n"
    "    (canon lift (core func $i \"run\") (memory $mem) (realloc $realloc)))\n"
    "  (func (export \"twice\") (result u32) (canon lift (core func $i \"twice\"))))\n";

/* A dependency with a host import: count() = the number of environment variables
 * wasi:cli/environment gives it. */
static const char env_wat[] =
    "(component\n"
    "  (import \"wasi:cli/environment@0.2.0\" (instance $env\n"
    "    (export \"get-environment\" (func (result (list (tuple string string)))))))\n"
    "  (core module $mm\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global $bump (mut i32) (i32.const 4096))\n" BUMP_REALLOC "  )\n"
    "  (core instance $mi (instantiate $mm))\n"
    "  (alias core export $mi \"mem\" (core memory $mem))\n"
    "  (alias core export $mi \"realloc\" (core func $realloc))\n"
    "  (alias export $env \"get-environment\" (func $get-env))\n"
    "  (core func $ge (canon lower (func $get-env) (memory $mem) (realloc $realloc)))\n"
    "  (core module $m\n"
    "    (import \"env\" \"get-environment\" (func $ge (param i32)))\n"
    "    (import \"env\" \"mem\" (memory 1))\n"
    "    (func (export \"count\") (result i32)\n"
    "      (call $ge (i32.const 8))\n"
    "      (i32.load (i32.const 12))))\n"
    "  (core instance $shim (export \"get-environment\" (func $ge)) (export \"mem\" (memory "
    "$mem)))\n"
    "  (core instance $i (instantiate $m (with \"env\" (instance $shim))))\n"
    "  (func $count (result u32) (canon lift (core func $i \"count\")))\n"
    "  (instance $api (export \"count\" (func $count)))\n"
    "  (export \"kiln:test/env@0.1.0\" (instance $api)))\n";

/* A main component exporting env-count() = its dependency's count(). */
static const char env_main_wat[] =
    "(component\n"
    "  (import \"kiln:test/env@0.1.0\" (instance $e (export \"count\" (func (result u32)))))\n"
    "  (alias export $e \"count\" (func $count))\n"
    "  (core func $count-low (canon lower (func $count)))\n"
    "  (core module $m\n"
    "    (import \"env\" \"count\" (func $count (result i32)))\n"
    "    (func (export \"env-count\") (result i32) (call $count)))\n"
    "  (core instance $shim (export \"count\" (func $count-low)))\n"
    "  (core instance $i (instantiate $m (with \"env\" (instance $shim))))\n"
    "  (func (export \"env-count\") (result u32) (canon lift (core func $i \"env-count\"))))\n";

/* Writes wat to dir/name.wat and converts it to dir/name.wasm (into path). 0 or -1. */
static int build(const char *name, const char *wat, char *path, size_t cap)
{
    char src[400], cmd[1200];
    snprintf(src, sizeof src, "%s/%s.wat", dir, name);
    FILE *f = fopen(src, "w");
    if (!f) return -1;
    fputs(wat, f);
    fclose(f);
    snprintf(path, cap, "%s/%s.wasm", dir, name);
    snprintf(cmd, sizeof cmd, WASM_TOOLS " parse %s -o %s", src, path);
    return system(cmd) == 0 ? 0 : -1;
}

/* Calls export `name` with args; the result in *res. 0, or -1. */
static int call(kiln_component_instance *ci, const char *name, const kiln_cval *args,
                kiln_cval *res)
{
    const kiln_component_func *f = kiln_component_find_func(ci, name);
    CHECK(f != NULL);
    if (!f) return -1;
    memset(res, 0, sizeof *res);
    kiln_trap t;
    int rc = kiln_component_call(ci, f, args, res, &t);
    if (rc < 0) fprintf(stderr, "%s: %s\n", name, kiln_trap_message(&t));
    return rc;
}

/* The checks on one instance (freed here). */
static void checks(kiln_component_instance *ci)
{
    CHECK(ci != NULL);
    if (!ci) return;
    kiln_cval arg, res;
    memset(&arg, 0, sizeof arg);
    arg.str.ptr = "kiln";
    arg.str.len = 4;
    CHECK_INT(call(ci, "run", &arg, &res), 0);
    CHECK(res.str.len == 12 && memcmp(res.str.ptr, "hello, kiln!", 12) == 0);
    CHECK_INT(call(ci, "twice", NULL, &res), 0);
    CHECK_INT(res.u, 2); /* a fresh dependency instance: counted from 0 */
    kiln_component_instance_free(ci);
}

static void test_composed(const char *main_path, const char *dep_path)
{
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    kiln_err err;
    /* alone, its import is nobody's */
    kiln_loaded_component *lc = kiln_component_load_file(main_path, &o, &err);
    CHECK(lc == NULL);
    if (!lc) CHECK(strstr(err.msg, "kiln:test/greet@0.1.0") != NULL);
    kiln_component_unload(lc);

    kiln_compose_spec s = {0};
    CHECK_INT(kiln_compose_spec_add(&s, "kiln:test/greet", dep_path, NULL, 0), 0);
    lc = kiln_component_load_composed("app", main_path, &s, &o, &err);
    CHECK(lc != NULL);
    if (!lc) fprintf(stderr, "%s\n", err.msg);
    kiln_grants g = {0};
    if (lc) {
        checks(kiln_component_instantiate(lc, &g, &err));
        kiln_component_image *img = kiln_component_image_new(lc, &g, &err);
        CHECK(img != NULL);
        if (!img) fprintf(stderr, "%s\n", err.msg);
        for (int i = 0; img && i < 2; i++)
            checks(kiln_component_image_instantiate(img, &g, &err));
        kiln_component_image_free(img);
    }
    kiln_component_unload(lc);
    kiln_compose_spec_free(&s, 0);

    /* a wrong export */
    CHECK_INT(kiln_compose_spec_add(&s, "kiln:test/greet", dep_path, "kiln:test/nope@0.1.0", 0), 0);
    lc = kiln_component_load_composed("app", main_path, &s, &o, &err);
    CHECK(lc == NULL);
    if (!lc)
        CHECK_STR(err.msg, "dependency 'kiln:test/greet' doesn't export 'kiln:test/nope@0.1.0' to "
                           "satisfy import 'kiln:test/greet@0.1.0'");
    kiln_component_unload(lc);
    kiln_compose_spec_free(&s, 0);

    /* a name that matches no import */
    CHECK_INT(kiln_compose_spec_add(&s, "kiln:other", dep_path, NULL, 0), 0);
    lc = kiln_component_load_composed("app", main_path, &s, &o, &err);
    CHECK(lc == NULL);
    if (!lc)
        CHECK_STR(err.msg, "dependency 'kiln:other' doesn't match any imports of component 'app'");
    kiln_component_unload(lc);
    kiln_compose_spec_free(&s, 0);
}

/* How many environment variables a dependency inheriting `sets` sees, in a fresh instance
 * and in a copy from an image, when the component is granted two; -1 on failure. */
static long env_seen(const char *main_path, const char *dep_path, int sets)
{
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    kiln_err err;
    kiln_compose_spec s = {0};
    long seen = -1;
    if (kiln_compose_spec_add(&s, "kiln:test/env", dep_path, NULL, sets) < 0) return -1;
    kiln_loaded_component *lc = kiln_component_load_composed("app", main_path, &s, &o, &err);
    kiln_compose_spec_free(&s, 0);
    if (!lc) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    static const char *const env[] = {"A=1", "B=2"};
    kiln_grants g = {0};
    g.wasi.nenv = 2;
    g.wasi.env = env;
    kiln_component_image *img = kiln_component_image_new(lc, &g, &err);
    for (int mode = 0; mode < 2; mode++) {
        kiln_component_instance *ci =
            mode ? (img ? kiln_component_image_instantiate(img, &g, &err) : NULL)
                 : kiln_component_instantiate(lc, &g, &err);
        kiln_cval res;
        long n = ci && call(ci, "env-count", NULL, &res) == 0 ? (long)res.u : -1;
        kiln_component_instance_free(ci);
        if (mode && n != seen) n = -2; /* the copy must see what the fresh instance saw */
        seen = n;
    }
    kiln_component_image_free(img);
    kiln_component_unload(lc);
    return seen;
}

int main(void)
{
    if (access(WASM_TOOLS, X_OK) != 0) {
        fprintf(stderr, "FAIL: %s is missing (scripts/install-tools.sh installs it)\n", WASM_TOOLS);
        return 1;
    }
    if (!mkdtemp(dir)) return 1;
    snprintf(cache, sizeof cache, "%s/cache", dir);
    char main_path[400], dep_path[400];
    if (build("main", main_wat, main_path, sizeof main_path) < 0 ||
        build("dep", dep_wat, dep_path, sizeof dep_path) < 0) {
        fprintf(stderr, "FAIL: wasm-tools parse failed\n");
        return 1;
    }
    test_composed(main_path, dep_path);
    char env_main[400], env_dep[400];
    if (build("env-main", env_main_wat, env_main, sizeof env_main) < 0 ||
        build("env-dep", env_wat, env_dep, sizeof env_dep) < 0) {
        fprintf(stderr, "FAIL: wasm-tools parse failed\n");
        return 1;
    }
    /* the dependency's own host import, with the grants it inherits */
    CHECK_INT(env_seen(env_main, env_dep, KILN_INHERIT_ALL), 2);
    CHECK_INT(env_seen(env_main, env_dep, 0), 0); /* deny-all */
    CHECK_INT(env_seen(env_main, env_dep, KILN_INHERIT_ENVIRONMENT), 2);
    CHECK_INT(env_seen(env_main, env_dep, KILN_INHERIT_ALL & ~KILN_INHERIT_ENVIRONMENT), 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("compose_load_test");
}
