;; A small component for component-bench (make bench, section 5): three core instances —
;; $Mem owns a memory, a global and a table; $Main imports all three (one memory shared by
;; two core instances) and has a data segment; $Fill fills $Mem's table with $Main's
;; function — and an empty export "noop".
(component
  (core module $Mem
    (type $t (func (result i32)))
    (memory (export "mem") 1)
    (global (export "g") (mut i32) (i32.const 0))
    (table (export "t") 2 funcref)
    (func (export "call0") (result i32) (call_indirect (type $t) (i32.const 0))))
  (core instance $memi (instantiate $Mem))
  (core module $Main
    (import "m" "mem" (memory 1))
    (import "m" "g" (global $g (mut i32)))
    (import "m" "t" (table $t 2 funcref))
    (data (i32.const 200) "hello")
    (func (export "answer") (result i32) (i32.const 42))
    (func (export "noop")))
  (core instance $maini (instantiate $Main (with "m" (instance $memi))))
  (alias core export $maini "answer" (core func $answer))
  (alias core export $memi "t" (core table $tt))
  (core module $Fill
    (import "x" "t" (table 2 funcref))
    (import "x" "f" (func $f (result i32)))
    (elem (i32.const 0) func $f))
  (core instance (instantiate $Fill
    (with "x" (instance (export "t" (table $tt)) (export "f" (func $answer))))))
  (func (export "noop") (canon lift (core func $maini "noop")))
  (func (export "call0") (result u32) (canon lift (core func $memi "call0"))))
