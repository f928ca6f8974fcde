/* fuzz_toml.c — libFuzzer target for the TOML parser: any bytes must either parse into
 * a tree that can be walked and freed, or fail with a "FILE:LINE:COL: message" error;
 * never crash, leak or read out of bounds.
 *
 * Built by tests/fuzz/fuzz.mk with the sources listed on the "fuzz-sources:" line. */
// fuzz-sources: src/manifest/toml.c src/manifest/toml_lex.c src/util/alloc.c src/util/buf.c
#include "manifest/toml.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Visits every value (exercising the read API) and returns a checksum so the work
 * cannot be optimized away. */
static size_t walk(const kiln_toml_value *v)
{
    size_t sum = (size_t)v->line + (size_t)v->col;
    char buf[64];
    switch (v->type) {
    case KILN_TOML_TABLE:
        for (size_t i = 0; i < kiln_toml_table_len(v); i++) {
            const kiln_toml_entry *e = kiln_toml_table_at(v, i);
            if (kiln_toml_get(v, e->key) == NULL && strlen(e->key) == e->key_len) abort();
            sum += e->key_len + walk(e->value);
        }
        break;
    case KILN_TOML_ARRAY:
        for (size_t i = 0; i < kiln_toml_array_len(v); i++)
            sum += walk(kiln_toml_array_at(v, i));
        break;
    case KILN_TOML_STRING:
        if (v->u.str.ptr[v->u.str.len] != '\0') abort();
        sum += v->u.str.len;
        break;
    case KILN_TOML_DATETIME:
    case KILN_TOML_DATETIME_LOCAL:
    case KILN_TOML_DATE_LOCAL:
    case KILN_TOML_TIME_LOCAL:
        sum += kiln_toml_format_datetime(v, buf, sizeof buf);
        break;
    default:
        break;
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy so that reads past the end are caught by ASan */
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    char *err = NULL;
    kiln_toml_value *root = kiln_toml_parse(copy, size, "fuzz.toml", &err);
    if (root) {
        volatile size_t sum = walk(root);
        (void)sum;
        kiln_toml_free(root);
    } else if (err && strncmp(err, "fuzz.toml:", 10) != 0) {
        abort();
    }
    kiln_free(err);
    free(copy);
    return 0;
}
