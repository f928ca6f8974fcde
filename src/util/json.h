/* json.h — a small, strict JSON (RFC 8259) parser into a tree, and the one JSON string
 * writer every JSON producer in Kiln uses (kiln_json_write_str).
 *
 * Accepted: objects, arrays, strings (every escape, \u escapes including surrogate
 * pairs; raw input must be valid UTF-8), numbers (kept as their source text and as a
 * double), true, false, null. Rejected: trailing commas, comments, leading zeros, lone
 * surrogates, control characters inside strings, anything after the top-level value,
 * nesting deeper than KILN_JSON_MAX_DEPTH. Duplicate object keys are kept in order;
 * kiln_json_get returns the first.
 *
 * Strings may contain NUL (from \u0000): `len` is authoritative, `str` is also
 * NUL-terminated for convenience. All storage comes from util/alloc.h; a NULL return
 * always means failure (the reason is written to `err`). */
#ifndef KILN_UTIL_JSON_H
#define KILN_UTIL_JSON_H

#include <stddef.h>

#include "util/buf.h"

#define KILN_JSON_MAX_DEPTH 512

typedef enum kiln_json_type {
    KILN_JSON_NULL = 0,
    KILN_JSON_BOOL,
    KILN_JSON_NUMBER,
    KILN_JSON_STRING,
    KILN_JSON_ARRAY,
    KILN_JSON_OBJECT,
} kiln_json_type;

typedef struct kiln_json kiln_json;

typedef struct kiln_json_member {
    char *key; /* NUL-terminated; may contain NUL, see key_len */
    size_t key_len;
    kiln_json *value;
} kiln_json_member;

struct kiln_json {
    kiln_json_type type;
    int boolean;               /* BOOL: 0 or 1 */
    double number;             /* NUMBER: the value as a double (may be ±inf when out of range) */
    char *str;                 /* STRING: the decoded UTF-8 bytes; NUMBER: the source text */
    size_t len;                /* STRING/NUMBER: bytes in str */
    size_t count;              /* ARRAY: items; OBJECT: members */
    kiln_json **items;         /* ARRAY */
    kiln_json_member *members; /* OBJECT, in source order */
};

/* Parses `len` bytes of JSON text. Returns the tree (free with kiln_json_free) or NULL
 * with a message "line L, column C: problem" in err (when err is not NULL). */
kiln_json *kiln_json_parse(const char *text, size_t len, char *err, size_t errlen);
void kiln_json_free(kiln_json *v);

/* The first member named `key` of an object (NULL if absent or v is not an object). */
const kiln_json *kiln_json_get(const kiln_json *v, const char *key);
/* The string of member `key` when it is a string without NUL bytes; NULL otherwise. */
const char *kiln_json_get_str(const kiln_json *v, const char *key);
/* Item i of an array (NULL if out of range or not an array). */
const kiln_json *kiln_json_at(const kiln_json *v, size_t i);
/* A short name of the type: "null", "bool", "number", "string", "array", "object". */
const char *kiln_json_type_name(kiln_json_type t);

/* Appends the n bytes of s as a quoted JSON string: '"' and '\\' escaped, \n and \t by
 * name, other control characters and DEL as \u00XX; bytes >= 0x80 copied as they are, so
 * valid UTF-8 stays valid (callers with arbitrary bytes check UTF-8 first). 0 or -1 (out
 * of memory). */
int kiln_json_write_strn(kiln_buf *b, const char *s, size_t n);
/* The same for a NUL-terminated s (NULL writes ""). */
int kiln_json_write_str(kiln_buf *b, const char *s);

#endif
