/* fuzz_manifest.c — libFuzzer target for the manifest loader: any bytes loaded as a
 * manifest must give a model or a list of diagnostics; never a crash or a leak.
 *
 * Built by tests/fuzz/fuzz.mk with the sources listed on the "fuzz-sources:" lines. */
// fuzz-sources: src/util/units.c src/manifest/manifest.c src/manifest/manifest_load.c
// fuzz-sources: src/manifest/manifest_files.c src/manifest/toml.c src/manifest/toml_lex.c
// fuzz-sources: src/util/alloc.c src/util/buf.c
// fuzz-sources: src/manifest/manifest_v1.c src/manifest/manifest_spin3.c
#include "manifest/manifest.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load_text(copy, size, "/nonexistent-kiln-fuzz/kiln.toml", &d);
    if (m && d.errors) abort();
    if (!m && !d.errors) abort();
    if (m) {
        for (size_t i = 0; i < m->triggers_len; i++) {
            const kiln_trigger *t = &m->triggers[i];
            if (t->component >= (long)m->components_len) abort();
            if (!t->is_private && t->route && t->route[0] != '/') abort();
        }
    }
    kiln_manifest_free(m);
    kiln_diags_free(&d);
    free(copy);
    return 0;
}
