/* toml.c — a TOML 1.0 parser (see toml.h).
 *
 * One recursive-descent pass over the bytes, after a UTF-8 check of the whole input.
 * The parser keeps a cursor with line/column, builds the tree as it goes and stops at
 * the first error, which it reports with the position where it was detected.
 *
 * Table rules of TOML 1.0 are enforced with flags on each table:
 *  - IMPLICIT: created as a prefix of a [header]; a later [header] may define it once.
 *  - EXPLICIT: defined by a header; cannot be defined again.
 *  - DOTTED:   created by a dotted key; only dotted keys may add to it, and a [header]
 *              may create sub-tables below it but not define it.
 *  - INLINE:   inline table; nothing may be added to it afterwards.
 * Arrays built by [[header]] carry AOT; value arrays cannot be extended by headers. */
#include "manifest/toml.h"
#include "manifest/toml_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest tree the parser builds (tables, arrays, dotted-key levels together). Keeps
 * recursion in the parser, in kiln_toml_free and in consumers bounded. */
#define MAX_DEPTH 200

/* One part of a (possibly dotted) key. */
typedef struct keypart {
    char *s;
    size_t len;
    int line, col;
} keypart;

typedef struct keypath {
    keypart *parts;
    size_t n, cap;
} keypath;

/* ---- tree helpers ---------------------------------------------------------------- */

kiln_toml_value *toml_new_value(kiln_toml_type t, int line, int col)
{
    kiln_toml_value *v = kiln_calloc(1, sizeof *v);
    if (!v) return NULL;
    v->type = t;
    v->line = line;
    v->col = col;
    return v;
}

void kiln_toml_free(kiln_toml_value *v)
{
    if (!v) return;
    switch (v->type) {
    case KILN_TOML_STRING:
        kiln_free(v->u.str.ptr);
        break;
    case KILN_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++)
            kiln_toml_free(v->u.array.items[i]);
        kiln_free(v->u.array.items);
        break;
    case KILN_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.len; i++) {
            kiln_free(v->u.table.entries[i].key);
            kiln_toml_free(v->u.table.entries[i].value);
        }
        kiln_free(v->u.table.entries);
        kiln_free(v->u.table.index);
        break;
    default:
        break;
    }
    kiln_free(v);
}

/* The type name with its article ("an integer", "a string"), for messages. */
static const char *a_type_name(kiln_toml_type t)
{
    switch (t) {
    case KILN_TOML_INTEGER:
        return "an integer";
    case KILN_TOML_ARRAY:
        return "an array";
    case KILN_TOML_STRING:
        return "a string";
    case KILN_TOML_FLOAT:
        return "a float";
    case KILN_TOML_BOOL:
        return "a boolean";
    case KILN_TOML_TABLE:
        return "a table";
    default:
        return "a date/time";
    }
}

/* Appends `item` to array `a`; returns -1 when memory runs out (item not taken). */
static int array_push(kiln_toml_value *a, kiln_toml_value *item)
{
    if (a->u.array.len == a->u.array.cap) {
        size_t cap = a->u.array.cap ? a->u.array.cap * 2 : 4;
        kiln_toml_value **n = kiln_realloc(a->u.array.items, cap * sizeof *n);
        if (!n) return -1;
        a->u.array.items = n;
        a->u.array.cap = cap;
    }
    a->u.array.items[a->u.array.len++] = item;
    return 0;
}

/* Tables with more entries than this get a hash index, so that big documents do not
 * make key lookups quadratic. */
#define INDEX_MIN 16

/* FNV-1a hash of a key. */
static size_t key_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return (size_t)h;
}

/* Puts entry number i of t into its hash index (which has room). */
static void index_insert(kiln_toml_value *t, size_t i)
{
    const kiln_toml_entry *e = &t->u.table.entries[i];
    size_t mask = t->u.table.index_cap - 1;
    size_t slot = key_hash(e->key, e->key_len) & mask;
    while (t->u.table.index[slot])
        slot = (slot + 1) & mask;
    t->u.table.index[slot] = i + 1;
}

/* Keeps the hash index of t up to date after entry number i was appended. The index is
 * only an accelerator: when memory runs out it is dropped and lookups go linear. */
static void index_added(kiln_toml_value *t, size_t i)
{
    size_t len = t->u.table.len;
    if (len <= INDEX_MIN) return;
    if (t->u.table.index && len * 2 <= t->u.table.index_cap) {
        index_insert(t, i);
        return;
    }
    size_t cap = 64;
    while (cap < len * 4)
        cap *= 2;
    kiln_free(t->u.table.index);
    t->u.table.index = kiln_calloc(cap, sizeof *t->u.table.index);
    t->u.table.index_cap = t->u.table.index ? cap : 0;
    if (!t->u.table.index) return;
    for (size_t k = 0; k < len; k++)
        index_insert(t, k);
}

/* Finds key (key,len) in table t; NULL when absent. */
static kiln_toml_entry *table_find(const kiln_toml_value *t, const char *key, size_t len)
{
    if (t->u.table.index) {
        size_t mask = t->u.table.index_cap - 1;
        for (size_t slot = key_hash(key, len) & mask; t->u.table.index[slot];
             slot = (slot + 1) & mask) {
            kiln_toml_entry *e = &t->u.table.entries[t->u.table.index[slot] - 1];
            if (e->key_len == len && memcmp(e->key, key, len) == 0) return e;
        }
        return NULL;
    }
    for (size_t i = 0; i < t->u.table.len; i++) {
        kiln_toml_entry *e = &t->u.table.entries[i];
        if (e->key_len == len && memcmp(e->key, key, len) == 0) return e;
    }
    return NULL;
}

/* Adds key -> value to table t (the key must be absent). Copies the key; the value is
 * taken only on success. Returns -1 when memory runs out. */
static int table_add(kiln_toml_value *t, const keypart *k, kiln_toml_value *value)
{
    if (t->u.table.len == t->u.table.cap) {
        size_t cap = t->u.table.cap ? t->u.table.cap * 2 : 4;
        kiln_toml_entry *n = kiln_realloc(t->u.table.entries, cap * sizeof *n);
        if (!n) return -1;
        t->u.table.entries = n;
        t->u.table.cap = cap;
    }
    char *key = kiln_strndup(k->s, k->len);
    if (!key) return -1;
    kiln_toml_entry *e = &t->u.table.entries[t->u.table.len++];
    e->key = key;
    e->key_len = k->len;
    e->line = k->line;
    e->col = k->col;
    e->value = value;
    index_added(t, t->u.table.len - 1);
    return 0;
}

/* ---- cursor and errors ----------------------------------------------------------- */

/* Sets the parser's error (the first one wins) at line:col and returns -1. */
int toml_error(toml_parser *p, int line, int col, const char *fmt, ...)
{
    if (p->err || p->failed) return -1;
    p->failed = 1;
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    if (kiln_buf_printf(&b, "%s:%d:%d: ", p->filename, line, col) == 0 &&
        kiln_buf_vprintf(&b, fmt, ap) == 0)
        p->err = kiln_buf_steal(&b);
    else
        kiln_buf_free(&b);
    va_end(ap);
    return -1;
}

#define perr(p, ...) toml_error((p), (p)->line, (p)->col, __VA_ARGS__)

int toml_oom(toml_parser *p)
{
    return perr(p, "out of memory");
}

/* The byte under the cursor (or k bytes ahead), -1 at the end of input. */
int toml_peek(const toml_parser *p, size_t k)
{
    if (p->pos + k >= p->len) return -1;
    return (unsigned char)p->src[p->pos + k];
}

/* Moves the cursor one byte on, keeping line and column (in characters) up to date. */
void toml_advance(toml_parser *p)
{
    if (p->pos >= p->len) return;
    unsigned char c = (unsigned char)p->src[p->pos++];
    if (c == '\n') {
        p->line++;
        p->col = 1;
    } else if (p->pos >= p->len || ((unsigned char)p->src[p->pos] & 0xC0) != 0x80) {
        p->col++;
    }
}

/* Describes the character under the cursor for error messages (static storage is not
 * used: the caller passes a small buffer that always fits). */
const char *toml_describe(const toml_parser *p, char out[16])
{
    int c = toml_peek(p, 0);
    if (c < 0) return "end of file";
    if (c == '\n' || (c == '\r' && toml_peek(p, 1) == '\n')) return "end of line";
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, 16, "'%c'", c);
    else if (c == ' ')
        return "a space";
    else if (c == '\t')
        return "a tab";
    else
        snprintf(out, 16, "byte 0x%02X", (unsigned)c);
    return out;
}

/* Skips spaces and tabs. */
void toml_skip_ws(toml_parser *p)
{
    int c;
    while ((c = toml_peek(p, 0)) == ' ' || c == '\t')
        toml_advance(p);
}

/* At '#': skips the comment up to (not including) the end of line. Control characters
 * other than tab are not allowed in comments. */
static int skip_comment(toml_parser *p)
{
    int c;
    while ((c = toml_peek(p, 0)) >= 0 && c != '\n') {
        if (c == '\r' && toml_peek(p, 1) == '\n') break;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return perr(p, "control character U+%04X is not allowed in a comment", c);
        toml_advance(p);
    }
    return 0;
}

/* If the cursor is at a newline (LF or CRLF), consumes it and returns 1. */
static int eat_newline(toml_parser *p)
{
    int c = toml_peek(p, 0);
    if (c == '\n') {
        toml_advance(p);
        return 1;
    }
    if (c == '\r' && toml_peek(p, 1) == '\n') {
        toml_advance(p);
        toml_advance(p);
        return 1;
    }
    return 0;
}

/* Skips whitespace, comments and newlines (inside arrays). */
static int skip_ws_nl(toml_parser *p)
{
    for (;;) {
        toml_skip_ws(p);
        int c = toml_peek(p, 0);
        if (c == '#') {
            if (skip_comment(p)) return -1;
        } else if (!eat_newline(p)) {
            return 0;
        }
    }
}

/* After an expression: optional whitespace and comment, then a newline or the end. */
static int expect_eol(toml_parser *p, const char *after)
{
    toml_skip_ws(p);
    if (toml_peek(p, 0) == '#' && skip_comment(p)) return -1;
    if (toml_peek(p, 0) < 0 || eat_newline(p)) return 0;
    char d[16];
    return perr(p, "expected a newline after %s, found %s", after, toml_describe(p, d));
}

/* ---- keys ------------------------------------------------------------------------- */

static void keypath_free(keypath *k)
{
    for (size_t i = 0; i < k->n; i++)
        kiln_free(k->parts[i].s);
    kiln_free(k->parts);
    k->parts = NULL;
    k->n = k->cap = 0;
}

static int is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Parses a key (bare, quoted, dotted) into k. */
static int parse_key(toml_parser *p, keypath *k)
{
    for (;;) {
        keypart part = {NULL, 0, p->line, p->col};
        int c = toml_peek(p, 0);
        if (c == '"' || c == '\'') {
            if (toml_peek(p, 1) == c && toml_peek(p, 2) == c)
                return perr(p, "multi-line strings cannot be used as keys");
            kiln_buf b = KILN_BUF_INIT;
            if (toml_parse_string(p, &b, 0)) {
                kiln_buf_free(&b);
                return -1;
            }
            part.len = b.len;
            part.s = kiln_buf_steal(&b);
            if (!part.s) return toml_oom(p);
        } else if (is_bare(c)) {
            size_t start = p->pos;
            while (is_bare(toml_peek(p, 0)))
                toml_advance(p);
            part.len = p->pos - start;
            part.s = kiln_strndup(p->src + start, part.len);
            if (!part.s) return toml_oom(p);
        } else {
            char d[16];
            return perr(p, "expected a key, found %s", toml_describe(p, d));
        }
        if (k->n == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 4;
            keypart *n = kiln_realloc(k->parts, cap * sizeof *n);
            if (!n) {
                kiln_free(part.s);
                return toml_oom(p);
            }
            k->parts = n;
            k->cap = cap;
        }
        k->parts[k->n++] = part;
        if (k->n > MAX_DEPTH) return perr(p, "key has too many parts");
        toml_skip_ws(p);
        if (toml_peek(p, 0) != '.') return 0;
        toml_advance(p);
        toml_skip_ws(p);
    }
}

/* Writes the dotted form of parts [0, n) of k into b (for messages). */
static const char *key_name(kiln_buf *b, const keypath *k, size_t n)
{
    kiln_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (i) kiln_buf_putc(b, '.');
        kiln_buf_append(b, k->parts[i].s, k->parts[i].len);
    }
    return b->data ? b->data : "";
}

/* ---- values --------------------------------------------------------------------- */

static int parse_value(toml_parser *p, int depth, kiln_toml_value **out);

/* Stores `val` under dotted key k in table t, creating the intermediate tables as
 * dotted-key tables. Takes ownership of val in every case. */
static int set_keyval(toml_parser *p, kiln_toml_value *t, const keypath *k, kiln_toml_value *val)
{
    kiln_buf name = KILN_BUF_INIT;
    int rc = -1;
    for (size_t i = 0; i + 1 < k->n; i++) {
        kiln_toml_entry *e = table_find(t, k->parts[i].s, k->parts[i].len);
        if (!e) {
            kiln_toml_value *nt =
                toml_new_value(KILN_TOML_TABLE, k->parts[i].line, k->parts[i].col);
            if (!nt || table_add(t, &k->parts[i], nt)) {
                kiln_toml_free(nt);
                toml_oom(p);
                goto out;
            }
            nt->flags = KILN_TOML_F_DOTTED;
            t = nt;
            continue;
        }
        kiln_toml_value *v = e->value;
        if (v->type != KILN_TOML_TABLE) {
            toml_error(p, k->parts[i].line, k->parts[i].col,
                       "cannot use key \"%s\" as a table: it is already %s (line %d)",
                       key_name(&name, k, i + 1), a_type_name(v->type), e->line);
            goto out;
        }
        if (!(v->flags & KILN_TOML_F_DOTTED) || (v->flags & KILN_TOML_F_INLINE)) {
            toml_error(p, k->parts[i].line, k->parts[i].col,
                       "cannot add keys to table \"%s\" defined at line %d",
                       key_name(&name, k, i + 1), v->line);
            goto out;
        }
        t = v;
    }
    const keypart *last = &k->parts[k->n - 1];
    kiln_toml_entry *e = table_find(t, last->s, last->len);
    if (e) {
        toml_error(p, last->line, last->col, "duplicate key \"%s\" (first defined at line %d)",
                   key_name(&name, k, k->n), e->line);
        goto out;
    }
    if (table_add(t, last, val)) {
        toml_oom(p);
        goto out;
    }
    val = NULL;
    rc = 0;
out:
    kiln_toml_free(val);
    kiln_buf_free(&name);
    return rc;
}

/* Parses `key = value` at the cursor and stores it in table t (tree depth `depth`). */
static int parse_keyval(toml_parser *p, kiln_toml_value *t, int depth)
{
    keypath k = {0};
    kiln_toml_value *val = NULL;
    kiln_buf name = KILN_BUF_INIT;
    int rc = -1;
    if (parse_key(p, &k)) goto out;
    toml_skip_ws(p);
    if (toml_peek(p, 0) != '=') {
        char d[16];
        perr(p, "expected '=' after key \"%s\", found %s", key_name(&name, &k, k.n),
             toml_describe(p, d));
        goto out;
    }
    toml_advance(p);
    toml_skip_ws(p);
    if (parse_value(p, depth + (int)k.n, &val)) goto out;
    rc = set_keyval(p, t, &k, val);
out:
    keypath_free(&k);
    kiln_buf_free(&name);
    return rc;
}

/* At '[': parses an array value. */
static int parse_array(toml_parser *p, int depth, kiln_toml_value **out)
{
    kiln_toml_value *a = toml_new_value(KILN_TOML_ARRAY, p->line, p->col);
    if (!a) return toml_oom(p);
    toml_advance(p);
    for (;;) {
        if (skip_ws_nl(p)) goto fail;
        if (toml_peek(p, 0) == ']') break;
        kiln_toml_value *item = NULL;
        if (parse_value(p, depth + 1, &item)) goto fail;
        if (array_push(a, item)) {
            kiln_toml_free(item);
            toml_oom(p);
            goto fail;
        }
        if (skip_ws_nl(p)) goto fail;
        int c = toml_peek(p, 0);
        if (c == ',') {
            toml_advance(p);
            continue;
        }
        if (c == ']') break;
        char d[16];
        perr(p, "expected ',' or ']' in array, found %s", toml_describe(p, d));
        goto fail;
    }
    toml_advance(p);
    *out = a;
    return 0;
fail:
    kiln_toml_free(a);
    return -1;
}

/* At '{': parses an inline table (one line, no trailing comma). */
static int parse_inline_table(toml_parser *p, int depth, kiln_toml_value **out)
{
    kiln_toml_value *t = toml_new_value(KILN_TOML_TABLE, p->line, p->col);
    if (!t) return toml_oom(p);
    toml_advance(p);
    toml_skip_ws(p);
    if (toml_peek(p, 0) == '}') goto done;
    for (;;) {
        toml_skip_ws(p);
        if (toml_peek(p, 0) == '}') {
            perr(p, "trailing comma is not allowed in an inline table");
            goto fail;
        }
        if (parse_keyval(p, t, depth)) goto fail;
        toml_skip_ws(p);
        int c = toml_peek(p, 0);
        if (c == ',') {
            toml_advance(p);
            continue;
        }
        if (c == '}') break;
        char d[16];
        if (c == '\n' || c == '\r')
            perr(p, "newlines are not allowed in an inline table; expected ',' or '}'");
        else
            perr(p, "expected ',' or '}' in inline table, found %s", toml_describe(p, d));
        goto fail;
    }
done:
    toml_advance(p);
    t->flags |= KILN_TOML_F_INLINE;
    *out = t;
    return 0;
fail:
    kiln_toml_free(t);
    return -1;
}

/* Parses any value at the cursor into *out. */
static int parse_value(toml_parser *p, int depth, kiln_toml_value **out)
{
    if (depth > MAX_DEPTH) return perr(p, "document is nested too deeply");
    int c = toml_peek(p, 0);
    int line = p->line, col = p->col;
    if (c == '"' || c == '\'') {
        kiln_buf b = KILN_BUF_INIT;
        if (toml_parse_string(p, &b, 1)) {
            kiln_buf_free(&b);
            return -1;
        }
        kiln_toml_value *v = toml_new_value(KILN_TOML_STRING, line, col);
        size_t len = b.len;
        char *s = kiln_buf_steal(&b);
        if (!v || !s) {
            kiln_free(v);
            kiln_free(s);
            return toml_oom(p);
        }
        v->u.str.ptr = s;
        v->u.str.len = len;
        *out = v;
        return 0;
    }
    if (c == '[') return parse_array(p, depth, out);
    if (c == '{') return parse_inline_table(p, depth, out);
    if (c == 't' || c == 'f') {
        const char *word = c == 't' ? "true" : "false";
        size_t n = strlen(word);
        if (p->len - p->pos >= n && memcmp(p->src + p->pos, word, n) == 0 &&
            !is_bare(toml_peek(p, n))) {
            kiln_toml_value *v = toml_new_value(KILN_TOML_BOOL, line, col);
            if (!v) return toml_oom(p);
            v->u.boolean = c == 't';
            for (size_t i = 0; i < n; i++)
                toml_advance(p);
            *out = v;
            return 0;
        }
    }
    if (c == '+' || c == '-' || (c >= '0' && c <= '9') || c == 'i' || c == 'n')
        return toml_parse_scalar(p, out);
    char d[16];
    if (c == '\n' || c == '\r' || c < 0 || c == '#')
        return perr(p, "expected a value, found %s", toml_describe(p, d));
    return perr(p, "expected a value (string, number, boolean, date, array or table), found %s",
                toml_describe(p, d));
}

/* ---- tables [headers] ------------------------------------------------------------ */

/* At '[': parses a [table] or [[array of tables]] header and makes its table current. */
static int parse_header(toml_parser *p)
{
    int line = p->line, col = p->col;
    int aot = toml_peek(p, 1) == '[';
    keypath k = {0};
    kiln_buf name = KILN_BUF_INIT;
    int rc = -1;
    toml_advance(p);
    if (aot) toml_advance(p);
    toml_skip_ws(p);
    if (parse_key(p, &k)) goto out;
    if (toml_peek(p, 0) != ']' || (aot && toml_peek(p, 1) != ']')) {
        char d[16];
        perr(p, "expected '%s' to close the header of table \"%s\", found %s", aot ? "]]" : "]",
             key_name(&name, &k, k.n), toml_describe(p, d));
        goto out;
    }
    toml_advance(p);
    if (aot) toml_advance(p);
    if (expect_eol(p, "a table header")) goto out;

    kiln_toml_value *t = p->root;
    int depth = 0;
    for (size_t i = 0; i + 1 < k.n; i++, depth++) {
        kiln_toml_entry *e = table_find(t, k.parts[i].s, k.parts[i].len);
        if (!e) {
            kiln_toml_value *nt = toml_new_value(KILN_TOML_TABLE, line, col);
            if (!nt || table_add(t, &k.parts[i], nt)) {
                kiln_toml_free(nt);
                toml_oom(p);
                goto out;
            }
            nt->flags = KILN_TOML_F_IMPLICIT;
            t = nt;
            continue;
        }
        kiln_toml_value *v = e->value;
        if (v->type == KILN_TOML_ARRAY && (v->flags & KILN_TOML_F_AOT) && v->u.array.len) {
            t = v->u.array.items[v->u.array.len - 1];
            depth++;
        } else if (v->type == KILN_TOML_TABLE && !(v->flags & KILN_TOML_F_INLINE)) {
            t = v;
        } else {
            toml_error(p, k.parts[i].line, k.parts[i].col,
                       "cannot define table \"%s\": \"%s\" is already %s (line %d)",
                       key_name(&name, &k, k.n), k.parts[i].s,
                       v->type == KILN_TOML_TABLE ? "an inline table" : "a value", e->line);
            goto out;
        }
    }
    const keypart *last = &k.parts[k.n - 1];
    kiln_toml_entry *e = table_find(t, last->s, last->len);
    kiln_toml_value *nt = NULL;
    if (aot) {
        kiln_toml_value *arr = e ? e->value : NULL;
        if (e && !(arr->type == KILN_TOML_ARRAY && (arr->flags & KILN_TOML_F_AOT))) {
            toml_error(p, last->line, last->col,
                       "cannot define array of tables \"%s\": it is already %s (line %d)",
                       key_name(&name, &k, k.n), a_type_name(arr->type), e->line);
            goto out;
        }
        if (!arr) {
            arr = toml_new_value(KILN_TOML_ARRAY, line, col);
            if (!arr || table_add(t, last, arr)) {
                kiln_toml_free(arr);
                toml_oom(p);
                goto out;
            }
            arr->flags = KILN_TOML_F_AOT;
        }
        nt = toml_new_value(KILN_TOML_TABLE, line, col);
        if (!nt || array_push(arr, nt)) {
            kiln_toml_free(nt);
            toml_oom(p);
            goto out;
        }
        depth++;
    } else if (e) {
        nt = e->value;
        if (nt->type != KILN_TOML_TABLE || nt->flags != KILN_TOML_F_IMPLICIT) {
            toml_error(p, line, col, "duplicate table \"%s\" (already defined at line %d)",
                       key_name(&name, &k, k.n), nt->line);
            goto out;
        }
        nt->line = line;
        nt->col = col;
    } else {
        nt = toml_new_value(KILN_TOML_TABLE, line, col);
        if (!nt || table_add(t, last, nt)) {
            kiln_toml_free(nt);
            toml_oom(p);
            goto out;
        }
    }
    nt->flags = KILN_TOML_F_EXPLICIT;
    p->cur = nt;
    p->cur_depth = depth + 1;
    rc = 0;
out:
    keypath_free(&k);
    kiln_buf_free(&name);
    return rc;
}

/* ---- document ------------------------------------------------------------------- */

/* Checks that the input is valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF); reports the line and column of the first bad byte. */
static int check_utf8(toml_parser *p)
{
    const unsigned char *s = (const unsigned char *)p->src;
    size_t n = p->len, i = 0;
    int line = 1, col = 1;
    while (i < n) {
        unsigned c = s[i];
        size_t need;
        unsigned cp, min;
        if (c < 0x80) {
            if (c == '\n') {
                line++;
                col = 0;
            }
            i++;
            col++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return toml_error(p, line, col, "invalid UTF-8 byte 0x%02X", c);
        }
        if (n - i - 1 < need) return toml_error(p, line, col, "truncated UTF-8 sequence");
        for (size_t j = 1; j <= need; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return toml_error(p, line, col, "invalid UTF-8 sequence");
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return toml_error(p, line, col, "invalid UTF-8 sequence (U+%X)", cp);
        i += need + 1;
        col++;
    }
    return 0;
}

kiln_toml_value *kiln_toml_parse(const char *src, size_t len, const char *filename, char **err)
{
    toml_parser p = {0};
    p.src = src;
    p.len = len;
    p.line = p.col = 1;
    p.filename = filename ? filename : "<input>";
    if (err) *err = NULL;
    p.root = toml_new_value(KILN_TOML_TABLE, 1, 1);
    if (!p.root) {
        toml_oom(&p);
        goto fail;
    }
    p.root->flags = KILN_TOML_F_EXPLICIT;
    p.cur = p.root;
    if (check_utf8(&p)) goto fail;
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) p.pos = 3; /* BOM */
    for (;;) {
        toml_skip_ws(&p);
        int c = toml_peek(&p, 0);
        if (c < 0) break;
        if (c == '#') {
            if (skip_comment(&p) || expect_eol(&p, "a comment")) goto fail;
        } else if (eat_newline(&p)) {
            continue;
        } else if (c == '[') {
            if (parse_header(&p)) goto fail;
        } else if (c == '=') {
            perr(&p, "expected a key before '='");
            goto fail;
        } else {
            if (parse_keyval(&p, p.cur, p.cur_depth) || expect_eol(&p, "a value")) goto fail;
        }
    }
    return p.root;
fail:
    if (err) {
        *err = p.err;
        p.err = NULL;
    }
    kiln_free(p.err);
    kiln_toml_free(p.root);
    return NULL;
}

/* ---- read access --------------------------------------------------------------- */

const char *kiln_toml_type_name(kiln_toml_type t)
{
    switch (t) {
    case KILN_TOML_STRING:
        return "string";
    case KILN_TOML_INTEGER:
        return "integer";
    case KILN_TOML_FLOAT:
        return "float";
    case KILN_TOML_BOOL:
        return "boolean";
    case KILN_TOML_DATETIME:
        return "datetime";
    case KILN_TOML_DATETIME_LOCAL:
        return "local datetime";
    case KILN_TOML_DATE_LOCAL:
        return "local date";
    case KILN_TOML_TIME_LOCAL:
        return "local time";
    case KILN_TOML_ARRAY:
        return "array";
    case KILN_TOML_TABLE:
        return "table";
    }
    return "value";
}

size_t kiln_toml_table_len(const kiln_toml_value *v)
{
    return v && v->type == KILN_TOML_TABLE ? v->u.table.len : 0;
}

const kiln_toml_entry *kiln_toml_table_at(const kiln_toml_value *v, size_t i)
{
    if (!v || v->type != KILN_TOML_TABLE || i >= v->u.table.len) return NULL;
    return &v->u.table.entries[i];
}

const kiln_toml_entry *kiln_toml_get_entry(const kiln_toml_value *v, const char *key)
{
    if (!v || v->type != KILN_TOML_TABLE) return NULL;
    return table_find(v, key, strlen(key));
}

kiln_toml_value *kiln_toml_get(const kiln_toml_value *v, const char *key)
{
    const kiln_toml_entry *e = kiln_toml_get_entry(v, key);
    return e ? e->value : NULL;
}

size_t kiln_toml_array_len(const kiln_toml_value *v)
{
    return v && v->type == KILN_TOML_ARRAY ? v->u.array.len : 0;
}

kiln_toml_value *kiln_toml_array_at(const kiln_toml_value *v, size_t i)
{
    if (!v || v->type != KILN_TOML_ARRAY || i >= v->u.array.len) return NULL;
    return v->u.array.items[i];
}

const char *kiln_toml_str(const kiln_toml_value *v)
{
    return v && v->type == KILN_TOML_STRING ? v->u.str.ptr : NULL;
}

int kiln_toml_is(const kiln_toml_value *v, kiln_toml_type t)
{
    return v && v->type == t;
}

/* snprintf into out+*n that never moves past the end of out (output is truncated). */
static void put_fmt(char *out, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put_fmt(char *out, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

size_t kiln_toml_format_datetime(const kiln_toml_value *v, char *out, size_t cap)
{
    const kiln_toml_datetime *d = &v->u.dt;
    size_t n = 0;
    if (!cap) return 0;
    out[0] = '\0';
    if (v->type == KILN_TOML_DATETIME || v->type == KILN_TOML_DATETIME_LOCAL ||
        v->type == KILN_TOML_DATE_LOCAL)
        put_fmt(out, cap, &n, "%04d-%02d-%02d", d->year, d->month, d->day);
    if (v->type == KILN_TOML_DATETIME || v->type == KILN_TOML_DATETIME_LOCAL)
        put_fmt(out, cap, &n, "T");
    if (v->type != KILN_TOML_DATE_LOCAL) {
        put_fmt(out, cap, &n, "%02d:%02d:%02d", d->hour, d->minute, d->second);
        if (d->frac_digits) {
            int ns = d->nanosecond, digits = d->frac_digits;
            for (int i = digits; i < 9; i++)
                ns /= 10;
            put_fmt(out, cap, &n, ".%0*d", digits, ns);
        }
    }
    if (v->type == KILN_TOML_DATETIME) {
        if (d->offset_z) {
            put_fmt(out, cap, &n, "Z");
        } else {
            int off = d->offset_minutes < 0 ? -d->offset_minutes : d->offset_minutes;
            put_fmt(out, cap, &n, "%c%02d:%02d", d->offset_minutes < 0 ? '-' : '+', off / 60,
                    off % 60);
        }
    }
    return n;
}
