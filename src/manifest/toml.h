/* toml.h — Kiln's TOML 1.0 parser and the read-only tree it produces.
 *
 * Design: kiln_toml_parse() reads a whole document (bytes as they are: UTF-8 is
 * validated, CRLF accepted) into a tree of kiln_toml_value nodes owned by the root.
 * Every node and every table key remembers where it was written (1-based line and
 * column, columns counted in characters), so that later layers (the manifest loader)
 * can point their own errors at the exact spot. Tables keep their keys in document order.
 *
 * Errors are one allocated string "FILE:LINE:COL: message", e.g.
 *   kiln.toml:12:8: expected '=' after key "route"
 *
 * The structs are public so that walking the tree is cheap; treat them as read-only.
 * Strings (values and keys) are NUL-terminated and also carry their length, because
 * TOML allows "\u0000" inside them. */
#ifndef KILN_MANIFEST_TOML_H
#define KILN_MANIFEST_TOML_H

#include <stddef.h>
#include <stdint.h>

typedef enum kiln_toml_type {
    KILN_TOML_STRING,
    KILN_TOML_INTEGER,
    KILN_TOML_FLOAT,
    KILN_TOML_BOOL,
    KILN_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    KILN_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
    KILN_TOML_DATE_LOCAL,     /* 1979-05-27 */
    KILN_TOML_TIME_LOCAL,     /* 07:32:00 */
    KILN_TOML_ARRAY,
    KILN_TOML_TABLE,
} kiln_toml_type;

/* A date, a time or both; which fields matter depends on the value's type. */
typedef struct kiln_toml_datetime {
    int year, month, day;
    int hour, minute, second;
    int nanosecond;     /* fractional seconds, truncated to nanoseconds */
    int frac_digits;    /* digits written after '.', at most 9 kept (0: none) */
    int offset_minutes; /* KILN_TOML_DATETIME only; 0 for 'Z' */
    int offset_z;       /* 1 when the offset was written as Z */
} kiln_toml_datetime;

typedef struct kiln_toml_value kiln_toml_value;

/* One key of a table, where it was written, and its value. */
typedef struct kiln_toml_entry {
    char *key;
    size_t key_len;
    int line, col; /* of the key (for dotted keys: of its part that named this entry) */
    kiln_toml_value *value;
} kiln_toml_entry;

struct kiln_toml_value {
    kiln_toml_type type;
    int line, col;  /* where the value starts; for tables made by [headers]: the header */
    unsigned flags; /* parser bookkeeping (KILN_TOML_F_*) */
    union {
        struct {
            char *ptr; /* NUL-terminated */
            size_t len;
        } str;
        int64_t integer;
        double fp;
        int boolean;
        kiln_toml_datetime dt;
        struct {
            kiln_toml_value **items;
            size_t len, cap;
        } array;
        struct {
            kiln_toml_entry *entries; /* document order */
            size_t len, cap;
            size_t *index; /* parser-private hash index of large tables (slot = entry+1) */
            size_t index_cap;
        } table;
    } u;
};

/* Flags the parser leaves on values; useful to tell how a table was written. */
#define KILN_TOML_F_IMPLICIT 1u /* table created only as a prefix of a [header] */
#define KILN_TOML_F_EXPLICIT 2u /* table defined by a [header] or [[header]] */
#define KILN_TOML_F_DOTTED 4u   /* table created by a dotted key (a.b = 1) */
#define KILN_TOML_F_INLINE 8u   /* inline table { ... } (immutable) */
#define KILN_TOML_F_AOT 16u     /* array of tables built by [[header]] */

/* Parses `len` bytes of `src`. On success returns the root table (free it with
 * kiln_toml_free). On failure returns NULL and, when err is not NULL, sets *err to an
 * allocated "FILE:LINE:COL: message" (caller frees with kiln_free); `filename` is only
 * used in messages (NULL means "<input>"). */
kiln_toml_value *kiln_toml_parse(const char *src, size_t len, const char *filename, char **err);

/* Frees a tree returned by kiln_toml_parse (NULL is fine). */
void kiln_toml_free(kiln_toml_value *root);

/* "string", "integer", "float", "boolean", "datetime", ..., "array", "table". */
const char *kiln_toml_type_name(kiln_toml_type t);

/* Table access (v must be a table; NULL/0 otherwise). kiln_toml_get looks a key up by
 * its NUL-terminated name; kiln_toml_get_entry also returns the key's position. */
size_t kiln_toml_table_len(const kiln_toml_value *v);
const kiln_toml_entry *kiln_toml_table_at(const kiln_toml_value *v, size_t i);
const kiln_toml_entry *kiln_toml_get_entry(const kiln_toml_value *v, const char *key);
kiln_toml_value *kiln_toml_get(const kiln_toml_value *v, const char *key);

/* Array access (v must be an array; NULL/0 otherwise). */
size_t kiln_toml_array_len(const kiln_toml_value *v);
kiln_toml_value *kiln_toml_array_at(const kiln_toml_value *v, size_t i);

/* Scalar access: NULL / 0 when the value has another type. */
const char *kiln_toml_str(const kiln_toml_value *v);
int kiln_toml_is(const kiln_toml_value *v, kiln_toml_type t);

/* Writes a datetime value in RFC 3339 form (with 'T', the date, time and offset parts
 * its type has) into out (NUL-terminated, truncated to cap); returns the length written.
 * 40 bytes always suffice. */
size_t kiln_toml_format_datetime(const kiln_toml_value *v, char *out, size_t cap);

#endif
