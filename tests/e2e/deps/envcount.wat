;; A dependency that imports the host: exports kiln:test/env@0.1.0 with
;;   count: func() -> u32   (how many environment variables wasi:cli/environment gives it)
;; With the depending component's configuration inherited it sees that component's
;; environment; without (Spin's default), none.
(component
  (import "wasi:cli/environment@0.2.0" (instance $env
    (export "get-environment" (func (result (list (tuple string string)))))))
  (core module $mm
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (if (i32.gt_u (global.get $bump) (i32.const 65536)) (then unreachable))
      (local.get $p)))
  (core instance $mi (instantiate $mm))
  (alias core export $mi "mem" (core memory $mem))
  (alias core export $mi "realloc" (core func $realloc))
  (alias export $env "get-environment" (func $get-env))
  (core func $ge (canon lower (func $get-env) (memory $mem) (realloc $realloc)))
  (core module $m
    (import "env" "get-environment" (func $ge (param i32)))
    (import "env" "mem" (memory 1))
    (func (export "count") (result i32)
      (call $ge (i32.const 8))
      (i32.load (i32.const 12))))
  (core instance $shim (export "get-environment" (func $ge)) (export "mem" (memory $mem)))
  (core instance $i (instantiate $m (with "env" (instance $shim))))
  (func $count (result u32) (canon lift (core func $i "count")))
  (instance $api (export "count" (func $count)))
  (export "kiln:test/env@0.1.0" (instance $api))
)
