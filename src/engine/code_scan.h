/* code_scan.h — questions answered by walking a module's function bodies, instruction by
 * instruction, without validating them (wasm2c validates what it translates).
 *
 * The walk knows the immediates of the MVP, sign extension, saturating truncation, bulk
 * memory, reference types, tail calls, multiple memories and the atomics (threads); it
 * stops at anything else (SIMD, exceptions, GC, a malformed body) and the answer is then
 * the safe one. */
#ifndef KILN_ENGINE_CODE_SCAN_H
#define KILN_ENGINE_CODE_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Whether the code section whose body is p[start..end) may name a data segment: 0 when
 * the walk read every instruction and none is memory.init or data.drop; 1 when one is,
 * or when the walk stopped at something it does not know. An empty range (no code
 * section) answers 0. */
int kiln_code_names_data(const uint8_t *p, size_t start, size_t end);

/* The same walk, calling on_instr with the offset in p of every instruction it reads
 * (before reading it): how its tests compare the walk with a disassembler's. */
int kiln_code_walk(const uint8_t *p, size_t start, size_t end,
                   void (*on_instr)(void *arg, size_t off), void *arg);

#endif
