;; A dependency exporting a resource: kiln:test/counter@0.1.0 with
;;   resource counter { constructor(); inc: func() -> u32; }
;; Each counter is a u32 cell in the dependency's memory, its rep the cell's address; the
;; depending component holds own handles of a resource type another component defines.
(component
  (type $counter (resource (rep i32)))
  (core func $new (canon resource.new $counter))
  (core module $m
    (import "r" "new" (func $new (param i32) (result i32)))
    (memory 1)
    (global $next (mut i32) (i32.const 4))
    ;; each counter is a u32 cell in memory; its rep is the cell's address
    (func (export "ctor") (result i32)
      (local $p i32)
      (local.set $p (global.get $next))
      (global.set $next (i32.add (global.get $next) (i32.const 4)))
      (call $new (local.get $p)))
    (func (export "inc") (param $rep i32) (result i32)
      (i32.store (local.get $rep) (i32.add (i32.load (local.get $rep)) (i32.const 1)))
      (i32.load (local.get $rep))))
  (core instance $r (export "new" (func $new)))
  (core instance $i (instantiate $m (with "r" (instance $r))))
  (func $ctor (result (own $counter)) (canon lift (core func $i "ctor")))
  (func $inc (param "self" (borrow $counter)) (result u32) (canon lift (core func $i "inc")))
  (component $api
    (import "counter-impl" (type $c (sub resource)))
    (import "ctor" (func $ctor (result (own $c))))
    (import "inc" (func $inc (param "self" (borrow $c)) (result u32)))
    (export $ce "counter" (type $c))
    (export "[constructor]counter" (func $ctor) (func (result (own $ce))))
    (export "[method]counter.inc" (func $inc) (func (param "self" (borrow $ce)) (result u32))))
  (instance $inst (instantiate $api
    (with "counter-impl" (type $counter)) (with "ctor" (func $ctor)) (with "inc" (func $inc))))
  (export "kiln:test/counter@0.1.0" (instance $inst))
)
