/* fuzz_wasm.c — libFuzzer target for the core module reader (src/engine/wasm_reader.c):
 * any bytes must either decode into a kiln_wasm whose imports, exports and signatures can
 * be walked and freed, or fail with a message; never crash, leak or read out of bounds.
 *
 * Built by tests/fuzz/fuzz.mk with the sources listed on the "fuzz-sources:" line. */
// fuzz-sources: src/engine/wasm_reader.c src/util/alloc.c src/util/buf.c src/util/leb.c
#include "engine/wasm_reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t walk(const kiln_wasm *w)
{
    size_t sum = 0;
    for (uint32_t i = 0; i < w->ntypes; i++)
        sum += strlen(w->types[i]);
    for (uint32_t i = 0; i < w->nimports; i++)
        sum += w->imports[i].module_len + w->imports[i].name_len +
               (w->imports[i].type ? strlen(w->imports[i].type) : 0);
    for (uint32_t i = 0; i < w->nexports; i++)
        sum += w->exports[i].name_len + (w->exports[i].type ? strlen(w->exports[i].type) : 0);
    for (uint32_t i = 0; i < w->nfuncs; i++) {
        const char *sig = kiln_wasm_func_sig(w, i);
        if (sig) sum += strlen(sig);
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy so that reads past the end are caught by ASan */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    char err[512];
    err[0] = 0;
    kiln_wasm *w = kiln_wasm_read(copy, size, err, sizeof err);
    if (w) {
        volatile size_t sum = walk(w);
        (void)sum;
        kiln_wasm_free(w);
    } else if (err[0] == 0) {
        abort(); /* a failure must say why */
    }
    free(copy);
    return 0;
}
