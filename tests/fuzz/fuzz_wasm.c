/* fuzz_wasm.c — libFuzzer target for the core module reader (src/engine/wasm_reader.c)
 * and the copy made for wasm2c (src/engine/wasm_rewrite.c, consts.c): any bytes must
 * either decode into a kiln_wasm whose imports, exports and signatures can be walked and
 * freed, or fail with a message; a decoded module is rewritten (or refused with a
 * message) and every constant expression of the plan evaluated; the bytes are also walked
 * as a code section (code_scan.c); never crash, leak or read out of bounds.
 *
 * Built by tests/fuzz/fuzz.mk with the sources listed on the "fuzz-sources:" line. */
// fuzz-sources: src/engine/wasm_reader.c src/engine/wasm_rewrite.c src/engine/consts.c
// fuzz-sources: src/engine/code_scan.c
// fuzz-sources: src/util/alloc.c src/util/buf.c src/util/leb.c
#include "engine/code_scan.h"
#include "engine/wasm_reader.h"
#include "engine/wasm_rewrite.h"

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

static void zero_global(void *ctx, uint32_t index, kiln_val *out)
{
    (void)ctx;
    (void)index;
    memset(out, 0, sizeof *out);
}

/* Rewrites a decoded module and evaluates what the plan keeps. */
static void rewrite(const uint8_t *bytes, size_t size, const kiln_wasm *w)
{
    kiln_buf copy = KILN_BUF_INIT, err = KILN_BUF_INIT;
    kiln_init_plan *p = NULL;
    kiln_rewrite_info info;
    if (kiln_wasm_rewrite(bytes, size, w, &copy, &p, &info, &err) == 0) {
        kiln_val v;
        for (size_t i = 0; i < p->nglobals; i++)
            kiln_const_eval(p->bytes + p->globals[i].expr.off, p->globals[i].expr.len, zero_global,
                            NULL, &v);
        for (size_t i = 0; i < p->nelems; i++)
            kiln_const_eval(p->bytes + p->elems[i].offset.off, p->elems[i].offset.len, zero_global,
                            NULL, &v);
        for (size_t i = 0; i < p->ndatas; i++)
            kiln_const_eval(p->bytes + p->datas[i].offset.off, p->datas[i].offset.len, zero_global,
                            NULL, &v);
        kiln_init_plan_free(p);
    } else if (err.len == 0) {
        abort(); /* a failure must say why */
    }
    kiln_buf_free(&copy);
    kiln_buf_free(&err);
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
    volatile int names = kiln_code_names_data(copy, 0, size);
    (void)names;
    if (w) {
        volatile size_t sum = walk(w);
        (void)sum;
        rewrite(copy, size, w);
        kiln_wasm_free(w);
    } else if (err[0] == 0) {
        abort(); /* a failure must say why */
    }
    free(copy);
    return 0;
}
