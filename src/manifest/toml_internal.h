/* toml_internal.h — what toml.c and toml_lex.c share: the parser state and the cursor
 * helpers. Not part of the public API (see toml.h). */
#ifndef KILN_MANIFEST_TOML_INTERNAL_H
#define KILN_MANIFEST_TOML_INTERNAL_H

#include "manifest/toml.h"
#include "util/buf.h"

#include <stddef.h>

typedef struct toml_parser {
    const char *src;
    size_t len, pos;
    int line, col; /* of src[pos], 1-based; columns count characters */
    const char *filename;
    char *err;  /* first error, "FILE:LINE:COL: message" */
    int failed; /* an error happened (err may be NULL when out of memory) */
    kiln_toml_value *root;
    kiln_toml_value *cur; /* table that key/value lines go to */
    int cur_depth;        /* tree depth of cur */
} toml_parser;

kiln_toml_value *toml_new_value(kiln_toml_type t, int line, int col);
int toml_peek(const toml_parser *p, size_t k);
void toml_advance(toml_parser *p);
void toml_skip_ws(toml_parser *p);
const char *toml_describe(const toml_parser *p, char out[16]);
int toml_oom(toml_parser *p);
int toml_error(toml_parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* At a quote: parses a basic or literal string (multi-line ones when allowed) and
 * appends its decoded bytes to out. Returns 0 or -1 (error recorded in p). */
int toml_parse_string(toml_parser *p, kiln_buf *out, int allow_multiline);

/* At a sign, digit, 'i' or 'n': parses an integer, float, or date/time into *out. */
int toml_parse_scalar(toml_parser *p, kiln_toml_value **out);

#endif
