/* fuzz_component.c — libFuzzer target for the component reader and validator: any bytes
 * must either read into a component whose index spaces can be walked and freed, or fail
 * with a "fuzz.wasm: …" error; never crash, leak or read out of bounds.
 *
 * Built by tests/fuzz/fuzz.mk with the sources listed on the "fuzz-sources:" lines. */
// fuzz-sources: src/component/reader.c src/component/validate.c src/component/names.c
// fuzz-sources: src/component/model.c src/component/canon.c src/component/validate_inst.c
// fuzz-sources: src/engine/wasm_reader.c src/util/alloc.c src/util/buf.c src/util/leb.c
#include "component/reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Touches every entry of every index space and every import/export (exercising the
 * resolved pointers) and returns a checksum so the work cannot be optimized away. */
static size_t walk(const kiln_component *c)
{
    size_t sum = 0;
    for (int s = 0; s < KILN_CSORT_COUNT; s++)
        for (uint32_t i = 0; i < c->spaces[s].n; i++) {
            const kiln_ctype *t = c->spaces[s].types[i];
            if (t) sum += (size_t)t->kind + t->size + t->nexports;
        }
    for (uint32_t i = 0; i < c->type->nimports; i++)
        sum += strlen(c->type->imports[i].name);
    for (uint32_t i = 0; i < c->type->nexports; i++)
        sum += strlen(c->type->exports[i].name);
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_CORE_MODULE) sum += d->module.bytes[d->module.len - 1];
        if (d->kind == KILN_CDEF_COMPONENT) sum += walk(d->component);
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
    kiln_component *c = kiln_component_read(copy, size, "fuzz.wasm", err, sizeof err);
    if (c) {
        volatile size_t sum = walk(c);
        (void)sum;
        kiln_component_free(c);
    } else if (strncmp(err, "fuzz.wasm: ", 11) != 0) {
        abort();
    }
    free(copy);
    return 0;
}
