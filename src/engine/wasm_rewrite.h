/* wasm_rewrite.h — the copy of a module that wasm2c translates.
 *
 * Two reasons to give wasm2c a copy rather than the module:
 *  - names: wasm2c copies import and export names into C comments and symbols without
 *    escaping them in comments, so a module could end a comment with an export named
 *    "*\/ ..." and have C of its choosing compiled into Kiln's process. The copy's
 *    import modules are "m<j>" (j: distinct module, in order of appearance), import
 *    fields "f<k>" (k: import index) and exports "e<i>" (i: export index); the glue maps
 *    them back by index;
 *  - what differs between builds of one program is not code: the copy's defined globals
 *    start at zero (unless a lone ref.func), its active data segments are empty passive
 *    ones (memory.init on one traps for a length > 0 and data.drop does nothing, exactly
 *    as for an active segment after instantiation), and none at all (nor a data count
 *    section) when its code names no segment (code_scan.h; wasm2c's time grows with
 *    segments times functions: 32 s for Go's 58,350 segments), its active element segments are
 *    passive ones applied by an appended "init function" each (export "i<k>": table.init
 *    then elem.drop, the spec's own definition of instantiation) and custom sections are
 *    dropped. (The start section stays, for wasm2c to check; codegen.c moves its call
 *    out of wasm2c's instantiate into the glue's kiln_glue_start.) Kiln applies the rest itself
 *    (consts.h), with the module's real values. wasm2c 1.0.32 cannot compile
 *    extended-const initializers (`global.get $__memory_base; i32.const N; i32.add`,
 *    what dynamically linked CPython uses), and two modules that differ only in their
 *    data or global initial values (every componentize-js app: the same SpiderMonkey,
 *    another pre-initialized heap) now give the same copy, hence one cache entry.
 * Segment, function, type, global and export indices of the original stay valid. The
 * init functions come after the module's own functions: Kiln checks the function
 * indices of element segments itself, but an invalid module whose code calls a function
 * index past its own would reach one (wasm2c validates the copy): harmless, as after
 * instantiation an init function's table.init traps on its dropped segment for any
 * count > 0. */
#ifndef KILN_ENGINE_WASM_REWRITE_H
#define KILN_ENGINE_WASM_REWRITE_H

#include "engine/consts.h"
#include "engine/wasm_reader.h"
#include "util/buf.h"

/* What the glue needs to know of the copy beyond the original's declarations. */
typedef struct kiln_rewrite_info {
    uint32_t nelem_inits; /* exports "i0".."i<n-1>": (i32 offset) -> () */
} kiln_rewrite_info;

/* Writes the copy of bytes[0..len) (decoded as w) to *out, and the values moved out of
 * it to a new plan (*plan_out, kiln_init_plan_free). Checks the constant expressions and
 * segment headers wasm2c no longer sees. Returns 0, or -1 with a message in *err. */
int kiln_wasm_rewrite(const uint8_t *bytes, size_t len, const kiln_wasm *w, kiln_buf *out,
                      kiln_init_plan **plan_out, kiln_rewrite_info *info, kiln_buf *err);

/* mod_of[k] = distinct module index of import k (the "m<j>" of the copy); returns the
 * number of distinct modules. */
uint32_t kiln_wasm_import_modules(const kiln_wasm *w, uint32_t *mod_of);

#endif
