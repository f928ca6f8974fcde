;; Names that would be C if copied into generated code (wasm2c puts export and import
;; names into C comments unescaped). Kiln never lets wasm2c see them: this must load and
;; run like any module, and the names must still be found by their exact bytes.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "*/ #error injected /*") (result i32) (i32.const 7))
  (func (export "\n#error injected\n") (result i32) (i32.const 8))
  (func (export "_start") (call $exit (i32.const 5))))
