/* consts.h — a module's constant expressions and active segments, applied by Kiln.
 *
 * wasm2c compiles a copy of each module from which the values that differ between
 * builds of one program have been moved out (wasm_rewrite.c): defined globals start at
 * zero, active data segments are empty passive ones, active element segments are
 * passive ones that generated "init functions" copy into their table, and the start
 * function is an export. What was moved out is kept here, in a kiln_init_plan, and
 * applied to every instance after wasm2c's instantiate and before the start function
 * (instance.c), in the spec's order:
 *  1. each defined global whose initializer is not a lone ref.func (those stay in the C)
 *     gets the value of its constant expression, in index order;
 *  2. each active element segment, in order: its offset is evaluated and its init
 *     function runs table.init + elem.drop (a trap fails the instantiation);
 *  3. each active data segment, in order: its offset is evaluated, the segment is checked
 *     against the memory's current size (out of bounds: the instantiation traps with
 *     "out of bounds memory access", as the spec's instantiation does) and copied.
 * Constant expressions are those of Wasm 2.0 plus extended-const: i32/i64/f32/f64/v128
 * .const, ref.null, ref.func, global.get of an imported immutable global, and i32/i64
 * add, sub and mul. They are validated when the module is read (kiln_const_check), since
 * wasm2c no longer sees them. */
#ifndef KILN_ENGINE_CONSTS_H
#define KILN_ENGINE_CONSTS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/wasm_reader.h"

/* A byte range of kiln_init_plan.bytes. */
typedef struct kiln_init_span {
    size_t off, len;
} kiln_init_span;

typedef struct kiln_init_global {
    uint32_t index; /* global index (imports included) */
    char type;      /* value letter */
    kiln_init_span expr;
} kiln_init_global;

typedef struct kiln_init_elem {
    uint32_t segment;
    kiln_init_span offset;
} kiln_init_elem;

typedef struct kiln_init_data {
    uint32_t segment, memory;
    kiln_init_span offset, data;
} kiln_init_data;

typedef struct kiln_init_plan {
    uint8_t *bytes; /* the expressions and data payloads, one copy per module */
    size_t len;
    kiln_init_global *globals;
    size_t nglobals;
    kiln_init_elem *elems; /* element k is applied by the glue's init function k */
    size_t nelems;
    kiln_init_data *datas;
    size_t ndatas;
    /* Where imported globals and memories come from: the import index of global i (for
     * i < nglobal_imports) and of memory i (for i < nmemory_imports). */
    uint32_t nglobal_imports, nmemory_imports;
    uint32_t *global_import, *memory_import;
} kiln_init_plan;

void kiln_init_plan_free(kiln_init_plan *p);

/* Validates the constant expression at bytes[*pos..end) up to and including its `end`
 * opcode, which must leave exactly one value of type `expect` (a value letter). Only
 * imported immutable globals (the first nglobal_imports of w's globals) may be read
 * (Wasm 2.0). On success *pos is past the expression and 0 is returned; else -1 with a
 * message in err ("type mismatch", "constant expression required", "unknown global 3"). */
int kiln_const_check(const uint8_t *bytes, size_t end, size_t *pos, const kiln_wasm *w,
                     uint32_t nglobal_imports, char expect, char *err, size_t errlen);

/* Reads global `index` (always an imported one for a checked expression). */
typedef void (*kiln_const_global_fn)(void *ctx, uint32_t index, kiln_val *out);

/* Evaluates a checked expression. Integer arithmetic wraps. */
void kiln_const_eval(const uint8_t *expr, size_t len, kiln_const_global_fn get, void *ctx,
                     kiln_val *out);

#endif
