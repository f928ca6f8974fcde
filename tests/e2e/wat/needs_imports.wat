;; Imports that Kiln does not provide: loading must list each one and compile nothing.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "magic" (func (param i64) (result f32)))
  (import "wasi_snapshot_preview1" "no_such_call" (func))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i64)))
  (func (export "_start")))
