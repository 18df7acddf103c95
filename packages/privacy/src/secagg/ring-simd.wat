;; Z_2^32 vector add/sub with WebAssembly SIMD (i32x4), for ring-simd.ts.
;;
;; The bytes embedded in ring-simd.ts (RING_SIMD_WASM_HEX) are this module; they are produced by
;; the small assembler in ring-simd.asm.ts (no wabt/npm dependency), and ring-simd.test.ts checks
;; that the embedded bytes equal its output. Memory is imported so the host sizes it per use.
;;
;;   add(d, s, n): mem32[d + 4i] += mem32[s + 4i]   for i in [0, n)   (mod 2^32)
;;   sub(d, s, n): mem32[d + 4i] -= mem32[s + 4i]   for i in [0, n)   (mod 2^32)
;;
;; d and s are byte addresses (any alignment works; 16-byte alignment is fastest). Three loops:
;; 4 x v128 per iteration while 16+ elements remain, then 1 x v128, then scalar i32.
(module
  (import "env" "memory" (memory 1))
  (func $add (export "add") (param $d i32) (param $s i32) (param $n i32)
    (local $vend i32) (local $end4 i32) (local $end i32)
    (local.set $end  (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $d) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $d) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $vend)))
      (v128.store offset=0  (local.get $d) (i32x4.add (v128.load offset=0  (local.get $d)) (v128.load offset=0  (local.get $s))))
      (v128.store offset=16 (local.get $d) (i32x4.add (v128.load offset=16 (local.get $d)) (v128.load offset=16 (local.get $s))))
      (v128.store offset=32 (local.get $d) (i32x4.add (v128.load offset=32 (local.get $d)) (v128.load offset=32 (local.get $s))))
      (v128.store offset=48 (local.get $d) (i32x4.add (v128.load offset=48 (local.get $d)) (v128.load offset=48 (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 64)))
      (br 0)))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $end4)))
      (v128.store (local.get $d) (i32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br 0)))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $end)))
      (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.load (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 4)))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (br 0))))
  ;; $sub: the same three loops with i32x4.sub / i32.sub.
  (func $sub (export "sub") (param $d i32) (param $s i32) (param $n i32)
    (local $vend i32) (local $end4 i32) (local $end i32)
    (local.set $end  (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $d) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $d) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $vend)))
      (v128.store offset=0  (local.get $d) (i32x4.sub (v128.load offset=0  (local.get $d)) (v128.load offset=0  (local.get $s))))
      (v128.store offset=16 (local.get $d) (i32x4.sub (v128.load offset=16 (local.get $d)) (v128.load offset=16 (local.get $s))))
      (v128.store offset=32 (local.get $d) (i32x4.sub (v128.load offset=32 (local.get $d)) (v128.load offset=32 (local.get $s))))
      (v128.store offset=48 (local.get $d) (i32x4.sub (v128.load offset=48 (local.get $d)) (v128.load offset=48 (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 64)))
      (br 0)))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $end4)))
      (v128.store (local.get $d) (i32x4.sub (v128.load (local.get $d)) (v128.load (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br 0)))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $d) (local.get $end)))
      (i32.store (local.get $d) (i32.sub (i32.load (local.get $d)) (i32.load (local.get $s))))
      (local.set $d (i32.add (local.get $d) (i32.const 4)))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (br 0)))))
