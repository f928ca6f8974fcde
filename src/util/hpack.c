/* hpack.c — HPACK header compression (RFC 7541): design in hpack.h. */
#include "util/hpack.h"

#include "util/alloc.h"

#include <pthread.h>
#include <string.h>

/* ---- the static table (Appendix A) ---- */

static const struct {
    const char *name, *value;
} static_table[] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};
#define STATIC_N (sizeof static_table / sizeof static_table[0])

/* ---- Huffman (Appendix B) ---- */

/* The code length of each symbol 0..255 and EOS (256); the code is canonical. */
static const uint8_t huff_len[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10, 13, 6,  7,  7,  7,  7,  7,  7,
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  6,  7,  6,  5,  5,  6,  7,  7,
    7,  7,  7,  15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
    23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
    21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
};

#define HUFF_MAXLEN 30
#define HUFF_EOS 256

static uint32_t huff_code[257];              /* each symbol's code (huff_len[s] bits) */
static uint16_t huff_sorted[257];            /* symbols in code order */
static uint32_t huff_first[HUFF_MAXLEN + 1]; /* the first code of each length */
static uint16_t huff_count[HUFF_MAXLEN + 1]; /* how many codes have that length */
static uint16_t huff_index[HUFF_MAXLEN + 1]; /* where they start in huff_sorted */
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

/* Derives the canonical codes from the lengths. */
static void huff_init(void)
{
    size_t k = 0;
    for (unsigned len = 1; len <= HUFF_MAXLEN; len++) {
        huff_index[len] = (uint16_t)k;
        for (unsigned s = 0; s < 257; s++)
            if (huff_len[s] == len) huff_sorted[k++] = (uint16_t)s;
        huff_count[len] = (uint16_t)(k - huff_index[len]);
    }
    uint32_t code = 0;
    for (unsigned len = 1; len <= HUFF_MAXLEN; len++) {
        huff_first[len] = code;
        for (unsigned i = 0; i < huff_count[len]; i++)
            huff_code[huff_sorted[huff_index[len] + i]] = code++;
        code <<= 1;
    }
}

int kiln_hpack_huffman_decode(kiln_buf *out, const uint8_t *s, size_t n)
{
    pthread_once(&huff_once, huff_init);
    if (kiln_buf_reserve(out, n * 8 / 5 + 1) < 0) return -1; /* codes are >= 5 bits */
    uint32_t code = 0;
    unsigned len = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            code = code << 1 | ((s[i] >> b) & 1u);
            if (++len > HUFF_MAXLEN) return -1;
            if (code - huff_first[len] < huff_count[len] && code >= huff_first[len]) {
                uint16_t sym = huff_sorted[huff_index[len] + (code - huff_first[len])];
                if (sym == HUFF_EOS) return -1;
                out->data[out->len++] = (char)sym;
                code = 0;
                len = 0;
            }
        }
    }
    /* padding: at most 7 bits, the most significant bits of EOS (all ones) */
    if (len > 7 || code != (1u << len) - 1) return -1;
    out->data[out->len] = '\0';
    return 0;
}

int kiln_hpack_huffman_encode(kiln_buf *out, const uint8_t *s, size_t n)
{
    pthread_once(&huff_once, huff_init);
    uint64_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << huff_len[s[i]] | huff_code[s[i]];
        bits += huff_len[s[i]];
        while (bits >= 8) {
            bits -= 8;
            if (kiln_buf_putc(out, (char)(acc >> bits)) < 0) return -1;
        }
        acc &= (1ull << bits) - 1;
    }
    if (bits && kiln_buf_putc(out, (char)((acc << (8 - bits)) | (0xffu >> bits))) < 0) return -1;
    return 0;
}

/* ---- primitives (5.1, 5.2) ---- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

/* Reads an integer with an N-bit prefix from the current byte on: 0 with *v (at most
 * UINT32_MAX), or -1. */
static int read_int(rd *r, unsigned prefix, uint32_t *v)
{
    if (r->p >= r->end) return -1;
    uint32_t mask = (1u << prefix) - 1;
    uint64_t x = *r->p++ & mask;
    if (x < mask) {
        *v = (uint32_t)x;
        return 0;
    }
    for (unsigned shift = 0;; shift += 7) {
        if (r->p >= r->end || shift > 28) return -1;
        uint8_t b = *r->p++;
        x += (uint64_t)(b & 0x7f) << shift;
        if (x > UINT32_MAX) return -1;
        if (!(b & 0x80)) break;
    }
    *v = (uint32_t)x;
    return 0;
}

/* Reads a string literal into b (replaced, NUL-terminated). 0, or -1. */
static int read_string(rd *r, kiln_buf *b)
{
    if (r->p >= r->end) return -1;
    int huff = *r->p & 0x80;
    uint32_t len;
    if (read_int(r, 7, &len) < 0 || len > (size_t)(r->end - r->p)) return -1;
    b->len = 0;
    /* both leave b NUL-terminated (kiln_buf keeps room for it) */
    int rc = huff ? kiln_hpack_huffman_decode(b, r->p, len) : kiln_buf_append(b, r->p, len);
    r->p += len;
    return rc;
}

/* ---- the dynamic table (2.3.2, 4) ---- */

void kiln_hpack_dec_init(kiln_hpack_dec *d, size_t limit)
{
    memset(d, 0, sizeof *d);
    d->limit = d->max_size = limit;
    d->scratch = (kiln_buf)KILN_BUF_INIT;
    d->scratch2 = (kiln_buf)KILN_BUF_INIT;
}

void kiln_hpack_dec_free(kiln_hpack_dec *d)
{
    for (size_t i = 0; i < d->n; i++)
        kiln_free(d->ring[(d->head + i) % d->cap].name);
    kiln_free(d->ring);
    kiln_buf_free(&d->scratch);
    kiln_buf_free(&d->scratch2);
    memset(d, 0, sizeof *d);
}

/* Evicts the oldest entries until the table holds at most max octets. */
static void evict(kiln_hpack_dec *d, size_t max)
{
    while (d->n && d->size > max) {
        kiln_hpack_entry *e = &d->ring[d->head];
        d->size -= (size_t)e->nlen + e->vlen + KILN_HPACK_ENTRY_OVERHEAD;
        kiln_free(e->name);
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
}

/* Adds name: value as the newest entry (evicting as needed; an entry larger than the
 * table empties it and is not added). The strings may point into an entry about to be
 * evicted: they are copied first. 0, or -1 out of memory. */
static int insert(kiln_hpack_dec *d, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t esize = nlen + vlen + KILN_HPACK_ENTRY_OVERHEAD;
    if (esize > d->max_size) {
        evict(d, 0);
        return 0;
    }
    char *s = kiln_malloc(nlen + vlen + 2);
    if (!s) return -1;
    memcpy(s, name, nlen);
    s[nlen] = '\0';
    memcpy(s + nlen + 1, value, vlen);
    s[nlen + 1 + vlen] = '\0';
    evict(d, d->max_size - esize);
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        kiln_hpack_entry *ring = kiln_calloc(ncap, sizeof *ring);
        if (!ring) {
            kiln_free(s);
            return -1;
        }
        for (size_t i = 0; i < d->n; i++)
            ring[i] = d->ring[(d->head + i) % d->cap];
        kiln_free(d->ring);
        d->ring = ring;
        d->cap = ncap;
        d->head = 0;
    }
    kiln_hpack_entry *e = &d->ring[(d->head + d->n) % d->cap];
    e->name = s;
    e->value = s + nlen + 1;
    e->nlen = (uint32_t)nlen;
    e->vlen = (uint32_t)vlen;
    d->n++;
    d->size += esize;
    return 0;
}

/* The entry at index i (1-based over the static then the dynamic table): 0, or -1 when
 * there is none. */
static int lookup(const kiln_hpack_dec *d, uint32_t i, const char **name, size_t *nlen,
                  const char **value, size_t *vlen)
{
    if (i == 0) return -1;
    if (i <= STATIC_N) {
        *name = static_table[i - 1].name;
        *value = static_table[i - 1].value;
        *nlen = strlen(*name);
        *vlen = strlen(*value);
        return 0;
    }
    size_t k = i - STATIC_N - 1; /* 0: the newest */
    if (k >= d->n) return -1;
    const kiln_hpack_entry *e = &d->ring[(d->head + d->n - 1 - k) % d->cap];
    *name = e->name;
    *nlen = e->nlen;
    *value = e->value;
    *vlen = e->vlen;
    return 0;
}

int kiln_hpack_decode(kiln_hpack_dec *d, const uint8_t *p, size_t n, size_t list_max,
                      kiln_hpack_emit emit, void *ctx)
{
    if (n == 0) return 0; /* (p may be NULL) */
    rd r = {p, p + n};
    size_t total = 0;
    int fields = 0;
    while (r.p < r.end) {
        uint8_t b = *r.p;
        const char *name, *value;
        size_t nlen, vlen;
        int index = 0;
        if (b & 0x80) { /* indexed field (6.1) */
            uint32_t i;
            if (read_int(&r, 7, &i) < 0 || lookup(d, i, &name, &nlen, &value, &vlen) < 0) return -1;
        } else if ((b & 0xe0) == 0x20) { /* dynamic table size update (6.3) */
            uint32_t size;
            if (fields || read_int(&r, 5, &size) < 0 || size > d->limit) return -1;
            d->max_size = size;
            evict(d, size);
            continue;
        } else { /* a literal (6.2): with incremental indexing, without, never indexed */
            index = (b & 0xc0) == 0x40;
            uint32_t i;
            if (read_int(&r, index ? 6 : 4, &i) < 0) return -1;
            if (i) {
                if (lookup(d, i, &name, &nlen, &value, &vlen) < 0) return -1;
            } else {
                if (read_string(&r, &d->scratch) < 0) return -1;
                name = d->scratch.data;
                nlen = d->scratch.len;
            }
            if (read_string(&r, &d->scratch2) < 0) return -1;
            value = d->scratch2.data;
            vlen = d->scratch2.len;
        }
        fields = 1;
        total += nlen + vlen + KILN_HPACK_ENTRY_OVERHEAD;
        if (total > list_max) return -1;
        /* emitted before it is added: adding may evict the entry name points into */
        if (emit && emit(ctx, name, nlen, value, vlen) < 0) return -2;
        if (index && insert(d, name, nlen, value, vlen) < 0) return -1;
    }
    return 0;
}

/* ---- the encoder (6.2.2) ---- */

/* Appends integer v with an N-bit prefix, the byte's high bits being first. */
static int put_int(kiln_buf *out, uint8_t first, unsigned prefix, size_t v)
{
    size_t mask = ((size_t)1 << prefix) - 1;
    if (v < mask) return kiln_buf_putc(out, (char)(first | v));
    if (kiln_buf_putc(out, (char)(first | mask)) < 0) return -1;
    v -= mask;
    while (v >= 128) {
        if (kiln_buf_putc(out, (char)(0x80 | (v & 0x7f))) < 0) return -1;
        v >>= 7;
    }
    return kiln_buf_putc(out, (char)v);
}

static int put_string(kiln_buf *out, const char *s, size_t n)
{
    return put_int(out, 0, 7, n) < 0 || kiln_buf_append(out, s, n) < 0 ? -1 : 0;
}

int kiln_hpack_encode(kiln_buf *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t idx = 0;
    for (size_t i = 0; i < STATIC_N && !idx; i++)
        if (strlen(static_table[i].name) == nlen && memcmp(static_table[i].name, name, nlen) == 0)
            idx = i + 1;
    if (put_int(out, 0x00, 4, idx) < 0) return -1;
    if (!idx && put_string(out, name, nlen) < 0) return -1;
    return put_string(out, value, vlen);
}
