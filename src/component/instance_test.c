/* Unit tests of component instantiation (instance.h): small components written in the
 * component text format and converted with wasm-tools at test time (the test fails when
 * wasm-tools is absent: scripts/install-tools.sh installs it). Covered: two core modules
 * sharing a memory, a funcref table filled by another instance, canon lower of host
 * functions with strings, lists and records, canon lift called from the host, a nested
 * component (also passing strings between two instances' memories, with post-return),
 * a time limit stopping a loop reached through a nested component, resource.new/rep/drop with a
 * destructor, imports refused before compiling (missing interface, missing function, wrong type),
 * and hostile components (lying about a string's length, returning an out-of-bounds pointer,
 * passing a bad pointer to a host, forging and double-dropping handles) trapping with a clear
 * message. The basic, nested and resource checks run on a fresh instance and on two copies
 * from an image (image.c: the instantiated graph copied, its pointers moved), the template
 * freed before the copies are used. */
#include "component/host.h"
#include "component/instance.h"
#include "util/alloc.h"
#include "util/test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WASM_TOOLS "/var/cache/kiln-tools/cargo/bin/wasm-tools"

static char dir[] = "/tmp/kiln-instance-test.XXXXXX";
static char cache[300];

/* ---- a test host: test:host/api@1.0.0 ---- */

typedef struct test_ctx {
    int calls;
} test_ctx;

static int host_calls;

static void *t_new(const kiln_grants *g, char **err)
{
    (void)g, (void)err;
    return kiln_calloc(1, sizeof(test_ctx));
}

static void t_free(void *ctx)
{
    host_calls += ((test_ctx *)ctx)->calls;
    kiln_free(ctx);
}

static int set_str(kiln_cabi_cx *cx, kiln_cval *v, const char *a, size_t an, const char *b,
                   size_t bn)
{
    char *p = kiln_cabi_alloc(cx, an + bn + 1);
    if (!p) return -1;
    memcpy(p, a, an);
    memcpy(p + an, b, bn);
    v->str.ptr = p;
    v->str.len = an + bn;
    return 0;
}

static int t_concat(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    ((test_ctx *)ctx)->calls++;
    return set_str(cx, &res[0], args[0].str.ptr, args[0].str.len, args[1].str.ptr, args[1].str.len);
}

static int t_sum(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    ((test_ctx *)ctx)->calls++;
    uint64_t s = 0;
    for (uint32_t i = 0; i < args[0].agg.n; i++)
        s += args[0].agg.items[i].u;
    res[0].u = (uint32_t)s;
    return 0;
}

static int t_describe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    ((test_ctx *)ctx)->calls++;
    char buf[100];
    const kiln_cval *f = args[0].agg.items;
    int n = snprintf(buf, sizeof buf, "point x=%u name=", (unsigned)f[0].u);
    return set_str(cx, &res[0], buf, (size_t)n, f[1].str.ptr, f[1].str.len);
}

static int t_boom(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    snprintf(cx->err, sizeof cx->err, "boom refused");
    return -1;
}

static const kiln_chost_func t_funcs[] = {
    {"concat", "(string, string) -> string", t_concat},
    {"sum", "(list<u32>) -> u32", t_sum},
    {"describe", "(record{x: u32, name: string}) -> string", t_describe},
    {"boom", "()", t_boom},
};
static const kiln_chost_iface t_api = {"test:host/api", "1.0.0", NULL, 0, t_funcs, 4};
static const kiln_chost_iface *const t_ifaces[] = {&t_api};
static const kiln_chost_provider t_provider = {"test host", t_ifaces, 1, t_new, t_free, NULL};

/* ---- components ---- */

static const char *basic_wat =
    "(component\n"
    "  (import \"test:host/api@1.0.2\" (instance $api\n"
    "    (type $point (record (field \"x\" u32) (field \"name\" string)))\n"
    "    (export \"point\" (type $p (eq $point)))\n"
    "    (export \"concat\" (func (param \"a\" string) (param \"b\" string) (result string)))\n"
    "    (export \"sum\" (func (param \"l\" (list u32)) (result u32)))\n"
    "    (export \"describe\" (func (param \"p\" $p) (result string)))\n"
    "    (export \"boom\" (func))))\n"
    "  (core module $Mem\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global $bump (mut i32) (i32.const 1024))\n"
    "    (func (export \"realloc\") (param i32 i32 i32 i32) (result i32) (local $p i32)\n"
    "      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2)\n"
    "        (i32.const 1))) (i32.sub (i32.const 0) (local.get 2))))\n"
    "      (global.set $bump (i32.add (local.get $p) (local.get 3)))\n"
    "      (local.get $p)))\n"
    "  (core instance $memi (instantiate $Mem))\n"
    "  (alias core export $memi \"mem\" (core memory $mem))\n"
    "  (alias core export $memi \"realloc\" (core func $realloc))\n"
    "  (alias export $api \"concat\" (func $hconcat))\n"
    "  (alias export $api \"sum\" (func $hsum))\n"
    "  (alias export $api \"describe\" (func $hdescribe))\n"
    "  (alias export $api \"boom\" (func $hboom))\n"
    "  (core func $concat (canon lower (func $hconcat) (memory $mem) (realloc $realloc)))\n"
    "  (core func $sum (canon lower (func $hsum) (memory $mem)))\n"
    "  (core func $describe (canon lower (func $hdescribe) (memory $mem) (realloc $realloc)))\n"
    "  (core func $boom (canon lower (func $hboom)))\n"
    "  (core module $Main\n"
    "    (import \"m\" \"mem\" (memory 1))\n"
    "    (import \"h\" \"concat\" (func $concat (param i32 i32 i32 i32 i32)))\n"
    "    (import \"h\" \"sum\" (func $sum (param i32 i32) (result i32)))\n"
    "    (import \"h\" \"describe\" (func $describe (param i32 i32 i32 i32)))\n"
    "    (import \"h\" \"boom\" (func $boom))\n"
    "    (data (i32.const 16) \"!!\")\n"
    "    (func (export \"greet\") (param i32 i32) (result i32)\n"
    "      (call $concat (local.get 0) (local.get 1) (i32.const 16) (i32.const 2) (i32.const 64))\n"
    "      (i32.const 64))\n"
    "    (func (export \"total\") (param i32 i32) (result i32)\n"
    "      (call $sum (local.get 0) (local.get 1)))\n"
    "    (func (export \"show\") (param i32) (result i32)\n"
    "      (call $describe (local.get 0) (i32.const 16) (i32.const 2) (i32.const 72))\n"
    "      (i32.const 72))\n"
    "    (func (export \"answer\") (result i32) (i32.const 42))\n"
    "    (func (export \"bad-string\") (result i32)\n"
    "      (i32.store (i32.const 80) (i32.const 0))\n"
    "      (i32.store (i32.const 84) (i32.const 0x7fffffff))\n"
    "      (i32.const 80))\n"
    "    (func (export \"bad-pointer\") (result i32) (i32.const 0xfffffff0))\n"
    "    (func (export \"bad-lower\") (result i32)\n"
    "      (call $concat (i32.const 0xfffffff0) (i32.const 100) (i32.const 16) (i32.const 2)\n"
    "        (i32.const 64))\n"
    "      (i32.const 64))\n"
    "    (func (export \"call-boom\") (call $boom))\n"
    "    (func (export \"oob\") (drop (i32.load (i32.const 0x7ffffff0)))))\n"
    "  (core instance $maini (instantiate $Main\n"
    "    (with \"m\" (instance $memi))\n"
    "    (with \"h\" (instance (export \"concat\" (func $concat)) (export \"sum\" (func $sum))\n"
    "      (export \"describe\" (func $describe)) (export \"boom\" (func $boom))))))\n"
    "  (core module $Tab\n"
    "    (type $t (func (result i32)))\n"
    "    (table (export \"t\") 1 funcref)\n"
    "    (func (export \"call0\") (result i32) (call_indirect (type $t) (i32.const 0))))\n"
    "  (core instance $tabi (instantiate $Tab))\n"
    "  (alias core export $tabi \"t\" (core table $tt))\n"
    "  (alias core export $maini \"answer\" (core func $answer))\n"
    "  (core module $Fill\n"
    "    (import \"x\" \"t\" (table 1 funcref))\n"
    "    (import \"x\" \"f\" (func $f (result i32)))\n"
    "    (elem (i32.const 0) func $f))\n"
    "  (core instance (instantiate $Fill\n"
    "    (with \"x\" (instance (export \"t\" (table $tt)) (export \"f\" (func $answer))))))\n"
    "  (func (export \"greet\") (param \"name\" string) (result string)\n"
    "    (canon lift (core func $maini \"greet\") (memory $mem) (realloc $realloc)))\n"
    "  (func (export \"total\") (param \"l\" (list u32)) (result u32)\n"
    "    (canon lift (core func $maini \"total\") (memory $mem) (realloc $realloc)))\n"
    "  (func (export \"show\") (param \"x\" u32) (result string)\n"
    "    (canon lift (core func $maini \"show\") (memory $mem)))\n"
    "  (func (export \"via-table\") (result u32) (canon lift (core func $tabi \"call0\")))\n"
    "  (func (export \"bad-string\") (result string)\n"
    "    (canon lift (core func $maini \"bad-string\") (memory $mem)))\n"
    "  (func (export \"bad-pointer\") (result string)\n"
    "    (canon lift (core func $maini \"bad-pointer\") (memory $mem)))\n"
    "  (func (export \"bad-lower\") (result string)\n"
    "    (canon lift (core func $maini \"bad-lower\") (memory $mem)))\n"
    "  (func (export \"call-boom\") (canon lift (core func $maini \"call-boom\")))\n"
    "  (func (export \"oob\") (canon lift (core func $maini \"oob\"))))\n";

static const char *nested_wat =
    "(component\n"
    "  (core module $M\n"
    "    (func (export \"double\") (param i32) (result i32) (i32.mul (local.get 0) (i32.const "
    "2))))\n"
    "  (core instance $mi (instantiate $M))\n"
    "  (func $double (param \"x\" u32) (result u32) (canon lift (core func $mi \"double\")))\n"
    "  (component $Inner\n"
    "    (import \"f\" (func $f (param \"x\" u32) (result u32)))\n"
    "    (core func $fl (canon lower (func $f)))\n"
    "    (core module $N\n"
    "      (import \"i\" \"f\" (func $f (param i32) (result i32)))\n"
    "      (func (export \"g\") (param i32) (result i32) (i32.add (call $f (local.get 0))\n"
    "        (i32.const 1))))\n"
    "    (core instance $ni (instantiate $N (with \"i\" (instance (export \"f\" (func $fl))))))\n"
    "    (func (export \"g\") (param \"x\" u32) (result u32) (canon lift (core func $ni "
    "\"g\"))))\n"
    "  (instance $inner (instantiate $Inner (with \"f\" (func $double))))\n"
    "  (alias export $inner \"g\" (func $g))\n"
    "  (export \"nested-g\" (func $g))\n"
    "  (core module $S\n"
    "    (memory (export \"mem\") 1)\n"
    "    (global $bump (mut i32) (i32.const 1024))\n"
    "    (global $posts (mut i32) (i32.const 0))\n"
    "    (func $realloc (export \"realloc\") (param i32 i32 i32 i32) (result i32) (local $p i32)\n"
    "      (local.set $p (global.get $bump))\n"
    "      (global.set $bump (i32.add (local.get $p) (local.get 3)))\n"
    "      (local.get $p))\n"
    "    (func (export \"shout\") (param $p i32) (param $n i32) (result i32) (local $out i32)\n"
    "      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)\n"
    "        (i32.add (local.get $n) (i32.const 1))))\n"
    "      (memory.copy (local.get $out) (local.get $p) (local.get $n))\n"
    "      (i32.store8 (i32.add (local.get $out) (local.get $n)) (i32.const 33))\n"
    "      (i32.store (i32.const 16) (local.get $out))\n"
    "      (i32.store (i32.const 20) (i32.add (local.get $n) (i32.const 1)))\n"
    "      (i32.const 16))\n"
    "    (func (export \"post\") (param i32)\n"
    "      (global.set $posts (i32.add (global.get $posts) (i32.const 1))))\n"
    "    (func (export \"posts\") (result i32) (global.get $posts)))\n"
    "  (core instance $si (instantiate $S))\n"
    "  (alias core export $si \"mem\" (core memory $smem))\n"
    "  (alias core export $si \"realloc\" (core func $srealloc))\n"
    "  (alias core export $si \"post\" (core func $spost))\n"
    "  (func $shout (param \"s\" string) (result string) (canon lift (core func $si \"shout\")\n"
    "    (memory $smem) (realloc $srealloc) (post-return $spost)))\n"
    "  (func (export \"posts\") (result u32) (canon lift (core func $si \"posts\")))\n"
    "  (component $Relay\n"
    "    (import \"shout\" (func $shout (param \"s\" string) (result string)))\n"
    "    (core module $RM\n"
    "      (memory (export \"mem\") 1)\n"
    "      (global $bump (mut i32) (i32.const 1024))\n"
    "      (func (export \"realloc\") (param i32 i32 i32 i32) (result i32) (local $p i32)\n"
    "        (local.set $p (global.get $bump))\n"
    "        (global.set $bump (i32.add (local.get $p) (local.get 3)))\n"
    "        (local.get $p)))\n"
    "    (core instance $rm (instantiate $RM))\n"
    "    (alias core export $rm \"mem\" (core memory $rmem))\n"
    "    (alias core export $rm \"realloc\" (core func $rrealloc))\n"
    "    (core func $sl (canon lower (func $shout) (memory $rmem) (realloc $rrealloc)))\n"
    "    (core module $RC\n"
    "      (import \"i\" \"shout\" (func $shout (param i32 i32 i32)))\n"
    "      (func (export \"relay\") (param i32 i32) (result i32)\n"
    "        (call $shout (local.get 0) (local.get 1) (i32.const 32))\n"
    "        (i32.const 32)))\n"
    "    (core instance $rc (instantiate $RC (with \"i\" (instance (export \"shout\" (func "
    "$sl))))))\n"
    "    (func (export \"relay\") (param \"s\" string) (result string)\n"
    "      (canon lift (core func $rc \"relay\") (memory $rmem) (realloc $rrealloc))))\n"
    "  (instance $relay (instantiate $Relay (with \"shout\" (func $shout))))\n"
    "  (alias export $relay \"relay\" (func $relayf))\n"
    "  (export \"relay\" (func $relayf))\n"
    "  (core module $Spin (func (export \"spin\") (loop $l (br $l))))\n"
    "  (core instance $spini (instantiate $Spin))\n"
    "  (func $spin (canon lift (core func $spini \"spin\")))\n"
    "  (component $Caller\n"
    "    (import \"spin\" (func $spin))\n"
    "    (core func $sl (canon lower (func $spin)))\n"
    "    (core module $C (import \"i\" \"spin\" (func $spin)) (func (export \"go\") (call "
    "$spin)))\n"
    "    (core instance $c (instantiate $C (with \"i\" (instance (export \"spin\" (func $sl))))))\n"
    "    (func (export \"go\") (canon lift (core func $c \"go\"))))\n"
    "  (instance $caller (instantiate $Caller (with \"spin\" (func $spin))))\n"
    "  (alias export $caller \"go\" (func $gof))\n"
    "  (export \"spin-nested\" (func $gof))\n"
    "  (core module $D\n"
    "    (global (export \"dropped\") (mut i32) (i32.const 0))\n"
    "    (func (export \"dtor\") (param i32) (global.set 0 (local.get 0))))\n"
    "  (core instance $di (instantiate $D))\n"
    "  (alias core export $di \"dtor\" (core func $dtor))\n"
    "  (type $r (resource (rep i32) (dtor (core func $dtor))))\n"
    "  (core func $rnew (canon resource.new $r))\n"
    "  (core func $rrep (canon resource.rep $r))\n"
    "  (core func $rdrop (canon resource.drop $r))\n"
    "  (core module $R\n"
    "    (import \"r\" \"new\" (func $new (param i32) (result i32)))\n"
    "    (import \"r\" \"rep\" (func $rep (param i32) (result i32)))\n"
    "    (import \"r\" \"drop\" (func $drop (param i32)))\n"
    "    (import \"d\" \"dropped\" (global $dropped (mut i32)))\n"
    "    (func (export \"cycle\") (param i32) (result i32) (local $h i32) (local $r i32)\n"
    "      (local.set $h (call $new (local.get 0)))\n"
    "      (local.set $r (call $rep (local.get $h)))\n"
    "      (call $drop (local.get $h))\n"
    "      (i32.add (i32.mul (local.get $r) (i32.const 1000)) (global.get $dropped)))\n"
    "    (func (export \"forge\") (result i32) (call $rep (i32.const 12345)))\n"
    "    (func (export \"double-drop\") (result i32) (local $h i32)\n"
    "      (local.set $h (call $new (i32.const 1)))\n"
    "      (call $drop (local.get $h)) (call $drop (local.get $h)) (i32.const 0)))\n"
    "  (core instance $ri (instantiate $R\n"
    "    (with \"r\" (instance (export \"new\" (func $rnew)) (export \"rep\" (func $rrep))\n"
    "      (export \"drop\" (func $rdrop))))\n"
    "    (with \"d\" (instance $di))))\n"
    "  (func (export \"cycle\") (param \"x\" u32) (result u32) (canon lift (core func $ri "
    "\"cycle\")))\n"
    "  (func (export \"forge\") (result u32) (canon lift (core func $ri \"forge\")))\n"
    "  (func (export \"double-drop\") (result u32) (canon lift (core func $ri "
    "\"double-drop\"))))\n";

static const char *missing_wat =
    "(component\n"
    "  (import \"test:host/nope@1.0.0\" (instance (export \"f\" (func))))\n"
    "  (import \"wasi:cli/environment@0.2.3\" (instance\n"
    "    (export \"get-arguments\" (func (result string)))\n"
    "    (export \"no-such\" (func))))\n"
    "  (import \"test:host/api@2.0.0\" (instance (export \"sum\" (func))))\n"
    "  (core module $M (func (export \"x\"))))\n";

/* Hostile linking: wasm-tools parse does not validate, so these reach Kiln. */
static const struct {
    const char *wat, *want;
} mismatch[] = {
    {"(component\n"
     "  (core module $A (global (export \"g\") (mut i32) (i32.const 0)))\n"
     "  (core instance $a (instantiate $A))\n"
     "  (core module $B (import \"a\" \"g\" (global (mut i64))))\n"
     "  (core instance (instantiate $B (with \"a\" (instance $a)))))\n",
     "'a' 'g'"},
    {"(component\n"
     "  (core module $A (memory (export \"m\") 1))\n"
     "  (core instance $a (instantiate $A))\n"
     "  (core module $B (import \"a\" \"m\" (memory 2)))\n"
     "  (core instance (instantiate $B (with \"a\" (instance $a)))))\n",
     "'a' 'm'"},
    {"(component\n"
     "  (core module $A (func (export \"f\") (param i32 i32) (result i32) (i32.const 0)))\n"
     "  (core instance $a (instantiate $A))\n"
     "  (func (export \"f\") (result u32) (canon lift (core func $a \"f\"))))\n",
     "ii:i"},
    /* core subtyping at validation (component-spec validation/instantiation.wast) */
    {"(component\n"
     "  (core module $m1 (import \"\" \"t\" (table 2 2 funcref)))\n"
     "  (core module $m2 (table (export \"t\") 1 funcref))\n"
     "  (core instance $i (instantiate $m2))\n"
     "  (core instance (instantiate $m1 (with \"\" (instance $i)))))\n",
     "mismatch in table limits"},
    {"(component\n"
     "  (core module $m)\n"
     "  (component $c (import \"m\" (core module (export \"x\" (func)))))\n"
     "  (instance (instantiate $c (with \"m\" (core module $m)))))\n",
     "missing expected export 'x'"},
    {"(component\n"
     "  (core module $m (import \"\" \"extra\" (global i32)))\n"
     "  (component $c (import \"m\" (core module)))\n"
     "  (instance (instantiate $c (with \"m\" (core module $m)))))\n",
     "missing expected import '::extra'"},
    {"(component\n"
     "  (import \"i\" (instance $i (export \"a\" (func))))\n"
     "  (component $c (import \"i\" (instance (export \"a\" (component)))))\n"
     "  (instance (instantiate $c (with \"i\" (instance $i)))))\n",
     "type mismatch in instance export 'a'"},
    /* external visibility (component-spec validation/external-visibility.wast): a record
     * used by an export must be exported first; an import may not refer to a resource
     * defined here */
    {"(component\n"
     "  (core module $m (func (export \"f\") (result i32) unreachable))\n"
     "  (core instance $i (instantiate $m))\n"
     "  (type $Rec (record (field \"x\" u32)))\n"
     "  (func $f (result $Rec) (canon lift (core func $i \"f\")))\n"
     "  (export $Rec' \"rec\" (type $Rec))\n"
     "  (export \"f\" (func $f)))\n",
     "export 'f' refers to a record, variant, enum or flags type that is not imported or "
     "exported before it"},
    {"(component\n"
     "  (type $R (resource (rep i32)))\n"
     "  (import \"f\" (func (result (own $R)))))\n",
     "import 'f' refers to a resource that is not imported before it"},
    /* resource identity when instantiating (component-spec validation/resources.wast):
     * type imports are substituted, and each instantiation makes its own resources */
    {"(component\n"
     "  (import \"T\" (type $T (sub resource)))\n"
     "  (import \"U\" (type $U (sub resource)))\n"
     "  (import \"f\" (func $f (param \"x\" (own $U))))\n"
     "  (component $c\n"
     "    (import \"T\" (type $T (sub resource)))\n"
     "    (import \"g\" (func (param \"x\" (own $T)))))\n"
     "  (instance (instantiate $c (with \"T\" (type $T)) (with \"g\" (func $f)))))\n",
     "import 'g' is given a func of another type"},
    {"(component\n"
     "  (component $C (type $r (export \"r\") (resource (rep i32))))\n"
     "  (instance $c1 (instantiate $C))\n"
     "  (instance $c2 (instantiate $C))\n"
     "  (alias export $c1 \"r\" (type $r1))\n"
     "  (alias export $c2 \"r\" (type $r2))\n"
     "  (component $eq (import \"a\" (type $a (sub resource))) (import \"b\" (type (eq $a))))\n"
     "  (instance (instantiate $eq (with \"a\" (type $r1)) (with \"b\" (type $r2)))))\n",
     "import 'b': resource types are not the same"},
    /* two imports of one instance type have resources of their own (resources.wast) */
    {"(component\n"
     "  (type $I (instance (export \"r\" (type $r (sub resource)))\n"
     "    (export \"f\" (func (result (own $r))))))\n"
     "  (import \"i1\" (instance $i1 (type $I)))\n"
     "  (import \"i2\" (instance $i2 (type $I)))\n"
     "  (component $C (import \"r\" (type $r (sub resource)))\n"
     "    (import \"f\" (func (result (own $r)))))\n"
     "  (instance (instantiate $C (with \"r\" (type $i1 \"r\")) (with \"f\" (func $i2 "
     "\"f\")))))\n",
     "import 'f' is given a func of another type"},
    /* an export's ascribed type must fit the item (external-visibility.wast) */
    {"(component\n"
     "  (import \"f\" (instance $i))\n"
     "  (export \"f2\" (instance $i) (instance (export \"f\" (func)))))\n",
     "ascribed type of export is not compatible (missing expected export 'f')"},
};

/* Writes wat to dir/name.wat, converts it to dir/name.wasm; the path, or NULL. */
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
    if (system(cmd) != 0) {
        fprintf(stderr, "wasm-tools parse %s failed\n", name);
        return NULL;
    }
    return path;
}

static kiln_loaded_component *load(const char *name, const char *wat, kiln_err *err)
{
    const char *path = build(name, wat);
    if (!path) return NULL;
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    kiln_loaded_component *lc = kiln_component_load_file(path, &o, err);
    if (!lc) fprintf(stderr, "%s\n", err->msg);
    return lc;
}

static kiln_cval str(const char *s)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.str.ptr = (char *)s;
    v.str.len = strlen(s);
    return v;
}

/* Calls export `name`; 0 or -1 (trap message in *t). */
static int call(kiln_component_instance *ci, const char *name, const kiln_cval *args,
                kiln_cval *res, kiln_trap *t)
{
    const kiln_component_func *f = kiln_component_find_func(ci, name);
    CHECK(f != NULL);
    if (!f) return -2;
    memset(res, 0, sizeof *res);
    return kiln_component_call(ci, f, args, res, t);
}

static int str_is(const kiln_cval *v, const char *want)
{
    return v->str.len == strlen(want) && memcmp(v->str.ptr, want, v->str.len) == 0;
}

static void test_shapes(void)
{
    CHECK(kiln_chost_shape_match("(u32) -> string", "(u32) -> string"));
    CHECK(!kiln_chost_shape_match("(u32) -> string", "(u32) -> list<u8>"));
    CHECK(kiln_chost_shape_match("(*, list<u8>) -> *", "(borrow<x>, list<u8>) -> result<_, u8>"));
    CHECK(kiln_chost_shape_match("(borrow<error>) -> option<*>",
                                 "(borrow<error>) -> option<enum{a, b}>"));
    CHECK(!kiln_chost_shape_match("(*)", "(u32, u32)"));
    CHECK(!kiln_chost_shape_match("()", "() -> u32"));
}

/* The basic component's checks on instance ci (freed here). */
static void basic_checks(kiln_component_instance *ci)
{
    kiln_trap t;
    kiln_cval res, arg;
    /* Strings both ways through a shared memory: lift from the host, lower to the host. */
    arg = str("hello, kiln");
    CHECK(call(ci, "greet", &arg, &res, &t) == 0);
    CHECK(str_is(&res, "hello, kiln!!"));
    /* A list. */
    kiln_cval items[4];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 4; i++)
        items[i].u = (uint64_t)(i + 1) * 10;
    memset(&arg, 0, sizeof arg);
    arg.agg.items = items;
    arg.agg.n = 4;
    CHECK(call(ci, "total", &arg, &res, &t) == 0);
    CHECK_INT(res.u, 100);
    /* A record passed to the host. */
    memset(&arg, 0, sizeof arg);
    arg.u = 7;
    CHECK(call(ci, "show", &arg, &res, &t) == 0);
    CHECK(str_is(&res, "point x=7 name=!!"));
    /* A funcref table of one instance filled by another. */
    CHECK(call(ci, "via-table", NULL, &res, &t) == 0);
    CHECK_INT(res.u, 42);
    /* Version compatibility of lookups. */
    CHECK(kiln_component_find_func(ci, "no-such") == NULL);

    /* Hostile: a string longer than memory. */
    CHECK(call(ci, "bad-string", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "bad-string") != NULL);
    CHECK(strstr(t.message, "basic.wasm") != NULL);
    printf("bad-string: %s\n", t.message);
    /* Hostile: a result pointer out of bounds. */
    CHECK(call(ci, "bad-pointer", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "bad-pointer") != NULL);
    printf("bad-pointer: %s\n", t.message);
    /* Hostile: a bad pointer passed to a host function traps in the trampoline. */
    CHECK(call(ci, "bad-lower", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "concat") != NULL);
    printf("bad-lower: %s\n", t.message);
    /* A host function's refusal. */
    CHECK(call(ci, "call-boom", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "boom refused") != NULL);
    printf("call-boom: %s\n", t.message);
    /* A plain guest trap. */
    CHECK(call(ci, "oob", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "oob") != NULL);
    printf("oob: %s\n", t.message);
    /* The instance still works afterwards. */
    arg = str("again");
    CHECK(call(ci, "greet", &arg, &res, &t) == 0);
    CHECK(str_is(&res, "again!!"));
    host_calls = 0;
    kiln_component_instance_free(ci);
    CHECK_INT(host_calls, 4); /* the provider context saw this instance's calls */
}

/* An instance of lc: fresh (mode 0), or a copy from *img (made on first use). */
static kiln_component_instance *make(kiln_loaded_component *lc, int mode,
                                     kiln_component_image **img)
{
    kiln_grants g = {0};
    kiln_err err;
    if (mode && !*img && !(*img = kiln_component_image_new(lc, &g, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    kiln_component_instance *ci = mode ? kiln_component_image_instantiate(*img, &g, &err)
                                       : kiln_component_instantiate(lc, &g, &err);
    if (!ci) fprintf(stderr, "%s\n", err.msg);
    return ci;
}

/* Runs checks (which free the instance) on a fresh instance of lc and on two copies
 * from its image. */
static void in_three_instances(kiln_loaded_component *lc, void (*checks)(kiln_component_instance *))
{
    kiln_component_image *img = NULL;
    for (int mode = 0; mode < 3; mode++) {
        kiln_component_instance *ci = make(lc, mode, &img);
        CHECK(ci != NULL);
        if (ci) checks(ci);
    }
    kiln_component_image_free(img);
}

static void test_basic(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load("basic", basic_wat, &err);
    CHECK(lc != NULL);
    if (!lc) return;
    CHECK_INT(kiln_component_module_count(lc), 4);
    in_three_instances(lc, basic_checks);
    kiln_component_unload(lc);
}

/* The nested component's checks on instance ci (freed here). */
static void nested_checks(kiln_component_instance *ci)
{
    kiln_trap t;
    kiln_cval res, arg;
    memset(&arg, 0, sizeof arg);
    arg.u = 5;
    CHECK(call(ci, "nested-g", &arg, &res, &t) == 0);
    CHECK_INT(res.u, 11);
    /* A string from the host through a nested component to another instance (canon lower
     * of a lifted function: two memories, two reallocs) and back, with post-return. */
    arg = str("abc");
    CHECK(call(ci, "relay", &arg, &res, &t) == 0);
    CHECK(str_is(&res, "abc!"));
    CHECK(call(ci, "posts", NULL, &res, &t) == 0);
    CHECK_INT(res.u, 1);
    /* A time limit stops a loop in another instance, called through a nested component. */
    const kiln_component_func *spin = kiln_component_find_func(ci, "spin-nested");
    CHECK(spin != NULL);
    if (spin) {
        CHECK(kiln_component_call_timeout(ci, spin, NULL, &res, &t, 50000000) == -1);
        CHECK_INT(t.kind, KILN_TRAP_INTERRUPTED);
    }
    memset(&arg, 0, sizeof arg);
    arg.u = 7;
    CHECK(call(ci, "cycle", &arg, &res, &t) == 0);
    CHECK_INT(res.u, 7007); /* rep 7, and the destructor saw rep 7 */
    CHECK(call(ci, "forge", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "resource.rep") != NULL);
    printf("forge: %s\n", t.message);
    CHECK(call(ci, "double-drop", NULL, &res, &t) == -1);
    CHECK(strstr(t.message, "resource.drop") != NULL);
    printf("double-drop: %s\n", t.message);
    kiln_component_instance_free(ci);
}

static void test_nested_and_resources(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load("nested", nested_wat, &err);
    CHECK(lc != NULL);
    if (!lc) return;
    in_three_instances(lc, nested_checks);
    kiln_component_unload(lc);
}

static void test_mismatch(void)
{
    for (size_t i = 0; i < sizeof mismatch / sizeof mismatch[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "mismatch%zu", i);
        kiln_err err;
        kiln_loaded_component *lc = load(name, mismatch[i].wat, &err);
        kiln_component_instance *ci = NULL;
        if (lc) {
            kiln_grants g = {0};
            ci = kiln_component_instantiate(lc, &g, &err);
        }
        CHECK(ci == NULL); /* refused at load (validation) or instantiation, never bound */
        printf("%s: %s\n", name, err.msg);
        CHECK(strstr(err.msg, mismatch[i].want) != NULL);
        kiln_component_instance_free(ci);
        kiln_component_unload(lc);
    }
}

/* A resource exported by a nested component and used through its exported type index:
 * the export makes a new (abstract) type index, which lifting own/borrow must resolve to
 * the defining instance's runtime type (component-spec resources/borrows.wast). */
static const char *exported_resource_wat =
    "(component\n"
    "  (component $C\n"
    "    (type $R' (resource (rep i32)))\n"
    "    (export $R \"R\" (type $R'))\n"
    "    (core func $new (canon resource.new $R'))\n"
    "    (core module $CM\n"
    "      (import \"\" \"new\" (func $new (param i32) (result i32)))\n"
    "      (func (export \"make\") (result i32) (call $new (i32.const 0x41)))\n"
    "      (func (export \"get-rep\") (param i32) (result i32) (local.get 0)))\n"
    "    (core instance $cm (instantiate $CM (with \"\" (instance (export \"new\" (func "
    "$new))))))\n"
    "    (func (export \"make\") (result (own $R)) (canon lift (core func $cm \"make\")))\n"
    "    (func (export \"get-rep\") (param \"r\" (borrow $R)) (result u32)\n"
    "      (canon lift (core func $cm \"get-rep\"))))\n"
    "  (component $D\n"
    "    (import \"c\" (instance $c\n"
    "      (export \"R\" (type $R (sub resource)))\n"
    "      (export \"make\" (func (result (own $R))))\n"
    "      (export \"get-rep\" (func (param \"r\" (borrow $R)) (result u32)))))\n"
    "    (alias export $c \"R\" (type $R))\n"
    "    (core func $drop (canon resource.drop $R))\n"
    "    (core func $make (canon lower (func $c \"make\")))\n"
    "    (core func $get-rep (canon lower (func $c \"get-rep\")))\n"
    "    (core module $DM\n"
    "      (import \"\" \"make\" (func $make (result i32)))\n"
    "      (import \"\" \"get-rep\" (func $get-rep (param i32) (result i32)))\n"
    "      (import \"\" \"drop\" (func $drop (param i32)))\n"
    "      (func (export \"run\") (result i32) (local $h i32) (local $r i32)\n"
    "        (local.set $h (call $make))\n"
    "        (local.set $r (call $get-rep (local.get $h)))\n"
    "        (call $drop (local.get $h))\n"
    "        (local.get $r)))\n"
    "    (core instance $dm (instantiate $DM (with \"\" (instance (export \"make\" (func $make))\n"
    "      (export \"get-rep\" (func $get-rep)) (export \"drop\" (func $drop))))))\n"
    "    (func (export \"run\") (result u32) (canon lift (core func $dm \"run\"))))\n"
    "  (instance $c (instantiate $C))\n"
    "  (instance $d (instantiate $D (with \"c\" (instance $c))))\n"
    "  (func (export \"run\") (alias export $d \"run\")))\n";

/* A resource exported through an exported bag-of-exports instance: aliased back from the
 * exported instance, it is an exported resource that a lifted export may use
 * (component-spec external-visibility.wast; Kiln refused it before). */
static const char *bag_resource_wat =
    "(component\n"
    "  (core module $m (func (export \"f\") (param i32)))\n"
    "  (core instance $i (instantiate $m))\n"
    "  (type $R (resource (rep i32)))\n"
    "  (instance $bag (export \"r\" (type $R)))\n"
    "  (export $bag' \"i\" (instance $bag))\n"
    "  (alias export $bag' \"r\" (type $R'))\n"
    "  (func $f (param \"x\" (own $R')) (canon lift (core func $i \"f\")))\n"
    "  (export \"f\" (func $f)))\n";

static const char *visible_record_wat =
    "(component\n"
    "  (core module $m (func (export \"f\") (result i32) unreachable))\n"
    "  (core instance $i (instantiate $m))\n"
    "  (type $E (enum \"a\" \"b\"))\n"
    "  (func $f (result $E) (canon lift (core func $i \"f\")))\n"
    "  (export $E' \"e\" (type $E))\n"
    "  (export \"f\" (func $f) (func (result $E')))\n"
    "  (component $C\n"
    "    (type $Rec (record (field \"x\" u32)))\n"
    "    (import \"t\" (type $Rec' (eq $Rec)))\n"
    "    (type $Rec2 (record (field \"r\" $Rec')))\n"
    "    (export \"t2\" (type $Rec2)))\n"
    "  (type $Rec (record (field \"x\" u32)))\n"
    "  (export $Rec' \"t\" (type $Rec))\n"
    "  (instance $c (instantiate $C (with \"t\" (type $Rec'))))\n"
    "  (export \"t2\" (type $c \"t2\")))\n";

static const char *twice_exported_wat =
    "(component\n"
    "  (component $C (type $r (resource (rep i32))) (export \"r1\" (type $r))\n"
    "    (export \"r2\" (type $r)))\n"
    "  (instance $c (instantiate $C))\n"
    "  (alias export $c \"r1\" (type $r1))\n"
    "  (alias export $c \"r2\" (type $r2))\n"
    "  (component $eq (import \"a\" (type $a (sub resource))) (import \"b\" (type (eq $a))))\n"
    "  (instance (instantiate $eq (with \"a\" (type $r1)) (with \"b\" (type $r2)))))\n";

static void test_exported_resource(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load("exported-resource", exported_resource_wat, &err);
    CHECK(lc != NULL);
    if (!lc) return;
    kiln_grants g = {0};
    kiln_component_instance *ci = kiln_component_instantiate(lc, &g, &err);
    if (!ci) fprintf(stderr, "%s\n", err.msg);
    CHECK(ci != NULL);
    if (ci) {
        kiln_trap t;
        kiln_cval res;
        int rc = call(ci, "run", NULL, &res, &t);
        if (rc != 0) fprintf(stderr, "run: %s\n", t.message);
        CHECK(rc == 0);
        CHECK_INT(res.u, 0x41);
    }
    kiln_component_instance_free(ci);
    kiln_component_unload(lc);
    lc = load("bag-resource", bag_resource_wat, &err);
    CHECK(lc != NULL);
    kiln_component_unload(lc);
    /* ... and a record exported before the func that uses it (ascribed), threaded through a
     * child's instantiation and re-exported (external-visibility.wast) */
    lc = load("visible-record", visible_record_wat, &err);
    CHECK(lc != NULL);
    kiln_component_unload(lc);
    /* one resource exported twice is one type (resources.wast) */
    lc = load("twice-exported", twice_exported_wat, &err);
    CHECK(lc != NULL);
    kiln_component_unload(lc);
}

static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

static void test_missing(void)
{
    char c2[400];
    snprintf(c2, sizeof c2, "%s/cache-missing", dir);
    const char *path = build("missing", missing_wat);
    CHECK(path != NULL);
    if (!path) return;
    kiln_err err;
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = c2};
    kiln_loaded_component *lc = kiln_component_load_file(path, &o, &err);
    CHECK(lc == NULL);
    printf("missing: %s\n", err.msg);
    CHECK(strstr(err.msg, "4 imports are not provided") != NULL);
    CHECK(strstr(err.msg, "test:host/nope@1.0.0: no host provides this interface") != NULL);
    CHECK(strstr(err.msg, "function 'get-arguments' has type () -> string; the host's is () -> "
                          "list<string>") != NULL);
    CHECK(strstr(err.msg, "function 'no-such' is not provided") != NULL);
    CHECK(strstr(err.msg, "test:host/api@2.0.0: no host provides this version") != NULL);
    CHECK(dir_empty(c2)); /* refused before anything was compiled */
    kiln_component_unload(lc);
}

/* Re-entrance: f calls, through a funcref table filled after instantiation, its own
 * lifted-then-lowered self. The component model forbids entering a component instance that
 * is running: a trap, and the instance is usable again afterwards (g does not re-enter). */
static const char reenter_wat[] =
    "(component\n"
    "  (core module $Shim\n"
    "    (type $t (func (result i32)))\n"
    "    (table (export \"$imports\") 1 1 funcref)\n"
    "    (func (export \"g\") (result i32) (call_indirect (type $t) (i32.const 0))))\n"
    "  (core instance $shim (instantiate $Shim))\n"
    "  (core module $M\n"
    "    (import \"\" \"g\" (func $g (result i32)))\n"
    "    (func (export \"f\") (result i32) (call $g))\n"
    "    (func (export \"h\") (result i32) (i32.const 7)))\n"
    "  (core instance $m (instantiate $M (with \"\" (instance (export \"g\" (func $shim "
    "\"g\"))))))\n"
    "  (func $f (result u32) (canon lift (core func $m \"f\")))\n"
    "  (func $h (result u32) (canon lift (core func $m \"h\")))\n"
    "  (core func $lf (canon lower (func $f)))\n"
    "  (core module $Fix\n"
    "    (import \"\" \"$imports\" (table 1 1 funcref))\n"
    "    (import \"\" \"0\" (func (result i32)))\n"
    "    (elem (i32.const 0) func 0))\n"
    "  (core instance (instantiate $Fix (with \"\" (instance (export \"$imports\" (table $shim "
    "\"$imports\")) (export \"0\" (func $lf))))))\n"
    "  (export \"f\" (func $f))\n"
    "  (export \"h\" (func $h)))\n";

static void test_reentrance(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load("reenter", reenter_wat, &err);
    CHECK(lc != NULL);
    if (!lc) return;
    kiln_component_instance *ci = kiln_component_instantiate(lc, NULL, &err);
    CHECK(ci != NULL);
    if (ci) {
        kiln_cval res;
        kiln_trap t;
        CHECK(call(ci, "f", NULL, &res, &t) == -1);
        printf("reenter: %s\n", kiln_trap_message(&t));
        CHECK(strstr(kiln_trap_message(&t), "re-enter") != NULL);
        CHECK(call(ci, "h", NULL, &res, &t) == 0); /* not left marked as running */
        CHECK(res.u == 7);
        CHECK(call(ci, "f", NULL, &res, &t) == -1);
        CHECK(strstr(kiln_trap_message(&t), "re-enter") != NULL);
        kiln_component_instance_free(ci);
    }
    kiln_component_unload(lc);
}

/* A top-level type import bounded by (eq T) — a world-level `use` as wit-component writes
 * it — needs nothing from the host: loaded, and the function using it works. A
 * (sub resource) type import is still refused before compiling. */
static const char eq_import_wat[] =
    "(component\n"
    "  (type $r (record (field \"a\" u32)))\n"
    "  (import \"meta\" (type $m (eq $r)))\n"
    "  (core module $M (func (export \"f\") (param i32) (result i32) (i32.add (local.get 0) "
    "(i32.const 1))))\n"
    "  (core instance $i (instantiate $M))\n"
    "  (func $f (param \"m\" $m) (result u32) (canon lift (core func $i \"f\")))\n"
    "  (export \"f\" (func $f)))\n";
static const char sub_import_wat[] = "(component (import \"res\" (type (sub resource))))\n";

static void test_type_imports(void)
{
    kiln_err err;
    kiln_loaded_component *lc = load("eqimport", eq_import_wat, &err);
    CHECK(lc != NULL);
    if (lc) {
        kiln_component_instance *ci = kiln_component_instantiate(lc, NULL, &err);
        CHECK(ci != NULL);
        if (ci) {
            kiln_cval arg, field, res;
            kiln_trap t;
            memset(&arg, 0, sizeof arg);
            memset(&field, 0, sizeof field);
            field.u = 41;
            arg.agg.items = &field;
            arg.agg.n = 1;
            CHECK(call(ci, "f", &arg, &res, &t) == 0);
            CHECK(res.u == 42);
            kiln_component_instance_free(ci);
        }
        kiln_component_unload(lc);
    }
    const char *path = build("subimport", sub_import_wat);
    CHECK(path != NULL);
    if (!path) return;
    kiln_compile_opts o = {.tier = KILN_TIER_FAST, .cache_dir = cache};
    lc = kiln_component_load_file(path, &o, &err);
    CHECK(lc == NULL);
    if (!lc) CHECK(strstr(err.msg, "res: a type import") != NULL);
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
    CHECK(kiln_chost_register(&t_provider) == 0);
    CHECK(kiln_chost_register(&t_provider) == -1); /* the interface is taken */
    test_shapes();
    test_basic();
    test_nested_and_resources();
    test_exported_resource();
    test_missing();
    test_mismatch();
    test_reentrance();
    test_type_imports();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("instance");
}
