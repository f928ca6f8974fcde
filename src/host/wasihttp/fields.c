/* fields.c — wasi:http fields as data: validation, lowercased names, copies (wasihttp.h). */
#include "host/wasihttp/wasihttp.h"
#include "util/alloc.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int wh_name_valid(const char *name, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i])) return 0;
    return 1;
}

int wh_value_valid(const uint8_t *value, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((value[i] < 32 && value[i] != '\t') || value[i] == 127) return 0;
    return 1;
}

static const char *const forbidden[] = {
    "connection",          "keep-alive",       "proxy-authenticate",
    "proxy-authorization", "proxy-connection", "te",
    "transfer-encoding",   "upgrade",          "http2-settings"};

int wh_name_forbidden(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++)
        if (strlen(forbidden[i]) == n && strncasecmp(forbidden[i], name, n) == 0) return 1;
    return 0;
}

int wh_fields_check(const wh_fields *f, const char *name, size_t nlen, const uint8_t *value,
                    size_t vlen)
{
    if (!wh_name_valid(name, nlen)) return WH_HE_INVALID_SYNTAX;
    if (value && !wh_value_valid(value, vlen)) return WH_HE_INVALID_SYNTAX;
    if (wh_name_forbidden(name, nlen)) return WH_HE_FORBIDDEN;
    if (f->immutable) return WH_HE_IMMUTABLE;
    return -1;
}

wh_fields *wh_fields_new(void)
{
    return kiln_calloc(1, sizeof(wh_fields));
}

void wh_fields_free(wh_fields *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++)
        kiln_free(f->items[i].name); /* the value is in the same block */
    kiln_free(f->items);
    kiln_free(f);
}

int wh_fields_append(wh_fields *f, const char *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        wh_field *n = kiln_realloc(f->items, cap * sizeof *n);
        if (!n) return -1;
        f->items = n;
        f->cap = cap;
    }
    /* One block per field: the name, then the value (both NUL-terminated). */
    if (nlen > SIZE_MAX / 2 - 2 || vlen > SIZE_MAX / 2) return -1;
    char *nm = kiln_malloc(nlen + 1 + vlen + 1);
    if (!nm) return -1;
    uint8_t *v = (uint8_t *)nm + nlen + 1;
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        nm[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    nm[nlen] = '\0';
    if (vlen) memcpy(v, value, vlen);
    v[vlen] = 0;
    f->items[f->n++] = (wh_field){nm, nlen, v, vlen};
    return 0;
}

static int name_is(const wh_field *e, const char *name, size_t nlen)
{
    return e->name_len == nlen && strncasecmp(e->name, name, nlen) == 0;
}

size_t wh_fields_delete(wh_fields *f, const char *name, size_t nlen)
{
    size_t k = 0, removed = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (name_is(&f->items[i], name, nlen)) {
            kiln_free(f->items[i].name); /* and its value */
            removed++;
        } else {
            f->items[k++] = f->items[i];
        }
    }
    f->n = k;
    return removed;
}

int wh_fields_has(const wh_fields *f, const char *name, size_t nlen)
{
    for (size_t i = 0; i < f->n; i++)
        if (name_is(&f->items[i], name, nlen)) return 1;
    return 0;
}

wh_fields *wh_fields_clone(const wh_fields *f)
{
    wh_fields *c = wh_fields_new();
    if (!c) return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (wh_fields_append(c, f->items[i].name, f->items[i].name_len, f->items[i].value,
                             f->items[i].value_len) < 0) {
            wh_fields_free(c);
            return NULL;
        }
    return c;
}
