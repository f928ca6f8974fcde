;; A WAGI module with entry points of several signatures: `_start` and `handler` are
;; () -> (), `with_param` takes an i32, `two_results` returns two values. kiln up must
;; refuse any trigger whose entrypoint is not () -> (), on every trigger (the generated
;; call passes no arguments and has room for no result).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Content-Type: text/plain\n\nok\n")
  (func $answer
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 29))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (call $answer))
  (func (export "handler") (call $answer))
  (func (export "with_param") (param i32) (call $answer))
  (func (export "two_results") (result i32 i32) (call $answer) (i32.const 1) (i32.const 2)))
