/* codegen.h — Wasm to C: runs wasm2c and turns its output into one self-contained C file
 * that Kiln's compilers build into a shared object.
 *
 * What Kiln adds to wasm2c's output (its "glue", see codegen.c):
 *  - import trampolines: each import (function or global/memory/table accessor) becomes a
 *    definition that calls through `kiln_glue_imports[k]`, which the loader fills from the
 *    linker, so the shared object has no undefined guest-facing symbols;
 *  - precise traps: memory and table out-of-bounds, null element and type mismatch are
 *    told apart (wasm2c folds them into two codes);
 *  - uniform entry points: kiln_glue_instance_size, kiln_glue_init_module,
 *    kiln_glue_instantiate(inst, ctxs), kiln_glue_free, kiln_glue_calls[] (one trampoline
 *    per exported function taking a kiln_val array), kiln_glue_export_fns[];
 *  - for the fast tier, loads and stores as direct accesses (tcc does not inline the
 *    memcpy-based accessors; the guard pages make bounds checks unnecessary). */
#ifndef KILN_ENGINE_CODEGEN_H
#define KILN_ENGINE_CODEGEN_H

#include "engine/wasm_reader.h"
#include "util/buf.h"

/* Bumped whenever the glue or runtime ABI changes: part of every cache key. */
#define KILN_ABI_VERSION 16

/* The wasm2c module name used for every module (symbols Z_<name>...). */
#define KILN_CODEGEN_MODULE "kmod"

/* Translates the module at wasm_path (already decoded as w) into C. `direct_memory`
 * selects the fast-tier load/store rewrite. Returns 0, or -1 with a message in *err
 * ("out of memory ..." only when an allocation failed; "internal error: ..." when
 * wasm2c's output does not have the shape the glue expects). */
int kiln_codegen(const char *wasm_path, const kiln_wasm *w, int direct_memory, kiln_buf *out,
                 kiln_buf *err);

#endif
