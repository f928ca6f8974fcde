;; A WASI command whose first argument selects a trap (or an exit code), for the
;; engine's end-to-end tests: every trap kind must end in one clear line and exit 134.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 2)
  (table 4 funcref)
  (type $v (func))
  (type $i (func (result i32)))
  (elem (i32.const 0) $ok)
  (func $ok)
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  ;; first byte of argv[1]
  (func $mode (result i32)
    (drop (call $args_sizes (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 16) (i32.const 1024)))
    (if (result i32) (i32.lt_u (i32.load (i32.const 0)) (i32.const 2))
      (then (i32.const 0))
      (else (i32.load8_u (i32.load (i32.const 20))))))
  (func (export "_start") (local $m i32)
    (local.set $m (call $mode))
    (if (i32.eq (local.get $m) (i32.const 117)) (then unreachable))                          ;; u
    (if (i32.eq (local.get $m) (i32.const 109)) (then (drop (i32.load (i32.const 200000))))) ;; m
    (if (i32.eq (local.get $m) (i32.const 100)) (then (drop (i32.div_s (i32.const 1) (i32.const 0))))) ;; d
    (if (i32.eq (local.get $m) (i32.const 111)) (then (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))) ;; o
    (if (i32.eq (local.get $m) (i32.const 99)) (then (drop (i32.trunc_f32_s (f32.const nan))))) ;; c
    (if (i32.eq (local.get $m) (i32.const 116)) (then (call_indirect (type $v) (i32.const 9)))) ;; t
    (if (i32.eq (local.get $m) (i32.const 110)) (then (call_indirect (type $v) (i32.const 1)))) ;; n
    (if (i32.eq (local.get $m) (i32.const 105)) (then (drop (call_indirect (type $i) (i32.const 0))))) ;; i
    (if (i32.eq (local.get $m) (i32.const 115)) (then (drop (call $recurse (i32.const 0))))) ;; s
    (if (i32.eq (local.get $m) (i32.const 103)) ;; g: grow past the maximum returns -1
      (then (call $exit (i32.add (i32.const 10) (memory.grow (i32.const 5))))))
    (if (i32.eq (local.get $m) (i32.const 101)) (then (call $exit (i32.const 42)))) ;; e
    (if (i32.eq (local.get $m) (i32.const 108)) (then (loop $l (br $l))))            ;; l: runaway
    (if (i32.eq (local.get $m) (i32.const 122)) ;; z: sleep 100 s in poll_oneoff
      (then
        ;; subscription at 2048: userdata 0, tag 0 (clock), clock id 1 (monotonic),
        ;; timeout 100e9 ns, precision 0, flags 0 (relative)
        (i64.store (i32.const 2048) (i64.const 0))
        (i32.store8 (i32.const 2056) (i32.const 0))
        (i32.store (i32.const 2064) (i32.const 1))
        (i64.store (i32.const 2072) (i64.const 100000000000))
        (i64.store (i32.const 2080) (i64.const 0))
        (i32.store16 (i32.const 2088) (i32.const 0))
        (drop (call $poll (i32.const 2048) (i32.const 3072) (i32.const 1) (i32.const 4000)))))
  )
)
