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
 *  - what Kiln's own part of instantiation needs (consts.h): kiln_glue_global_offsets[]
 *    (where each defined global lives in the instance struct), kiln_glue_start and
 *    kiln_glue_elem_init(inst, k, offset) (the copy's start function and element init
 *    functions, wasm_rewrite.h);
 *  - for the fast tier, loads and stores as direct accesses (tcc does not inline the
 *    memcpy-based accessors);
 *  - two variants of memory checking (kiln_mem_checks, part of the cache key): "guard"
 *    compiles no bounds checks (the 8 GiB guard reservations catch every out-of-bounds
 *    access), "bounds" checks every load and store against mem->size (wasm2c's RANGE_CHECK,
 *    and a checked form of the fast tier's direct accesses; for cc, each function keeps
 *    its memories' base and size in locals, the size re-read after calls) and allocates
 *    its memories with kiln_rt_allocate_memory_bounds (reservations sized to the
 *    memory's limit). */
#ifndef KILN_ENGINE_CODEGEN_H
#define KILN_ENGINE_CODEGEN_H

#include "engine/runtime.h"
#include "engine/wasm_reader.h"
#include "engine/wasm_rewrite.h"
#include "util/buf.h"

/* Bumped whenever the glue or runtime ABI changes: part of every cache key. */
#define KILN_ABI_VERSION 20

/* The wasm2c module name used for every module (symbols Z_<name>...). */
#define KILN_CODEGEN_MODULE "kmod"

/* Translates wasm[0..len) — the copy made by kiln_wasm_rewrite (wasm_rewrite.h), whose
 * info it takes — into C; w is the *original* module decoded (its imports, exports and
 * globals are the copy's, by index). `direct_memory` selects the fast-tier load/store
 * rewrite; `checks` the variant (GUARD or BOUNDS; AUTO is taken as GUARD). Returns 0, or
 * -1 with a message in *err ("out of memory ..." only when an allocation failed;
 * "internal error: ..." when wasm2c's output does not have the shape the glue expects). */
int kiln_codegen(const uint8_t *wasm, size_t len, const kiln_wasm *w, const kiln_rewrite_info *info,
                 int direct_memory, kiln_mem_checks checks, kiln_buf *out, kiln_buf *err);

#endif
