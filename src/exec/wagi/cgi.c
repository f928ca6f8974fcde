/* cgi.c — request → CGI environment/argv, guest stdout → response (see cgi.h). */
#include "exec/wagi/cgi.h"
#include "util/alloc.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* ---- string vectors ---- */

/* One block of a kiln_strv's string arena: strings are carved from data[0..used). */
struct kiln_strv_block {
    struct kiln_strv_block *next;
    size_t size, used;
    char data[];
};

/* Arena block sizes (whole allocations): the first block holds a typical request's
 * environment; later ones double up to the maximum. */
#define STRV_FIRST_BLOCK 2048
#define STRV_MAX_BLOCK 65536
/* Strings the pointer array first has room for (a request's environment: about 30). */
#define STRV_FIRST_CAP 32
/* klen[i] of a string without a '=' (an argv word): never a key length. */
#define STRV_NO_KEY SIZE_MAX
/* The key filter: one bit per hash (key_bit) of each key present, so that setting a new
 * key (the common case) usually skips the scan of the vector. Bits are never cleared. */
#define STRV_FILTER_WORDS 4
#define STRV_WORD_BITS (sizeof(size_t) * CHAR_BIT)
#define STRV_FILTER_BITS (STRV_FILTER_WORDS * STRV_WORD_BITS)

_Static_assert(_Alignof(size_t) <= _Alignof(char *), "klen follows v in one allocation");

/* The key filter, stored after v's cap + 1 pointers (see kiln_strv). */
static size_t *strv_filter(const kiln_strv *sv)
{
    return (size_t *)(void *)(sv->v + sv->cap + 1);
}

/* The key lengths, stored after the filter. */
static size_t *strv_klen(const kiln_strv *sv)
{
    return strv_filter(sv) + STRV_FILTER_WORDS;
}

/* The filter bit of the key of entry s (klen bytes, then '='): a hash of the length and
 * the first two and last two bytes, which tells the CGI variables apart. */
static size_t key_bit(const char *s, size_t klen)
{
    size_t a = klen > 1 ? 1 : 0, b = klen > 1 ? klen - 2 : 0, c = klen ? klen - 1 : 0;
    uint32_t h = (uint32_t)klen;
    h = h * 31u + (unsigned char)s[0];
    h = h * 31u + (unsigned char)s[a];
    h = h * 31u + (unsigned char)s[b];
    h = h * 31u + (unsigned char)s[c];
    return (size_t)((h * 0x9E3779B1u) >> 24) % STRV_FILTER_BITS;
}

/* 1 if a key of entry s (klen bytes) may be in the vector (its filter bit is set). */
static int strv_may_have(const kiln_strv *sv, const char *s, size_t klen)
{
    size_t bit = key_bit(s, klen);
    return (strv_filter(sv)[bit / STRV_WORD_BITS] >> (bit % STRV_WORD_BITS)) & 1;
}

/* Records the key of entry s (klen bytes; STRV_NO_KEY: none) in the filter. */
static void strv_mark(kiln_strv *sv, const char *s, size_t klen)
{
    if (klen == STRV_NO_KEY) return;
    size_t bit = key_bit(s, klen);
    strv_filter(sv)[bit / STRV_WORD_BITS] |= (size_t)1 << (bit % STRV_WORD_BITS);
}

/* Returns `need` bytes of the arena (the current block, or a new one; a string bigger
 * than half a new block gets a block of its own, which leaves the current block
 * current). NULL when memory runs out. */
static char *strv_alloc(kiln_strv *sv, size_t need)
{
    struct kiln_strv_block *b = sv->blocks, *nb;
    if (b && b->size - b->used >= need) {
        char *p = b->data + b->used;
        b->used += need;
        return p;
    }
    size_t total = STRV_FIRST_BLOCK;
    if (b && b->size < STRV_MAX_BLOCK) total = 2 * (b->size + sizeof *b);
    if (total > STRV_MAX_BLOCK) total = STRV_MAX_BLOCK;
    if (total < STRV_FIRST_BLOCK) total = STRV_FIRST_BLOCK;
    size_t size = total - sizeof *b;
    if (need > size / 2) {
        if (need > SIZE_MAX - sizeof *b) return NULL;
        nb = sv->arena ? kiln_arena_alloc(sv->arena, sizeof *nb + need)
                       : kiln_malloc(sizeof *nb + need);
        if (!nb) return NULL;
        nb->size = nb->used = need;
        if (b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = NULL;
            sv->blocks = nb;
        }
        return nb->data;
    }
    nb = sv->arena ? kiln_arena_alloc(sv->arena, total) : kiln_malloc(total);
    if (!nb) return NULL;
    nb->size = size;
    nb->used = need;
    nb->next = b;
    sv->blocks = nb;
    return nb->data;
}

/* Gives back the last `n` bytes of an arena allocation ending at `end` when it is the
 * most recent one of the current block (a string shorter than its worst case). */
static void strv_unalloc(kiln_strv *sv, const char *end, size_t n)
{
    struct kiln_strv_block *b = sv->blocks;
    if (b && end == b->data + b->used) b->used -= n;
}

/* Makes room for one more string (and the NULL after it). 0 or -1 (memory). */
static int strv_grow(kiln_strv *sv)
{
    if (sv->n < sv->cap) return 0;
    size_t ncap = sv->cap ? sv->cap * 2 : STRV_FIRST_CAP;
    if (ncap > SIZE_MAX / 2 / (sizeof(char *) + sizeof(size_t))) return -1;
    size_t bytes = (ncap + 1) * sizeof(char *) + (STRV_FILTER_WORDS + ncap) * sizeof(size_t);
    char **v;
    if (sv->arena) { /* a new array (the old one stays in the arena until it goes) */
        v = kiln_arena_alloc(sv->arena, bytes);
        if (v && sv->cap)
            memcpy(v, sv->v,
                   (sv->cap + 1) * sizeof(char *) + (STRV_FILTER_WORDS + sv->n) * sizeof(size_t));
    } else {
        v = kiln_realloc(sv->v, bytes);
    }
    if (!v) return -1;
    /* the filter and the key lengths move up behind the longer pointer array */
    if (sv->cap)
        memmove(v + ncap + 1, v + sv->cap + 1, (STRV_FILTER_WORDS + sv->n) * sizeof(size_t));
    else
        memset(v + ncap + 1, 0, STRV_FILTER_WORDS * sizeof(size_t));
    sv->v = v;
    sv->cap = ncap;
    return 0;
}

/* The key length of an entry of len bytes: the offset of its first '=' (before any NUL,
 * which ends the string as the guest sees it), or STRV_NO_KEY. */
static size_t entry_key_len(const char *s, size_t len)
{
    const char *eq = memchr(s, '=', len);
    if (!eq || memchr(s, '\0', (size_t)(eq - s))) return STRV_NO_KEY;
    return (size_t)(eq - s);
}

/* Appends s (an arena string whose key length is klen). 0 or -1 (memory). */
static int strv_append(kiln_strv *sv, char *s, size_t klen)
{
    if (strv_grow(sv) < 0) return -1;
    strv_klen(sv)[sv->n] = klen;
    strv_mark(sv, s, klen);
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL; /* keeps v NULL-terminated like an argv */
    return 0;
}

/* Sets the arena string s = "KEY=VALUE" whose KEY (key_len bytes) has no '=' or NUL:
 * the entry with the same key now points at s, or s is appended. A key the filter has
 * not seen is new; otherwise the scan compares key lengths and first bytes before any
 * memcmp. 0 or -1 (memory). */
static int strv_put(kiln_strv *sv, char *s, size_t key_len)
{
    if (sv->n && strv_may_have(sv, s, key_len)) {
        const size_t *kl = strv_klen(sv);
        for (size_t i = 0; i < sv->n; i++) {
            if (kl[i] == key_len && sv->v[i][0] == s[0] && memcmp(sv->v[i], s, key_len) == 0) {
                sv->v[i] = s;
                return 0;
            }
        }
    }
    return strv_append(sv, s, key_len);
}

/* Reserves "KEY=" and room for a value of at most max_val bytes and its NUL in the
 * arena; returns where the value goes (finish with env_close). NULL on memory. */
static char *env_open(kiln_strv *env, const char *key, size_t key_len, size_t max_val)
{
    if (key_len > SIZE_MAX / 2 || max_val > SIZE_MAX / 2 - 2) return NULL;
    char *s = strv_alloc(env, key_len + max_val + 2);
    if (!s) return NULL;
    memcpy(s, key, key_len);
    s[key_len] = '=';
    return s + key_len + 1;
}

/* Finishes an entry begun by env_open whose value is val_len bytes: NUL-terminates it,
 * gives back the unused room and sets it (KEY has no '=' or NUL). 0 or -1 (memory). */
static int env_close(kiln_strv *env, char *val, size_t key_len, size_t max_val, size_t val_len)
{
    val[val_len] = '\0';
    strv_unalloc(env, val + max_val + 1, max_val - val_len);
    return strv_put(env, val - key_len - 1, key_len);
}

/* kiln_strv_setenv for a KEY without '=' or NUL (every key of the CGI mapping): writes
 * "KEY=VALUE" straight into the arena. */
static int env_set(kiln_strv *env, const char *key, size_t key_len, const char *val, size_t val_len)
{
    char *d = env_open(env, key, key_len, val_len);
    if (!d) return -1;
    if (val_len) memcpy(d, val, val_len);
    return env_close(env, d, key_len, val_len, val_len);
}

/* Appends a copy of the first len bytes of s (an arena string, no malloc per string). */
int kiln_strv_pushn(kiln_strv *sv, const char *s, size_t len)
{
    if (len == SIZE_MAX || strv_grow(sv) < 0) return -1;
    char *c = strv_alloc(sv, len + 1);
    if (!c) return -1;
    if (len) memcpy(c, s, len);
    c[len] = '\0';
    return strv_append(sv, c, entry_key_len(c, len));
}

/* Appends a copy of the NUL-terminated s. */
int kiln_strv_push(kiln_strv *sv, const char *s)
{
    return kiln_strv_pushn(sv, s, strlen(s));
}

/* Sets KEY=VALUE, replacing the entry that has KEY. A KEY containing '=' or NUL (never
 * one of Kiln's) keeps the historical rule: an entry matches when it starts with the
 * key_len bytes of KEY and then has '='. */
int kiln_strv_setenv(kiln_strv *sv, const char *key, size_t key_len, const char *val,
                     size_t val_len)
{
    if (!memchr(key, '=', key_len) && !memchr(key, '\0', key_len))
        return env_set(sv, key, key_len, val, val_len);
    if (key_len > SIZE_MAX / 2 || val_len > SIZE_MAX / 2 - 2) return -1;
    char *s = strv_alloc(sv, key_len + val_len + 2);
    if (!s) return -1;
    memcpy(s, key, key_len);
    s[key_len] = '=';
    if (val_len) memcpy(s + key_len + 1, val, val_len);
    s[key_len + 1 + val_len] = '\0';
    size_t klen = entry_key_len(s, key_len + 1);
    for (size_t i = 0; i < sv->n; i++) {
        if (strncmp(sv->v[i], key, key_len) == 0 && strnlen(sv->v[i], key_len) == key_len &&
            sv->v[i][key_len] == '=') {
            sv->v[i] = s;
            strv_klen(sv)[i] = klen;
            strv_mark(sv, s, klen);
            return 0;
        }
    }
    return strv_append(sv, s, klen);
}

/* Sets a "KEY=VALUE" string (see kiln_strv_setenv); one without '=' is ignored. */
int kiln_strv_putenv(kiln_strv *sv, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return 0;
    return kiln_strv_setenv(sv, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1));
}

/* Frees the arena blocks and the pointer array; sv is an empty vector again. */
void kiln_strv_free(kiln_strv *sv)
{
    for (struct kiln_strv_block *b = sv->blocks, *next; b && !sv->arena; b = next) {
        next = b->next;
        kiln_free(b);
    }
    if (!sv->arena) kiln_free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
    sv->blocks = NULL;
}

/* ---- request side ---- */

/* The value of a hex digit, or -1. */
static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src into dst (room for len bytes; see kiln_cgi_url_decode), so that
 * the environment can decode straight into its arena. Returns the decoded length. */
static size_t url_decode_to(char *dst, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%' && i + 2 < len) {
            int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
            if (h >= 0 && l >= 0 && (h | l) != 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        dst[o++] = c;
    }
    return o;
}

/* Percent-decodes into a buffer (the public form of url_decode_to). */
int kiln_cgi_url_decode(const char *src, size_t len, kiln_buf *out)
{
    if (kiln_buf_reserve(out, len) < 0) return -1;
    out->len += url_decode_to(out->data + out->len, src, len);
    out->data[out->len] = '\0';
    return 0;
}

/* Room for a decimal number with its sign (fmt_uint, fmt_int). */
#define NUM_CHARS 21

/* Writes u in decimal at p (like "%llu", without snprintf: the environment is built per
 * request); returns the number of characters written (at most NUM_CHARS - 1). */
static size_t fmt_uint(char *p, unsigned long long u)
{
    char tmp[NUM_CHARS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t o = 0; o < n; o++)
        p[o] = tmp[n - 1 - o];
    return n;
}

/* Writes v in decimal at p (like "%d"); returns the number of characters written. */
static size_t fmt_int(char *p, int v)
{
    if (v >= 0) return fmt_uint(p, (unsigned long long)v);
    *p = '-';
    return 1 + fmt_uint(p + 1, 0ull - (unsigned long long)(long long)v);
}

/* Sets KEY (a literal without '=') to a (ptr, len) value; NULL is "". */
static int setv(kiln_strv *env, const char *key, const char *val, size_t len)
{
    return env_set(env, key, strlen(key), val ? val : "", val ? len : 0);
}

/* Sets KEY (a literal without '=') to a C string; NULL is "". */
static int sets(kiln_strv *env, const char *key, const char *val)
{
    return setv(env, key, val, val ? strlen(val) : 0);
}

/* Sets KEY (a literal without '=') to a number, formatted in place. */
static int setn(kiln_strv *env, const char *key, unsigned long long n)
{
    size_t kl = strlen(key);
    char *d = env_open(env, key, kl, NUM_CHARS);
    return d ? env_close(env, d, kl, NUM_CHARS, fmt_uint(d, n)) : -1;
}

/* 1 if c may appear in an HTTP header name (RFC 9110 tchar). */
static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* 1 if the header name equals `want` (lowercase, starting with a letter), ignoring
 * case; the first byte is compared before calling strncasecmp. */
static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && len && ((unsigned char)name[0] | 32) == (unsigned char)want[0] &&
           strncasecmp(name, want, len) == 0;
}

/* 1 if two header names are equal ignoring case (a first byte that differs even after
 * setting the ASCII lowercase bit rules equality out without strncasecmp). */
static int same_name(const char *a, const char *b, size_t len)
{
    return len == 0 || (((unsigned char)a[0] | 32) == ((unsigned char)b[0] | 32) &&
                        strncasecmp(a, b, len) == 0);
}

/* The CGI spelling of a name byte: ASCII letters uppercased, digits kept, anything else
 * '_' (what isalnum/toupper do in the C locale Kiln runs in, without a call per byte). */
static char cgi_char(unsigned char c)
{
    if (c >= 'a' && c <= 'z') return (char)(c - 'a' + 'A');
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return (char)c;
    return '_';
}

/* Writes PREFIX + name uppercased with everything but letters and digits as '_' (the
 * CGI spelling of a header or parameter name) at d; returns the length. */
static size_t cgi_name(char *d, const char *prefix, size_t prefix_len, const char *name, size_t len)
{
    memcpy(d, prefix, prefix_len);
    for (size_t k = 0; k < len; k++) {
        d[prefix_len + k] = cgi_char((unsigned char)name[k]);
    }
    return prefix_len + len;
}

/* 1 if request header j is one more value of header h (same name, no NUL: joined). */
static int same_header(const kiln_cgi_header *h, const kiln_cgi_header *p)
{
    return p->name_len == h->name_len && same_name(p->name, h->name, h->name_len) &&
           !memchr(p->value, '\0', p->value_len);
}

/* 1 if the request has a header of that name. */
static int has_header(const kiln_cgi_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (name_is(req->headers[i].name, req->headers[i].name_len, name)) return 1;
    return 0;
}

/* HTTP_CONTENT_LENGTH and HTTP_TRANSFER_ENCODING as Spin and Wagi set them (every request
 * header becomes HTTP_*, these two included), from what the server's parser took out of
 * the headers: the declared length, and "chunked". */
static int framing_env(const kiln_cgi_request *req, kiln_strv *env)
{
    if (req->has_declared_length && !has_header(req, "content-length") &&
        setn(env, "HTTP_CONTENT_LENGTH", req->declared_length) < 0)
        return -1;
    if (req->chunked && !has_header(req, "transfer-encoding") &&
        sets(env, "HTTP_TRANSFER_ENCODING", "chunked") < 0)
        return -1;
    return 0;
}

/* Adds HTTP_<NAME> for every request header but the excluded ones; repeated headers
 * are joined with ", ". Each entry is written straight into the environment's arena. */
static int header_env(const kiln_cgi_request *req, kiln_strv *env)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const kiln_cgi_header *h = &req->headers[i];
        if ((!req->pass_authorization && name_is(h->name, h->name_len, "authorization")) ||
            name_is(h->name, h->name_len, "connection") || name_is(h->name, h->name_len, "proxy") ||
            h->name_len == 0)
            continue;
        int ok = 1, seen = 0;
        for (size_t k = 0; k < h->name_len; k++)
            ok &= is_tchar((unsigned char)h->name[k]);
        if (memchr(h->value, '\0', h->value_len)) ok = 0;
        for (size_t j = 0; j < i && ok; j++) {
            const kiln_cgi_header *p = &req->headers[j];
            if (p->name_len == h->name_len && same_name(p->name, h->name, h->name_len)) seen = 1;
        }
        if (!ok || seen) continue;
        /* ", " goes between values once the joined value is not empty (as it always
         * has: an empty first value adds no separator) */
        size_t vlen = 0;
        for (size_t j = i; j < req->nheaders; j++)
            if (same_header(h, &req->headers[j]))
                vlen += (vlen ? 2 : 0) + req->headers[j].value_len;
        if (h->name_len > SIZE_MAX / 4 || vlen > SIZE_MAX / 4) return -1;
        size_t key_len = 5 + h->name_len;
        char *s = strv_alloc(env, key_len + vlen + 2);
        if (!s) return -1;
        char *d = s + cgi_name(s, "HTTP_", 5, h->name, h->name_len);
        *d++ = '=';
        const char *val = d;
        for (size_t j = i; j < req->nheaders; j++) {
            const kiln_cgi_header *p = &req->headers[j];
            if (!same_header(h, p)) continue;
            if (d > val) {
                memcpy(d, ", ", 2);
                d += 2;
            }
            if (p->value_len) memcpy(d, p->value, p->value_len);
            d += p->value_len;
        }
        *d = '\0';
        if (strv_put(env, s, key_len) < 0) return -1;
    }
    return 0;
}

/* Splits the authority into SERVER_NAME and SERVER_PORT (IPv6 literals keep brackets). */
size_t kiln_cgi_authority_split(const char *a, size_t len, const char **port, size_t *port_len)
{
    const char *close = len && a[0] == '[' ? memchr(a, ']', len) : NULL;
    const char *colon = NULL;
    if (close) {
        if ((size_t)(close - a) + 1 < len && close[1] == ':') colon = close + 1;
    } else if (len) {
        colon = memchr(a, ':', len);
    }
    *port = colon ? colon + 1 : NULL;
    *port_len = colon ? len - (size_t)(colon - a) - 1 : 0;
    return colon ? (size_t)(colon - a) : len;
}

static int server_env(const kiln_cgi_request *req, kiln_strv *env)
{
    const char *a = req->authority ? req->authority : "";
    size_t len = req->authority ? req->authority_len : 0;
    const char *port;
    size_t port_len;
    size_t host_len = kiln_cgi_authority_split(a, len, &port, &port_len);
    if (setv(env, "SERVER_NAME", a, host_len) < 0) return -1;
    if (port_len) return setv(env, "SERVER_PORT", port, port_len);
    int p = req->server_port > 0 ? req->server_port
            : strcmp(req->scheme ? req->scheme : "http", "https") == 0 ? 443
                                                                       : 80;
    return setn(env, "SERVER_PORT", (unsigned long long)p);
}

/* Sets X_FULL_URL (scheme://authority/path?query), written straight into the arena. */
static int full_url_env(const kiln_cgi_request *req, kiln_strv *env)
{
    const char *scheme = req->scheme ? req->scheme : "http";
    size_t sl = strlen(scheme), al = req->authority ? req->authority_len : 0;
    size_t ql = req->query && req->query_len ? req->query_len + 1 : 0;
    if (al > SIZE_MAX / 8 || req->path_len > SIZE_MAX / 8 || ql > SIZE_MAX / 8) return -1;
    size_t max = sl + 3 + al + req->path_len + ql;
    char *d = env_open(env, "X_FULL_URL", 10, max), *p = d;
    if (!d) return -1;
    memcpy(p, scheme, sl);
    memcpy(p + sl, "://", 3);
    p += sl + 3;
    if (al) memcpy(p, req->authority, al);
    p += al;
    if (req->path_len) memcpy(p, req->path, req->path_len);
    p += req->path_len;
    if (ql) {
        *p++ = '?';
        memcpy(p, req->query, req->query_len);
    }
    return env_close(env, d, 10, max, max);
}

/* Sets X_CLIENT_ADDR ("ip:port"), formatted in place. */
static int client_addr_env(const kiln_cgi_request *req, kiln_strv *env)
{
    size_t il = req->client_ip ? strlen(req->client_ip) : 0;
    if (il > SIZE_MAX / 4) return -1;
    size_t max = il + 1 + NUM_CHARS;
    char *d = env_open(env, "X_CLIENT_ADDR", 13, max);
    if (!d) return -1;
    if (il) memcpy(d, req->client_ip, il);
    d[il] = ':';
    return env_close(env, d, 13, max, il + 1 + fmt_int(d + il + 1, req->client_port));
}

/* Sets X_PATH_MATCH_<NAME> to the decoded value of each named route segment. */
static int path_match_env(const kiln_route_match *m, kiln_strv *env)
{
    for (size_t i = 0; m && i < m->nparams; i++) {
        const char *name = m->params[i].name;
        size_t nl = strlen(name), vl = m->params[i].value_len;
        if (nl > SIZE_MAX / 4 || vl > SIZE_MAX / 4) return -1;
        char *s = strv_alloc(env, 13 + nl + vl + 2);
        if (!s) return -1;
        size_t key_len = cgi_name(s, "X_PATH_MATCH_", 13, name, nl);
        s[key_len] = '=';
        char *d = s + key_len + 1;
        if (env_close(env, d, key_len, vl, url_decode_to(d, m->params[i].value, vl)) < 0) return -1;
    }
    return 0;
}

/* Appends the CGI environment of a request (the variables and order of cgi.h). */
int kiln_cgi_env(const kiln_cgi_request *req, kiln_strv *env)
{
    const kiln_route_match *m = req->match;
    size_t prefix = m && m->prefix_len <= req->path_len ? m->prefix_len : req->path_len;
    const char *raw_info = req->path + prefix;
    size_t raw_info_len = req->path_len - prefix;
    const char *script = m && m->nparams == 0 ? m->base : NULL;
    size_t script_len = script ? strlen(script) : prefix;
    if (!script) script = req->path;
    const char *ctype = "";
    size_t ctype_len = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        if (name_is(req->headers[i].name, req->headers[i].name_len, "content-type") &&
            !memchr(req->headers[i].value, '\0', req->headers[i].value_len)) {
            ctype = req->headers[i].value;
            ctype_len = req->headers[i].value_len;
            break;
        }
    if (sets(env, "AUTH_TYPE", "") < 0 || setn(env, "CONTENT_LENGTH", req->content_length) < 0 ||
        setv(env, "CONTENT_TYPE", ctype, ctype_len) < 0 ||
        sets(env, "GATEWAY_INTERFACE", "CGI/1.1") < 0 ||
        setv(env, "QUERY_STRING", req->query, req->query_len) < 0 ||
        sets(env, "REMOTE_ADDR", req->client_ip) < 0 ||
        sets(env, "REMOTE_HOST", req->client_ip) < 0 || sets(env, "REMOTE_USER", "") < 0 ||
        setv(env, "REQUEST_METHOD", req->method, req->method_len) < 0 ||
        setv(env, "SCRIPT_NAME", script, script_len) < 0)
        return -1;
    /* PATH_INFO is decoded in place; PATH_TRANSLATED copies it (arena strings stay put) */
    char *info = env_open(env, "PATH_INFO", 9, raw_info_len);
    if (!info) return -1;
    size_t info_len = url_decode_to(info, raw_info, raw_info_len);
    if (env_close(env, info, 9, raw_info_len, info_len) < 0 ||
        setv(env, "PATH_TRANSLATED", info, info_len) < 0 || server_env(req, env) < 0 ||
        sets(env, "SERVER_PROTOCOL", req->protocol ? req->protocol : "HTTP/1.1") < 0 ||
        sets(env, "SERVER_SOFTWARE", "WAGI/1") < 0 ||
        sets(env, "X_MATCHED_ROUTE", m ? m->route : "") < 0 ||
        setv(env, "X_RAW_PATH_INFO", raw_info, raw_info_len) < 0 || full_url_env(req, env) < 0 ||
        sets(env, "X_RAW_COMPONENT_ROUTE", m ? m->route : "") < 0 ||
        sets(env, "X_COMPONENT_ROUTE", m ? m->base : "") < 0 || sets(env, "X_BASE_PATH", "/") < 0 ||
        client_addr_env(req, env) < 0 || path_match_env(m, env) < 0 || header_env(req, env) < 0 ||
        framing_env(req, env) < 0)
        return -1;
    if (req->authority && memchr(req->authority, '\0', req->authority_len) == NULL)
        return setv(env, "HTTP_HOST", req->authority, req->authority_len);
    return 0;
}

/* Appends the query's '&'-separated items, percent-decoded, as arguments. */
static int push_args(const kiln_cgi_request *req, kiln_strv *argv)
{
    const char *q = req->query, *end = req->query ? req->query + req->query_len : NULL;
    kiln_buf b = KILN_BUF_INIT;
    int rc = 0;
    while (q && q < end && rc == 0) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) amp = end;
        if (amp > q) {
            kiln_buf_reset(&b);
            rc |= kiln_cgi_url_decode(q, (size_t)(amp - q), &b);
            if (rc == 0) rc |= kiln_strv_pushn(argv, b.data ? b.data : "", b.len);
        }
        q = amp + 1;
    }
    kiln_buf_free(&b);
    return rc ? -1 : 0;
}

int kiln_cgi_argv(const kiln_cgi_request *req, const char *tmpl, kiln_strv *argv)
{
    if (!tmpl) tmpl = "${SCRIPT_NAME} ${ARGS}";
    const kiln_route_match *m = req->match;
    const char *script = m && m->nparams == 0 ? m->base : NULL;
    size_t prefix = m && m->prefix_len <= req->path_len ? m->prefix_len : req->path_len;
    size_t script_len = script ? strlen(script) : prefix;
    if (!script) script = req->path;
    kiln_buf word = KILN_BUF_INIT, args = KILN_BUF_INIT;
    kiln_strv list = {0};
    int rc = push_args(req, &list);
    for (size_t i = 0; i < list.n && rc == 0; i++) {
        if (i) rc |= kiln_buf_putc(&args, ' ');
        rc |= kiln_buf_puts(&args, list.v[i]);
    }
    const char *p = tmpl;
    while (*p && rc == 0) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t wl = (size_t)(p - w);
        if (wl == 7 && memcmp(w, "${ARGS}", 7) == 0) {
            for (size_t i = 0; i < list.n && rc == 0; i++)
                rc |= kiln_strv_push(argv, list.v[i]);
            continue;
        }
        kiln_buf_reset(&word);
        for (const char *c = w; c < p && rc == 0;) {
            if ((size_t)(p - c) >= 14 && memcmp(c, "${SCRIPT_NAME}", 14) == 0) {
                rc |= kiln_buf_append(&word, script, script_len);
                c += 14;
            } else if ((size_t)(p - c) >= 7 && memcmp(c, "${ARGS}", 7) == 0) {
                rc |= kiln_buf_append(&word, args.data ? args.data : "", args.len);
                c += 7;
            } else {
                rc |= kiln_buf_putc(&word, *c++);
            }
        }
        if (rc == 0) rc |= kiln_strv_pushn(argv, word.data ? word.data : "", word.len);
    }
    kiln_buf_free(&word);
    kiln_buf_free(&args);
    kiln_strv_free(&list);
    return rc ? -1 : 0;
}

/* ---- response side ---- */

/* Appends a note for the log, "; "-separated. */
static int note(kiln_cgi_response *res, const char *fmt, const char *s, size_t len)
{
    if (res->notes.len && kiln_buf_puts(&res->notes, "; ") < 0) return -1;
    /* the guest's bytes are quoted with non-printable ones escaped, at most 64 */
    kiln_buf q = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < len && i < 64 && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        rc = c >= 0x20 && c < 0x7f && c != '\\' ? kiln_buf_putc(&q, (char)c)
                                                : kiln_buf_printf(&q, "\\x%02x", c);
    }
    if (rc == 0 && len > 64) rc = kiln_buf_puts(&q, "...");
    if (rc == 0) rc = kiln_buf_printf(&res->notes, fmt, q.data ? q.data : "");
    kiln_buf_free(&q);
    return rc;
}

static int fail(kiln_cgi_response *res, int status, const char *msg)
{
    res->status = status;
    res->failed = 1;
    if (res->notes.len && kiln_buf_puts(&res->notes, "; ") < 0) return -1;
    return kiln_buf_puts(&res->notes, msg);
}

/* Framing and hop-by-hop headers are the server's business, never the guest's. */
static int is_framing(const char *n, size_t len)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive",
        "upgrade",        "proxy-connection",  "te",         "trailer",
        "http2-settings"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (name_is(n, len, names[i])) return 1;
    return 0;
}

/* Trims spaces and tabs (and, at the end, CRs) around [*p, *p + *len). */
static void trim(const char **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t'))
        (*p)++, (*len)--;
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' || (*p)[*len - 1] == '\r'))
        (*len)--;
}

/* Handles one header line of the guest's output. */
static int header_line(kiln_cgi_response *res, const char *line, size_t len, int *have_status,
                       int *have_location, int *have_type)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) return note(res, "ignored a header line without ':': \"%s\"", line, len);
    const char *name = line, *val = colon + 1;
    size_t nlen = (size_t)(colon - line), vlen = len - nlen - 1;
    trim(&name, &nlen);
    trim(&val, &vlen);
    int ok = nlen > 0;
    for (size_t i = 0; i < nlen; i++)
        ok &= is_tchar((unsigned char)name[i]);
    if (!ok) return note(res, "dropped a header with an invalid name: \"%s\"", line, len);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)val[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return note(res, "dropped a header with control characters: \"%s\"", line, len);
    }
    if (name_is(name, nlen, "status")) {
        int code = 0;
        size_t i = 0;
        while (i < vlen && i < 4 && isdigit((unsigned char)val[i]))
            code = code * 10 + (val[i++] - '0');
        if (i != 3 || (i < vlen && val[i] != ' ' && val[i] != '\t') || code < 100) {
            res->status = 502;
            res->failed = 1;
            return note(res, "the guest's Status header is not a valid status code: \"%s\"", val,
                        vlen);
        }
        if (!res->failed) res->status = code;
        *have_status = 1;
        return 0;
    }
    if (is_framing(name, nlen))
        return note(res, "dropped the hop-by-hop header \"%s\"", name, nlen);
    if (name_is(name, nlen, "location")) *have_location = 1;
    if (name_is(name, nlen, "content-type")) *have_type = 1;
    kiln_cgi_header *h = kiln_realloc(res->headers, (res->nheaders + 1) * sizeof *h);
    if (!h) return -1;
    res->headers = h;
    h[res->nheaders++] = (kiln_cgi_header){name, nlen, val, vlen};
    return 0;
}

int kiln_cgi_parse_response(const char *out, size_t len, kiln_cgi_response *res)
{
    memset(res, 0, sizeof *res);
    res->status = 200;
    res->body = out;
    if (len == 0)
        return fail(res, 500,
                    "the component wrote nothing to stdout; a WAGI handler must print CGI "
                    "headers, a blank line and the body (check the trigger's executor "
                    "setting: a component that is not a WAGI handler needs another executor)");
    const char *p = out, *end = out + len;
    int have_status = 0, have_location = 0, have_type = 0, blank = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* CR bytes in the header block are ignored: a line of CRs is blank */
        const char *c = p;
        while (c < le && *c == '\r')
            c++;
        if (c == le) {
            blank = 1;
            p = nl ? nl + 1 : end;
            break;
        }
        if (header_line(res, p, (size_t)(le - p), &have_status, &have_location, &have_type) < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    res->body = blank ? p : end;
    res->body_len = blank ? (size_t)(end - p) : 0;
    if (res->failed) return 0;
    if (!blank && res->nheaders == 0 && !have_status)
        return fail(res, 500,
                    "the component's output has no CGI header block (Content-Type, Location or "
                    "Status, then a blank line)");
    if (!have_status && !have_location && !have_type)
        return fail(res, 500,
                    "the component's output has none of the headers Content-Type, Location or "
                    "Status");
    if (have_location && !have_status) res->status = 302;
    return 0;
}

void kiln_cgi_response_free(kiln_cgi_response *res)
{
    kiln_free(res->headers);
    res->headers = NULL;
    res->nheaders = 0;
    kiln_buf_free(&res->notes);
}
