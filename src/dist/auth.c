/* auth.c — WWW-Authenticate challenges and base64 (see auth.h). */
#include "dist/auth.h"
#include "util/alloc.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

void kiln_challenge_free(kiln_challenge *c)
{
    kiln_free(c->realm);
    kiln_free(c->service);
    kiln_free(c->scope);
    memset(c, 0, sizeof *c);
}

static int is_tchar(char c)
{
    return c && (strchr("!#$%&'*+-.^_`|~", c) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z'));
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int kiln_challenge_parse(const char *h, kiln_challenge *out)
{
    memset(out, 0, sizeof *out);
    const char *p = skip_ws(h);
    const char *s = p;
    while (is_tchar(*p))
        p++;
    size_t n = (size_t)(p - s);
    if (n == 5 && strncasecmp(s, "basic", 5) == 0)
        out->scheme = KILN_AUTH_BASIC;
    else if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
        out->scheme = KILN_AUTH_BEARER;
    else
        return -1;
    if (*p && *p != ' ' && *p != '\t') return -1;
    p = skip_ws(p);
    while (*p) {
        const char *k = p;
        while (is_tchar(*p))
            p++;
        size_t klen = (size_t)(p - k);
        p = skip_ws(p);
        if (!klen || *p != '=') goto bad;
        p = skip_ws(p + 1);
        char *val = NULL;
        if (*p == '"') {
            p++;
            size_t cap = strlen(p) + 1, len = 0;
            val = kiln_malloc(cap);
            if (!val) goto bad;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) p++;
                val[len++] = *p++;
            }
            val[len] = '\0';
            if (*p != '"') {
                kiln_free(val);
                goto bad;
            }
            p++;
        } else {
            const char *v = p;
            while (is_tchar(*p) || *p == '/' || *p == ':')
                p++;
            val = kiln_strndup(v, (size_t)(p - v));
            if (!val) goto bad;
        }
        char **slot = NULL;
        if (klen == 5 && strncasecmp(k, "realm", 5) == 0)
            slot = &out->realm;
        else if (klen == 7 && strncasecmp(k, "service", 7) == 0)
            slot = &out->service;
        else if (klen == 5 && strncasecmp(k, "scope", 5) == 0)
            slot = &out->scope;
        if (slot && !*slot)
            *slot = val;
        else
            kiln_free(val);
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p)
            goto bad;
    }
    if (out->scheme == KILN_AUTH_BEARER && (!out->realm || !*out->realm)) goto bad;
    return 0;
bad:
    kiln_challenge_free(out);
    return -1;
}

char *kiln_base64_encode(const void *data, size_t len)
{
    if (len > (size_t)1 << 30) return NULL;
    char *out = kiln_malloc(4 * ((len + 2) / 3) + 1);
    if (!out) return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *kiln_base64_decode(const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    if (n % 4 || n > (size_t)1 << 30) return NULL;
    char *out = kiln_malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int got = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
    if (got < 0) {
        kiln_free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (n && text[n - 1] == '=') got--;
    if (n > 1 && text[n - 2] == '=') got--;
    out[got] = '\0';
    *out_len = (size_t)got;
    return out;
}
