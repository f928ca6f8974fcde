/* fuzz_http1.c — libFuzzer target for the HTTP/1.x codec's parsing (server/http1_parse.c):
 * request heads, Content-Length and chunked bodies, pipelined requests and the limits,
 * fed the way the connection feeds them — the input split at arbitrary points and the
 * body decoded through a body buffer of arbitrary room.
 * Input layout: byte 0 seeds the split points and rooms, byte 1 picks max_head and
 * max_body; the rest is what the client sends. Each input is run twice, split and whole:
 * the outcome (every head, every complete body's bytes, the final answer — a failed body
 * being one answer, as a malformed chunk may come before or after the bytes that cross
 * max_body) must not depend on how the bytes arrived. */
// fuzz-sources: src/server/http1_parse.c src/util/alloc.c src/util/buf.c
#include "server/http1_parse.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Drops the first n bytes of b. */
static void consume(kiln_buf *b, size_t n)
{
    if (!n) return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* Runs the connection's parse loop over d[0, n); split: pieces and rooms from seed.
 * Returns a digest of the outcome. */
static uint64_t run(const char *d, size_t n, int split, uint32_t seed, size_t max_head,
                    size_t max_body)
{
    kiln_buf in = {0};
    kiln_h1_head *h = kiln_malloc(sizeof *h);
    if (!h) abort();
    kiln_h1_body b;
    int in_body = 0, status = KILN_H1_MORE;
    uint64_t digest = 14695981039346656037ull, body_hash = 0;
    size_t pos = 0;
    while (pos < n && status == KILN_H1_MORE) {
        size_t piece = split ? 1 + next(&seed) % 64 : n;
        if (piece > n - pos) piece = n - pos;
        if (kiln_buf_append(&in, d + pos, piece) < 0) abort();
        pos += piece;
        for (;;) {
            if (!in_body) {
                int r = kiln_h1_parse_head(in.data, in.len, max_head, max_body, h);
                if (r == KILN_H1_MORE) break;
                if (r != KILN_H1_OK) {
                    status = r;
                    break;
                }
                if (h->head_len > in.len || h->method_len + h->path_len > h->head_len ||
                    (h->has_length && h->chunked) || (h->has_length && h->length > max_body))
                    abort();
                digest = mix(digest, h->method_len * 31 + h->path_len * 7 + h->nheaders);
                digest = mix(digest, h->has_length ? h->length : h->chunked ? 1u << 30 : 0);
                consume(&in, h->head_len);
                if (h->chunked || h->length) {
                    kiln_h1_body_init(&b, h, max_body);
                    in_body = 1;
                    body_hash = 0;
                }
                continue;
            }
            size_t room = split ? 1 + next(&seed) % 100 : SIZE_MAX, before = in.len, data;
            int r = kiln_h1_body_decode(&b, in.data, &in.len, room, &data);
            if (data > in.len || in.len > before || b.seen > max_body ||
                (!b.chunked && b.seen + b.left != h->length))
                abort();
            for (size_t i = 0; i < data; i++)
                body_hash = mix(body_hash, (unsigned char)in.data[i]);
            consume(&in, data);
            if (r > 0) { /* 400 or 413: which comes first depends on the pieces */
                status = 1;
                break;
            }
            if (r == KILN_H1_OK) {
                struct phr_header tr[8]; /* the trailer fields, however the bytes came */
                size_t ntr = kiln_h1_trailers(&b, tr, 8);
                for (size_t i = 0; i < ntr; i++)
                    digest = mix(digest, tr[i].name_len * 131 + tr[i].value_len);
                digest = mix(digest, body_hash ^ b.seen);
                in_body = 0;
                continue;
            }
            if (!data && in.len == before) break; /* needs more input */
        }
    }
    kiln_buf_free(&in);
    kiln_free(h);
    return mix(digest, (uint64_t)(status + 10));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    static const size_t heads[] = {64, 256, 8192}, bodies[] = {0, 5, 100, 1u << 20};
    size_t max_head = heads[data[1] % 3], max_body = bodies[(data[1] / 3) % 4];
    const char *d = (const char *)data + 2;
    size_t n = size - 2;
    uint64_t whole = run(d, n, 0, 0, max_head, max_body);
    uint64_t parts = run(d, n, 1, data[0], max_head, max_body);
    if (whole != parts) abort(); /* the outcome depends on how the bytes arrived */
    return 0;
}
