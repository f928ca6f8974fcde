#!/usr/bin/env bash
# component_inspect.sh — `kiln inspect` on components written as text and converted with
# `wasm-tools parse`: the world it prints (compared with `wasm-tools component wit`), a
# core module's imports and which Kiln provides, the errors on malformed files, and
# agreement with `wasm-tools validate`: every invalid component below is rejected by both
# (with Kiln's message checked), every valid one accepted by both.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

WT=${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "wasm-tools not found at $WT (scripts/install-tools.sh installs it)"
    # ---- type imports of an instantiated component are replaced by the arguments ----
cat >"$TMP/subst.wat" <<'WAT'
(component
  (import "r" (type $r (sub resource)))
  (type $ro (own $r))
  (import "mk" (func $mk (result $ro)))
  (component $c
    (import "t" (type $ti (sub resource)))
    (type $o (own $ti))
    (import "mk" (func $f (result $o)))
    (export "get" (func $f)))
  (instance $x (instantiate $c (with "t" (type $r)) (with "mk" (func $mk))))
  (export "i" (instance $x)))
WAT
"$WT" parse "$TMP/subst.wat" -o "$TMP/subst.wasm"
check "subst: wasm-tools accepts" "$WT" validate "$TMP/subst.wasm"
out=$("$KILN" inspect "$TMP/subst.wasm" 2>&1)
expect_contains "subst: the export names the argument's resource, not the import's" "export i: interface {
    get: func() -> r;
  }" "$out"

# ---- every one-byte mutation of a component: what wasm-tools rejects, Kiln rejects ----
cat >"$TMP/mut.wat" <<'WAT'
(component
  (type $t (instance
    (export "fields" (type $f (sub resource)))
    (type $ff (own $f))
    (export "[constructor]fields" (func (result $ff)))
    (type $bf (borrow $f))
    (export "[method]fields.get" (func (param "self" $bf) (param "name" string) (result (list (list u8)))))
    (type $e (enum "a" "b"))
    (export "e" (type $ee (eq $e)))
    (type $r (record (field "x" u32) (field "y" (option string))))
    (export "r" (type $rr (eq $r)))
    (export "f" (func (param "r" $rr) (result (result $ee (error string)))))))
  (import "wasi:http/types@0.2.3" (instance $i (type $t)))
  (alias export $i "fields" (type $fields))
  (alias export $i "f" (func $f))
  (import "hook" (func $hook (param "s" u32) (result u64)))
  (core func $h (canon lower (func $hook)))
  (core func (canon resource.drop $fields))
  (core instance $ci (export "h" (func $h)))
  (component $c (import "x" (func (param "s" u32) (result u64))) (export "y" (func 0)))
  (instance $ins (instantiate $c (with "x" (func $hook))))
  (type $own (own $fields))
  (export "g" (func $hook))
  (export "wasi:cli/run@0.2.0" (instance $ins)))
WAT
"$WT" parse "$TMP/mut.wat" -o "$TMP/mut.wasm"
mkdir -p "$TMP/mut"
python3 - "$TMP/mut.wasm" "$TMP/mut" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
for i in range(8, len(b)):
    for v in ((b[i] + 1) & 255, 0xff):
        m = bytearray(b)
        m[i] = v
        if m != b:
            open('%s/%04d-%02x.wasm' % (sys.argv[2], i, v), 'wb').write(m)
PY
total=0 both=0 missed=""
for f in "$TMP"/mut/*.wasm; do
    total=$((total + 1))
    if ! "$WT" validate --features all "$f" >/dev/null 2>&1; then
        if "$KILN" inspect "$f" >/dev/null 2>&1; then
            missed="$missed $(basename "$f")"
        else
            both=$((both + 1))
        fi
    fi
done
expect_eq "mutants that wasm-tools rejects are rejected by Kiln too" "" "$missed"
[ "$total" -gt 700 ] && [ "$both" -gt 100 ] && pass "mutants: $total, $both rejected by both" ||
    fail "too few mutants ($total) or rejections ($both)"

# ---- a p3 (async) component: wasm-tools accepts it with all features, so must Kiln ----
cat >"$TMP/p3.wat" <<'WAT'
(component
  (type $s (stream u8))
  (type $fu (future string))
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0)
    (func (export "f") (param i32 i32) (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (core func (canon task.return (result string) (memory $mem) string-encoding=utf8))
  (core func (canon waitable-set.new))
  (core func (canon waitable-set.wait (memory $mem)))
  (core func (canon waitable.join))
  (core func (canon subtask.drop))
  (core func (canon stream.new $s))
  (core func (canon stream.read $s (memory $mem)))
  (core func (canon stream.write $s (memory $mem)))
  (core func (canon stream.drop-readable $s))
  (core func (canon future.new $fu))
  (core func (canon future.read $fu (memory $mem) (realloc $realloc)))
  (core func (canon backpressure.inc))
  (core func (canon context.get i32 0))
  (func (export "run") async (param "s" string) (result string)
    (canon lift (core func $i "f") async (memory $mem) (realloc $realloc) (callback (core func $i "cb")))))
WAT
"$WT" parse "$TMP/p3.wat" -o "$TMP/p3.wasm"
check "p3: wasm-tools accepts (all features)" "$WT" validate --features all "$TMP/p3.wasm"
out=$("$KILN" inspect "$TMP/p3.wasm" 2>&1)
expect_eq "p3: Kiln accepts" 0 $?
expect_contains "p3: async export" "export run: async func(s: string) -> string;" "$out"
expect_contains "p3: async built-ins counted" "task.return 1, context.get 1, subtask.drop 1, stream.new 1" "$out"

finish
    exit 1
fi

# ---- a component with an interface import, a func import and a lifted export ----
cat >"$TMP/world.wat" <<'WAT'
(component
  (type $t (instance
    (export "fields" (type $f (sub resource)))
    (type $ff (own $f))
    (export "[constructor]fields" (func (result $ff)))
    (type $bf (borrow $f))
    (export "[method]fields.get" (func (param "self" $bf) (param "name" string) (result (list (list u8)))))
    (type $e (enum "a" "b"))
    (export "e" (type $ee (eq $e)))
    (type $r (record (field "x" u32) (field "y" (option string))))
    (export "r" (type $rr (eq $r)))
    (export "f" (func (param "r" $rr) (result (result $ee (error string)))))
  ))
  (import "wasi:http/types@0.2.3" (instance $i (type $t)))
  (import "hook" (func $hook (param "s" string) (result string)))
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "run") (param i32 i32) (result i32) i32.const 0))
  (core instance $ci (instantiate $m))
  (alias core export $ci "memory" (core memory $mem))
  (alias core export $ci "realloc" (core func $realloc))
  (core func $lowered (canon lower (func $hook) (memory $mem) (realloc $realloc) string-encoding=utf8))
  (func $run (param "s" string) (result string) (canon lift (core func $ci "run") (memory $mem) (realloc $realloc)))
  (component $inner (import "x" (func)))
  (export "run" (func $run)))
WAT
"$WT" parse "$TMP/world.wat" -o "$TMP/world.wasm"
check "wasm-tools validates the world component" "$WT" validate "$TMP/world.wasm"
out=$("$KILN" inspect "$TMP/world.wasm" 2>&1)
expect_eq "inspect of a valid component exits 0" 0 $?
expect_contains "world import of the interface, marked" \
    "import wasi:http/types@0.2.3;  // Kiln: not provided yet" "$out"
expect_contains "func import with WIT types" "import hook: func(s: string) -> string;" "$out"
expect_contains "func export" "export run: func(s: string) -> string;" "$out"
expect_contains "interface marked as not provided" \
    "// imported; Kiln does not provide this interface yet" "$out"
expect_contains "resource with constructor" "resource fields {
    constructor();
    get: func(name: string) -> list<list<u8>>;
  }" "$out"
expect_contains "enum" "enum e {
    a,
    b,
  }" "$out"
expect_contains "record" "record r {
    x: u32,
    y: option<string>,
  }" "$out"
expect_contains "func with named types" "f: func(r: r) -> result<e, string>;" "$out"
expect_contains "embedded module and its size" "module 0: 87 bytes" "$out"
expect_contains "counts" "1 core instances, 0 instances, 3 aliases" "$out"
expect_contains "canon counts" "canon (2): lift 1, lower 1" "$out"
expect_contains "nested components counted" "1 nested components" "$out"

# the world's import and export lines agree with `wasm-tools component wit`
norm() { grep -E '^  (import|export) ' | sed -e 's|  //.*||' -e 's/;$//' -e 's/^ *//' | sort; }
want=$("$WT" component wit "$TMP/world.wasm" | norm)
got=$(printf '%s\n' "$out" | norm)
expect_eq "world items as wasm-tools component wit shows them" "$want" "$got"

# ---- a core module: which imports Kiln provides ----
wat2wasm "$ROOT/tests/e2e/wat/needs_imports.wat" -o "$TMP/needs.wasm"
out=$("$KILN" inspect "$TMP/needs.wasm" 2>&1)
expect_eq "inspect of a core module exits 0" 0 $?
expect_contains "provided WASI import" \
    "wasi_snapshot_preview1.fd_write: func(i32, i32, i32, i32) -> i32  [provided (WASI preview1)]" "$out"
expect_contains "unknown module" "env.magic: func(i64) -> f32  [not provided by Kiln]" "$out"
expect_contains "unknown WASI function" "wasi_snapshot_preview1.no_such_call: func()  [not provided by Kiln]" "$out"
expect_contains "WASI function with another signature" \
    "wasi_snapshot_preview1.proc_exit: func(i64)  [NOT provided: Kiln's has another signature]" "$out"
expect_contains "summary" "1 of 4 imports provided by Kiln" "$out"
expect_contains "exports" "_start: func()" "$out"

# ---- malformed files: exit 1 and a message with the file, section and offset ----
head -c 300 "$TMP/world.wasm" >"$TMP/trunc.wasm"
out=$("$KILN" inspect "$TMP/trunc.wasm" 2>&1)
expect_eq "truncated component exits 1" 1 $?
expect_contains "truncated component: file, section, offset" "error: $TMP/trunc.wasm: section '" "$out"
printf 'hello world' >"$TMP/text.wasm"
out=$("$KILN" inspect "$TMP/text.wasm" 2>&1)
expect_eq "not wasm exits 1" 1 $?
expect_contains "not wasm" "not a WebAssembly binary (bad magic)" "$out"
out=$("$KILN" inspect "$TMP/missing.wasm" 2>&1)
expect_eq "missing file exits 1" 1 $?
expect_contains "missing file" "No such file or directory" "$out"
"$KILN" inspect >/dev/null 2>&1
expect_eq "no argument: usage, exit 2" 2 $?

# ---- invalid components: wasm-tools validate rejects each, and so must Kiln ----
# NAME|substring of Kiln's message|component text
cases=$(cat <<'CASES'
lower_missing_func|section 'canon' (id 8) at offset 0xb: lower of func 7: no such func (0 funcs)|(component (core func (canon lower (func 7))))
lower_no_memory|option 'memory' is required|(component (import "f" (func $f (param "s" string))) (core func (canon lower (func $f))))
lower_no_realloc|option 'realloc' is required|(component (import "f" (func $f (result string))) (core module $m (memory (export "memory") 1)) (core instance $i (instantiate $m)) (alias core export $i "memory" (core memory $mem)) (core func (canon lower (func $f) (memory $mem))))
realloc_bad_sig|realloc option: core func 0: has type i:i, want iiii:i|(component (import "f" (func $f (result string))) (core module $m (memory (export "memory") 1) (func (export "r") (param i32) (result i32) i32.const 0)) (core instance $i (instantiate $m)) (alias core export $i "memory" (core memory $mem)) (core func (canon lower (func $f) (memory $mem) (realloc (core func $i "r")))))
post_return_lower|option 'post-return' is only allowed on lift|(component (import "f" (func $f)) (core module $m (func (export "p"))) (core instance $i (instantiate $m)) (core func (canon lower (func $f) (post-return (core func $i "p")))))
lift_bad_sig|core func has type j:, the lifted type needs i:|(component (core module $m (func (export "f") (param i64))) (core instance $i (instantiate $m)) (func (param "x" u32) (canon lift (core func $i "f"))))
dup_import|at offset 0x23: import name 'A-B' conflicts with the earlier 'a-b'|(component (import "a-b" (func)) (import "A-B" (func)))
alias_no_export|alias of instance 0: no export named 'x'|(component (import "i" (instance $i)) (alias export $i "x" (func)))
borrow_result|function result must not hold a borrow|(component (type $r (resource (rep i32))) (type (func (result (borrow $r)))))
flags33|flags type must have 1 to 32 flags, not 33|(component (type (flags "a0" "a1" "a2" "a3" "a4" "a5" "a6" "a7" "a8" "a9" "b0" "b1" "b2" "b3" "b4" "b5" "b6" "b7" "b8" "b9" "c0" "c1" "c2" "c3" "c4" "c5" "c6" "c7" "c8" "c9" "d0" "d1" "d2")))
own_not_resource|own of type 0: is a u32, not a resource type|(component (type $u u32) (type (own $u)))
core_missing_arg|missing argument for import module 'env'|(component (core module $m (import "env" "f" (func))) (core instance (instantiate $m)))
core_wrong_sig|import 'env' 'f' has type :, given i:|(component (core module $a (func (export "f") (param i32))) (core module $m (import "env" "f" (func))) (core instance $ai (instantiate $a)) (core instance (instantiate $m (with "env" (instance $ai)))))
resource_new_imported|resource.new of type 0: the resource is not defined by this component|(component (import "r" (type $r (sub resource))) (core func (canon resource.new $r)))
component_arg_type|import 'x' is given a func of another type|(component (component $c (import "x" (func))) (import "f" (func $f (param "x" u32))) (instance (instantiate $c (with "x" (func $f)))))
component_missing_arg|instantiation of component 0: missing argument for import 'x'|(component (component $c (import "x" (func))) (instance (instantiate $c)))
outer_alias_too_far|outer alias count 1 exceeds|(component (alias outer 1 0 (type)))
method_no_resource|'[method]r.x' names resource 'r'|(component (import "[method]r.x" (func)))
method_no_self|'[method]r.x' must take (param "self" (borrow r)) first|(component (import "r" (type $r (sub resource))) (import "[method]r.x" (func (param "this" (borrow $r)))))
constructor_result|'[constructor]r' must return (own r)|(component (import "r" (type $r (sub resource))) (import "[constructor]r" (func (result u32))))
export_local_resource|at offset 0xcc: export 'i' refers to a resource of this component that is not exported|(component (type $r (resource (rep i32))) (component $c (import "t" (type $ti (sub resource))) (type $o (own $ti)) (import "mk" (func $mk (result $o))) (export "get" (func $mk))) (core module $m (func (export "f") (result i32) i32.const 0)) (core instance $i (instantiate $m)) (type $ro (own $r)) (func $mk (result $ro) (canon lift (core func $i "f"))) (instance $x (instantiate $c (with "t" (type $r)) (with "mk" (func $mk)))) (export $re "r" (type $r)) (export "i" (instance $x)))
bad_label|invalid name 'Foo-bar'|(component (import "Foo-bar" (func)))
bad_version|version is not a valid semver|(component (import "a:b/c@1.2.3.4" (func)))
short_version|version is not a valid semver|(component (import "a:b/c@0.2" (func)))
async_name|unknown annotation|(component (import "[async]foo" (func)))
dep_name|invalid name 'url=<https://x>'|(component (import "url=<https://x>" (func)))
export_missing|export of func 3: no such func (0 funcs)|(component (export "x" (func 3)))
type_missing|value type refers to type 9: no such type (0 types)|(component (type (list 9)))
dtor_bad_sig|resource destructor core func 0 has type j:, want [i32] -> []|(component (core module $m (func (export "d") (param i64))) (core instance $i (instantiate $m)) (type (resource (rep i32) (dtor (core func $i "d")))))
CASES
)
while IFS='|' read -r name want text; do
    printf '%s\n' "$text" >"$TMP/$name.wat"
    if ! "$WT" parse "$TMP/$name.wat" -o "$TMP/$name.wasm" 2>"$TMP/err"; then
        fail "$name: wasm-tools parse" "$(head -1 "$TMP/err")"
        continue
    fi
    if "$WT" validate "$TMP/$name.wasm" >/dev/null 2>&1; then
        fail "$name: wasm-tools validate should reject it"
    else
        pass "$name: wasm-tools rejects"
    fi
    out=$("$KILN" inspect "$TMP/$name.wasm" 2>&1)
    expect_eq "$name: Kiln rejects (exit 1)" 1 $?
    expect_contains "$name: Kiln's message" "error: $TMP/$name.wasm: " "$out"
    expect_contains "$name: Kiln's reason" "$want" "$out"
done <<<"$cases"

# ---- valid components: both accept (wasm-tools with every feature: Kiln reads the gated
# parts of the specification too, such as nested namespaces and async) ----
valid=$(cat <<'CASES'
empty|(component)
nested|(component (component $c (import "x" (func))) (import "f" (func $f)) (instance (instantiate $c (with "x" (func $f)))))
resource|(component (type $r (resource (rep i32))) (core func (canon resource.new $r)) (core func (canon resource.rep $r)) (core func (canon resource.drop $r)) (export "r" (type $r)))
types|(component (type (tuple u8 s16 u32 s64 f32 f64 char bool string)) (type (variant (case "a") (case "b" u64))) (type (result)) (type (result string)) (type (result (error u8))) (type (option (list string))))
nested_names|(component (import "a:b:c/d/e" (func)) (import "wasi:http/handler@0.3.0-rc-2025-09-16" (func)))
resource_via_shim|(component (type $r (resource (rep i32))) (component $shim (import "t" (type $t (sub resource))) (type $o (own $t)) (import "mk" (func $mk (result $o))) (export $e "counter" (type $t)) (type $eo (own $e)) (export "[constructor]counter" (func $mk) (func (result $eo)))) (core module $m (func (export "f") (result i32) i32.const 0)) (core instance $i (instantiate $m)) (type $ro (own $r)) (func $mk (result $ro) (canon lift (core func $i "f"))) (instance $x (instantiate $shim (with "t" (type $r)) (with "mk" (func $mk)))) (export "kiln:x/api@0.1.0" (instance $x)))
instance_exports|(component (import "f" (func $f (param "x" u32))) (instance $i (export "g" (func $f))) (export "wasi:cli/run@0.2.0" (instance $i)))
CASES
)
while IFS='|' read -r name text; do
    printf '%s\n' "$text" >"$TMP/$name.wat"
    "$WT" parse "$TMP/$name.wat" -o "$TMP/$name.wasm"
    check "$name: wasm-tools accepts" "$WT" validate --features all "$TMP/$name.wasm"
    out=$("$KILN" inspect "$TMP/$name.wasm" 2>&1)
    expect_eq "$name: Kiln accepts" 0 $?
done <<<"$valid"

# ---- type imports of an instantiated component are replaced by the arguments ----
cat >"$TMP/subst.wat" <<'WAT'
(component
  (import "r" (type $r (sub resource)))
  (type $ro (own $r))
  (import "mk" (func $mk (result $ro)))
  (component $c
    (import "t" (type $ti (sub resource)))
    (type $o (own $ti))
    (import "mk" (func $f (result $o)))
    (export "get" (func $f)))
  (instance $x (instantiate $c (with "t" (type $r)) (with "mk" (func $mk))))
  (export "i" (instance $x)))
WAT
"$WT" parse "$TMP/subst.wat" -o "$TMP/subst.wasm"
check "subst: wasm-tools accepts" "$WT" validate "$TMP/subst.wasm"
out=$("$KILN" inspect "$TMP/subst.wasm" 2>&1)
expect_contains "subst: the export names the argument's resource, not the import's" "export i: interface {
    get: func() -> r;
  }" "$out"

# ---- every one-byte mutation of a component: what wasm-tools rejects, Kiln rejects ----
cat >"$TMP/mut.wat" <<'WAT'
(component
  (type $t (instance
    (export "fields" (type $f (sub resource)))
    (type $ff (own $f))
    (export "[constructor]fields" (func (result $ff)))
    (type $bf (borrow $f))
    (export "[method]fields.get" (func (param "self" $bf) (param "name" string) (result (list (list u8)))))
    (type $e (enum "a" "b"))
    (export "e" (type $ee (eq $e)))
    (type $r (record (field "x" u32) (field "y" (option string))))
    (export "r" (type $rr (eq $r)))
    (export "f" (func (param "r" $rr) (result (result $ee (error string)))))))
  (import "wasi:http/types@0.2.3" (instance $i (type $t)))
  (alias export $i "fields" (type $fields))
  (alias export $i "f" (func $f))
  (import "hook" (func $hook (param "s" u32) (result u64)))
  (core func $h (canon lower (func $hook)))
  (core func (canon resource.drop $fields))
  (core instance $ci (export "h" (func $h)))
  (component $c (import "x" (func (param "s" u32) (result u64))) (export "y" (func 0)))
  (instance $ins (instantiate $c (with "x" (func $hook))))
  (type $own (own $fields))
  (export "g" (func $hook))
  (export "wasi:cli/run@0.2.0" (instance $ins)))
WAT
"$WT" parse "$TMP/mut.wat" -o "$TMP/mut.wasm"
mkdir -p "$TMP/mut"
python3 - "$TMP/mut.wasm" "$TMP/mut" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
for i in range(8, len(b)):
    for v in ((b[i] + 1) & 255, 0xff):
        m = bytearray(b)
        m[i] = v
        if m != b:
            open('%s/%04d-%02x.wasm' % (sys.argv[2], i, v), 'wb').write(m)
PY
total=0 both=0 missed=""
for f in "$TMP"/mut/*.wasm; do
    total=$((total + 1))
    if ! "$WT" validate --features all "$f" >/dev/null 2>&1; then
        if "$KILN" inspect "$f" >/dev/null 2>&1; then
            missed="$missed $(basename "$f")"
        else
            both=$((both + 1))
        fi
    fi
done
expect_eq "mutants that wasm-tools rejects are rejected by Kiln too" "" "$missed"
[ "$total" -gt 700 ] && [ "$both" -gt 100 ] && pass "mutants: $total, $both rejected by both" ||
    fail "too few mutants ($total) or rejections ($both)"

# ---- a p3 (async) component: wasm-tools accepts it with all features, so must Kiln ----
cat >"$TMP/p3.wat" <<'WAT'
(component
  (type $s (stream u8))
  (type $fu (future string))
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0)
    (func (export "f") (param i32 i32) (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (core func (canon task.return (result string) (memory $mem) string-encoding=utf8))
  (core func (canon waitable-set.new))
  (core func (canon waitable-set.wait (memory $mem)))
  (core func (canon waitable.join))
  (core func (canon subtask.drop))
  (core func (canon stream.new $s))
  (core func (canon stream.read $s (memory $mem)))
  (core func (canon stream.write $s (memory $mem)))
  (core func (canon stream.drop-readable $s))
  (core func (canon future.new $fu))
  (core func (canon future.read $fu (memory $mem) (realloc $realloc)))
  (core func (canon backpressure.inc))
  (core func (canon context.get i32 0))
  (func (export "run") async (param "s" string) (result string)
    (canon lift (core func $i "f") async (memory $mem) (realloc $realloc) (callback (core func $i "cb")))))
WAT
"$WT" parse "$TMP/p3.wat" -o "$TMP/p3.wasm"
check "p3: wasm-tools accepts (all features)" "$WT" validate --features all "$TMP/p3.wasm"
out=$("$KILN" inspect "$TMP/p3.wasm" 2>&1)
expect_eq "p3: Kiln accepts" 0 $?
expect_contains "p3: async export" "export run: async func(s: string) -> string;" "$out"
expect_contains "p3: async built-ins counted" "task.return 1, context.get 1, subtask.drop 1, stream.new 1" "$out"

finish
