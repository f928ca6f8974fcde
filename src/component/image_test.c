/* Unit tests of component images (instance.h, image.c): instances copied from an image are
 * independent of each other and of the image — memories (one shared by two core instances
 * of the component: shared within an instance, not across), globals (an exported global
 * imported by another core instance), tables (one filled by another core instance's
 * element segment, then overwritten by the guest) — a trap in one instance leaves the image
 * intact, and the corpus C command component (tests/components/build.sh c-cli) run from
 * copies prints what a fresh instantiation prints, each copy with its own grants; a handle
 * the initialization made (resource.new in a start function) is in every copy's table,
 * each copy's own (dropping it in one leaves the others'); a freed copy's unit (its core
 * instances and graph) is used again by the next copy, which starts as fresh as a new one
 * (test_state, test_handles, and instance_test's host-context checks on the second copy);
 * copies of an async component
 * each get an empty async store (test_async). Needs
 * wasm-tools (scripts/install-tools.sh), as instance_test does. */
#include "component/instance.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WASM_TOOLS "/var/cache/kiln-tools/cargo/bin/wasm-tools"

static char dir[] = "/tmp/kiln-image-test.XXXXXX";
static char cache[300];

/* $Mem owns the memory, a global and a table; $Main imports all three; $Fill (another
 * core instance) puts $Main's "answer" into the table; data at 200 comes from $Main. */
static const char *state_wat =
    "(component\n"
    "  (core module $Mem\n"
    "    (type $t (func (result i32)))\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global (export \"g\") (mut i32) (i32.const 0))\n"
    "    (table (export \"t\") 2 funcref)\n"
    "    (func (export \"peek\") (result i32) (i32.load8_u (i32.const 100)))\n"
    "    (func (export \"call0\") (result i32) (call_indirect (type $t) (i32.const 0)))\n"
    "    (func (export \"call1\") (result i32) (call_indirect (type $t) (i32.const 1))))\n"
    "  (core instance $memi (instantiate $Mem))\n"
    "  (core module $Main\n"
    "    (import \"m\" \"mem\" (memory 1))\n"
    "    (import \"m\" \"g\" (global $g (mut i32)))\n"
    "    (import \"m\" \"t\" (table $t 2 funcref))\n"
    "    (global $own (mut i32) (i32.const 5))\n"
    "    (data (i32.const 200) \"hi\")\n"
    "    (func $seven (result i32) (i32.const 7))\n"
    "    (elem declare func $seven)\n"
    "    (func (export \"answer\") (result i32) (i32.const 42))\n"
    "    (func (export \"poke\") (result i32)\n"
    "      (i32.store8 (i32.const 100) (i32.add (i32.load8_u (i32.const 100)) (i32.const 1)))\n"
    "      (i32.load8_u (i32.const 100)))\n"
    "    (func (export \"gbump\") (result i32)\n"
    "      (global.set $g (i32.add (global.get $g) (i32.const 1)))\n"
    "      (global.set $own (i32.add (global.get $own) (i32.const 1)))\n"
    "      (i32.add (i32.mul (global.get $g) (i32.const 100)) (global.get $own)))\n"
    "    (func (export \"tswap\") (result i32)\n"
    "      (table.set $t (i32.const 0) (ref.func $seven))\n"
    "      (table.set $t (i32.const 1) (ref.func $seven)) (i32.const 0))\n"
    "    (func (export \"data\") (result i32) (i32.load8_u (i32.const 200)))\n"
    "    (func (export \"crash\") (result i32)\n"
    "      (i32.store8 (i32.const 200) (i32.const 0)) (unreachable)))\n"
    "  (core instance $maini (instantiate $Main (with \"m\" (instance $memi))))\n"
    "  (alias core export $maini \"answer\" (core func $answer))\n"
    "  (alias core export $memi \"t\" (core table $tt))\n"
    "  (core module $Fill\n"
    "    (import \"x\" \"t\" (table 2 funcref))\n"
    "    (import \"x\" \"f\" (func $f (result i32)))\n"
    "    (elem (i32.const 0) func $f))\n"
    "  (core instance (instantiate $Fill\n"
    "    (with \"x\" (instance (export \"t\" (table $tt)) (export \"f\" (func $answer))))))\n"
    "  (func (export \"peek\") (result u32) (canon lift (core func $memi \"peek\")))\n"
    "  (func (export \"call0\") (result u32) (canon lift (core func $memi \"call0\")))\n"
    "  (func (export \"call1\") (result u32) (canon lift (core func $memi \"call1\")))\n"
    "  (func (export \"poke\") (result u32) (canon lift (core func $maini \"poke\")))\n"
    "  (func (export \"gbump\") (result u32) (canon lift (core func $maini \"gbump\")))\n"
    "  (func (export \"tswap\") (result u32) (canon lift (core func $maini \"tswap\")))\n"
    "  (func (export \"data\") (result u32) (canon lift (core func $maini \"data\")))\n"
    "  (func (export \"crash\") (result u32) (canon lift (core func $maini \"crash\"))))\n";

/* A start function takes a handle of the component's own resource type (rep 77). */
static const char *handle_wat =
    "(component\n"
    "  (type $r (resource (rep i32)))\n"
    "  (core func $rnew (canon resource.new $r))\n"
    "  (core func $rrep (canon resource.rep $r))\n"
    "  (core func $rdrop (canon resource.drop $r))\n"
    "  (core module $M\n"
    "    (import \"r\" \"new\" (func $new (param i32) (result i32)))\n"
    "    (import \"r\" \"rep\" (func $rep (param i32) (result i32)))\n"
    "    (import \"r\" \"drop\" (func $drop (param i32)))\n"
    "    (global $h (mut i32) (i32.const 0))\n"
    "    (func $start (global.set $h (call $new (i32.const 77))))\n"
    "    (start $start)\n"
    "    (func (export \"rep\") (result i32) (call $rep (global.get $h)))\n"
    "    (func (export \"drop\") (result i32) (call $drop (global.get $h)) (i32.const 0)))\n"
    "  (core instance $m (instantiate $M (with \"r\" (instance (export \"new\" (func $rnew))\n"
    "    (export \"rep\" (func $rrep)) (export \"drop\" (func $rdrop))))))\n"
    "  (func (export \"rep\") (result u32) (canon lift (core func $m \"rep\")))\n"
    "  (func (export \"drop\") (result u32) (canon lift (core func $m \"drop\"))))\n";

/* Writes wat to dir/name.wat and converts it; the .wasm path (static), or NULL. */
static const char *build(const char *name, const char *wat)
{
    static char path[400];
    char src[400], cmd[1200];
    snprintf(src, sizeof src, "%s/%s.wat", dir, name);
    FILE *f = fopen(src, "w");
    if (!f) return NULL;
    fputs(wat, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    snprintf(cmd, sizeof cmd, WASM_TOOLS " parse %s -o %s", src, path);
    return system(cmd) == 0 ? path : NULL;
}

/* Calls a u32-returning export without parameters: its result, or -1 on a trap. */
static long call_u32(kiln_component_instance *ci, const char *name)
{
    const kiln_component_func *f = kiln_component_find_func(ci, name);
    CHECK(f != NULL);
    if (!f) return -2;
    kiln_cval res[1];
    kiln_trap t;
    memset(res, 0, sizeof res);
    if (kiln_component_call(ci, f, NULL, res, &t) < 0) return -1;
    return (long)res[0].u;
}

/* Builds and loads a component written in the text format (NULL, and a failed check, on
 * failure). */
static kiln_loaded_component *load_wat(const char *name, const char *wat)
{
    const char *path = build(name, wat);
    CHECK(path != NULL);
    if (!path) return NULL;
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    kiln_err err;
    kiln_loaded_component *lc = kiln_component_load_file(path, &o, &err);
    if (!lc) fprintf(stderr, "%s\n", err.msg);
    CHECK(lc != NULL);
    return lc;
}

/* The image of lc (what its failure says printed, and lc unloaded: NULL). */
static kiln_component_image *image_or_unload(kiln_loaded_component *lc, const kiln_grants *g)
{
    kiln_err err;
    kiln_component_image *img = kiln_component_image_new(lc, g, &err);
    if (!img) fprintf(stderr, "%s\n", err.msg);
    CHECK(img != NULL);
    if (!img) kiln_component_unload(lc);
    return img;
}

static void test_state(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load_wat("state", state_wat);
    if (!lc) return;
    kiln_grants g = {0};
    kiln_component_image *img = image_or_unload(lc, &g);
    if (!img) return;
    CHECK(kiln_component_image_reserve(img, 2) == 0);
    kiln_component_instance *a = kiln_component_image_instantiate(img, &g, &err);
    kiln_component_instance *b = kiln_component_image_instantiate(img, &g, &err);
    CHECK(a != NULL && b != NULL);
    if (a && b) {
        /* Data segments ran once, in the image. */
        CHECK_INT(call_u32(a, "data"), 'h');
        CHECK_INT(call_u32(b, "data"), 'h');
        /* The memory $Main imports is $Mem's: shared within a, not with b. */
        CHECK_INT(call_u32(a, "poke"), 1);
        CHECK_INT(call_u32(a, "poke"), 2);
        CHECK_INT(call_u32(a, "peek"), 2);
        CHECK_INT(call_u32(b, "peek"), 0);
        CHECK_INT(call_u32(b, "poke"), 1);
        CHECK_INT(call_u32(a, "peek"), 2);
        /* The imported global is $Mem's; $Main's own global is its own. */
        CHECK_INT(call_u32(a, "gbump"), 106);
        CHECK_INT(call_u32(a, "gbump"), 207);
        CHECK_INT(call_u32(b, "gbump"), 106);
        /* The table $Fill filled: its funcref reaches a's own $Main. */
        CHECK_INT(call_u32(a, "call0"), 42);
        CHECK_INT(call_u32(a, "call1"), -1); /* null entry: a trap */
        CHECK_INT(call_u32(a, "tswap"), 0);
        CHECK_INT(call_u32(a, "call0"), 7);
        CHECK_INT(call_u32(a, "call1"), 7);
        CHECK_INT(call_u32(b, "call0"), 42);
        CHECK_INT(call_u32(b, "call1"), -1);
        /* A trap after writing memory. */
        CHECK_INT(call_u32(a, "crash"), -1);
        CHECK_INT(call_u32(a, "data"), 0);
        CHECK_INT(call_u32(b, "data"), 'h');
    }
    CHECK_INT(kiln_component_image_pooled(img), 0);
    kiln_component_instance_free(a);
    kiln_component_instance_free(b);
    /* Their units (core instances and graph) are kept for the next copies. */
    CHECK_INT(kiln_component_image_pooled(img), 2);
    /* The next instance starts from the image, whatever the others did, in a's or b's
     * unit: its bindings, native structs and graph as a fresh copy has them. */
    for (int i = 0; i < 3; i++) {
        kiln_component_instance *c = kiln_component_image_instantiate(img, &g, &err);
        CHECK(c != NULL);
        if (!c) break;
        CHECK_INT(kiln_component_image_pooled(img), 1);
        CHECK_INT(call_u32(c, "data"), 'h');
        CHECK_INT(call_u32(c, "peek"), 0);
        CHECK_INT(call_u32(c, "gbump"), 106);
        CHECK_INT(call_u32(c, "call0"), 42);
        CHECK_INT(call_u32(c, "call1"), -1);
        kiln_component_instance_free(c);
    }
    kiln_component_image_free(img);
    kiln_component_unload(lc);
}

/* Runs wasi:cli/run of ci; its stdout (owned by out). */
static int run_cli(kiln_component_instance *ci)
{
    const kiln_component_func *run = kiln_component_find_func(ci, "wasi:cli/run@0.2.0#run");
    CHECK(run != NULL);
    if (!run) return -1;
    kiln_cval res[1];
    kiln_trap t;
    memset(res, 0, sizeof res);
    if (kiln_component_call(ci, run, NULL, res, &t) < 0)
        return t.kind == KILN_TRAP_EXIT ? t.exit_code : -1;
    return 0;
}

static void test_handles(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load_wat("handles", handle_wat);
    if (!lc) return;
    kiln_grants g = {0};
    kiln_component_image *img = kiln_component_image_new(lc, &g, &err);
    if (!img) fprintf(stderr, "%s\n", err.msg);
    CHECK(img != NULL);
    kiln_component_instance *a = img ? kiln_component_image_instantiate(img, &g, &err) : NULL;
    kiln_component_instance *b = img ? kiln_component_image_instantiate(img, &g, &err) : NULL;
    CHECK(a != NULL && b != NULL);
    if (a && b) {
        CHECK_INT(call_u32(a, "rep"), 77);
        CHECK_INT(call_u32(a, "drop"), 0);
        CHECK_INT(call_u32(a, "rep"), -1); /* dropped: a trap */
        CHECK_INT(call_u32(b, "rep"), 77);
    }
    kiln_component_instance_free(a);
    kiln_component_instance_free(b);
    kiln_component_instance *c = img ? kiln_component_image_instantiate(img, &g, &err) : NULL;
    CHECK(c != NULL);
    if (c) CHECK_INT(call_u32(c, "rep"), 77);
    kiln_component_instance_free(c);
    kiln_component_image_free(img);
    kiln_component_unload(lc);
}

static void test_cli(void)
{
    char cmd[700], path[400];
    snprintf(cmd, sizeof cmd, "tests/components/build.sh %s/corpus c-cli >/dev/null", dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/corpus/c-cli.wasm", dir);
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    kiln_err err;
    kiln_loaded_component *lc = kiln_component_load_file(path, &o, &err);
    if (!lc) fprintf(stderr, "%s\n", err.msg);
    CHECK(lc != NULL);
    if (!lc) return;
    const char *args0[] = {"c-cli", "template"};
    kiln_buf out0 = KILN_BUF_INIT;
    kiln_grants g0 = {.wasi = {.argc = 2, .argv = args0}};
    g0.wasi.stdio[0].fd = g0.wasi.stdio[1].fd = g0.wasi.stdio[2].fd = -1;
    g0.wasi.stdio[1].out = &out0;
    kiln_component_image *img = kiln_component_image_new(lc, &g0, &err);
    if (!img) fprintf(stderr, "%s\n", err.msg);
    CHECK(img != NULL);
    /* The image ran no main: nothing printed. */
    CHECK_INT(out0.len, 0);
    for (int i = 0; img && i < 3; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "exit=%d", i);
        const char *args[] = {"c-cli", arg};
        kiln_buf fresh = KILN_BUF_INIT, copy = KILN_BUF_INIT;
        kiln_grants g = {.wasi = {.argc = 2, .argv = args}};
        g.wasi.stdio[0].fd = g.wasi.stdio[1].fd = g.wasi.stdio[2].fd = -1;
        g.wasi.stdio[1].out = &fresh;
        kiln_component_instance *ci = kiln_component_instantiate(lc, &g, &err);
        CHECK(ci != NULL);
        if (ci) CHECK_INT(run_cli(ci), i ? 1 : 0); /* wasi:cli/exit: ok or err */
        kiln_component_instance_free(ci);
        g.wasi.stdio[1].out = &copy;
        ci = kiln_component_image_instantiate(img, &g, &err);
        CHECK(ci != NULL);
        if (ci) CHECK_INT(run_cli(ci), i ? 1 : 0); /* wasi:cli/exit: ok or err */
        kiln_component_instance_free(ci);
        CHECK(fresh.len > 0 && strstr(fresh.data, "hello from C") != NULL);
        CHECK(strstr(fresh.data, arg) != NULL);
        CHECK(copy.len == fresh.len && memcmp(copy.data, fresh.data, fresh.len) == 0);
        kiln_buf_free(&fresh);
        kiln_buf_free(&copy);
    }
    kiln_component_image_free(img);
    kiln_buf_free(&out0);
    kiln_component_unload(lc);
}

/* An async component (the async ABI's store): "count" yields once (callback), keeping
 * its global and a context slot (context.set before the yield, context.get after): 11n
 * on its nth call; "handles" makes a waitable set and a stream and returns the set's
 * handle times 1000 plus the stream's readable end; "waiter" waits on an empty set (a
 * deadlock trap). */
static const char *async_wat =
    "(component\n"
    "  (type $S (stream u8))\n"
    "  (core module $M\n"
    "    (import \"\" \"task.return\" (func $ret (param i32)))\n"
    "    (import \"\" \"ws.new\" (func $ws.new (result i32)))\n"
    "    (import \"\" \"ctx.get\" (func $cget (result i32)))\n"
    "    (import \"\" \"ctx.set\" (func $cset (param i32)))\n"
    "    (import \"\" \"s.new\" (func $snew (result i64)))\n"
    "    (global $n (mut i32) (i32.const 0))\n"
    "    (func (export \"count\") (result i32)\n"
    "      (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "      (call $cset (i32.mul (global.get $n) (i32.const 10)))\n"
    "      (i32.const 1))\n"
    "    (func (export \"count-cb\") (param i32 i32 i32) (result i32)\n"
    "      (call $ret (i32.add (call $cget) (global.get $n))) (i32.const 0))\n"
    "    (func (export \"handles\") (result i32)\n"
    "      (local $w i32)\n"
    "      (local.set $w (call $ws.new))\n"
    "      (call $ret (i32.add (i32.mul (local.get $w) (i32.const 1000))\n"
    "                          (i32.wrap_i64 (call $snew))))\n"
    "      (i32.const 0))\n"
    "    (func (export \"waiter\") (result i32)\n"
    "      (i32.or (i32.const 2) (i32.shl (call $ws.new) (i32.const 4))))\n"
    "    (func (export \"never-cb\") (param i32 i32 i32) (result i32) unreachable))\n"
    "  (core func $ret (canon task.return (result u32)))\n"
    "  (core func $ws.new (canon waitable-set.new))\n"
    "  (core func $cget (canon context.get i32 0))\n"
    "  (core func $cset (canon context.set i32 0))\n"
    "  (core func $snew (canon stream.new $S))\n"
    "  (core instance $m (instantiate $M (with \"\" (instance\n"
    "    (export \"task.return\" (func $ret)) (export \"ws.new\" (func $ws.new))\n"
    "    (export \"ctx.get\" (func $cget)) (export \"ctx.set\" (func $cset))\n"
    "    (export \"s.new\" (func $snew))))))\n"
    "  (func (export \"count\") async (result u32)\n"
    "    (canon lift (core func $m \"count\") async (callback (core func $m \"count-cb\"))))\n"
    "  (func (export \"handles\") async (result u32)\n"
    "    (canon lift (core func $m \"handles\") async (callback (core func $m \"never-cb\"))))\n"
    "  (func (export \"waiter\") async (result u32)\n"
    "    (canon lift (core func $m \"waiter\") async (callback (core func $m \"never-cb\")))))\n";

/* The same with a start function that makes a waitable set: the initialization leaves an
 * object of the async store behind, which an image does not copy. */
static const char *async_start_wat =
    "(component\n"
    "  (core module $M\n"
    "    (import \"\" \"ws.new\" (func $ws.new (result i32)))\n"
    "    (func $init (drop (call $ws.new)))\n"
    "    (start $init)\n"
    "    (func (export \"f\") (result i32) (i32.const 0))\n"
    "    (func (export \"cb\") (param i32 i32 i32) (result i32) unreachable))\n"
    "  (core func $ws.new (canon waitable-set.new))\n"
    "  (core instance $m (instantiate $M (with \"\" (instance\n"
    "    (export \"ws.new\" (func $ws.new))))))\n"
    "  (func (export \"f\") async\n"
    "    (canon lift (core func $m \"f\") async (callback (core func $m \"cb\")))))\n";

/* Copies of an async component's image: each with a fresh store (tasks, threads, context
 * slots, waitable sets and stream ends of its own, handles numbered from the start), its
 * own globals, and a trap in one (a deadlock) leaves the others and the image working. */
static void test_async(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load_wat("async", async_wat);
    if (!lc) return;
    kiln_component_image *img = image_or_unload(lc, NULL);
    if (!img) return;
    kiln_component_instance *a = kiln_component_image_instantiate(img, NULL, &err);
    kiln_component_instance *b = kiln_component_image_instantiate(img, NULL, &err);
    CHECK(a != NULL && b != NULL);
    if (a && b) {
        CHECK(call_u32(a, "count") == 11);
        CHECK(call_u32(a, "count") == 22);
        CHECK(call_u32(b, "count") == 11); /* its own global and context slot */
        long ha = call_u32(a, "handles"), hb = call_u32(b, "handles");
        CHECK(ha == hb); /* the same handle numbers: each copy's table starts alike */
        CHECK(ha > 1000);
        CHECK(call_u32(a, "handles") > ha); /* a's table keeps what a made */
        CHECK(call_u32(a, "waiter") == -1); /* deadlock: a is poisoned */
        CHECK(call_u32(a, "count") == -1);
        CHECK(call_u32(b, "count") == 22); /* b goes on */
    }
    kiln_component_instance_free(a);
    kiln_component_instance_free(b);
    kiln_component_instance *c = kiln_component_image_instantiate(img, NULL, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK(call_u32(c, "count") == 11); /* the image is as it was */
        kiln_component_instance_free(c);
    }
    kiln_component_image_free(img);
    kiln_component_unload(lc);

    lc = load_wat("async_start", async_start_wat);
    if (!lc) return;
    img = kiln_component_image_new(lc, NULL, &err);
    CHECK(img == NULL);
    CHECK(img || strstr(err.msg, "waitables") != NULL);
    kiln_component_image_free(img);
    kiln_component_unload(lc);
}

/* A component whose core instances are wired together at link time: $Lib exports
 * NLIB functions, $Main imports them all (a core item each, reached only from the index
 * spaces and the core instances' export lists) and uses two; its start function takes a
 * handle of the component's resource (rep 9); a nested instance is exported
 * ("test:x/api" with "get"). Written into buf. */
#define NLIB 100
static void pruned_wat(kiln_buf *b)
{
    kiln_buf_puts(b, "(component\n  (type $r (resource (rep i32)))\n"
                     "  (core func $rnew (canon resource.new $r))\n"
                     "  (core func $rrep (canon resource.rep $r))\n"
                     "  (core func $rdrop (canon resource.drop $r))\n  (core module $Lib\n");
    for (int i = 0; i < NLIB; i++)
        kiln_buf_printf(b, "    (func (export \"f%d\") (result i32) (i32.const %d))\n", i, i);
    kiln_buf_puts(b, "  )\n  (core instance $lib (instantiate $Lib))\n  (core module $Main\n");
    for (int i = 0; i < NLIB; i++)
        kiln_buf_printf(b, "    (import \"lib\" \"f%d\" (func $f%d (result i32)))\n", i, i);
    kiln_buf_puts(
        b, "    (import \"r\" \"new\" (func $new (param i32) (result i32)))\n"
           "    (import \"r\" \"rep\" (func $rep (param i32) (result i32)))\n"
           "    (import \"r\" \"drop\" (func $drop (param i32)))\n"
           "    (global $h (mut i32) (i32.const 0))\n"
           "    (global $n (mut i32) (i32.const 0))\n"
           "    (func $start (global.set $h (call $new (i32.const 9))))\n"
           "    (start $start)\n"
           "    (func (export \"sum\") (result i32)\n"
           "      (global.set $n (i32.add (global.get $n) (i32.const 1000)))\n"
           "      (i32.add (global.get $n) (i32.add (call $f7) (call $f90))))\n"
           "    (func (export \"rep\") (result i32) (call $rep (global.get $h)))\n"
           "    (func (export \"drop\") (result i32) (call $drop (global.get $h)) (i32.const 0)))\n"
           "  (core instance $m (instantiate $Main (with \"lib\" (instance $lib))\n"
           "    (with \"r\" (instance (export \"new\" (func $rnew)) (export \"rep\" (func $rrep))\n"
           "      (export \"drop\" (func $rdrop))))))\n"
           "  (func $sum (result u32) (canon lift (core func $m \"sum\")))\n"
           "  (func (export \"sum\") (result u32) (canon lift (core func $m \"sum\")))\n"
           "  (func (export \"rep\") (result u32) (canon lift (core func $m \"rep\")))\n"
           "  (func (export \"drop\") (result u32) (canon lift (core func $m \"drop\")))\n"
           "  (instance $api (export \"get\" (func $sum)))\n"
           "  (export \"test:x/api\" (instance $api)))\n");
}

/* Copies keep only what they can reach at run time (image.c): the graph per copy is
 * smaller than the core items wired between $Lib and $Main alone, and every public
 * entry still works on copies: export lookup (top level and in an exported instance),
 * calls through the dropped linking, the resource built-ins and the start function's
 * handle; copies and a fresh instantiation used interleaved, copies freed in either
 * order, a copy made after others were freed. */
static void test_pruned(void)
{
    kiln_buf wat = KILN_BUF_INIT;
    pruned_wat(&wat);
    CHECK(wat.data != NULL);
    kiln_loaded_component *lc = wat.data ? load_wat("pruned", wat.data) : NULL;
    kiln_buf_free(&wat);
    if (!lc) return;
    kiln_err err;
    kiln_grants g = {0};
    kiln_component_image *img = image_or_unload(lc, &g);
    if (!img) return;
    size_t bytes, slots;
    kiln_component_image_graph_size(img, &bytes, &slots);
    /* each import's core item alone is 56 bytes (inst_internal.h: ki_core) */
    if (bytes >= NLIB * 56) fprintf(stderr, "pruned: the graph is %zu bytes\n", bytes);
    CHECK(bytes > 0 && bytes < NLIB * 56);
    CHECK(slots > 0 && slots < NLIB);
    kiln_component_instance *fresh = kiln_component_instantiate(lc, &g, &err);
    kiln_component_instance *a = kiln_component_image_instantiate(img, &g, &err);
    kiln_component_instance *b = kiln_component_image_instantiate(img, &g, &err);
    CHECK(fresh != NULL && a != NULL && b != NULL);
    if (fresh && a && b) {
        CHECK(kiln_component_find_func(a, "missing") == NULL);
        CHECK(kiln_component_find_func(a, "test:x/api#missing") == NULL);
        CHECK(kiln_component_find_func(a, "test:x/api#get") != NULL);
        CHECK_INT(call_u32(a, "sum"), 1097);
        CHECK_INT(call_u32(fresh, "sum"), 1097);
        CHECK_INT(call_u32(a, "test:x/api#get"), 2097);
        CHECK_INT(call_u32(b, "test:x/api#get"), 1097);
        CHECK_INT(call_u32(fresh, "test:x/api#get"), 2097);
        CHECK_INT(call_u32(b, "rep"), 9);
        CHECK_INT(call_u32(fresh, "rep"), 9);
        CHECK_INT(call_u32(a, "drop"), 0);
        CHECK_INT(call_u32(a, "rep"), -1); /* dropped in a only */
        CHECK_INT(call_u32(b, "rep"), 9);
        CHECK_INT(call_u32(fresh, "drop"), 0);
        CHECK_INT(call_u32(b, "rep"), 9);
    }
    kiln_component_instance_free(a); /* the first copy freed first */
    if (b) CHECK_INT(call_u32(b, "sum"), 2097);
    kiln_component_instance *c = kiln_component_image_instantiate(img, &g, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(call_u32(c, "rep"), 9);
        CHECK_INT(call_u32(c, "sum"), 1097);
    }
    kiln_component_instance_free(c); /* the later copy freed before the earlier one */
    if (b) CHECK_INT(call_u32(b, "sum"), 3097);
    if (fresh) CHECK_INT(call_u32(fresh, "sum"), 3097);
    kiln_component_instance_free(b);
    kiln_component_instance_free(fresh);
    kiln_component_image_free(img);
    kiln_component_unload(lc);
}

/* thread.new-indirect finds its table at run time: a copy (whose index spaces are empty)
 * makes a thread from the table's entry 1 and traps on its null entry 0. */
static const char *thread_wat =
    "(component\n"
    "  (core module $T (table (export \"t\") 2 funcref))\n"
    "  (core instance $t (instantiate $T))\n"
    "  (alias core export $t \"t\" (core table $tab))\n"
    "  (core type $ft (func (param i32)))\n"
    "  (core func $tnew (canon thread.new-indirect $ft (core table $tab)))\n"
    "  (core func $ret (canon task.return (result u32)))\n"
    "  (core module $M\n"
    "    (import \"\" \"t\" (table 2 funcref))\n"
    "    (import \"\" \"ret\" (func $ret (param i32)))\n"
    "    (import \"\" \"tnew\" (func $tnew (param i32 i32) (result i32)))\n"
    "    (func $body (param i32))\n"
    "    (elem (i32.const 1) func $body)\n"
    "    (func (export \"one\") (result i32)\n"
    "      (call $ret (i32.add (i32.const 100) (call $tnew (i32.const 1) (i32.const 5))))\n"
    "      (i32.const 0))\n"
    "    (func (export \"zero\") (result i32)\n"
    "      (call $ret (call $tnew (i32.const 0) (i32.const 5))) (i32.const 0))\n"
    "    (func (export \"cb\") (param i32 i32 i32) (result i32) unreachable))\n"
    "  (core instance $m (instantiate $M (with \"\" (instance (export \"t\" (table $tab))\n"
    "    (export \"ret\" (func $ret)) (export \"tnew\" (func $tnew))))))\n"
    "  (func (export \"one\") async (result u32)\n"
    "    (canon lift (core func $m \"one\") async (callback (core func $m \"cb\"))))\n"
    "  (func (export \"zero\") async (result u32)\n"
    "    (canon lift (core func $m \"zero\") async (callback (core func $m \"cb\")))))\n";

static void test_thread_table(void)
{
    kiln_loaded_component *lc = load_wat("threads", thread_wat);
    if (!lc) return;
    kiln_err err;
    kiln_component_image *img = image_or_unload(lc, NULL);
    if (!img) return;
    kiln_component_instance *a = kiln_component_image_instantiate(img, NULL, &err);
    CHECK(a != NULL);
    if (a) {
        long one = call_u32(a, "one");
        CHECK(one > 100);
        CHECK_INT(call_u32(a, "zero"), -1);
    }
    kiln_component_instance_free(a);
    kiln_component_image_free(img);
    kiln_component_unload(lc);
}

int main(void)
{
    if (access(WASM_TOOLS, X_OK) != 0) {
        fprintf(stderr, "FAIL: %s is missing (scripts/install-tools.sh installs it)\n", WASM_TOOLS);
        return 1;
    }
    if (!mkdtemp(dir)) return 1;
    snprintf(cache, sizeof cache, "%s/cache", dir);
    test_state();
    test_handles();
    test_cli();
    test_async();
    test_pruned();
    test_thread_table();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("component_image");
}
