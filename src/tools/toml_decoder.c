/* toml_decoder.c — reads TOML on stdin and writes toml-test's tagged JSON on stdout.
 *
 * Used by tests/suites/toml.sh against BurntSushi/toml-test: tables become JSON objects,
 * arrays JSON arrays, and every scalar {"type": T, "value": "S"}. Invalid input: the
 * parser's "FILE:LINE:COL: message" on stderr and exit status 1. */
#include "manifest/toml.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Appends the tagged JSON form of v (recursion is bounded by the parser's depth limit). */
static int emit(kiln_buf *b, const kiln_toml_value *v)
{
    char tmp[64];
    switch (v->type) {
    case KILN_TOML_TABLE:
        if (kiln_buf_putc(b, '{')) return -1;
        for (size_t i = 0; i < v->u.table.len; i++) {
            const kiln_toml_entry *e = &v->u.table.entries[i];
            if ((i && kiln_buf_putc(b, ',')) || kiln_json_write_strn(b, e->key, e->key_len) ||
                kiln_buf_putc(b, ':') || emit(b, e->value))
                return -1;
        }
        return kiln_buf_putc(b, '}');
    case KILN_TOML_ARRAY:
        if (kiln_buf_putc(b, '[')) return -1;
        for (size_t i = 0; i < v->u.array.len; i++)
            if ((i && kiln_buf_putc(b, ',')) || emit(b, v->u.array.items[i])) return -1;
        return kiln_buf_putc(b, ']');
    case KILN_TOML_STRING:
        return kiln_buf_puts(b, "{\"type\":\"string\",\"value\":") ||
               kiln_json_write_strn(b, v->u.str.ptr, v->u.str.len) || kiln_buf_putc(b, '}');
    case KILN_TOML_INTEGER:
        return kiln_buf_printf(b, "{\"type\":\"integer\",\"value\":\"%" PRId64 "\"}", v->u.integer);
    case KILN_TOML_FLOAT:
        if (isnan(v->u.fp))
            snprintf(tmp, sizeof tmp, "nan");
        else if (isinf(v->u.fp))
            snprintf(tmp, sizeof tmp, "%sinf", v->u.fp < 0 ? "-" : "");
        else
            snprintf(tmp, sizeof tmp, "%.17g", v->u.fp);
        return kiln_buf_printf(b, "{\"type\":\"float\",\"value\":\"%s\"}", tmp);
    case KILN_TOML_BOOL:
        return kiln_buf_printf(b, "{\"type\":\"bool\",\"value\":\"%s\"}",
                               v->u.boolean ? "true" : "false");
    default: {
        const char *t = v->type == KILN_TOML_DATETIME         ? "datetime"
                        : v->type == KILN_TOML_DATETIME_LOCAL ? "datetime-local"
                        : v->type == KILN_TOML_DATE_LOCAL     ? "date-local"
                                                              : "time-local";
        kiln_toml_format_datetime(v, tmp, sizeof tmp);
        return kiln_buf_printf(b, "{\"type\":\"%s\",\"value\":\"%s\"}", t, tmp);
    }
    }
}

int main(void)
{
    kiln_buf in = KILN_BUF_INIT, out = KILN_BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(0, chunk, sizeof chunk);
        if (n < 0) {
            perror("toml-decoder: read");
            return 2;
        }
        if (n == 0) break;
        if (kiln_buf_append(&in, chunk, (size_t)n)) {
            fprintf(stderr, "toml-decoder: out of memory\n");
            return 2;
        }
    }
    char *err = NULL;
    kiln_toml_value *root = kiln_toml_parse(in.data ? in.data : "", in.len, "<stdin>", &err);
    kiln_buf_free(&in);
    if (!root) {
        fprintf(stderr, "%s\n", err ? err : "out of memory");
        kiln_free(err);
        return 1;
    }
    int rc = emit(&out, root) || kiln_buf_putc(&out, '\n');
    kiln_toml_free(root);
    if (rc) {
        fprintf(stderr, "toml-decoder: out of memory\n");
        kiln_buf_free(&out);
        return 2;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("toml-decoder: write");
        kiln_buf_free(&out);
        return 2;
    }
    kiln_buf_free(&out);
    return 0;
}
