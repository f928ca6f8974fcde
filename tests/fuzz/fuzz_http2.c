/* fuzz_http2.c — libFuzzer target for the HTTP/2 codec's framing (server/http2_frame.c)
 * and the HPACK decoding of each header block (h2o's h2o_hpack_parse_headers, as
 * server/http2.c calls it), fed the way the connection feeds them: the input split at
 * arbitrary points.
 * Input layout: byte 0 seeds the split points, byte 1 picks the header block limit and
 * (bit 7) whether the client preface and an empty SETTINGS go first; the rest is what
 * the client sends. Each input is run twice, split and whole: the outcome (every event,
 * every decoded header, the connection error) must not depend on how the bytes arrived. */
// fuzz-sources: src/server/http2_frame.c src/util/alloc.c src/util/buf.c
#include "server/http2_frame.h"
#include "server/http2_hpack.h"
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

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = mix(h, b[i]);
    return mix(h, n);
}

/* Decodes a header block into a scratch request with the connection's table; the
 * outcome goes into the digest. */
static uint64_t decode_block(uint64_t h, h2o_hpack_header_table_t *tab, const kiln_h2_event *ev)
{
    h2o_req_t req;
    memset(&req, 0, sizeof req);
    h2o_mem_init_pool(&req.pool);
    int map = 0;
    size_t cl = 0;
    const char *err = NULL;
    int r = h2o_hpack_parse_headers(&req, tab, ev->payload, ev->len, &map, &cl, NULL, &err);
    h = mix(h, (uint64_t)(int64_t)r);
    h = mix(h, (uint64_t)map);
    h = mix(h, cl);
    for (size_t i = 0; i < req.headers.size; i++) {
        h = mix_bytes(h, req.headers.entries[i].name->base, req.headers.entries[i].name->len);
        h = mix_bytes(h, req.headers.entries[i].value.base, req.headers.entries[i].value.len);
    }
    if (req.input.path.base) h = mix_bytes(h, req.input.path.base, req.input.path.len);
    h2o_mem_clear_pool(&req.pool);
    return h;
}

/* Runs the connection's read loop over d[0, n); split: pieces from seed. Returns a
 * digest of the outcome. */
static uint64_t run(const uint8_t *d, size_t n, int split, uint32_t seed, size_t max_block)
{
    kiln_h2_reader r;
    kiln_h2_reader_init(&r, max_block);
    h2o_hpack_header_table_t tab;
    memset(&tab, 0, sizeof tab);
    tab.hpack_capacity = tab.hpack_max_capacity = 4096;
    kiln_buf in = KILN_BUF_INIT;
    uint64_t digest = 14695981039346656037ull;
    size_t pos = 0;
    int failed = 0;
    while (pos < n && !failed) {
        size_t piece = split ? 1 + next(&seed) % 64 : n;
        if (piece > n - pos) piece = n - pos;
        if (kiln_buf_append(&in, d + pos, piece) < 0) abort();
        pos += piece;
        for (;;) {
            size_t used;
            kiln_h2_event ev;
            int rc = kiln_h2_read(&r, (const uint8_t *)in.data, in.len, &used, &ev);
            if (rc < 0) {
                digest = mix(digest, 1000 + (uint64_t)-rc);
                failed = 1;
                break;
            }
            if (rc == 1) {
                if (used > in.len) abort();
                digest = mix(digest, ev.type);
                digest = mix(digest, ev.flags);
                digest = mix(digest, ev.stream_id);
                digest = mix(digest, ev.flow);
                digest = mix_bytes(digest, ev.payload, ev.len);
                if (ev.type == KILN_H2_HEADERS) digest = decode_block(digest, &tab, &ev);
            }
            memmove(in.data, in.data + used, in.len - used);
            in.len -= used;
            if (!rc && !used) break;
        }
    }
    kiln_buf_free(&in);
    kiln_h2_reader_free(&r);
    h2o_hpack_dispose_header_table(&tab);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint32_t seed = data[0];
    size_t max_block = 16 + (size_t)(data[1] & 0x7f) * 64;
    kiln_buf b = KILN_BUF_INIT;
    if (data[1] & 0x80) {
        static const uint8_t settings[9] = {0, 0, 0, KILN_H2_SETTINGS, 0, 0, 0, 0, 0};
        if (kiln_buf_append(&b, KILN_H2_PREFACE, KILN_H2_PREFACE_LEN) < 0 ||
            kiln_buf_append(&b, settings, sizeof settings) < 0)
            abort();
    }
    if (kiln_buf_append(&b, data + 2, size - 2) < 0) abort();
    uint64_t whole = run((const uint8_t *)b.data, b.len, 0, seed, max_block);
    uint64_t split = run((const uint8_t *)b.data, b.len, 1, seed, max_block);
    if (whole != split) abort(); /* the outcome depends on how the bytes arrived */
    kiln_buf_free(&b);
    return 0;
}
