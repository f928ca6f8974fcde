;; Seed for fuzz_component: nesting, instantiation, inline exports, resources, aliases.
(component
  (component $c
    (import "x" (func))
    (type $r (resource (rep i32)))
    (export "r" (type $r)))
  (import "f" (func $f))
  (instance $i (instantiate $c (with "x" (func $f))))
  (alias export $i "r" (type $r))
  (type (own $r))
  (core func (canon resource.drop $r))
  (type (tuple u8 s16 u32 s64 f32 f64 char bool string))
  (type (variant (case "a") (case "b" u64)))
  (type (result string (error u8)))
  (type (flags "p" "q"))
  (instance $e (export "g" (func $f)))
  (export "wasi:cli/run@0.2.0" (instance $e)))
