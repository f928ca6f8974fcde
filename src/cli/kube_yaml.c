/* kube_yaml.c — the YAML tree and its block-style writer (see kube_yaml.h). */
#include "cli/kube_yaml.h"
#include "util/alloc.h"

#include <string.h>

typedef enum { Y_MAP, Y_SEQ, Y_STR, Y_INT, Y_BOOL } ytype;

struct kiln_yaml {
    ytype type;
    int broken;
    char *str;
    long long num;
    char **keys; /* Y_MAP */
    kiln_yaml **items;
    size_t n;
};

static kiln_yaml *node(ytype t)
{
    kiln_yaml *n = kiln_calloc(1, sizeof *n);
    if (n) n->type = t;
    return n;
}

kiln_yaml *kiln_yaml_map(void)
{
    return node(Y_MAP);
}
kiln_yaml *kiln_yaml_seq(void)
{
    return node(Y_SEQ);
}

kiln_yaml *kiln_yaml_str(const char *s)
{
    if (!s) return NULL;
    kiln_yaml *n = node(Y_STR);
    if (n && !(n->str = kiln_strdup(s))) {
        kiln_free(n);
        return NULL;
    }
    return n;
}

kiln_yaml *kiln_yaml_int(long long v)
{
    kiln_yaml *n = node(Y_INT);
    if (n) n->num = v;
    return n;
}

kiln_yaml *kiln_yaml_bool(int v)
{
    kiln_yaml *n = node(Y_BOOL);
    if (n) n->num = !!v;
    return n;
}

void kiln_yaml_free(kiln_yaml *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) kiln_free(n->keys[i]);
        kiln_yaml_free(n->items[i]);
    }
    kiln_free(n->keys);
    kiln_free(n->items);
    kiln_free(n->str);
    kiln_free(n);
}

/* Appends (key, val) to a map or val to a sequence. */
static kiln_yaml *add(kiln_yaml *parent, ytype want, const char *key, kiln_yaml *val)
{
    if (!parent || parent->type != want || !val) goto fail;
    kiln_yaml **items = kiln_realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items) goto fail;
    parent->items = items;
    if (want == Y_MAP) {
        char **keys = kiln_realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        if (!keys) goto fail;
        parent->keys = keys;
        if (!(keys[parent->n] = kiln_strdup(key))) goto fail;
    }
    items[parent->n++] = val;
    return val;
fail:
    if (parent) parent->broken = 1;
    kiln_yaml_free(val);
    return NULL;
}

kiln_yaml *kiln_yaml_set(kiln_yaml *map, const char *key, kiln_yaml *val)
{
    return add(map, Y_MAP, key, val);
}

kiln_yaml *kiln_yaml_push(kiln_yaml *seq, kiln_yaml *val)
{
    return add(seq, Y_SEQ, NULL, val);
}

kiln_yaml *kiln_yaml_set_map(kiln_yaml *map, const char *key)
{
    return kiln_yaml_set(map, key, kiln_yaml_map());
}

kiln_yaml *kiln_yaml_set_seq(kiln_yaml *map, const char *key)
{
    return kiln_yaml_set(map, key, kiln_yaml_seq());
}

kiln_yaml *kiln_yaml_set_str(kiln_yaml *map, const char *key, const char *s)
{
    return kiln_yaml_set(map, key, kiln_yaml_str(s));
}

kiln_yaml *kiln_yaml_set_int(kiln_yaml *map, const char *key, long long v)
{
    return kiln_yaml_set(map, key, kiln_yaml_int(v));
}

kiln_yaml *kiln_yaml_push_map(kiln_yaml *seq)
{
    return kiln_yaml_push(seq, kiln_yaml_map());
}

static int broken(const kiln_yaml *n)
{
    if (n->broken) return 1;
    for (size_t i = 0; i < n->n; i++)
        if (broken(n->items[i])) return 1;
    return 0;
}

/* A double-quoted YAML string. */
static int quoted(kiln_buf *b, const char *s)
{
    if (kiln_buf_putc(b, '"') < 0) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        switch (*p) {
        case '"':
            rc = kiln_buf_puts(b, "\\\"");
            break;
        case '\\':
            rc = kiln_buf_puts(b, "\\\\");
            break;
        case '\n':
            rc = kiln_buf_puts(b, "\\n");
            break;
        case '\t':
            rc = kiln_buf_puts(b, "\\t");
            break;
        default:
            rc = *p < 0x20 || *p == 0x7f ? kiln_buf_printf(b, "\\x%02x", *p)
                                         : kiln_buf_putc(b, (char)*p);
        }
        if (rc < 0) return -1;
    }
    return kiln_buf_putc(b, '"');
}

static int plain_key(const char *k)
{
    if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_')) return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '/' || *p == '-'))
            return 0;
    /* words YAML 1.1 readers take for booleans or null */
    static const char *const reserved[] = {
        "y",  "Y",    "n",    "N",    "yes",   "Yes",   "YES",   "no", "No",
        "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
        "ON", "off",  "Off",  "OFF",  "null",  "Null",  "NULL"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(k, reserved[i]) == 0) return 0;
    return 1;
}

static int scalar(kiln_buf *b, const kiln_yaml *n)
{
    switch (n->type) {
    case Y_STR:
        return quoted(b, n->str);
    case Y_INT:
        return kiln_buf_printf(b, "%lld", n->num);
    case Y_BOOL:
        return kiln_buf_puts(b, n->num ? "true" : "false");
    case Y_MAP:
        return kiln_buf_puts(b, "{}");
    case Y_SEQ:
        return kiln_buf_puts(b, "[]");
    }
    return -1;
}

static int is_block(const kiln_yaml *n)
{
    return (n->type == Y_MAP || n->type == Y_SEQ) && n->n;
}

static int indent(kiln_buf *b, int col)
{
    for (int i = 0; i < col; i++)
        if (kiln_buf_putc(b, ' ') < 0) return -1;
    return 0;
}

static int emit(kiln_buf *b, const kiln_yaml *n, int col, int first_inline);

/* One map entry at column col (the indent already written when first_inline). */
static int entry(kiln_buf *b, const char *key, const kiln_yaml *v, int col, int inline_)
{
    if (!inline_ && indent(b, col) < 0) return -1;
    if ((plain_key(key) ? kiln_buf_puts(b, key) : quoted(b, key)) < 0) return -1;
    if (!is_block(v)) {
        if (kiln_buf_puts(b, ": ") < 0 || scalar(b, v) < 0) return -1;
        return kiln_buf_putc(b, '\n');
    }
    if (kiln_buf_puts(b, ":\n") < 0) return -1;
    return emit(b, v, col + 2, 0);
}

/* Writes block node n at column col; when first_inline, the first line's indent (a
 * "- ") is already written. */
static int emit(kiln_buf *b, const kiln_yaml *n, int col, int first_inline)
{
    for (size_t i = 0; i < n->n; i++) {
        int inl = first_inline && i == 0;
        if (n->type == Y_MAP) {
            if (entry(b, n->keys[i], n->items[i], col, inl) < 0) return -1;
            continue;
        }
        const kiln_yaml *v = n->items[i];
        if ((!inl && indent(b, col) < 0) || kiln_buf_puts(b, "- ") < 0) return -1;
        if (!is_block(v)) {
            if (scalar(b, v) < 0 || kiln_buf_putc(b, '\n') < 0) return -1;
        } else if (emit(b, v, col + 2, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int kiln_yaml_emit(const kiln_yaml *root, kiln_buf *out)
{
    if (!root || broken(root)) return -1;
    if (!is_block(root)) return scalar(out, root) < 0 || kiln_buf_putc(out, '\n') < 0 ? -1 : 0;
    return emit(out, root, 0, 0);
}
