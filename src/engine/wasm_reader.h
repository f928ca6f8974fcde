/* wasm_reader.h — decodes the structure of a WebAssembly binary module.
 *
 * The reader checks the envelope (magic, version, section order and sizes, LEB128
 * encodings) and decodes what the engine needs before compiling: types, imports,
 * function/table/memory/global declarations and exports, each with its type. Function
 * bodies are not validated here: wasm2c validates them when it translates the module.
 * Everything decoded lives in one arena owned by the kiln_wasm; kiln_wasm_free frees it. */
#ifndef KILN_ENGINE_WASM_READER_H
#define KILN_ENGINE_WASM_READER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/host.h"

/* Value type letters used in signature strings: i32 'i', i64 'j', f32 'f', f64 'd',
 * v128 'o', funcref 'r', externref 'e'. */
char kiln_wasm_valtype_letter(uint8_t code);

typedef struct kiln_wasm_limits {
    uint64_t min, max;
    int has_max;
} kiln_wasm_limits;

typedef struct kiln_wasm_import {
    char *module, *name; /* NUL-terminated copies; names may contain NUL (see *_len) */
    size_t module_len, name_len;
    kiln_extern_kind kind;
    uint32_t type_index;     /* functions */
    char reftype;            /* tables: 'r' or 'e' */
    kiln_wasm_limits limits; /* tables, memories */
    char valtype;            /* globals */
    int mut;                 /* globals */
    char *type;              /* textual type (see engine.h kiln_import.type) */
} kiln_wasm_import;

typedef struct kiln_wasm_export {
    char *name; /* may contain NUL: name_len is authoritative */
    size_t name_len;
    kiln_extern_kind kind;
    uint32_t index;
    char *type; /* functions "ij:f"; globals "mut i"; tables "r 1 -"; memories "1 2" */
} kiln_wasm_export;

typedef struct kiln_wasm {
    uint32_t ntypes;
    char **types; /* "params:results" */
    uint32_t nimports;
    kiln_wasm_import *imports;
    uint32_t nfuncs; /* imported + defined */
    uint32_t *func_types;
    uint32_t nfunc_imports;
    uint32_t ntables, nmemories, nglobals; /* imported + defined */
    char *global_types;                    /* per global: value letter */
    char **table_types;                    /* per table: "r 1 -" (reftype, min, max) */
    char **memory_types;                   /* per memory: "1 2" (min, max or -) */
    uint8_t *global_mut;
    uint32_t nexports;
    kiln_wasm_export *exports;
    int has_start;
    uint32_t start;
    int uses_simd_types; /* a v128 appears in a type or global */
} kiln_wasm;

/* Decodes bytes[0..len). Returns NULL with a message in err (size errlen) naming the
 * problem and its byte offset. */
kiln_wasm *kiln_wasm_read(const uint8_t *bytes, size_t len, char *err, size_t errlen);
void kiln_wasm_free(kiln_wasm *w);

/* The signature string of function `func_index` (imported or defined), or NULL. */
const char *kiln_wasm_func_sig(const kiln_wasm *w, uint32_t func_index);

#endif
