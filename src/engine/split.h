/* split.h — the opt tier's generated C cut into translation units compiled in parallel.
 *
 * A runtime-sized module (a JavaScript component carries SpiderMonkey) gives over 100 MiB
 * of C in one file; one cc process on it takes tens of minutes and gigabytes. The split
 * cuts that file into parts that separate cc processes compile concurrently (compiler.c),
 * each bounded in size, then linked into one shared object.
 *
 * The input is codegen.c's output: wasm2c's text plus Kiln's glue. Its shape:
 *   prefix   includes, macros, static inline helpers, types, module-level static data
 *            (func_types, data and element segments), forward declarations of the wasm
 *            functions (`static T w2c_NAME(...);`), init_* helpers;
 *   bodies   one definition per wasm function: a column-0 line `static T w2c_NAME(...) {`
 *            through the next line that is exactly `}`;
 *   tail     exports, init/instantiate, Kiln's glue.
 * The split makes what the parts share visible across them, hidden in the shared object:
 *   - every `static` w2c_ function declaration and definition loses `static` and gains
 *     hidden visibility (other static functions, e.g. wasm2c's helpers, stay per part);
 *   - every column-0 `static` data definition of the prefix becomes a hidden global in
 *     part 0 and an `extern` declaration (no initializer) in the common header.
 * Part 0 is the whole text with the bodies of the other parts removed; part k > 0 is the
 * common header (the prefix so rewritten) followed by its bodies. Bodies go to the part
 * with the least text so far, so every part is about the same size. */
#ifndef KILN_ENGINE_SPLIT_H
#define KILN_ENGINE_SPLIT_H

#include "util/buf.h"

#include <stddef.h>

/* The scheme's name, part of the cache key (compiler.c's identity). */
#define KILN_SPLIT_SCHEME "split-v1"

/* Cuts `src` (len bytes, codegen.c's output) into `nparts` >= 2 translation units,
 * parts[0..nparts-1] (each initialised by the caller, filled here). Returns 0; 1 when the
 * text does not have the expected shape (no function bodies; the parts are then empty and
 * the caller compiles the text whole); -1 when out of memory. */
int kiln_split_c(const char *src, size_t len, size_t nparts, kiln_buf *parts);

#endif
